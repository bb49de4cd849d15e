"""The whole-song loss: chunk starts as the reference cuts them, and the mean of per-chunk losses."""

import functools

import jax
import numpy as np
import pytest

import mixjax
from mixjax import loss
from mixjax import nodes
from mixjax.graph_search import evaluate, prune
from mixjax.graph_search.config import SearchConfig

SR_REF = 30000  # the reference run's sample rate
SR = 8000
CONFIG = SearchConfig(crop_seconds=1.5, eval_hop_seconds=1.0, omit_seconds=0.5)


@pytest.mark.parametrize("n", [1, 83999, 84000, 84001, 114000, 168000, 5_123_457])
def test_chunk_starts_follow_the_reference(n):
  audio_len, warmup = 114000, 1 * 30000  # prune SingleTrackDataset
  n_chunks = int(np.ceil(n / (audio_len - warmup)))
  want = [idx * (audio_len - warmup) for idx in range(n_chunks)]
  got = evaluate.chunk_starts(n, sample_rate=SR_REF, config=SearchConfig())
  np.testing.assert_array_equal(got, want)


def test_chunk_starts_cover_the_song_and_pad_for_chunks_zero_fills():
  starts = evaluate.chunk_starts(10, sample_rate=1,
                                 config=SearchConfig(crop_seconds=4, eval_hop_seconds=3))
  np.testing.assert_array_equal(starts, [0, 3, 6, 9])
  x = np.arange(2 * 3 * 10, dtype=np.float32).reshape(2, 3, 10) + 1
  padded = np.asarray(evaluate.pad_for_chunks(x, starts, 4))
  assert padded.shape == (2, 3, 13)
  np.testing.assert_array_equal(padded[..., :10], x)
  np.testing.assert_array_equal(padded[..., 10:], 0)


def _reference_song_loss(console, params, tracks, mix, alive, n_samples):
  """Mean over chunks of ``mrstft_loss`` of each chunk rendered alone from zero-filled inputs."""
  starts = evaluate.chunk_starts(n_samples, sample_rate=SR, config=CONFIG)
  chunk_len = CONFIG.crop_samples(SR)
  one = jax.jit(functools.partial(loss.mrstft_loss, sample_rate=SR,
                                  omit_seconds=CONFIG.omit_seconds,
                                  fft_sizes=tuple(CONFIG.fft_sizes)))
  end = int(starts[-1]) + chunk_len
  pad = lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, end - x.shape[-1])])
  tracks, mix = pad(tracks[..., :n_samples]), pad(mix[..., :n_samples])
  losses = []
  for s in starts:
    pred = console.render(params, tracks[..., s:s + chunk_len], alive)
    losses.append(float(one(pred, mix[..., s:s + chunk_len])))
  return np.mean(losses)


def test_song_loss_is_the_mean_of_chunk_losses_per_song_and_mask():
  song, _ = mixjax.synthetic_song(jax.random.key(5), n_tracks=2, n_groups=1, seconds=2.5,
                                  sample_rate=SR)
  console = mixjax.Console.of(song)
  params = console.init(jax.random.key(0))
  table = prune.NodeTable.of(console)
  flags = np.ones(len(table.nodes), bool)
  dropped = flags.copy()
  dropped[: len(flags) // 2] = False
  masks = [table.to_alive(flags), table.to_alive(dropped)]
  # Two songs: the whole song and its first 1.2 s (fewer chunks, averaged alone).
  lengths = [song.n_samples, int(1.2 * SR)]
  starts = evaluate.chunk_starts(song.n_samples, sample_rate=SR, config=CONFIG)
  chunk_len = CONFIG.crop_samples(SR)
  tracks = [np.where(np.arange(song.n_samples) < n, song.padded_tracks(), 0) for n in lengths]
  mixes = [np.where(np.arange(song.n_samples) < n, song.mix, 0) for n in lengths]
  stack = lambda xs: np.stack([np.asarray(evaluate.pad_for_chunks(x, starts, chunk_len))
                               for x in xs])
  two = lambda tree: jax.tree.map(lambda x: np.stack([np.asarray(x)] * 2), tree)
  n_chunks = np.array([len(evaluate.chunk_starts(n, sample_rate=SR, config=CONFIG))
                       for n in lengths], np.int32)
  got = np.asarray(evaluate.song_loss(
      two(params), two(console), stack(tracks), stack(mixes), two(nodes.stack(masks)),
      np.asarray(starts, np.int32), n_chunks, chunk_len=chunk_len,
      omit_seconds=CONFIG.omit_seconds, fft_sizes=tuple(CONFIG.fft_sizes)))
  assert got.shape == (2, 2)
  for s, n in enumerate(lengths):
    for b, alive in enumerate(masks):
      want = _reference_song_loss(console, params, song.padded_tracks(), song.mix, alive, n)
      np.testing.assert_allclose(got[s, b], want, rtol=1e-4)
  assert got[0, 1] > got[0, 0] > 0
