"""The tiny song and settings the search tests share (one set of compiled programs)."""

import jax
import pytest

import mixjax

SR = 8000


@pytest.fixture(scope="session")
def tiny():
  """The quick preset cut down: 3 tracks, 2 groups, 2 s at 8 kHz (as tests/test_cli.py's shapes)."""
  return mixjax.SearchConfig.quick(console_steps=60, finetune_steps=20, rounds=2, crop_seconds=1.5,
                                   omit_seconds=0.5, eval_hop_seconds=1.0)


@pytest.fixture(scope="session")
def song():
  song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=SR)
  return song
