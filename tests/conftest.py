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


@pytest.fixture(scope="session")
def tiny():
  """The quick preset cut down for search tests (tests/graph_search), one set of programs."""
  return mixjax.SearchConfig.quick(console_steps=60, finetune_steps=20, rounds=2, crop_seconds=1.5,
                                   omit_seconds=0.5, eval_hop_seconds=1.0)


@pytest.fixture(scope="session")
def tiny_song():
  """3 tracks, 2 groups, 2 s at 8 kHz: the song the search tests share."""
  song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=SAMPLE_RATE)
  return song


def _sub_jaxprs(value):
  """The jaxprs inside an equation parameter (a jaxpr, a closed jaxpr, or a tuple of them:
  ``cond``'s branches)."""
  if hasattr(value, "eqns"):
    yield value
  elif hasattr(getattr(value, "jaxpr", None), "eqns"):
    yield value.jaxpr
  elif isinstance(value, (tuple, list)):
    for v in value:
      yield from _sub_jaxprs(v)


def primitives(jaxpr, names) -> list:
  """``(path, primitive, scan length)`` of every equation named in ``names``, at any depth
  (inside jit, scan, cond, while, custom_vjp, ...), in program order."""
  jaxpr = jaxpr if hasattr(jaxpr, "eqns") else jaxpr.jaxpr
  found = []

  def walk(jaxpr, path):
    for eqn in jaxpr.eqns:
      name = eqn.primitive.name
      if name in names:
        found.append((path, name, eqn.params.get("length")))
      for value in eqn.params.values():
        for sub in _sub_jaxprs(value):
          walk(sub, f"{path}/{name}")

  walk(jaxpr, "")
  return found
