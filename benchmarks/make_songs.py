r"""Realistic evaluation songs: dry stems rendered from MIDI with FluidSynth, mixed two ways.

Each song is real music played by General MIDI instruments, one dry stereo
WAV per instrument, with subgroups, and two target mixes of those stems:

* **console**: mixjax's own console with a random sparse ground-truth graph
  (``mixjax.synthetic.random_graph``): the answer lies in the search space.
* **pedalboard**: Spotify's ``pedalboard`` (JUCE plug-ins: NoiseGate, shelf and
  peak filters, Compressor, Gain, Delay, Reverb) plus constant-power panning
  and a mid/side width done in NumPy, with random but plausible settings on a
  sparse choice of tracks and subgroups: a mix mixjax's processors can only
  approximate.

**The music.** Songs cycle through five styles (the order is shuffled by the
seed): ``pop``, ``rock``, ``funk`` and ``ballad`` are generated: a key, a
tempo, a four-chord progression (one chord per bar), a drum groove on GM
channel 10 (kick, snare, hi-hats, fills on the toms at the end of most
four-bar phrases, crashes; kit chosen per style), a bass line, comping keys or
guitars (voice-led chords, strums, power chords, muted funk chops), pads,
a lead melody in two-bar phrases with motifs and rests, and as more tracks
are asked for: a split drum kit (kick, snare, hi-hat, toms, cymbals, with
bleed between the drum microphones), percussion, a counter line, an
arpeggio, brass stabs, bells. ``chorale`` takes a four-part Bach chorale from
the music21 corpus (shipped inside the music21 package; nothing is
downloaded), gives the soprano, alto, tenor and bass voices to an ensemble
(strings, winds, brass, saxophones or choir), and adds doublings (contrabass,
keys, pad, harp, an octave doubling, timpani) and a light drum part when more
tracks are asked for. Every instrument is rendered alone with FluidSynth and
the FluidR3 GM SoundFont (Debian's ``fluid-soundfont-gm``), with FluidSynth's
reverb and chorus off, cut to the song's length, high-passed at 20 Hz (some
GM samples carry DC), given a noise floor about 65 dB below its peak, and
peak-normalised to -12…-4 dBFS.

**Layout** (``--out OUT``)::

  OUT/songs.json                    the set: seed, command, versions, songs, file hashes
  OUT/songs/<song>/                 everything about one song
      tracks/<instrument>.wav       dry stems, 24-bit
      midi/<instrument>.mid         what FluidSynth played
      groups.json                   subgroup name -> track file names
      song.json                     style, source, tempo, key, parts
      mix_console.wav, truth_console.json, truth_console_params.npz
      mix_pedalboard.wav, truth_pedalboard.json
  OUT/console/<song>/               a plain-layout song folder per target:
  OUT/pedalboard/<song>/            tracks/, groups.json, mix.wav and truth.json
                                    are relative symlinks into OUT/songs/<song>/

``OUT/console`` and ``OUT/pedalboard`` are each a data-set folder of plain
songs: ``mixjax search OUT/pedalboard/000_pop`` and the quality benchmark run
on them unchanged, exactly as on a user's own folder of songs (which simply
has no truth.json).

Everything is deterministic from ``--seed``: song ``i`` depends only on the
seed and ``i`` (not on ``--count``), and ``songs.json`` lists the SHA-256 of
every file (of a WAV file's samples: float WAV headers carry a time stamp), so
two runs can be compared with one ``diff``.

The pieces live in ``benchmarks/songs/``: ``music`` (the generated songs' notes), ``chorale``
(the Bach chorales), ``audio`` (MIDI, FluidSynth, finished dry tracks) and ``targets`` (the
pedalboard and console mixes and their truth files); this script plans the set, writes the
folders and the manifest.

Usage:
  bash benchmarks/setup_songs.sh    # once: fluidsynth, the SoundFont, pedalboard, music21, mido
  python benchmarks/make_songs.py --out $MIXJAX_SONGS_DIR --seed 0 --count 6 --sample-rate 30000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Sequence

import numpy as np

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.songs.audio import SOUNDFONT, finish_tracks, render_midi, write_midi
from benchmarks.songs.chorale import chorale_score
from benchmarks.songs.music import TAIL_S, Score, beats_per_second, generated_score
from benchmarks.songs.targets import (
    FORMAT_VERSION, PEDALBOARD_ORDER, console_mix, console_params_arrays, console_truth_json,
    pedalboard_mix)

STYLES = ("pop", "rock", "funk", "ballad", "chorale")
"""Song styles; song ``i`` has style ``order[i % 5]`` with ``order`` shuffled by the seed."""


def make_score(seed: int, index: int, *, n_tracks: int, seconds_range, style: str) -> Score:
  """The music of song ``index`` of the set made with ``seed`` (no audio)."""
  rng = np.random.default_rng([seed, index, 0])
  if style == "chorale":
    score = chorale_score(rng, n_tracks, seconds_range)
  else:
    score = generated_score(rng, style, n_tracks, seconds_range)
  end_beats = (score.seconds - TAIL_S / 2) * beats_per_second(score.bpm)
  for part in score.parts:  # nothing starts in the tail; every part plays
    part.notes = sorted((max(b, 0.0), d, p, v) for b, d, p, v in part.notes if b < end_beats)
    if not part.notes:
      raise RuntimeError(f"song {index}: the {part.name} part has no notes; try another seed.")
  return score


# ---------------------------------------------------------------------------
# One song folder and its target views
# ---------------------------------------------------------------------------


def _sha256(path: str) -> str:
  """SHA-256 of a file; of a WAV file's samples and rate (float WAVs carry a time stamp)."""
  digest = hashlib.sha256()
  if path.endswith(".wav"):
    import soundfile as sf
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    digest.update(f"{rate} {audio.shape}".encode())
    digest.update(np.ascontiguousarray(audio).tobytes())
    return digest.hexdigest()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


