"""A song's result is a function of that song alone: the same, bit for bit, searched
alone, in a batch of songs of other shapes, and on one or four devices.

Each song is padded to its own bucket (``graph_search.buckets``), and a batch
is split into parts of one song (``songs_per_call=1``), so every song runs
through the same program. The runs are subprocesses, with
``XLA_FLAGS=--xla_force_host_platform_device_count`` set to 1 and 4 (the
device count is fixed when JAX starts).
"""

import json
import os
import subprocess
import sys

import numpy as np

import mixjax
from mixjax.graph_search import buckets
from mixjax.graph_search import run as run_lib

SCRIPT = r"""
import json, sys, jax, numpy as np
import mixjax
from mixjax import synthetic

assert jax.local_device_count() == int(sys.argv[1]), jax.devices()
SR = 8000
CONFIG = mixjax.SearchConfig(
    console_steps=20, finetune_steps=10, rounds=2, reset_every=10, steps_per_dispatch=10,
    crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0, sparsity_ramp_steps=10,
    trial_batch=2)

def make_song(seed, n_tracks, groups, seconds):
  tracks, names = synthetic.synthetic_tracks(jax.random.key(seed), n_tracks=n_tracks,
                                             seconds=seconds, sample_rate=SR)
  gains = np.linspace(0.5, 1.5, n_tracks)[:, None, None]
  mix = (tracks * gains).sum(0)
  mix[1] *= 0.7
  return mixjax.Song(tracks, mix, groups, SR, track_names=list(names))

# Buckets (tracks, groups): (3, 2), (3, 2), (3, 2), (2, 2); lengths 2.0 to 2.6 s.
SONGS = [make_song(0, 3, [0, None, 0], 2.0), make_song(1, 3, [0, 1, 1], 2.6),
         make_song(2, 3, [None, 0, 0], 2.2), make_song(3, 2, [0, None], 2.6)]
SEEDS = [5, 6, 7, 8]

def summary(r):
  return {"losses": [r.loss_sum, r.loss_console, r.loss_pruned], "rho": r.pruning_ratio,
          "nodes": sorted(map(list, r.alive_nodes())),
          "trials": [[list(map(list, t.candidates)), t.accepted, float(t.loss)] for t in r.trials],
          "history": r.history["loss"].tolist(),
          "params": [np.asarray(x).tolist() for x in jax.tree.leaves(r.params)],
          "padded": [r.console.max_tracks, r.console.max_groups]}

out = {}
for mode in sys.argv[2:]:
  if mode == "alone":
    results = [mixjax.search(s, CONFIG, seed=k, progress=False) for s, k in zip(SONGS, SEEDS)]
  else:  # a batch in the order given, e.g. "batch:3,0,2,1"
    order = [int(i) for i in mode.split(":")[1].split(",")]
    batch = mixjax.search_batch([SONGS[i] for i in order], CONFIG,
                                seeds=[SEEDS[i] for i in order], progress=False)
    results = [None] * len(SONGS)
    for i, r in zip(order, batch):
      results[i] = r
    out[mode + ":compilations"] = batch[0].compilations
  out[mode] = [None if r is None else summary(r) for r in results]
print("RESULT " + json.dumps(out))
"""


def run(devices: int, *modes: str) -> dict:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu")
  done = subprocess.run([sys.executable, "-c", SCRIPT, str(devices), *modes], env=env,
                        capture_output=True, text=True, timeout=1800)
  assert done.returncode == 0, done.stderr[-3000:]
  line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")][-1]
  return json.loads(line[len("RESULT "):])


def test_a_songs_result_is_the_same_alone_in_any_batch_and_on_any_device_count():
  four = run(4, "batch:0,1,2,3", "alone")
  one = run(1, "batch:2,3,0")
  reference = four["alone"]
  others = {"4 devices, batch of 4": four["batch:0,1,2,3"], "1 device, batch of 3": one["batch:2,3,0"]}
  for where, results in others.items():
    for i, (alone, other) in enumerate(zip(reference, results)):
      if other is not None:
        assert other == alone, f"song {i}: {where} differs from searching it alone"
  assert [s["padded"] for s in reference] == [[3, 2], [3, 2], [3, 2], [2, 2]]
  assert any(accepted for s in reference for _, accepted, _ in s["trials"])
  assert all(n <= 1 for n in four["batch:0,1,2,3:compilations"].values())


def test_the_bucket_ladder_pads_by_less_than_half():
  assert [buckets.padded_count(n) for n in range(1, 14)] == \
         [1, 2, 3, 4, 6, 6, 8, 8, 12, 12, 12, 12, 16]
  for n in range(1, 200):
    size = buckets.padded_count(n)
    assert n <= size < 1.5 * n
    assert buckets.padded_count(size) == size


def test_a_batch_splits_into_parts_of_one_bucket():
  def song(n_tracks, groups):
    tracks = np.full((n_tracks, 2, 8000), 0.1, np.float32)
    return mixjax.Song(tracks, tracks.sum(0), groups, 8000)

  songs = [song(5, [0, 0, 1, 1, 2]), song(2, [0, 0]), song(6, [0] * 6), song(3, [0, 1, 1])]
  config = mixjax.SearchConfig()
  assert run_lib.plan_parts(songs, config, songs_per_call=2) == [
      ((2, 1), [1]), ((3, 2), [3]), ((6, 1), [2]), ((6, 3), [0])]
  assert run_lib.plan_parts(songs[:1] * 3, config, songs_per_call=2) == [
      ((6, 3), [0, 1]), ((6, 3), [2])]
  fixed = config.replace(max_tracks=8, max_groups=4)  # one size for every song: one bucket
  assert run_lib.plan_parts(songs, fixed, songs_per_call=4) == [((8, 4), [0, 1, 2, 3])]
