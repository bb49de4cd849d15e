"""Batched songs: a padded batch of songs of different shapes, sharded over 4
CPU devices, gives every song the result of searching it alone.

"Alone" is at the batch's padded sizes (``max_tracks``, ``max_groups``): then
the result is the same to the last bit, decisions and graph included. Padding
itself changes the first steps only at float rounding level (checked on the
loss history); over many steps Adam amplifies such differences (it rescales
near-zero gradients to full-size steps), so an unpadded search ends close to,
but not bit-equal with, a padded one.

The check runs in a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
(the device count is fixed when JAX starts).
"""

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = r"""
import json, jax, numpy as np
import mixjax
from mixjax import synthetic

assert jax.local_device_count() == 4, jax.devices()
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

songs = [make_song(0, 2, [0, 0], 2.0), make_song(1, 3, [0, None, 1], 2.6),
         make_song(2, 2, [None, None], 2.2), make_song(3, 3, [0, 1, 1], 2.6)]
seeds = [5, 6, 7, 8]
batch = mixjax.search_batch(songs, CONFIG, seeds=seeds, progress=False)
out = []
padded = CONFIG.replace(max_tracks=3, max_groups=3)  # the batch's padded sizes
for song, seed, b in zip(songs, seeds, batch):
  alone = mixjax.search(song, padded, seed=seed, progress=False)
  unpadded = mixjax.search(song, CONFIG, seed=seed, progress=False) if seed == 5 else None
  out.append({
      "unpadded_history": None if unpadded is None else unpadded.history["loss"][:2].tolist(),
      "alone": [alone.loss_sum, alone.loss_console, alone.loss_pruned],
      "batch": [b.loss_sum, b.loss_console, b.loss_pruned],
      "alone_nodes": sorted(map(list, alone.alive_nodes())),
      "batch_nodes": sorted(map(list, b.alive_nodes())),
      "alone_trials": [[list(map(list, t.candidates)), t.accepted] for t in alone.trials],
      "batch_trials": [[list(map(list, t.candidates)), t.accepted] for t in b.trials],
      "alone_history": alone.history["loss"].tolist(),
      "batch_history": b.history["loss"].tolist(),
      "compilations": b.compilations,
  })
print("RESULT " + json.dumps(out))
"""


def test_sharded_batch_equals_searching_each_song_alone():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
             JAX_PLATFORMS="cpu")
  done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                        timeout=1800)
  assert done.returncode == 0, done.stderr[-3000:]
  line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")][-1]
  for song in json.loads(line[len("RESULT "):]):
    np.testing.assert_allclose(song["batch"], song["alone"], rtol=1e-6)
    np.testing.assert_allclose(song["batch_history"], song["alone_history"], rtol=1e-6)
    if song["unpadded_history"] is not None:
      np.testing.assert_allclose(song["unpadded_history"], song["alone_history"][:2], rtol=1e-5)
    assert song["batch_trials"] == song["alone_trials"]
    assert song["batch_nodes"] == song["alone_nodes"]
    assert all(n <= 1 for n in song["compilations"].values())