_SCALAR = r'(?:-?[0-9.eE+-]+|true|false|null|"[^"\n]*")'
_FLAT_LIST = re.compile(r"\[\s*(" + _SCALAR + r"(?:,\s*" + _SCALAR + r")*)\s*\]")


def dumps(value) -> str:
  """JSON indented by one space, with lists of plain values on one line."""
  text = json.dumps(value, indent=1)
  return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)


def _write_json(path: str, value) -> None:
  from mixjax import atomic_files
  atomic_files.write_text(path, dumps(value) + "\n")


def _link(target: str, link: str) -> None:
  """A relative symlink ``link -> target``."""
  if os.path.lexists(link):
    os.remove(link)
  os.symlink(os.path.relpath(target, os.path.dirname(link)), link)


def _make_view(out: str, name: str, target: str) -> str:
  """``OUT/<target>/<name>/``: a plain-layout song folder of symlinks into ``OUT/songs/<name>``."""
  song_dir = os.path.join(out, "songs", name)
  view = os.path.join(out, target, name)
  os.makedirs(view, exist_ok=True)
  _link(os.path.join(song_dir, "tracks"), os.path.join(view, "tracks"))
  _link(os.path.join(song_dir, "groups.json"), os.path.join(view, "groups.json"))
  _link(os.path.join(song_dir, f"mix_{target}.wav"), os.path.join(view, "mix.wav"))
  _link(os.path.join(song_dir, f"truth_{target}.json"), os.path.join(view, "truth.json"))
  if target == "console":
    _link(os.path.join(song_dir, "truth_console_params.npz"),
          os.path.join(view, "truth_console_params.npz"))
  return view


