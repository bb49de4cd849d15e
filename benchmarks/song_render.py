"""Whole-song render: one ``Console.render`` call vs ``Console.render_song`` (30 s blocks).

For each console size and song length, both ways render the full console (every processor
alive) of seeded random tracks at 30 kHz, each in its own process, so that a row's peak memory
is that render's: ``peak MB`` is the growth of the process's peak RSS over what it held before
rendering (the tracks, the parameters, the libraries). Seconds include compilation. The two
outputs are compared (max difference relative to the mix's peak). The last line is one JSON
object.

Usage:
  python benchmarks/song_render.py [--sizes 8x2,16x4] [--song-seconds 240] [--block-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing

def measure_one(tracks: int, groups: int, seconds: float, sample_rate: int, mode: str,
                block_seconds: float, out: str) -> dict:
  """Renders one song one way in this process; saves the mix to ``out`` (.npy)."""
  import jax
  import numpy as np

  import mixjax

  console = mixjax.Console.build([i * groups // tracks for i in range(tracks)],
                                 sample_rate=sample_rate)
  params = console.init(jax.random.key(0))
  dry = np.random.default_rng(0).standard_normal((tracks, 2, round(seconds * sample_rate)),
                                                 dtype=np.float32)
  dry *= 0.1
  before = timing.peak_rss_mb()
  t0 = time.perf_counter()
  if mode == "whole":
    mix = np.asarray(console.render(params, dry))
  else:
    mix = console.render_song(params, dry, block_seconds=block_seconds)
  elapsed = time.perf_counter() - t0
  np.save(out, mix)
  return {"mode": mode, "tracks": tracks, "groups": groups, "song_seconds": seconds,
          "seconds": elapsed, "peak_mb": timing.peak_rss_mb() - before, "tracks_mb": dry.nbytes / 2**20}


def _run_child(tracks, groups, mode, args, out) -> dict:
  return timing.run_child(__file__, "--child", f"{tracks}x{groups}:{mode}:{out}",
                          "--song-seconds", str(args.song_seconds), "--block-seconds",
                          str(args.block_seconds), "--sample-rate", str(args.sample_rate))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="8x2,16x4", help="tracks x groups (default: %(default)s)")
  parser.add_argument("--song-seconds", type=float, default=240.0, help="(default: %(default)s)")
  parser.add_argument("--block-seconds", type=float, default=30.0, help="(default: %(default)s)")
  parser.add_argument("--sample-rate", type=int, default=30000, help="Hz (default: %(default)s)")
  parser.add_argument("--child", help=argparse.SUPPRESS)
  args = parser.parse_args()

  if args.child:
    size, mode, out = args.child.split(":")
    t, g = map(int, size.split("x"))
    print(json.dumps(measure_one(t, g, args.song_seconds, args.sample_rate, mode,
                                 args.block_seconds, out)))
    return

  import numpy as np

  rows = []
  print(f"{'T x G':>7} {'song s':>7} | {'one render s':>12} {'peak MB':>8} | {'blocks s':>9} "
        f"{'peak MB':>8} | {'memory':>7} {'time':>6} | max diff / peak")
  with tempfile.TemporaryDirectory() as tmp:
    for size in args.sizes.split(","):
      t, g = map(int, size.split("x"))
      paths = {m: os.path.join(tmp, f"{m}.npy") for m in ("whole", "blocks")}
      whole, blocks = (_run_child(t, g, m, args, paths[m]) for m in ("whole", "blocks"))
      a, b = np.load(paths["whole"]), np.load(paths["blocks"])
      diff = float(np.abs(a - b).max() / np.abs(a).max())
      row = {"tracks": t, "groups": g, "whole": whole, "blocks": blocks,
             "memory_ratio": whole["peak_mb"] / blocks["peak_mb"],
             "time_ratio": blocks["seconds"] / whole["seconds"], "max_diff_over_peak": diff}
      rows.append(row)
      print(f"{size:>7} {args.song_seconds:7.0f} | {whole['seconds']:12.1f} "
            f"{whole['peak_mb']:8.0f} | {blocks['seconds']:9.1f} {blocks['peak_mb']:8.0f} | {row['memory_ratio']:6.1f}x "
            f"{row['time_ratio']:5.2f}x | {diff:.1e}", flush=True)
  print(json.dumps({"benchmark": "song_render", "sample_rate": args.sample_rate,
                    "song_seconds": args.song_seconds, "block_seconds": args.block_seconds,
                    "machine": timing.machine(), "rows": rows}))


if __name__ == "__main__":
  main()
