"""A song's result is a function of that song alone: the same, bit for bit, searched
alone, in a batch of songs of other shapes, and side by side with them on another device.

Each song is padded to its own bucket (``graph_search.buckets``), and a batch
is split into parts of one song (``songs_per_call=1``), run side by side, one
per device, each through the program it runs alone. The runs are a
subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the
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
import json, sys, tempfile, threading, time, jax, numpy as np
import mixjax
from mixjax import synthetic
from mixjax.graph_search import batch as batch_lib

assert jax.local_device_count() == 4, jax.devices()
mixjax.enable_compilation_cache()  # as the test process (conftest): warm in a second run
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

# Buckets (tracks, groups): (6, 2), (3, 2), (6, 2), (3, 2); a bucket's songs are equally long
# (2.2 s, 2.6 s), so their programs are the same.
SONGS = [make_song(0, 5, [0, 0, 1, 1, 1], 2.2), make_song(1, 3, [0, 1, 1], 2.6),
         make_song(2, 5, [0, 1, 0, 1, 1], 2.2), make_song(3, 3, [0, None, 0], 2.6)]
SEEDS = [5, 6, 7, 8]

def summary(r):
  return {"losses": [r.loss_sum, r.loss_console, r.loss_pruned], "rho": r.pruning_ratio,
          "nodes": sorted(map(list, r.alive_nodes())),
          "trials": [[list(map(list, t.candidates)), t.accepted, float(t.loss)] for t in r.trials],
          "history": r.history["loss"].tolist(),
          "params": [np.asarray(x).tolist() for x in jax.tree.leaves(r.params)],
          "padded": [r.console.max_tracks, r.console.max_groups]}

spans = []  # (start, end) of every song's search
real_run = batch_lib.BatchSearch.run
def timed_run(self, *args):
  t0 = time.perf_counter()
  try:
    return real_run(self, *args)
  finally:
    spans.append((t0, time.perf_counter()))
batch_lib.BatchSearch.run = timed_run

def workers_alive():
  return sum(t.is_alive() and t.name.startswith("mixjax-cpu") for t in threading.enumerate())

out = {}
before = batch_lib._compile_counts()
batch = mixjax.search_batch(SONGS, CONFIG, seeds=SEEDS, progress=False)
out["compiled"] = {k: v - before[k] for k, v in batch_lib._compile_counts().items()}
out["side_by_side"] = max(s for s, _ in spans) < min(e for _, e in spans)
out["batch"] = [summary(r) for r in batch]
out["batch_devices"] = [r.device for r in batch]
out["batch_compilations"] = [r.compilations for r in batch]
out["threads_left"] = workers_alive()

# One song fails in the middle of its search: the others stop at their next dispatch,
# each part keeps its checkpoint, and the batch resumed from them ends as the batch above.
real_prune = batch_lib.BatchSearch.prune
def prune_or_fail(self, run, r):
  if self.seeds == [SEEDS[2]] and r == 1:
    raise RuntimeError("song 2 failed")
  return real_prune(self, run, r)
batch_lib.BatchSearch.prune = prune_or_fail
folder = tempfile.mkdtemp()
try:
  mixjax.search_batch(SONGS, CONFIG, seeds=SEEDS, progress=False, checkpoint_dir=folder)
  out["error"] = None
except RuntimeError as error:
  out["error"] = str(error)
out["threads_left_after_failure"] = workers_alive()
batch_lib.BatchSearch.prune = real_prune
resumed = mixjax.search_batch(SONGS, CONFIG, seeds=SEEDS, progress=False, checkpoint_dir=folder,
                              resume=True)
out["resumed"] = [summary(r) for r in resumed]

# Alone, each song on the device its bucket mate ran on (so no device compiles again):
# song 3 with `search` (the first device), the others with `search_batch` of one song.
before = batch_lib._compile_counts()
on = {f"cpu:{d.id}": d for d in jax.local_devices()}
mate = {0: 2, 1: 3, 2: 0, 3: 1}
alone = [mixjax.search(s, CONFIG, seed=k, progress=False) if i == 3 else
         mixjax.search_batch([s], CONFIG, seeds=[k], progress=False,
                             devices=[on[batch[mate[i]].device]])[0]
         for i, (s, k) in enumerate(zip(SONGS, SEEDS))]
out["alone_compiled"] = {k: v - before[k] for k, v in batch_lib._compile_counts().items()}
out["alone"] = [summary(r) for r in alone]
out["alone_devices"] = [r.device for r in alone]
print("RESULT " + json.dumps(out))
"""


def run_on_four_devices() -> dict:
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
             JAX_PLATFORMS="cpu")
  done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                        timeout=1800)
  assert done.returncode == 0, done.stderr[-3000:]
  line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")][-1]
  return json.loads(line[len("RESULT "):])


def test_songs_run_side_by_side_on_every_device_each_as_alone():
  out = run_on_four_devices()
  reference = out["alone"]
  assert [s["padded"] for s in reference] == [[6, 2], [3, 2], [6, 2], [3, 2]]
  assert any(accepted for s in reference for _, accepted, _ in s["trials"])
  for where in ("batch", "resumed"):
    for i, (alone, other) in enumerate(zip(reference, out[where])):
      assert other == alone, f"song {i}: {where} differs from searching it alone"
  # One song per device, at the same time, part k (in bucket order) on device k; alone,
  # each song ran on another device than in the batch.
  assert out["batch_devices"] == ["cpu:2", "cpu:0", "cpu:3", "cpu:1"]
  assert out["alone_devices"] == ["cpu:3", "cpu:1", "cpu:2", "cpu:0"]
  assert out["side_by_side"]
  # Each device compiles each program once, for its bucket; the batch's count is every
  # song's (they compiled at the same time); nothing compiles again alone.
  assert out["compiled"] == {k: 4 for k in out["compiled"]}
  assert all(c == out["compiled"] for c in out["batch_compilations"])
  assert not any(out["alone_compiled"].values())
  # A failure stops the batch with its error, leaving no worker behind.
  assert out["error"] == "song 2 failed"
  assert out["threads_left"] == out["threads_left_after_failure"] == 0


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