def make_song(out: str, seed: int, index: int, *, style: str, n_tracks: int, seconds_range,
              sample_rate: int, density: float, soundfont: str = SOUNDFONT,
              log=print) -> dict:
  """Renders song ``index`` into ``OUT/songs/<name>/`` and its two target views.

  Returns:
    The song's entry of ``songs.json``.
  """
  import jax
  import soundfile as sf

  from mixjax import atomic_files
  from mixjax.io.audio import write_wav
  from mixjax.io.song_folder import load_song

  t0 = time.perf_counter()
  score = make_score(seed, index, n_tracks=n_tracks, seconds_range=seconds_range, style=style)
  name = f"{index:03d}_{style}"
  song_dir = os.path.join(out, "songs", name)
  for sub in ("tracks", "midi"):
    os.makedirs(os.path.join(song_dir, sub), exist_ok=True)
  n_samples = int(round(score.seconds * sample_rate))

  raw = []
  for part in score.parts:
    midi_path = os.path.join(song_dir, "midi", f"{part.name}.mid")
    write_midi(midi_path, part, score.bpm)
    raw.append(render_midi(midi_path, n_samples, sample_rate=sample_rate, soundfont=soundfont))
  t_render = time.perf_counter() - t0

  rng = np.random.default_rng([seed, index, 1])
  finished, levels = finish_tracks(rng, score.parts, raw, sample_rate=sample_rate)
  for part, x in zip(score.parts, finished):
    with atomic_files.atomic_path(os.path.join(song_dir, "tracks", f"{part.name}.wav")) as tmp:
      sf.write(tmp, x.T, sample_rate, subtype="PCM_24", format="WAV")
  groups = {}
  for part in score.parts:
    groups.setdefault(part.group, []).append(f"{part.name}.wav")
  _write_json(os.path.join(song_dir, "groups.json"), groups)
  # Mix what a loader reads: the 24-bit tracks read back.
  tracks = {p.name: sf.read(os.path.join(song_dir, "tracks", f"{p.name}.wav"), dtype="float32",
                            always_2d=True)[0].T for p in score.parts}

  # (b) pedalboard
  t1 = time.perf_counter()
  rng = np.random.default_rng([seed, index, 2])
  roles = {p.name: p.role for p in score.parts}
  members = {g: [os.path.splitext(f)[0] for f in fs] for g, fs in groups.items()}
  mix_b, effects = pedalboard_mix(rng, tracks, members, roles, sample_rate=sample_rate,
                                  bpm=score.bpm)
  write_wav(os.path.join(song_dir, "mix_pedalboard.wav"), mix_b, sample_rate)
  t_pedalboard = time.perf_counter() - t1

  # The song as the loader sees it fixes the track and group order of both truths.
  song = load_song(_make_view(out, name, "pedalboard"), sample_rate=sample_rate)
  index_of = {"track": {n: i for i, n in enumerate(song.track_names)},
              "group": {n: i for i, n in enumerate(song.group_names)}}
  for effect in effects:
    effect["index"] = index_of[effect["level"]][effect["owner"]]
  nodes = sorted({(e["level"], e["index"], e["owner"], e["mixjax_type"]) for e in effects})
  track_list = [{"name": n, "group": song.group_names[g]}
                for n, g in zip(song.track_names, song.resolved_groups())]
  _write_json(os.path.join(song_dir, "truth_pedalboard.json"), {
      "format": "mixjax.truth", "version": FORMAT_VERSION, "target": "pedalboard",
      "engine": f"pedalboard {_version('pedalboard')}", "sample_rate": sample_rate,
      "tracks": track_list, "groups": list(song.group_names),
      "chain_order": list(PEDALBOARD_ORDER),
      "effects": [{k: e[k] for k in ("level", "index", "owner", "type", "mixjax_type",
                                      "position", "settings")} for e in effects],
      "nodes": [{"level": lv, "index": i, "owner": o, "processor": t} for lv, i, o, t in nodes],
  })

  # (a) console
  t2 = time.perf_counter()
  key = jax.random.key(int(np.random.default_rng([seed, index, 3]).integers(2**31)))
  mix_a, truth = console_mix(song, key=key, density=density)
  write_wav(os.path.join(song_dir, "mix_console.wav"), mix_a, sample_rate)
  with atomic_files.atomic_path(os.path.join(song_dir, "truth_console_params.npz")) as tmp:
    with open(tmp, "wb") as f:
      np.savez_compressed(f, **console_params_arrays(truth))
  _write_json(os.path.join(song_dir, "truth_console.json"), console_truth_json(
      song, truth, density=density, params_file="truth_console_params.npz"))
  _make_view(out, name, "console")
  t_console = time.perf_counter() - t2

  _write_json(os.path.join(song_dir, "song.json"), {
      "name": name, **score.description, "seconds": score.seconds, "sample_rate": sample_rate,
      "parts": [{"name": p.name, "group": p.group, "role": p.role,
                 "program": p.program, "drums": p.drums, "notes": len(p.notes), **level}
                for p, level in zip(score.parts, levels)],
  })
  log(f"{name}: {len(score.parts)} tracks in {len(groups)} groups, {score.seconds:.1f} s "
      f"({score.description.get('source')}); fluidsynth {t_render:.1f} s, "
      f"pedalboard {t_pedalboard:.1f} s ({len(effects)} effects), console "
      f"{t_console:.1f} s ({len(truth.settings)} processors)")
  return {"name": name, "style": style, "source": score.description.get("source"),
          "seconds": score.seconds, "tracks": len(score.parts), "groups": groups,
          "pedalboard_effects": len(effects), "console_processors": len(truth.settings),
          "timing_s": {"fluidsynth": round(t_render, 2), "pedalboard": round(t_pedalboard, 2),
                       "console": round(t_console, 2)}}


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def _version(package: str) -> str:
  from importlib import metadata
  try:
    return metadata.version(package)
  except metadata.PackageNotFoundError:
    return "not installed"


