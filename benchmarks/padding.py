"""The cost of bucket padding: training steps of one song's console at its own size and
padded to larger track counts (``graph_search.buckets``).

A 5-track song in 2 groups is fitted with the compiled training step of ``search`` (the
paper's loss and crop, ``steps_per_dispatch`` steps per call) at 5, 6 and 8 track slots.
Each size is compiled first, then the sizes are timed in turns (``--repeats`` rounds), so a
busy machine slows them alike; the table gives the best and the median seconds per step. The
last line is one JSON object.

Usage:
  python benchmarks/padding.py [--tracks 5] [--sizes 5,6,8] [--sample-rate 30000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--tracks", type=int, default=5)
  parser.add_argument("--groups", type=int, default=2)
  parser.add_argument("--sizes", default="5,6,8")
  parser.add_argument("--sample-rate", type=int, default=30000)
  parser.add_argument("--steps", type=int, default=10, help="steps per compiled call")
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args(argv)

  import jax
  import numpy as np

  import mixjax
  from mixjax import nodes
  from mixjax.graph_search import evaluate as evaluate_lib
  from mixjax.graph_search import fit as fit_lib

  sr = args.sample_rate
  config = mixjax.SearchConfig(steps_per_dispatch=args.steps, console_steps=args.steps,
                               finetune_steps=args.steps)
  song, _ = mixjax.synthetic_song(jax.random.key(0), n_tracks=args.tracks, n_groups=args.groups,
                                  seconds=config.crop_seconds + 1.0, sample_rate=sr)
  optimizer = fit_lib.default_optimizer(config)
  settings = fit_lib.step_settings(config, sr)
  sparsity = fit_lib.sparsity_schedule(config)

  def prepare(size: int):
    console = mixjax.Console.of(song, max_tracks=size, max_groups=args.groups)
    params = console.init(jax.random.key(1))
    stack = lambda tree: jax.tree.map(lambda x: np.stack([np.asarray(x)]), tree)
    state = jax.vmap(functools.partial(fit_lib.init_state, optimizer=optimizer))(stack(params))
    alive = nodes.stack([console.all_alive()])
    inputs = jax.device_put((stack(console), jax.random.key(2)[None],
                             song.padded_tracks(size)[None], song.mix[None], alive,
                             np.array([song.n_samples], np.int32), sparsity))

    def call(state):
      out, _ = fit_lib.run_steps(state, *inputs, settings=settings, optimizer=optimizer)
      return jax.block_until_ready(out)

    t0 = time.perf_counter()
    state = call(state)
    return call, state, time.perf_counter() - t0

  sizes = [int(s) for s in args.sizes.split(",")]
  prepared = {size: prepare(size) for size in sizes}
  seconds = {size: [] for size in sizes}
  for _ in range(args.repeats):
    for size in sizes:
      call, state, _ = prepared[size]
      t0 = time.perf_counter()
      timing.no_uploads(lambda: call(state))()  # the inputs are on the device
      seconds[size].append((time.perf_counter() - t0) / args.steps)
  base = min(seconds[sizes[0]])
  rows = []
  print(f"{args.tracks}-track song, {args.groups} groups, {sr} Hz, crop {config.crop_seconds} s; "
        f"{timing.machine()}, "
        f"load {os.getloadavg()[0]:.1f}")
  print("| track slots | s / step, best | s / step, median | vs own size | first call s |")
  print("|---|---|---|---|---|")
  for size in sizes:
    best, median = min(seconds[size]), float(np.median(seconds[size]))
    rows.append({"slots": size, "best_s": best, "median_s": median, "ratio": best / base,
                 "first_call_s": prepared[size][2]})
    print(f"| {size} | {best:.3f} | {median:.3f} | {best / base:.2f}x | {prepared[size][2]:.1f} |")
  print(json.dumps({"tracks": args.tracks, "groups": args.groups, "sample_rate": sr,
                    "load": os.getloadavg()[0], "rows": rows}))


if __name__ == "__main__":
  main()
