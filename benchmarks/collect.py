"""Batch throughput: songs per hour and renders per second against batch size and device count.

The benchmark users run to size a graph-collection job. For each device count
(a fresh process with ``--xla_force_host_platform_device_count`` on CPU; the
real devices elsewhere) and each batch size, it searches that many synthetic
songs at once with ``search_batch`` and reports songs/hour, console renders
per second (forward+backward steps and trial evaluations), compile time and
peak memory, plus the FLOPs of one step (XLA's cost analysis) for a
projection to other hardware. It names the backend it ran on. The last line
is one JSON object.

Usage:
  python benchmarks/collect.py [--batch-sizes 1,2,4,8] [--devices 1] [--preset reduced|paper]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

PRESETS = {
    # CPU-sized: 4-track songs of 6 s at 16 kHz, few steps; the paper's loss and samplers.
    "reduced": dict(tracks=4, groups=2, seconds=6.0, sample_rate=16000,
                    config=dict(console_steps=100, finetune_steps=25, rounds=2, reset_every=50,
                                sparsity_ramp_steps=50, steps_per_dispatch=25)),
    # The paper's settings (hours per song on a CPU: for accelerators).
    "paper": dict(tracks=16, groups=4, seconds=180.0, sample_rate=30000, config={}),
}


def measure(batch: int, preset: str) -> dict:
  """Searches ``batch`` synthetic songs at once in this process."""
  import jax
  import mixjax
  from mixjax.graph_search import fit as fit_lib

  p = PRESETS[preset]
  config = mixjax.SearchConfig(**p["config"])
  songs = [mixjax.synthetic_song(jax.random.key(100 + i), n_tracks=p["tracks"], n_groups=p["groups"],
                                 seconds=p["seconds"], sample_rate=p["sample_rate"])[0]
           for i in range(batch)]
  compiled = {k: f._cache_size() for k, f in (("fit", fit_lib.run_steps),)}
  t0 = time.perf_counter()
  results = mixjax.search_batch(songs, config, seeds=list(range(batch)), progress=False)
  seconds = time.perf_counter() - t0
  steps = config.console_steps + config.rounds * config.finetune_steps
  evaluations = sum(len(r.trials) + len(r.round_losses) + 3 for r in results)
  first = results[0]
  return {
      "batch": batch, "devices": jax.local_device_count(), "backend": jax.default_backend(),
      "seconds": seconds, "songs_per_hour": batch / seconds * 3600,
      "step_renders_per_s": batch * steps / (first.seconds["console_fit"] + first.seconds["finetune"]),
      "trial_evaluations_per_s": evaluations / max(first.seconds["trials"], 1e-9),
      "phase_seconds": first.seconds, "compilations": first.compilations,
      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
      "loss_pruned_mean": sum(r.loss_pruned for r in results) / batch,
      "compiled_before": compiled,
  }


def step_flops(preset: str) -> dict:
  """XLA's FLOP count and this machine's time for one optimisation step of one song."""
  import jax
  import numpy as np
  import mixjax
  from mixjax.graph_search import fit as fit_lib

  p = PRESETS[preset]
  config = mixjax.SearchConfig(steps_per_dispatch=1, console_steps=1, finetune_steps=1)
  sr = p["sample_rate"]
  n = config.crop_samples(sr)
  rng = np.random.default_rng(0)
  song = mixjax.Song((0.1 * rng.standard_normal((p["tracks"], 2, n))).astype(np.float32),
                     (0.1 * rng.standard_normal((2, n))).astype(np.float32),
                     [i * p["groups"] // p["tracks"] for i in range(p["tracks"])], sr)
  console = song.console()
  optimizer = fit_lib.default_optimizer(config)
  one = lambda x: jax.tree.map(lambda a: np.asarray(a)[None], x)
  args = (one(fit_lib.init_state(console.init(jax.random.key(0)), optimizer)), one(console),
          jax.random.split(jax.random.key(0), 1), song.padded_tracks()[None], song.mix[None],
          one(console.all_alive()), np.array([n], np.int32), fit_lib.sparsity_schedule(config))
  compiled = fit_lib.run_steps.lower(*args, settings=fit_lib.step_settings(config, sr),
                                     optimizer=optimizer).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  jax.block_until_ready(compiled(*args))
  t0 = time.perf_counter()
  for _ in range(3):
    jax.block_until_ready(compiled(*args))
  return {"flops_per_step": float(cost.get("flops", float("nan"))),
          "step_seconds": (time.perf_counter() - t0) / 3, "tracks": p["tracks"], "groups": p["groups"],
          "sample_rate": sr}


def _child(batch: int, devices: int, preset: str) -> dict:
  env = dict(os.environ)
  if devices > 1:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  out = subprocess.run([sys.executable, __file__, "--child", str(batch), "--preset", preset],
                       env=env, capture_output=True, text=True, check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch-sizes", default="1,2,4,8", help="songs per batch (default: %(default)s)")
  parser.add_argument("--devices", default="1", help="device counts; on CPU, simulated host devices (default: %(default)s)")
  parser.add_argument("--preset", choices=sorted(PRESETS), default="reduced", help="settings (default: %(default)s)")
  parser.add_argument("--flops-preset", default="paper", help="preset whose step FLOPs are counted (default: %(default)s)")
  parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    print(json.dumps(measure(args.child, args.preset)))
    return

  import jax
  rows = []
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}); preset {args.preset}: "
        f"{PRESETS[args.preset]}")
  print(f"{'devices':>7} {'batch':>5} | {'songs/h':>8} {'x batch 1':>9} | {'steps/s':>8} {'trials/s':>8} "
        f"| {'total s':>7} {'peak MB':>8}")
  for devices in map(int, args.devices.split(",")):
    base = None
    for batch in map(int, args.batch_sizes.split(",")):
      if batch % devices:
        continue
      row = _child(batch, devices, args.preset)
      base = base or row["songs_per_hour"]
      row["speedup_vs_batch1"] = row["songs_per_hour"] / base
      rows.append(row)
      print(f"{devices:>7} {batch:>5} | {row['songs_per_hour']:>8.1f} {row['speedup_vs_batch1']:>8.2f}x | "
            f"{row['step_renders_per_s']:>8.2f} {row['trial_evaluations_per_s']:>8.2f} | "
            f"{row['seconds']:>7.1f} {row['peak_rss_mb']:>8.0f}", flush=True)
  flops = step_flops(args.flops_preset)
  print(f"one {args.flops_preset}-setting step ({flops['tracks']} tracks, {flops['groups']} groups, "
        f"{flops['sample_rate']} Hz): {flops['flops_per_step'] / 1e9:.1f} GFLOP, "
        f"{flops['step_seconds']:.2f} s here")
  print(json.dumps({"benchmark": "collect", "backend": jax.default_backend(),
                    "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                    "preset": args.preset, "rows": rows, "step": flops}))


if __name__ == "__main__":
  main()
