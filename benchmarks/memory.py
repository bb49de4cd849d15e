"""Peak memory of the pruning trials against song length, with the trial cache bounded
(``graph_search.incremental.CACHE_BYTES``) and unbounded.

For each console size, song length and cache budget, a fresh process builds a song of
seeded random tracks (the console at its initial parameters, the paper's chunks and loss),
compiles the round's programs, renders the trial cache and answers ``--requests`` trial
requests (nested one-node removals, so the second one moves the base: a ``rebase``) with
``incremental.RoundEvaluator``, as one pruning round of a search does. It reports the
process's peak RSS, the bytes of the song's own audio (tracks and mix, which every search
holds whole), the peak minus the audio (what the trials and the libraries add), and the
seconds of the compile, the cache render and each trial call. A budget of 0 caches every
chunk (the behaviour before the cache was bounded); the losses of every budget are printed
side by side and must agree. The last line is one JSON object.

Usage:
  python benchmarks/memory.py [--minutes 1,4,8] [--sizes 16x4] [--sample-rate 30000]
                              [--cache-mb 512,0] [--requests 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing


def measure_one(tracks: int, groups: int, minutes: float, sample_rate: int,
                cache_bytes: int | None, requests: int) -> dict:
  """One song, one cache budget, in this process (its peak RSS is the row's)."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  import mixjax
  from mixjax import nodes
  from mixjax.graph_search import evaluate, incremental

  config = mixjax.SearchConfig()
  chunk_len = config.crop_samples(sample_rate)
  n = round(minutes * 60 * sample_rate)
  starts = evaluate.chunk_starts(n, sample_rate=sample_rate, config=config)
  length = max(n, int(starts[-1]) + chunk_len)

  # White noise from a hash of (row, sample), made by one elementwise program on the device,
  # padded for the chunks: the process holds one copy of the song (a NumPy song is copied by
  # device_put; jax.random, an in-place fill or a sum over the tracks needs temporaries of its
  # size). The mix is noise too: memory and time do not depend on what it is.
  @functools.partial(jax.jit, static_argnums=(0, 1, 2))
  def noise(shape, n_samples, first_row):
    i = jnp.arange(shape[-1], dtype=jnp.float32)
    rows = first_row + jnp.arange(math.prod(shape[:-1]), dtype=jnp.float32)
    x = 43758.5453 * jnp.sin(12.9898 * i + 78.233 * rows.reshape(shape[:-1] + (1,)))
    return jnp.where(i < n_samples, 0.2 * (x - jnp.floor(x) - 0.5), 0.0)

  dry = noise((1, tracks, 2, length), n, 0)
  mix = noise((1, 2, length), n, 2 * tracks)

  console = mixjax.Console.build([i * groups // tracks for i in range(tracks)],
                                 sample_rate=sample_rate)
  stack = lambda tree: jax.device_put(jax.tree.map(lambda x: np.asarray(x)[None], tree))
  table = nodes.NodeTable.of(console)
  arrays = {"console": stack(console), "tracks": dry, "mix": mix,
            "n_chunks": jax.device_put(np.array([len(starts)], np.int32))}
  flags = np.ones(len(table.nodes), bool)
  evaluator = incremental.RoundEvaluator(
      stack(console.init(jax.random.key(0))), arrays, [console], [table], [flags],
      starts=jax.device_put(starts.astype(np.int32)), put=jax.device_put, chunk_len=chunk_len,
      omit_seconds=config.omit_seconds, fft_sizes=tuple(config.fft_sizes),
      batch=config.trials_per_call(), skip_dead_types=config.skips_dead_types(),
      cache_bytes=cache_bytes)
  setup_mb = timing.peak_rss_mb()

  def render_cache():
    evaluator.render_cache()
    jax.block_until_ready(evaluator.cache)

  compile_s = timing.seconds(evaluator.compile)
  cache_s = timing.seconds(render_cache)
  track_nodes = [i for i, node in enumerate(table.nodes) if node.level == "track"]
  trial_s, losses, mask = [], [], flags
  for k in range(requests):
    mask = mask.copy()
    mask[track_nodes[k]] = False
    t0 = time.perf_counter()
    (loss,) = evaluator([[mask]])
    trial_s.append(time.perf_counter() - t0)
    losses.append(float(loss[0]))

  peak_mb = timing.peak_rss_mb()
  audio_mb = (dry.nbytes + mix.nbytes) / 2**20
  return {"tracks": tracks, "groups": groups, "minutes": minutes, "sample_rate": sample_rate,
          "cache_mb": None if cache_bytes is None else cache_bytes / 2**20,
          "chunks": len(starts), "cached_chunks": int(evaluator.starts.shape[0]),
          "peak_rss_mb": peak_mb, "audio_mb": audio_mb, "peak_minus_audio_mb": peak_mb - audio_mb,
          "setup_rss_mb": setup_mb, "compile_s": compile_s, "cache_render_s": cache_s,
          "trial_s": trial_s, "losses": losses, "jax": jax.__version__,
          "backend": jax.default_backend()}


def _cache_bytes(cache_mb: float) -> int | None:
  return None if cache_mb == 0 else int(cache_mb * 2**20)


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--minutes", default="1,4,8", help="song lengths (default: %(default)s)")
  parser.add_argument("--sizes", default="16x4", help="tracks x groups (default: %(default)s)")
  parser.add_argument("--sample-rate", type=int, default=30000, help="Hz (default: %(default)s)")
  parser.add_argument("--cache-mb", default="512,0",
                      help="trial cache budgets in MiB, 0: unbounded (default: %(default)s)")
  parser.add_argument("--requests", type=int, default=2, help="trial calls (default: %(default)s)")
  parser.add_argument("--child", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)

  if args.child:
    size, minutes, cache_mb = args.child.split(":")
    t, g = map(int, size.split("x"))
    row = measure_one(t, g, float(minutes), args.sample_rate, _cache_bytes(float(cache_mb)),
                      args.requests)
    print(json.dumps(row))
    return row

  load_before = os.getloadavg()[0]
  print(f"trial cache peak memory, {args.sample_rate} Hz, {args.requests} trial calls; "
        f"{timing.machine()}, load {load_before:.2f}")
  print("| T x G | minutes | cache MiB | cached / chunks | peak RSS MB | audio MB | peak - audio MB "
        "| compile s | cache render s | trial call s | losses |")
  print("|---|---|---|---|---|---|---|---|---|---|---|")
  rows = []
  for size in args.sizes.split(","):
    for minutes in args.minutes.split(","):
      for cache_mb in args.cache_mb.split(","):
        row = timing.run_child(__file__, "--child", f"{size}:{minutes}:{cache_mb}",
                               "--sample-rate", str(args.sample_rate),
                               "--requests", str(args.requests))
        rows.append(row)
        budget = "all" if row["cache_mb"] is None else f"{row['cache_mb']:.4g}"
        print(f"| {size.replace('x', ' x ')} | {row['minutes']:g} | {budget} | "
              f"{row['cached_chunks']} / {row['chunks']} | {row['peak_rss_mb']:.0f} | "
              f"{row['audio_mb']:.0f} | {row['peak_minus_audio_mb']:.0f} | "
              f"{row['compile_s']:.1f} | {row['cache_render_s']:.1f} | "
              f"{', '.join(f'{s:.1f}' for s in row['trial_s'])} | "
              f"{', '.join(f'{x:.6f}' for x in row['losses'])} |", flush=True)
  summary = {"benchmark": "memory", "sample_rate": args.sample_rate, "machine": timing.machine(),
             "load_before": load_before, "load_after": os.getloadavg()[0], "rows": rows}
  print(json.dumps(summary))
  return summary


if __name__ == "__main__":
  main()
