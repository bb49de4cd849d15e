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

from mixjax import batching
from mixjax import console as console_lib
from mixjax import dsp
from mixjax import loss as loss_lib
from mixjax.graph_search.config import SearchConfig
from mixjax.graph_search.fit import crop


def chunk_starts(n_samples: int, *, sample_rate: int, config: SearchConfig) -> np.ndarray:
  """Start samples of the chunks that cover a whole song.

  Chunk ``i`` covers ``[i·H, i·H + C)`` for ``i < ⌈n / H⌉``, with
  ``C = crop_seconds · sr`` and ``H = eval_hop_seconds · sr`` (114000 and
  84000 at 30 kHz by default). Consecutive chunks overlap by ``C − H`` = the
  omitted warm-up, so after each chunk's loss skips its first second the
  scored regions tile the song from 1 s to the end; the song's first second
  is never scored. Reads past the end are zero-filled (``pad_for_chunks``).

  Args:
    n_samples: song length.
    sample_rate: in Hz.
    config: gives ``eval_hop_seconds`` (``H``).

  Returns:
    ``[⌈n / H⌉]`` int64 start samples ``i·H``.

  References:
    prune ``data/dataset.py`` ``SingleTrackDataset`` (valid/test:
    ``start = idx · (audio_len − eval_warmup)``, ``len = ceil(total_len /
    (audio_len − eval_warmup))``) and ``data/load.py`` (``sf.read`` with
    ``fill_value=0``).
  """
  hop = dsp.seconds_to_samples(config.eval_hop_seconds, sample_rate)
  if hop < 1 or n_samples < 1:
    raise ValueError(
        f"Need a positive song length and hop, got {n_samples} samples and a "
        f"hop of {hop} samples.")
  n_chunks = -(-n_samples // hop)
  return np.arange(n_chunks, dtype=np.int64) * hop


def pad_for_chunks(x, starts: np.ndarray, chunk_len: int):
  """Zero-pads the last axis so every chunk lies inside the array."""
  need = int(starts[-1]) + chunk_len - x.shape[-1]
  if need <= 0:
    return x
  return jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, need)])


def _song_loss_one_song(params, console: console_lib.Console, tracks, mix, alive_batch, starts,
                        n_chunks, active, *, chunk_len: int, omit_seconds: float,
                        fft_sizes: tuple[int, ...]):
  """Whole-song loss of one song for a batch of masks, ``f32[B]``."""
  sr = console.sample_rate
  prepared = console_lib.prepare(console, params, chunk_len)  # shared by every chunk and mask

  def one_chunk(total, indexed_start):
    index, start = indexed_start
    chunk_tracks, chunk_mix = crop(tracks, start, chunk_len), crop(mix, start, chunk_len)

    def one_mask(alive):
      pred, _ = console_lib.render(console, params, chunk_tracks, alive, active, prepared)
      return loss_lib.mrstft_loss(pred, chunk_mix, sample_rate=sr, omit_seconds=omit_seconds,
                                  fft_sizes=fft_sizes)

    losses = batching.vmap(one_mask)(alive_batch)
    return total + jnp.where(index < n_chunks, losses, 0.0), None

  batch = jax.tree.leaves(alive_batch)[0].shape[0]
  indices = jnp.arange(starts.shape[0])
  total, _ = jax.lax.scan(one_chunk, jnp.zeros(batch), (indices, starts))
  return total / n_chunks


@functools.partial(jax.jit, static_argnames=("chunk_len", "omit_seconds", "fft_sizes",
                                             "skip_dead_types"))
def song_loss(params, console: console_lib.Console, tracks, mix, alive_batch, starts, n_chunks, *,
              chunk_len: int, omit_seconds: float, fft_sizes: tuple[int, ...],
              skip_dead_types: bool = True):
  """Whole-song losses of a batch of songs, each for a batch of masks: ``f32[S, B]``.

  Args:
    params: console parameters, leading song axis ``S``.
    console: the consoles, leading axis ``S``.
    tracks: ``[S, T, 2, n]`` whole songs, zero-padded by ``pad_for_chunks``.
    mix: ``[S, 2, n]``, padded likewise.
    alive_batch: alive pytrees with leading axes ``[S, B]``.
    starts: ``int32[C]`` chunk starts, shared (``i · hop``).
    n_chunks: ``int32[S]``: song ``s`` averages its first ``n_chunks[s]`` chunks.
    chunk_len: chunk length in samples (static); omit_seconds, fft_sizes: the
      loss settings (static); skip_dead_types: ``SearchConfig.skips_dead_types()``
      (static: skip the types dead in every song and mask with ``lax.cond``,
      or let the masks choose). Only these settings are static, so changing
      any other search setting does not recompile the evaluation.
  """
  one_song = functools.partial(_song_loss_one_song, chunk_len=chunk_len,
                               omit_seconds=omit_seconds, fft_sizes=fft_sizes)
  active = console_lib.active_types(alive_batch) if skip_dead_types else None
  return batching.vmap(one_song, in_axes=(0, 0, 0, 0, 0, None, 0, None))(
      params, console, tracks, mix, alive_batch, starts, n_chunks, active)
