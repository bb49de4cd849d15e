"""mixjax.batching.vmap: jax.vmap, with a batch of one run unbatched."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax import batching


def _fn(tree, scale, key):
  return {"sum": jnp.sum(tree["a"]) * scale + jnp.sum(tree["b"]),
          "noise": jax.random.normal(key, (3,)), "spectrum": jnp.abs(jnp.fft.rfft(tree["a"]))}


@pytest.mark.parametrize("batch", [1, 3])
def test_equals_jax_vmap(batch):
  rng = np.random.default_rng(0)
  tree = {"a": jnp.asarray(rng.standard_normal((batch, 16)), jnp.float32),
          "b": jnp.asarray(rng.standard_normal((batch, 2, 2)), jnp.float32)}
  keys = jax.random.split(jax.random.key(1), batch)
  ours = jax.jit(batching.vmap(_fn, in_axes=(0, None, 0)))(tree, 2.0, keys)
  theirs = jax.jit(jax.vmap(_fn, in_axes=(0, None, 0)))(tree, 2.0, keys)
  assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, theirs)
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6), ours, theirs)


def test_a_unit_batch_traces_no_vmap():
  jaxpr = jax.make_jaxpr(batching.vmap(lambda x: jnp.fft.rfft(x)))(jnp.ones((1, 8)))
  batched = jax.make_jaxpr(jax.vmap(lambda x: jnp.fft.rfft(x)))(jnp.ones((1, 8)))
  fft_input_shapes = lambda j: [v.aval.shape for e in j.eqns if "fft" in str(e) for v in e.invars]
  assert fft_input_shapes(jaxpr) == [(8,)]
  assert fft_input_shapes(batched) == [(1, 8)]


def test_bad_axes_and_mismatched_batches_are_refused():
  with pytest.raises(ValueError, match="in_axes must be 0 or None"):
    batching.vmap(lambda x: x, in_axes=(1,))(jnp.ones((2, 3)))
  with pytest.raises(ValueError, match="sizes \\[1, 2\\]"):
    batching.vmap(lambda x, y: x + y)(jnp.ones((1, 3)), jnp.ones((2, 3)))
