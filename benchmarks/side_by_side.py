"""Songs side by side, one per device: what each device's compilation costs.

For each device count (a fresh process with ``--xla_force_host_platform_device_count`` on
CPU), searches as many tiny synthetic songs of one bucket as there are devices with
``search_batch`` (its default: one song per device, side by side), twice, each in a fresh
process sharing one new persistent compilation cache: the first process compiles ("cold"),
the second finds what the cache holds ("warm"). Each run reports its wall seconds, XLA's
compile seconds (JAX's backend-compile events, summed over the devices' threads), the
persistent cache's requests and hits, the programs compiled per jitted function, and peak
memory: a table, then one JSON object as the last line.

Usage:
  python benchmarks/side_by_side.py [--devices 1,4]
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


def child(cache_dir: str) -> dict:
  """Searches one tiny song per local device, side by side, with the cache in ``cache_dir``."""
  import jax
  import mixjax
  from mixjax.graph_search import batch as batch_lib

  mixjax.enable_compilation_cache(cache_dir)
  counts = {"requests": 0, "hits": 0, "compile_s": 0.0}

  def event(name: str, **_) -> None:
    if name == "/jax/compilation_cache/compile_requests_use_cache":
      counts["requests"] += 1
    elif name == "/jax/compilation_cache/cache_hits":
      counts["hits"] += 1

  def duration(name: str, seconds: float, **_) -> None:
    if name == "/jax/core/compile/backend_compile_duration":
      counts["compile_s"] += seconds

  jax.monitoring.register_event_listener(event)
  jax.monitoring.register_event_duration_secs_listener(duration)
  config = mixjax.SearchConfig.quick(console_steps=20, finetune_steps=10, rounds=1,
                                     crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0,
                                     steps_per_dispatch=10)
  n = jax.local_device_count()
  songs = [mixjax.synthetic_song(jax.random.key(i), n_tracks=3, n_groups=2, seconds=2.0,
                                 sample_rate=8000)[0] for i in range(n)]
  t0 = time.perf_counter()
  results = mixjax.search_batch(songs, config, progress=False)
  return {"devices": n, "wall_s": time.perf_counter() - t0, **counts,
          "compiled": results[0].compilations, "ran_on": [r.device for r in results],
          "peak_rss_mb": timing.peak_rss_mb()}


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--devices", default="1,4", help="device counts, comma-separated")
  parser.add_argument("--child", metavar="CACHE_DIR", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    out = child(args.child)
    print(json.dumps(out))
    return out
  rows = []
  for n in map(int, args.devices.split(",")):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    with tempfile.TemporaryDirectory() as cache_dir:
      for run in ("cold", "warm"):
        row = {"run": run, **timing.run_child(__file__, "--child", cache_dir, env=env)}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
  out = {"machine": timing.machine(), "rows": rows}
  print(f"songs side by side, one per device ({out['machine']})")
  print("| devices | run | wall s | XLA compile s | cache hits / requests | peak RSS MB |")
  print("|---|---|---|---|---|---|")
  for row in rows:
    print(f"| {row['devices']} | {row['run']} | {row['wall_s']:.1f} | {row['compile_s']:.1f} | "
          f"{row['hits']} / {row['requests']} | {row['peak_rss_mb']:.0f} |")
  print(json.dumps(out))
  return out


if __name__ == "__main__":
  main()
