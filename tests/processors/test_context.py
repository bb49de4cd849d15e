"""Every processor's ``context_samples``: its output at a sample does not change when the
input changes outside that reach (the bound the console's block render relies on)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax.processors import PROCESSORS, REGISTRY

from conftest import SAMPLE_RATE

N = 40000  # 5 s at 8 kHz: longer than every processor's reach on both sides of T
T = 20000  # the output sample under test


def _audible_params(name, key):
  """Parameters with a clearly audible effect and long memory."""
  params = jax.tree.map(lambda p: 50 * p, REGISTRY[name].init(key))  # N(0, 0.5²)
  if name in ("compressor", "noisegate"):  # slow smoother (α ≈ 0.9997), threshold in range
    params = {**params, "z_alpha": jnp.full_like(params["z_alpha"], 8.0),
              "log_threshold": jnp.full_like(params["log_threshold"], 2.0)}
  return params


@pytest.mark.parametrize("name", PROCESSORS)
def test_output_depends_only_on_the_declared_context(name, rng, key):
  before, after = REGISTRY[name].context_samples(sample_rate=SAMPLE_RATE)
  assert before >= 0 and after >= 0 and before + after < N - T
  params = _audible_params(name, key)
  x = (0.3 * rng.standard_normal((2, N))).astype(np.float32)
  other = (0.3 * rng.standard_normal((2, N))).astype(np.float32)
  outside = np.ones(N, bool)
  outside[T - before:T + after + 1] = False
  changed = np.where(outside, other, x)
  apply = jax.jit(lambda p, u: REGISTRY[name].apply(p, u, sample_rate=SAMPLE_RATE))
  y, y_changed = np.asarray(apply(params, x)), np.asarray(apply(params, changed))
  assert np.abs(y - y_changed).max() > 1e-3  # the change does reach other samples
  np.testing.assert_allclose(y_changed[:, T], y[:, T], rtol=1e-5, atol=1e-6)
