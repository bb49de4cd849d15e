"""mixjax's search and the reference's own search on the same song, same schedule, side by side.

    python benchmarks/vs_reference.py $MIXJAX_SONGS_DIR/console/001_ballad --sample-rate 16000 \
        --epoch-steps 100 --console-epochs 4 --rounds 4

The reference is grafx-prune's solver on GRAFX, run on CPU by ``benchmarks/grafx_search.py``
in the GRAFX environment (``benchmarks/setup_grafx_env.sh``); mixjax runs ``mixjax.search``
with the matching ``SearchConfig``: ``console_steps = epoch_steps · console_epochs``,
``finetune_steps = reset_every = epoch_steps`` (the reference re-creates its optimiser every
epoch), ``rounds``, ``sparsity_ramp_steps = epoch_steps · sparsity_raise_epochs``, τ and the
sampler. Both load the song as mixjax does (``mixjax.load_song`` at ``--sample-rate``, cut to
``--seconds``). Both are scored with ``scoring.py``'s functions against the song's
``truth.json``: precision and recall of the kept processors for a console target (also with
each one-track subgroup's processors counted on its track, ``scoring.merge_series``), the
effects found for a pedalboard target. The two runs are one after the other, not side by side
(each wants both cores), and differ in their random draws (crops, parameter init, sampler
order): compare them as two seeds of one method, not bit for bit.

Prints a table and, last, one JSON line; ``--json`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import grafx_side, scoring

SAMPLERS = {"hybrid": "hybrid", "drywet": "weight", "brute": "brute_force"}
"""mixjax sampler name -> grafx-prune ``prune_policy``."""


def build_parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("song", help="a song folder with truth.json (benchmarks/make_songs.py layout)")
  p.add_argument("--sample-rate", type=int, default=16000)
  p.add_argument("--seconds", type=float, default=None, help="cut the song to its first S s")
  p.add_argument("--epoch-steps", type=int, default=100)
  p.add_argument("--console-epochs", type=int, default=4)
  p.add_argument("--rounds", type=int, default=4)
  p.add_argument("--sparsity-raise-epochs", type=int, default=2)
  p.add_argument("--tolerance", type=float, default=0.01)
  p.add_argument("--sampler", choices=sorted(SAMPLERS), default="hybrid")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--skip", choices=["mixjax", "reference"], default=None)
  p.add_argument("--json", default=None, help="also write the result JSON here")
  p.add_argument("--workdir", default=None,
                 help="keep the reference's song, log and result here (default: a temporary one)")
  return p


def search_config(args):
  import mixjax
  return mixjax.SearchConfig(
      console_steps=args.epoch_steps * args.console_epochs, finetune_steps=args.epoch_steps,
      rounds=args.rounds, reset_every=args.epoch_steps, tolerance=args.tolerance,
      sparsity_ramp_steps=args.epoch_steps * args.sparsity_raise_epochs, sampler=args.sampler,
      steps_per_dispatch=min(50, args.epoch_steps))


def load(args):
  import mixjax
  song = mixjax.load_song(args.song, sample_rate=args.sample_rate)
  if args.seconds is not None:
    n = round(args.seconds * args.sample_rate)
    song = mixjax.Song(song.tracks[..., :n], song.mix[..., :n], song.track_groups,
                       song.sample_rate, track_names=song.track_names,
                       group_names=song.group_names)
  if any(g is None for g in song.track_groups):
    sys.exit(f"vs_reference: {args.song}: every track needs a subgroup for this comparison")
  return song


def run_reference(song, args, workdir: str) -> dict:
  python = grafx_side.find_grafx_python()
  if python is None:
    sys.exit("vs_reference: no GRAFX environment (set MIXJAX_GRAFX_PYTHON; "
             "benchmarks/setup_grafx_env.sh builds one)")
  npz, out = os.path.join(workdir, "song.npz"), os.path.join(workdir, "reference.json")
  np.savez(npz, tracks=song.tracks, mix=song.mix, track_groups=np.asarray(song.track_groups),
           sample_rate=song.sample_rate)
  cmd = grafx_side.grafx_command(
      python, "grafx_search", npz, "--out", out, "--epoch-steps", str(args.epoch_steps),
      "--console-epochs", str(args.console_epochs), "--rounds", str(args.rounds),
      "--sparsity-raise-epochs", str(args.sparsity_raise_epochs), "--tolerance",
      str(args.tolerance), "--policy", SAMPLERS[args.sampler], "--seed", str(args.seed))
  with open(os.path.join(workdir, "reference.log"), "w") as log:
    done = subprocess.run(cmd, cwd=grafx_side.ROOT, stdout=subprocess.DEVNULL, stderr=log)
  if done.returncode != 0:
    sys.exit(f"vs_reference: the reference search failed; its log is {log.name}")
  with open(out) as f:
    return json.load(f)


def run_mixjax(song, args) -> dict:
  import mixjax
  t0 = time.perf_counter()
  result = mixjax.search(song, search_config(args), seed=args.seed,
                         progress=sys.stderr.isatty())
  return scoring.search_numbers(result) | {
      "alive": sorted(list(n) for n in result.alive_nodes()),
      "seconds": {"total": time.perf_counter() - t0}}


def score(run: dict, truth: dict | None) -> dict:
  found = {tuple(n) for n in run["alive"]}
  kept = {"kept": len(found)}
  if truth is None:
    return kept
  if truth["target"] == "console":
    merged = scoring.merged_recovery(truth, found)
    return kept | scoring.recovery(scoring.truth_nodes(truth), found) | {
        "precision_merged": merged["precision"], "recall_merged": merged["recall"]}
  board = scoring.pedalboard_scores(truth, found)
  return kept | {"effects_found": board["effects_found"], "effects": board["effects"],
                 "extra": board["extra"], "precision": board["node_precision"],
                 "recall": board["node_recall"]}


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  song = load(args)
  truth = scoring.read_truth(args.song)
  if truth is not None:
    scoring.check_truth_matches(truth, song)
  runs = {}
  with tempfile.TemporaryDirectory(prefix="vs-reference-") as tmp:
    workdir = args.workdir or tmp
    os.makedirs(workdir, exist_ok=True)
    if args.skip != "reference":
      runs["reference"] = run_reference(song, args, workdir)
    if args.skip != "mixjax":
      runs["mixjax"] = run_mixjax(song, args)
  rows = {name: {k: run[k] for k in ("loss_sum", "loss_console", "loss_pruned",
                                      "pruning_ratio", "trials")}
          | {"seconds": run["seconds"]["total"]} | score(run, truth) | {"alive": run["alive"]}
          for name, run in runs.items()}
  print(f"{args.song}: {song.n_tracks} tracks, {song.n_groups} groups, "
        f"{song.seconds:.1f} s at {song.sample_rate} Hz; {args.epoch_steps} steps per epoch, "
        f"{args.console_epochs} console epochs, {args.rounds} {args.sampler} rounds, "
        f"tolerance {args.tolerance}, seed {args.seed}")
  print("| search | L sum | L console | L pruned | ρ | kept | P | R | P / R merged "
        "| effects found | trials | seconds |")
  print("|---|---|---|---|---|---|---|---|---|---|---|---|")
  for name, r in rows.items():
    effects = f"{r['effects_found']}/{r['effects']}" if "effects" in r else "–"
    merged = (f"{r['precision_merged']:.2f} / {r['recall_merged']:.2f}"
              if "precision_merged" in r else "–")
    print(f"| {name} | {r['loss_sum']:.3f} | {r['loss_console']:.3f} | {r['loss_pruned']:.3f} "
          f"| {r['pruning_ratio']:.2f} | {r['kept']} | {r.get('precision', float('nan')):.2f} "
          f"| {r.get('recall', float('nan')):.2f} | {merged} | {effects} | {r['trials']} "
          f"| {r['seconds']:.0f} |")
  if len(rows) == 2:
    a, b = ({tuple(n) for n in rows[k]["alive"]} for k in ("reference", "mixjax"))
    print(f"kept by both {len(a & b)}, reference only {len(a - b)}, mixjax only {len(b - a)}")
  report = {"song": args.song, "settings": vars(args), "runs": rows}
  if args.json:
    with open(args.json, "w") as f:
      json.dump(report, f)
  print(json.dumps(report))
  return 0


if __name__ == "__main__":
  sys.exit(main())
