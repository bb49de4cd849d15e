"""Batch throughput: songs per hour and renders per second against batch size and device count.

The benchmark users run to size a graph-collection job. For each device count
(a fresh process with ``--xla_force_host_platform_device_count`` on CPU; the
real devices elsewhere) and each batch size, it searches that many synthetic
songs at once with ``search_batch``, twice in one process: the first run
compiles ("cold", what a short run sees), the second is the steady state of a
long collection (one compile per shape bucket, amortised over its songs). It
reports songs/hour of both, console renders per second (forward+backward
steps and trial evaluations), compile time and peak memory, plus the FLOPs of
one step (XLA's cost analysis) for a projection to other hardware. It names
the backend it ran on. The last line is one JSON object.

Usage:
  python benchmarks/batch_throughput.py [--batch-sizes 1,2,4,8] [--devices 1] [--preset reduced|paper]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing

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

  compile_s = timing.count_compile_seconds()
  p = PRESETS[preset]
  config = mixjax.SearchConfig(**p["config"])
  songs = [mixjax.synthetic_song(jax.random.key(100 + i), n_tracks=p["tracks"], n_groups=p["groups"],
                                 seconds=p["seconds"], sample_rate=p["sample_rate"])[0]
           for i in range(batch)]
  compiled = {k: f._cache_size() for k, f in (("fit", fit_lib.run_steps),)}
  t0 = time.perf_counter()
  # All songs in one vmapped, sharded program (the throughput of a batch; search_batch's
  # default, one song per call, gives exact batch-independent results).
  mixjax.search_batch(songs, config, seeds=list(range(batch)), progress=False,
                      songs_per_call=batch)
  cold_seconds = time.perf_counter() - t0
  # The same batch again: compiled, this is the steady state of a long collection run
  # (one compile per shape bucket, amortised over all its songs).
  t0 = time.perf_counter()
  results = mixjax.search_batch(songs, config, seeds=list(range(batch)), progress=False,
                                songs_per_call=batch)
  seconds = time.perf_counter() - t0
  steps = config.console_steps + config.rounds * config.finetune_steps
  evaluations = sum(len(r.trials) + len(r.round_losses) + 3 for r in results)
  first = results[0]
  return {
      "batch": batch, "devices": jax.local_device_count(), "backend": jax.default_backend(),
      "cold_seconds": cold_seconds, "cold_songs_per_hour": batch / cold_seconds * 3600,
      "seconds": seconds, "songs_per_hour": batch / seconds * 3600,
      "step_renders_per_s": batch * steps / (first.seconds["console_fit"] + first.seconds["finetune"]),
      "trial_evaluations_per_s": evaluations / max(first.seconds["trials"], 1e-9),
      "phase_seconds": first.seconds, "compilations": first.compilations,
      "peak_rss_mb": timing.peak_rss_mb(),
      "loss_pruned_mean": sum(r.loss_pruned for r in results) / batch,
      "compiled_before": compiled, "compile_s": compile_s[0],
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
  console = mixjax.Console.of(song)
  optimizer = fit_lib.default_optimizer(config)
  one = lambda x: jax.tree.map(lambda a: np.asarray(a)[None], x)
  args = jax.device_put((
      one(fit_lib.init_state(console.init(jax.random.key(0)), optimizer)), one(console),
      jax.random.split(jax.random.key(0), 1), song.padded_tracks()[None], song.mix[None],
      one(console.all_alive()), np.array([n], np.int32), fit_lib.sparsity_schedule(config)))
  compiled = fit_lib.run_steps.lower(*args, settings=fit_lib.step_settings(config, sr),
                                     optimizer=optimizer).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  jax.block_until_ready(compiled(*args))
  step = timing.no_uploads(lambda: jax.block_until_ready(compiled(*args)))
  t0 = time.perf_counter()
  for _ in range(3):
    step()
  return {"flops_per_step": float(cost.get("flops", float("nan"))),
          "step_seconds": (time.perf_counter() - t0) / 3, "tracks": p["tracks"], "groups": p["groups"],
          "sample_rate": sr}


PAPER_COST_SONG_SECONDS = 60.0
"""Song length of the paper-setting cost measurement (the costs scale with the chunk count)."""

PAPER_TRIALS_PER_SONG = 300
"""Assumed trials per song at the paper's settings (hybrid sampler, 140 processors, 12 rounds)."""