def _fluidsynth_version() -> str:
  try:
    done = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True)
  except FileNotFoundError:
    return "not installed"
  match = re.search(r"version (\S+)", done.stdout)
  return match.group(1) if match else "unknown"


def check_tools(soundfont: str = SOUNDFONT) -> list[str]:
  """What is missing to make songs (empty when everything is there)."""
  missing = []
  if shutil.which("fluidsynth") is None:
    missing.append("the fluidsynth command (apt-get install fluidsynth)")
  if not os.path.exists(soundfont):
    missing.append(f"the SoundFont {soundfont} (apt-get install fluid-soundfont-gm)")
  for module, package in (("pedalboard", "pedalboard"), ("music21", "music21"),
                          ("mido", "mido")):
    try:
      __import__(module)
    except ImportError:
      missing.append(f"the Python package {package} (pip install {package})")
  return missing


def style_order(seed: int, styles: Sequence[str]) -> list[str]:
  """The styles in the order songs cycle through them (shuffled by the seed)."""
  rng = np.random.default_rng([seed, 2**20])
  return [styles[i] for i in rng.permutation(len(styles))]


def song_plan(seed: int, count: int, *, styles: Sequence[str], tracks_range) -> list:
  """``[(index, style, n_tracks)]`` of every song: deterministic from the seed."""
  order = style_order(seed, styles)
  plan = []
  for i in range(count):
    rng = np.random.default_rng([seed, i, 9])
    plan.append((i, order[i % len(order)], int(rng.integers(tracks_range[0], tracks_range[1] + 1))))
  return plan


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description="Render realistic evaluation songs: dry stems from MIDI with FluidSynth, a "
                  "console target and a pedalboard target per song (see the module docstring "
                  "and benchmarks/README.md).",
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument("--out", required=True, help="output folder (songs/, console/, pedalboard/)")
  parser.add_argument("--seed", type=int, default=0, help="the set's seed")
  parser.add_argument("--count", type=int, default=6, help="number of songs")
  parser.add_argument("--sample-rate", type=int, default=30000, help="Hz")
  parser.add_argument("--seconds-range", type=float, nargs=2, default=(8.0, 30.0),
                      metavar=("MIN", "MAX"), help="song length range (s)")
  parser.add_argument("--tracks-range", type=int, nargs=2, default=(4, 16),
                      metavar=("MIN", "MAX"), help="track count range")
  parser.add_argument("--styles", default=",".join(STYLES),
                      help="comma-separated styles to cycle through")
  parser.add_argument("--density", type=float, default=0.35,
                      help="console target: probability that each (node, processor) is alive")
  parser.add_argument("--soundfont", default=SOUNDFONT, help="General MIDI SoundFont")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace the songs of an earlier run in --out")
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  styles = [s.strip() for s in args.styles.split(",") if s.strip()]
  problems = []
  if any(s not in STYLES for s in styles) or not styles:
    problems.append(f"--styles must name some of {', '.join(STYLES)}, got {args.styles!r}")
  lo_s, hi_s = args.seconds_range
  if not 4.0 <= lo_s <= hi_s:
    problems.append(f"--seconds-range needs 4 <= MIN <= MAX, got {lo_s} {hi_s}")
  lo_t, hi_t = args.tracks_range
  if not 4 <= lo_t <= hi_t <= 16:
    problems.append(f"--tracks-range needs 4 <= MIN <= MAX <= 16, got {lo_t} {hi_t}")
  if args.count < 1:
    problems.append(f"--count must be >= 1, got {args.count}")
  if not 0.0 <= args.density <= 1.0:
    problems.append(f"--density is a probability in [0, 1], got {args.density}")
  problems += [f"missing {m}; run benchmarks/setup_songs.sh" for m in check_tools(args.soundfont)]
  manifest_path = os.path.join(args.out, "songs.json")
  if os.path.exists(manifest_path) and not args.overwrite:
    problems.append(f"{args.out} already holds a song set (songs.json); pass --overwrite to "
                    f"replace it or choose another --out")
  if problems:
    for problem in problems:
      print(f"make_songs.py: error: {problem}.", file=sys.stderr)
    return 2
  if args.overwrite:  # only what an earlier run made
    for sub in ("songs", "console", "pedalboard"):
      shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
    if os.path.exists(manifest_path):
      os.remove(manifest_path)
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  import mixjax

  t0 = time.perf_counter()
  entries = []
  for index, style, n_tracks in song_plan(args.seed, args.count, styles=styles,
                                         tracks_range=args.tracks_range):
    entries.append(make_song(args.out, args.seed, index, style=style, n_tracks=n_tracks,
                             seconds_range=args.seconds_range, sample_rate=args.sample_rate,
                             density=args.density, soundfont=args.soundfont))
  seconds = time.perf_counter() - t0
  checksums = {}
  for root, _, names in os.walk(os.path.join(args.out, "songs")):
    for f in sorted(names):
      path = os.path.join(root, f)
      checksums[os.path.relpath(path, args.out)] = _sha256(path)
  manifest = {
      "format": "mixjax.songs", "version": FORMAT_VERSION,
      "command": "python benchmarks/make_songs.py " + " ".join(
          argv if argv is not None else sys.argv[1:]),
      "seed": args.seed, "count": args.count, "sample_rate": args.sample_rate,
      "seconds_range": list(args.seconds_range), "tracks_range": list(args.tracks_range),
      "styles": styles, "density": args.density,
      "versions": {"fluidsynth": _fluidsynth_version(),
                   "soundfont": f"{os.path.basename(args.soundfont)} sha256 "
                                f"{_sha256(args.soundfont)[:16]}",
                   "mixjax": mixjax.__version__,
                   **{p: _version(p) for p in ("pedalboard", "music21", "mido", "jax", "numpy")}},
      "songs": [{k: v for k, v in e.items() if k != "timing_s"} for e in entries],
      "sha256": checksums,
  }
  _write_json(manifest_path, manifest)
  size = sum(os.path.getsize(os.path.join(args.out, p)) for p in checksums)
  print(f"{len(entries)} songs in {args.out} ({size / 2**20:.0f} MiB) in {seconds:.0f} s; "
        f"targets: {os.path.join(args.out, 'console')} and {os.path.join(args.out, 'pedalboard')}")
  print(json.dumps({"songs": len(entries), "seconds": round(seconds, 1),
                    "mib": round(size / 2**20, 1),
                    "per_song": {e["name"]: e["timing_s"] for e in entries}}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
