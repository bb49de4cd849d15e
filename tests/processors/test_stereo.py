"""Side-gain imager and stereo gain/pan against float64 NumPy formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax.processors import gain_pan
from mixjax.processors import imager

from conftest import SAMPLE_RATE

F32 = np.float32
N = 1000

# float32 products and sums of O(1) samples: a few eps.
ATOL = 1e-6


def _signal(rng):
  return rng.normal(size=(2, N)).astype(F32)


@pytest.mark.parametrize("module,shape", [(imager, (1,)), (gain_pan, (2,))], ids=["imager", "gain_pan"])
def test_init(module, shape, key):
  params = module.init(key)
  assert set(params) == {"log_gain"}
  assert params["log_gain"].shape == shape and params["log_gain"].dtype == jnp.float32
  assert float(jnp.max(jnp.abs(params["log_gain"]))) < 0.05  # N(0, 0.01²)
  assert float(jnp.max(jnp.abs(params["log_gain"]))) > 0
  keys = jax.random.split(key, 200)
  draws = np.asarray(jax.vmap(module.init)(keys)["log_gain"])
  assert 0.008 < draws.std() < 0.012


# ---------------------------------------------------------------------------
# Imager
# ---------------------------------------------------------------------------


def _np_imager(x, log_gain):
  x = x.astype(np.float64)
  mid, side = x[0] + x[1], np.exp(log_gain) * (x[0] - x[1])
  return np.stack([(mid + side) / 2, (mid - side) / 2])


@pytest.mark.parametrize("log_gain", [0.0, -0.7, 0.4, 1.5])
def test_imager_matches_numpy(rng, log_gain):
  x = _signal(rng)
  params = {"log_gain": jnp.asarray([log_gain], jnp.float32)}
  y = np.asarray(imager.apply(params, jnp.asarray(x), sample_rate=SAMPLE_RATE))
  assert y.shape == (2, N) and y.dtype == np.float32
  np.testing.assert_allclose(y, _np_imager(x, F32(log_gain)), atol=ATOL * np.exp(abs(log_gain)) * 8)
  # the mid is untouched, the side is scaled
  np.testing.assert_allclose(y[0] + y[1], x[0] + x[1], atol=ATOL * 8)
  np.testing.assert_allclose(y[0] - y[1], np.exp(F32(log_gain)) * (x[0] - x[1]),
                             atol=ATOL * np.exp(abs(log_gain)) * 8)


def test_imager_identity_and_mono(rng):
  x = _signal(rng)
  same = imager.apply({"log_gain": jnp.zeros(1)}, jnp.asarray(x), sample_rate=SAMPLE_RATE)
  np.testing.assert_allclose(np.asarray(same), x, atol=ATOL * 8)
  mono = np.asarray(imager.apply({"log_gain": jnp.full(1, -30.0)}, jnp.asarray(x),
                                 sample_rate=SAMPLE_RATE))
  np.testing.assert_allclose(mono[0], (x[0] + x[1]) / 2, atol=ATOL * 8)
  np.testing.assert_allclose(mono[1], (x[0] + x[1]) / 2, atol=ATOL * 8)


def test_imager_controls_and_penalties(rng):
  params = {"log_gain": jnp.asarray([0.3], jnp.float32)}
  controls = imager.controls(params, sample_rate=SAMPLE_RATE)
  assert set(controls) == {"side_gain_db"}
  assert np.shape(controls["side_gain_db"]) == ()
  np.testing.assert_allclose(float(controls["side_gain_db"]), 20 * np.log10(np.exp(0.3)), rtol=1e-6)
  x = jnp.asarray(_signal(rng))
  assert imager.penalties(params, x, x, sample_rate=SAMPLE_RATE) == {}


# ---------------------------------------------------------------------------
# Gain / pan
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("log_gain", [(0.0, 0.0), (-0.5, 0.2), (1.0, -2.0)])
def test_gain_pan_matches_numpy(rng, log_gain):
  x = _signal(rng)
  params = {"log_gain": jnp.asarray(log_gain, jnp.float32)}
  y = np.asarray(gain_pan.apply(params, jnp.asarray(x), sample_rate=SAMPLE_RATE))
  ref = np.exp(F32(log_gain)).astype(np.float64)[:, None] * x
  assert y.shape == (2, N) and y.dtype == np.float32
  np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("log_gain", [(0.0, 0.0), (-0.5, 0.2), (1.0, -2.0), (-40.0, 40.0)])
def test_gain_pan_controls(log_gain):
  params = {"log_gain": jnp.asarray(log_gain, jnp.float32)}
  controls = gain_pan.controls(params, sample_rate=SAMPLE_RATE)
  assert set(controls) == {"left_gain_db", "right_gain_db", "gain_db", "pan"}
  gain_left, gain_right = np.exp(np.asarray(log_gain, np.float64))
  left_db, right_db = 20 * np.log10(gain_left), 20 * np.log10(gain_right)
  np.testing.assert_allclose(float(controls["left_gain_db"]), left_db, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(float(controls["right_gain_db"]), right_db, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(float(controls["gain_db"]), (left_db + right_db) / 2,
                             rtol=1e-6, atol=1e-5)
  pan = (gain_right - gain_left) / (gain_right + gain_left)
  np.testing.assert_allclose(float(controls["pan"]), pan, rtol=1e-6, atol=1e-7)
  assert -1 <= float(controls["pan"]) <= 1


def test_gain_pan_pan_direction():
  right = gain_pan.controls({"log_gain": jnp.asarray([-1.0, 0.0])}, sample_rate=SAMPLE_RATE)
  left = gain_pan.controls({"log_gain": jnp.asarray([0.0, -1.0])}, sample_rate=SAMPLE_RATE)
  assert float(right["pan"]) > 0 > float(left["pan"])
  np.testing.assert_allclose(float(right["pan"]), -float(left["pan"]), rtol=1e-6)


def test_gain_pan_penalties(rng):
  x = jnp.asarray(_signal(rng))
  assert gain_pan.penalties(gain_pan.init(jax.random.key(1)), x, x, sample_rate=SAMPLE_RATE) == {}


# ---------------------------------------------------------------------------
# Both: jit, vmap, gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", [imager, gain_pan], ids=["imager", "gain_pan"])
def test_jit_and_vmap(module, rng, key):
  params = jax.vmap(module.init)(jax.random.split(key, 4))
  params = {"log_gain": params["log_gain"] * 50}
  x = jnp.asarray(rng.normal(size=(4, 2, N)), jnp.float32)
  batched = jax.jit(jax.vmap(lambda p, u: module.apply(p, u, sample_rate=SAMPLE_RATE)))(params, x)
  for i in range(4):
    single = module.apply({"log_gain": params["log_gain"][i]}, x[i], sample_rate=SAMPLE_RATE)
    np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(single), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("module", [imager, gain_pan], ids=["imager", "gain_pan"])
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_gradients_are_finite(module, seed, rng, key):
  params = module.init(key)
  if seed is not None:
    draw = np.random.default_rng(seed).normal(size=params["log_gain"].shape)
    params = {"log_gain": jnp.asarray(draw, jnp.float32)}
  x = jnp.asarray(_signal(rng))
  target = jnp.asarray(_signal(rng))

  def loss(p):
    return jnp.mean((module.apply(p, x, sample_rate=SAMPLE_RATE) - target)**2)

  grads = jax.grad(loss)(params)["log_gain"]
  assert np.all(np.isfinite(np.asarray(grads))) and np.all(np.asarray(grads) != 0)
