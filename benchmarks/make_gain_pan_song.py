"""A console-target song mixed with nothing but gains and pans (issue 15's sparsity check).

Takes the dry tracks of a song folder (``make_songs.py`` output), groups them
into two subgroups (``--groups``: track names per group), draws the gain/pan
of every track and subgroup as ``mixjax.synthetic.random_graph`` draws them
(clearly audible levels and pans) with every other processor bypassed, and
writes a plain song folder with ``mix.wav`` and a console ``truth.json``
(and its parameter file), which ``benchmarks/quality.py`` scores like any
console-target song. At most ``tracks + subgroups`` gain/pans are needed:
a search should prune everything else.

Usage:
  python benchmarks/make_gain_pan_song.py SONGS/console/001_ballad --out SONGS/gains/001_ballad \
      --groups drums,bass:electric_piano,clarinet [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gain_pan_only(truth):
  """``truth`` with every processor but the gain/pans bypassed (and their settings only)."""
  alive = {level: {name: (np.asarray(a) if name == "gain_pan" else np.zeros_like(np.asarray(a)))
                   for name, a in procs.items()} for level, procs in truth.alive.items()}
  settings = tuple(s for s in truth.settings if s.processor == "gain_pan")
  return type(truth)(params=truth.params, alive=alive, settings=settings)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("source", help="a song folder whose tracks/ to use")
  parser.add_argument("--out", required=True, help="the new song folder")
  parser.add_argument("--groups", required=True,
                      help="track names (no .wav) per subgroup: 'a,b:c,d' makes two subgroups")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)

  import jax
  import mixjax

  from benchmarks.songs import targets
  from mixjax import synthetic
  from mixjax.io.audio import write_wav

  groups = {f"group{i + 1}": [f"{name}.wav" for name in part.split(",")]
            for i, part in enumerate(args.groups.split(":"))}
  os.makedirs(os.path.join(args.out, "tracks"), exist_ok=True)
  for names in groups.values():
    for name in names:
      shutil.copyfile(os.path.join(args.source, "tracks", name),
                      os.path.join(args.out, "tracks", name))
  with open(os.path.join(args.out, "groups.json"), "w", encoding="utf-8") as f:
    json.dump(groups, f, indent=1)
  # Load once without a mix to fix the track order, as quality.py will load it.
  song = mixjax.load_song(args.source)
  order = [n for n in song.track_names if any(f"{n}.wav" in g for g in groups.values())]
  tracks = np.stack([song.tracks[song.track_names.index(n)] for n in order])
  group_names = list(groups)
  track_groups = [next(i for i, g in enumerate(groups.values()) if f"{n}.wav" in g) for n in order]
  drawn = synthetic.random_graph(jax.random.key(args.seed), tracks, track_groups,
                                 sample_rate=song.sample_rate, density=1.0)
  truth = gain_pan_only(drawn)
  console = mixjax.Console.build(track_groups, sample_rate=song.sample_rate)
  mix = np.asarray(console.render(truth.params, tracks, truth.alive), np.float32)
  write_wav(os.path.join(args.out, "mix.wav"), mix, song.sample_rate)
  loaded = mixjax.load_song(args.out)
  if list(loaded.track_names) != order or list(loaded.group_names) != group_names:
    raise SystemExit(f"make_gain_pan_song: the folder loads as {loaded.track_names} / "
                     f"{loaded.group_names}, not {order} / {group_names}.")
  np.savez_compressed(os.path.join(args.out, "truth_console_params.npz"),
                      **targets.console_params_arrays(truth))
  with open(os.path.join(args.out, "truth.json"), "w", encoding="utf-8") as f:
    json.dump(targets.console_truth_json(loaded, truth, density=0.0,
                                            params_file="truth_console_params.npz"), f, indent=1)
  print(f"{args.out}: {len(order)} tracks in {len(groups)} subgroups, "
        f"{len(truth.settings)} gain/pans alive, {loaded.seconds:.1f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
