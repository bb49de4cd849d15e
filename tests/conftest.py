"""Shared test settings: float32 JAX on CPU, small signals."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

import mixjax  # noqa: E402

# Compiled programs are kept on disk between runs (``~/.cache/mixjax/xla`` or
# MIXJAX_CACHE_DIR; "off" disables): a warm cache cuts the suite's time by more
# than half, a cold one costs nothing extra.
mixjax.enable_compilation_cache()
import numpy as np  # noqa: E402
import pytest  # noqa: E402

SAMPLE_RATE = 8000
"""Low sample rate used by most tests (the lowest the processors support)."""


@pytest.fixture
def rng():
  return np.random.default_rng(0)


@pytest.fixture
def key():
  return jax.random.key(0)
