"""Console render speed: mixjax vs GRAFX on the same console, side by side.

For (tracks, groups) = (4, 1), (8, 2), (16, 4), (32, 8) at 30 kHz on 3.8 s:
forward and forward+backward (MSE to a random target, gradient to every
parameter) time, compile time and peak memory; each size runs in its own
process so the peak RSS is that size's. When GRAFX is importable (see
benchmarks/README.md) the same console is timed in GRAFX in the same run and
the ratio GRAFX / mixjax is printed. The last line is one JSON object.

Usage:
  python benchmarks/render.py [--sizes 4x1,8x2,16x4,32x8] [--repeats 5] [--no-grafx]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import grafx_side, timing


def measure_one(tracks: int, groups: int, seconds: float, sample_rate: int, repeats: int) -> dict:
  """Times one console size in this process."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  import mixjax
  from mixjax import console as console_lib

  track_groups = [i * groups // tracks for i in range(tracks)]
  console = mixjax.Console.build(track_groups, sample_rate=sample_rate)
  n = int(round(seconds * sample_rate))
  rng = np.random.default_rng(0)
  dry = jnp.asarray(0.1 * rng.standard_normal((tracks, 2, n)), jnp.float32)
  target = jnp.asarray(0.1 * rng.standard_normal((2, n)), jnp.float32)
  params = console.init(jax.random.key(0))
  alive = console.all_alive()

  forward = jax.jit(lambda p, x: console_lib.render(console, p, x, alive)[0])

  def mse(p, x):
    return jnp.mean((console_lib.render(console, p, x, alive)[0] - target) ** 2)

  backward = jax.jit(jax.value_and_grad(mse))

  t0 = time.perf_counter()
  forward_c = forward.lower(params, dry).compile()
  compile_fwd = time.perf_counter() - t0
  t0 = time.perf_counter()
  backward_c = backward.lower(params, dry).compile()
  compile_bwd = time.perf_counter() - t0

  jax.block_until_ready(forward_c(params, dry))
  jax.block_until_ready(backward_c(params, dry))
  fwd = timing.median_seconds(lambda: jax.block_until_ready(forward_c(params, dry)), repeats)
  bwd = timing.median_seconds(lambda: jax.block_until_ready(backward_c(params, dry)), repeats)
  return {
      "tracks": tracks, "groups": groups, "fwd_s": fwd, "fwd_bwd_s": bwd,
      "compile_fwd_s": compile_fwd, "compile_fwd_bwd_s": compile_bwd,
      "peak_rss_mb": timing.peak_rss_mb(),
      "jax": jax.__version__, "backend": jax.default_backend(),
  }


def _run_child(tracks, groups, args) -> dict:
  return timing.run_child(__file__, "--child", f"{tracks}x{groups}", "--repeats",
                          str(args.repeats), "--seconds", str(args.seconds), "--sample-rate",
                          str(args.sample_rate))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="4x1,8x2,16x4,32x8", help="tracks x groups list (default: %(default)s)")
  parser.add_argument("--repeats", type=int, default=5, help="timed repeats, median reported (default: %(default)s)")
  parser.add_argument("--seconds", type=float, default=3.8, help="signal length (default: %(default)s)")
  parser.add_argument("--sample-rate", type=int, default=30000, help="Hz (default: %(default)s)")
  parser.add_argument("--no-grafx", action="store_true", help="skip the GRAFX side")
  parser.add_argument("--child", help=argparse.SUPPRESS)
  args = parser.parse_args()

  if args.child:
    t, g = map(int, args.child.split("x"))
    print(json.dumps(measure_one(t, g, args.seconds, args.sample_rate, args.repeats)))
    return

  grafx_python = None if args.no_grafx else grafx_side.find_grafx_python()
  rows = []
  for size in args.sizes.split(","):
    t, g = map(int, size.split("x"))
    row = {"mixjax": _run_child(t, g, args)}
    if grafx_python:
      row["grafx"] = grafx_side.run_grafx("render", tracks=t, groups=g, seconds=args.seconds,
                                          sample_rate=args.sample_rate, repeats=args.repeats)
    rows.append(row)
    _print_row(row, t, g)

  summary = {
      "benchmark": "render", "seconds": args.seconds, "sample_rate": args.sample_rate,
      "machine": timing.machine(),
      "rows": [],
  }
  for row in rows:
    m = row["mixjax"]
    entry = {"tracks": m["tracks"], "groups": m["groups"], "mixjax": m}
    if row.get("grafx"):
      gx = row["grafx"]
      entry["grafx"] = gx
      entry["ratio_fwd"] = gx["fwd_s"] / m["fwd_s"]
      entry["ratio_fwd_bwd"] = gx["fwd_bwd_s"] / m["fwd_bwd_s"]
    summary["rows"].append(entry)
  print(json.dumps(summary))


_HEADER_PRINTED = False


def _print_row(row, t, g) -> None:
  global _HEADER_PRINTED
  if not _HEADER_PRINTED:
    print(f"{'tracks x groups':>15} | {'mixjax fwd':>10} {'fwd+bwd':>8} {'compile':>8} {'peak MB':>8} "
          f"| {'GRAFX fwd':>9} {'fwd+bwd':>8} {'peak MB':>8} | {'ratio fwd':>9} {'fwd+bwd':>8}")
    _HEADER_PRINTED = True
  m, gx = row["mixjax"], row.get("grafx")
  line = (f"{f'{t} x {g}':>15} | {m['fwd_s']:>9.3f}s {m['fwd_bwd_s']:>7.3f}s "
          f"{m['compile_fwd_bwd_s']:>7.1f}s {m['peak_rss_mb']:>8.0f} | ")
  if gx:
    line += (f"{gx['fwd_s']:>8.3f}s {gx['fwd_bwd_s']:>7.3f}s {gx['peak_rss_mb']:>8.0f} | "
             f"{gx['fwd_s'] / m['fwd_s']:>8.2f}x {gx['fwd_bwd_s'] / m['fwd_bwd_s']:>7.2f}x")
  else:
    line += f"{'(GRAFX not available)':>28} |"
  print(line, flush=True)


if __name__ == "__main__":
  main()
