"""Learning from collected graphs: which processors survive on a track, from its audio.

The downstream loop the paper has in mind (automatic mixing from graph data), at toy
scale: load a ``mixjax collect`` output folder, describe every dry track by five numbers
of its audio (level, crest factor, spectral centroid, stereo width, share of silence),
and train a tiny Flax MLP to predict which of the seven processor types the search kept
on that track (one sigmoid per type, binary cross-entropy, Adam). On a CPU it takes
seconds; a real collection has thousands of tracks, and the same loop would read them
from ``Collection.nodes()`` and ``Collection.load_tracks()`` the same way.

Usage:
  python docs/collection_example.py GRAPHS [--steps 300] [--seed 0]

``GRAPHS`` is the ``--out`` folder of ``mixjax collect`` with the song folders still
where ``collect`` read them.
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mixjax.collection import load_collection
from mixjax.processors import PROCESSORS

FEATURES = ("level_db", "crest_db", "centroid_log2_hz", "side_to_mid_db", "silent_share")
"""What the model sees of a track's audio."""


def track_features(tracks: np.ndarray, sample_rate: int) -> np.ndarray:
  """``float32[n_tracks, 5]``: ``FEATURES`` of every ``[2, n]`` track (padding: silence)."""
  mid, side = tracks.mean(1), (tracks[:, 0] - tracks[:, 1]) / 2
  energy = np.mean(mid**2, -1) + 1e-12
  level_db = 10 * np.log10(energy)
  crest_db = 20 * np.log10(np.abs(mid).max(-1) + 1e-6) - level_db / 2
  spectrum = np.abs(np.fft.rfft(mid, axis=-1))**2
  hz = np.fft.rfftfreq(mid.shape[-1], 1 / sample_rate)
  centroid = np.log2((spectrum * hz).sum(-1) / (spectrum.sum(-1) + 1e-12) + 1.0)
  side_to_mid_db = 10 * np.log10((np.mean(side**2, -1) + 1e-12) / energy)
  frames = mid[:, :mid.shape[-1] // 256 * 256].reshape(len(mid), -1, 256)
  silent = np.mean(np.mean(frames**2, -1) < 1e-6, -1)
  return np.stack([level_db, crest_db, centroid, side_to_mid_db, silent], -1).astype(np.float32)


def survival_data(collection) -> tuple[np.ndarray, np.ndarray]:
  """``(features [N, 5], kept [N, 7])`` over every track of every song of the collection."""
  arrays = collection.to_arrays()
  tracks = collection.load_tracks()
  features, kept = [], []
  for s, song in enumerate(collection):
    n = len(song.track_names)
    features.append(track_features(tracks[s, :n], song.sample_rate))
    kept.append(np.stack([arrays.alive["track"][p][s, :n] for p in PROCESSORS], -1))
  return np.concatenate(features), np.concatenate(kept).astype(np.float32)


class Survival(nn.Module):
  """Track features -> one logit per processor type (``PROCESSORS`` order)."""
  hidden: int = 16

  @nn.compact
  def __call__(self, x):
    x = nn.gelu(nn.Dense(self.hidden)(x))
    return nn.Dense(len(PROCESSORS))(x)


def train(features: np.ndarray, kept: np.ndarray, *, steps: int = 300, seed: int = 0) -> dict:
  """Fits ``Survival`` with Adam; returns the losses and the per-type accuracy."""
  mean, std = features.mean(0), features.std(0) + 1e-6
  x, y = jnp.asarray((features - mean) / std), jnp.asarray(kept)
  model = Survival()
  params = model.init(jax.random.key(seed), x)
  optimizer = optax.adam(1e-2)
  state = optimizer.init(params)

  def loss_fn(params):
    return optax.sigmoid_binary_cross_entropy(model.apply(params, x), y).mean()

  @jax.jit
  def step(params, state):
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, state = optimizer.update(grads, state)
    return optax.apply_updates(params, updates), state, loss

  losses = []
  for _ in range(steps):
    params, state, loss = step(params, state)
    losses.append(float(loss))
  predicted = np.asarray(model.apply(params, x) > 0)
  accuracy = {p: float(np.mean(predicted[:, i] == (kept[:, i] > 0.5)))
              for i, p in enumerate(PROCESSORS)}
  return {"tracks": len(x), "first_loss": losses[0], "last_loss": float(loss_fn(params)),
          "accuracy": accuracy}


def main(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("graphs", help="the --out folder of 'mixjax collect'")
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  collection = load_collection(args.graphs)
  result = train(*survival_data(collection), steps=args.steps, seed=args.seed)
  print(f"{len(collection)} songs, {result['tracks']} tracks: loss {result['first_loss']:.3f} "
        f"-> {result['last_loss']:.3f} after {args.steps} steps (training set)")
  print("accuracy per type: " + ", ".join(f"{p} {a:.2f}" for p, a in result["accuracy"].items()))
  return result


if __name__ == "__main__":
  main()
