"""The whole-song loss, for many alive masks at once.

The song is cut into chunks of ``crop_seconds`` starting every
``eval_hop_seconds`` (``ceil(n / hop)`` chunks, zero-filled past the end);
each chunk is rendered on its own and scored on its last
``crop - omit`` seconds; the song loss is the unweighted mean over chunks
(REFERENCE §6). Pruning trials and the reported losses use it.

Chunks are visited with ``lax.scan`` (bounded memory); candidate masks are
evaluated together with ``vmap`` (a batch of trials).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mixjax import console as console_lib
from mixjax import loss as loss_lib
from mixjax.graph_search.config import SearchConfig
from mixjax.graph_search.fit import crop


def chunk_starts(n_samples: int, *, sample_rate: int, config: SearchConfig) -> np.ndarray:
  """Start sample of every whole-song chunk."""
  return loss_lib.whole_song_chunks(
      n_samples, sample_rate=sample_rate, chunk_seconds=config.crop_seconds,
      hop_seconds=config.eval_hop_seconds)


def pad_for_chunks(x, starts: np.ndarray, chunk_len: int):
  """Zero-pads the last axis so every chunk lies inside the array."""
  need = int(starts[-1]) + chunk_len - x.shape[-1]
  if need <= 0:
    return x
  return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, need)])


@functools.partial(jax.jit, static_argnames=("config",))
def song_loss(params, console: console_lib.Console, tracks, mix, alive_batch, starts, *,
              config: SearchConfig):
  """Whole-song loss of a batch of alive masks, ``f32[B]``.

  Args:
    params: console parameters.
    console: the console.
    tracks: ``[T, 2, n]`` whole song, padded by ``pad_for_chunks``.
    mix: ``[2, n]``, padded likewise.
    alive_batch: an alive pytree whose leaves have a leading batch axis ``B``.
    starts: ``int32[chunks]`` from ``chunk_starts``.
    config: static settings (crop, omit, FFT sizes).
  """
  sr = console.sample_rate
  chunk_len = config.crop_samples(sr)

  def one_chunk(total, start):
    chunk_tracks, chunk_mix = crop(tracks, start, chunk_len), crop(mix, start, chunk_len)

    def one_mask(alive):
      pred, _ = console_lib.render(console, params, chunk_tracks, alive)
      return loss_lib.mrstft_loss(pred, chunk_mix, sample_rate=sr,
                                  omit_seconds=config.omit_seconds, fft_sizes=config.fft_sizes)

    return total + jax.vmap(one_mask)(alive_batch), None

  batch = jax.tree.leaves(alive_batch)[0].shape[0]
  total, _ = jax.lax.scan(one_chunk, jnp.zeros(batch), starts)
  return total / starts.shape[0]


def stack_masks(masks: list) -> dict:
  """Stacks alive pytrees along a new leading axis."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *masks)