def paper_costs(batch: int, *, tracks: int | None = None, groups: int | None = None,
                song_seconds: float = None, sample_rate: int | None = None,
                config_overrides: dict | None = None) -> dict:
  """Measured costs of the paper's setting for a batch of songs, and the songs/hour they imply.

  16 tracks, 4 groups, 30 kHz, the paper's loss and crop, random-noise songs of
  ``PAPER_COST_SONG_SECONDS``: one optimisation step of the batch, one round-start cache render
  and one call of incremental trials per song (``trial_batch`` nested single-node removals,
  the backend's default). The search
  itself (12000 steps, ~300 trials per song) is hours per song on a CPU, so songs/hour is
  projected from these costs for 3-minute songs.

  The keyword arguments shrink the setting (``benchmarks/accelerator.py``
  runs it at tiny sizes in the test suite); by default the paper's 16 × 4 at
  30 kHz on ``PAPER_COST_SONG_SECONDS`` songs.
  """
  import jax
  import numpy as np
  import mixjax
  from mixjax.graph_search import fit as fit_lib
  from mixjax.graph_search import batch as batch_lib

  p = dict(PRESETS["paper"])
  p.update({k: v for k, v in dict(tracks=tracks, groups=groups, sample_rate=sample_rate).items()
            if v is not None})
  song_seconds = PAPER_COST_SONG_SECONDS if song_seconds is None else song_seconds
  sr, n = p["sample_rate"], int(song_seconds * p["sample_rate"])
  rng = np.random.default_rng(0)
  songs = [mixjax.Song((0.1 * rng.standard_normal((p["tracks"], 2, n))).astype(np.float32),
                       (0.1 * rng.standard_normal((2, n))).astype(np.float32),
                       [i * p["groups"] // p["tracks"] for i in range(p["tracks"])], sr)
           for _ in range(batch)]
  steps = 5
  config = mixjax.SearchConfig(console_steps=steps, finetune_steps=steps, steps_per_dispatch=steps,
                               **(config_overrides or {}))
  search = batch_lib.BatchSearch(songs, config, list(range(batch)),
                                fit_lib.default_optimizer(config), False)
  run = search.new_run()

  def timed(fn, *, guard=True):
    # The songs are on the device (BatchSearch put them there once): a guarded call that
    # uploads anything implicitly raises (timing.no_uploads). Unguarded: the compiles, and
    # BatchSearch.fit, whose own bookkeeping uploads scalars (an eager start_phase per phase,
    # the step counter's index per dispatch), as in a search.
    if guard:
      fn = timing.no_uploads(fn)
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(jax.tree.leaves(getattr(out, "cache", out)))
    return time.perf_counter() - t0, out

  compile_fit, _ = timed(lambda: search.fit(run, steps, 0, "fit") or run["state"], guard=False)
  fit_s, _ = timed(lambda: search.fit(run, steps, 0, "fit") or run["state"], guard=False)
  params = run["state"].params
  evaluator = search.round_evaluator(params, run["flags"])
  compile_cache, _ = timed(lambda: evaluator.render_cache() or evaluator, guard=False)
  cache_s, _ = timed(lambda: evaluator.render_cache() or evaluator)

  def request():
    masks = []
    for table, flags in zip(search.tables, run["flags"]):
      m, out = flags.copy(), []
      for node in rng.choice(np.flatnonzero(m), search.trial_batch, replace=False):
        m = m.copy()
        m[node] = False
        out.append(m)
      masks.append(out)
    return masks

  compile_trials, _ = timed(lambda: evaluator(request()), guard=False)
  trials_s, answered = timed(lambda: evaluator(request()))
  answered = float(np.mean([len(a) for a in answered]))
  chunks = len(search.starts)
  scale = math.ceil(180.0 / config.eval_hop_seconds) / chunks  # to 3-minute songs
  per_song = (12000 * fit_s / steps + 12 * cache_s * scale
              + PAPER_TRIALS_PER_SONG / answered * trials_s * scale) / batch
  return {"batch": batch, "devices": jax.local_device_count(), "backend": jax.default_backend(),
          "step_s": fit_s / steps, "cache_render_s": cache_s, "trial_call_s": trials_s,
          "trials_answered_per_call": answered, "chunks": chunks,
          "compile_s": compile_fit - fit_s + compile_cache - cache_s + compile_trials - trials_s,
          "projected_song_s": per_song, "projected_songs_per_hour": 3600 / per_song,
          "peak_rss_mb": timing.peak_rss_mb()}


def _child(batch: int, devices: int, preset: str, mode: str = "search") -> dict:
  env = dict(os.environ)
  if devices > 1:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  return timing.run_child(__file__, "--child", str(batch), "--preset", preset, "--child-mode",
                          mode, env=env)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch-sizes", default="1,2,4,8", help="songs per batch (default: %(default)s)")
  parser.add_argument("--devices", default="1", help="device counts; on CPU, simulated host devices (default: %(default)s)")
  parser.add_argument("--preset", choices=sorted(PRESETS), default="reduced", help="settings (default: %(default)s)")
  parser.add_argument("--flops-preset", default="paper", help="preset whose step FLOPs are counted (default: %(default)s)")
  parser.add_argument("--paper-batch-sizes", default="1,2",
                      help="batch sizes of the paper-setting cost rows ('' to skip) (default: %(default)s)")
  parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--child-mode", default="search", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    fn = paper_costs if args.child_mode == "paper" else lambda b: measure(b, args.preset)
    print(json.dumps(fn(args.child)))
    return

  import jax
  rows = []
  print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind}); preset {args.preset}: "
        f"{PRESETS[args.preset]}")
  print(f"{'devices':>7} {'batch':>5} | {'songs/h':>8} {'x batch 1':>9} | {'cold songs/h':>12} "
        f"{'x batch 1':>9} | {'steps/s':>8} {'trials/s':>8} | {'warm s':>7} {'cold s':>7} "
        f"{'compile s':>9} {'peak MB':>8}")
  for devices in map(int, args.devices.split(",")):
    base = None
    for batch in map(int, args.batch_sizes.split(",")):
      if batch % devices:
        continue
      row = _child(batch, devices, args.preset)
      base = base or row
      row["speedup_vs_batch1"] = row["songs_per_hour"] / base["songs_per_hour"]
      row["cold_speedup_vs_batch1"] = row["cold_songs_per_hour"] / base["cold_songs_per_hour"]
      rows.append(row)
      print(f"{devices:>7} {batch:>5} | {row['songs_per_hour']:>8.1f} {row['speedup_vs_batch1']:>8.2f}x | "
            f"{row['cold_songs_per_hour']:>12.1f} {row['cold_speedup_vs_batch1']:>8.2f}x | "
            f"{row['step_renders_per_s']:>8.2f} {row['trial_evaluations_per_s']:>8.2f} | "
            f"{row['seconds']:>7.1f} {row['cold_seconds']:>7.1f} {row['compile_s']:>9.1f} "
            f"{row['peak_rss_mb']:>8.0f}", flush=True)
  paper_rows = []
  if args.paper_batch_sizes:
    print(f"\npaper settings (16 x 4, 30 kHz; costs measured on {PAPER_COST_SONG_SECONDS:.0f} s songs, "
          f"songs/hour projected for 3-minute songs, {PAPER_TRIALS_PER_SONG} trials per song):")
    print(f"{'batch':>5} | {'step s':>7} {'cache s':>7} {'trials s':>8} {'answered':>8} | "
          f"{'song s':>8} {'songs/h':>7} | {'compile s':>9} {'peak MB':>8}")
    for batch in map(int, args.paper_batch_sizes.split(",")):
      row = _child(batch, 1, "paper", mode="paper")
      paper_rows.append(row)
      print(f"{batch:>5} | {row['step_s']:>7.2f} {row['cache_render_s']:>7.1f} "
            f"{row['trial_call_s']:>8.1f} {row['trials_answered_per_call']:>8.1f} | "
            f"{row['projected_song_s']:>8.0f} {row['projected_songs_per_hour']:>7.2f} | "
            f"{row['compile_s']:>9.1f} {row['peak_rss_mb']:>8.0f}", flush=True)
  flops = step_flops(args.flops_preset)
  print(f"one {args.flops_preset}-setting step ({flops['tracks']} tracks, {flops['groups']} groups, "
        f"{flops['sample_rate']} Hz): {flops['flops_per_step'] / 1e9:.1f} GFLOP, "
        f"{flops['step_seconds']:.2f} s here")
  print(json.dumps({"benchmark": "batch_throughput", "backend": jax.default_backend(),
                    "machine": timing.machine(),
                    "preset": args.preset, "rows": rows, "paper_rows": paper_rows, "step": flops}))


if __name__ == "__main__":
  main()
