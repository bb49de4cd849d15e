"""Zero-phase FIR EQ against float64 NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax.processors import eq

from conftest import SAMPLE_RATE

F32 = np.float32
N_TAPS = 2047
N_BINS = 1024
CENTRE = 1023

_apply = jax.jit(eq.apply, static_argnames="sample_rate")


def _np_fir(log_magnitude):
  """float64 reference of the grafx recipe: irfft, roll to the centre, periodic Hann."""
  window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_TAPS) / N_TAPS)
  ir = np.fft.irfft(np.exp(np.asarray(log_magnitude, np.float64)), n=N_TAPS)
  return np.roll(ir, N_TAPS // 2) * window


def _smooth_log_magnitude(rng, order=6, scale=0.5):
  """A smooth random curve: a few low-order cosines over the bins (natural log)."""
  k = np.arange(N_BINS)
  coefficients = scale * rng.normal(size=order)
  return sum(c * np.cos(np.pi * q * k / (N_BINS - 1)) for q, c in enumerate(coefficients))


def _params(log_magnitude):
  return {"log_magnitude": jnp.asarray(log_magnitude, F32)}


def test_init_shapes_and_scale(key):
  params = eq.init(key)
  assert set(params) == {"log_magnitude"}
  assert params["log_magnitude"].shape == (N_BINS,)
  assert params["log_magnitude"].dtype == jnp.float32
  assert 0.008 < float(jnp.std(params["log_magnitude"])) < 0.012  # N(0, 0.01²)
  assert abs(float(jnp.mean(params["log_magnitude"]))) < 0.002
  np.testing.assert_array_equal(eq.init(key)["log_magnitude"], params["log_magnitude"])


def test_fir_matches_numpy_recipe(rng):
  log_magnitude = 0.5 * rng.normal(size=N_BINS)
  ref = _np_fir(F32(log_magnitude))
  h = eq.fir(_params(log_magnitude))
  assert h.shape == (N_TAPS,)
  np.testing.assert_allclose(np.asarray(h), ref, atol=1e-6 * np.abs(ref).max(), rtol=0)


def test_magnitude_response_follows_a_smooth_curve(rng):
  # The FIR's DFT at the bins k·sr/2047 (numpy's rfft of the 2047 taps) is the
  # requested magnitude smoothed by the Hann window's three-bin kernel
  # (see test below). For a smooth curve that smoothing changes it by about
  # ¼·(second difference) ≈ ¼·(π·order/1023)²·|log M| ≈ 1e-4 relative here,
  # i.e. ~1e-3 dB; 0.01 dB is a 10x margin and far below audibility.
  log_magnitude = _smooth_log_magnitude(rng, scale=0.6)
  target_db = 20 * np.log10(np.exp(log_magnitude))
  assert np.ptp(target_db) > 10  # a real EQ curve, not almost flat
  h = np.asarray(eq.fir(_params(log_magnitude)), np.float64)
  response_db = 20 * np.log10(np.abs(np.fft.rfft(h)))
  assert response_db.shape == (N_BINS,)
  np.testing.assert_allclose(response_db, target_db, atol=0.01, rtol=0)


def test_window_smears_the_response_by_three_bins(rng):
  # Exact for any curve: the periodic Hann's DFT is [-1/4, 1/2, -1/4], so the
  # windowed FIR's DFT is 1/2 D[k] - 1/4 D[k-1] - 1/4 D[k+1], D the DFT of the
  # unwindowed, centred IR (magnitude M, linear phase e^{-j2πk·1023/2047}).
  # A rough random curve is therefore *not* reproduced bin by bin.
  log_magnitude = F32(rng.normal(size=N_BINS))
  magnitude = np.exp(log_magnitude.astype(np.float64))
  k = np.arange(N_TAPS)
  spectrum = np.concatenate([magnitude, magnitude[1:][::-1]]) * np.exp(
      -2j * np.pi * k * CENTRE / N_TAPS)
  windowed = 0.5 * spectrum - 0.25 * np.roll(spectrum, 1) - 0.25 * np.roll(spectrum, -1)
  h = np.asarray(eq.fir(_params(log_magnitude)), np.float64)
  response = np.abs(np.fft.rfft(h))
  np.testing.assert_allclose(response, np.abs(windowed[:N_BINS]),
                             atol=1e-6 * response.max(), rtol=0)
  assert np.abs(20 * np.log10(response / magnitude)).max() > 6  # the smear is large here


def test_flat_eq_is_the_identity(rng):
  # Flat magnitudes give a unit impulse at tap 1023 scaled by the periodic
  # Hann's value there, 0.5 + 0.5·cos(π/2047) = 1 - 5.9e-7 (the window's peak
  # lies between taps 1023 and 1024): identity to float32 precision.
  params = _params(np.zeros(N_BINS))
  h = np.asarray(eq.fir(params))
  centre_gain = 0.5 + 0.5 * np.cos(np.pi / N_TAPS)
  assert int(np.argmax(np.abs(h))) == CENTRE
  np.testing.assert_allclose(h[CENTRE], centre_gain, rtol=1e-7)
  assert np.abs(np.delete(h, CENTRE)).max() < 1e-7
  x = rng.normal(size=(2, 4000)).astype(F32)
  y = np.asarray(_apply(params, jnp.asarray(x), sample_rate=SAMPLE_RATE))
  np.testing.assert_allclose(y, x, atol=2e-6 * np.abs(x).max(), rtol=0)


def test_apply_matches_numpy_convolve(rng):
  n = 4000
  log_magnitude = F32(_smooth_log_magnitude(rng) + 0.3 * rng.normal(size=N_BINS))
  x = rng.normal(size=(2, n)).astype(F32)
  h = _np_fir(log_magnitude)
  ref = np.stack([np.convolve(x[c].astype(np.float64), h)[CENTRE:CENTRE + n] for c in range(2)])
  y = np.asarray(_apply(_params(log_magnitude), jnp.asarray(x), sample_rate=SAMPLE_RATE))
  assert y.shape == (2, n) and y.dtype == np.float32
  # float32 FIR design + FFT convolution: a few eps of the output scale.
  np.testing.assert_allclose(y, ref, atol=2e-6 * np.abs(ref).max(), rtol=0)


def test_jit_and_vmap(rng, key):
  params = jax.vmap(eq.init)(jax.random.split(key, 3))
  params = {"log_magnitude": params["log_magnitude"] * 30}  # clearly non-flat
  x = jnp.asarray(rng.normal(size=(3, 2, 1000)), jnp.float32)
  batched = jax.jit(jax.vmap(lambda p, u: eq.apply(p, u, sample_rate=SAMPLE_RATE)))(params, x)
  for i in range(3):
    single = eq.apply({"log_magnitude": params["log_magnitude"][i]}, x[i], sample_rate=SAMPLE_RATE)
    np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(single), atol=1e-5)


@pytest.mark.parametrize("sample_rate", [SAMPLE_RATE, 30000])
def test_controls(rng, sample_rate):
  log_magnitude = F32(rng.normal(size=N_BINS))
  controls = eq.controls(_params(log_magnitude), sample_rate=sample_rate)
  assert set(controls) == {"frequency_hz", "gain_db"}
  np.testing.assert_allclose(np.asarray(controls["frequency_hz"]),
                             np.arange(N_BINS) * sample_rate / N_TAPS, rtol=1e-6)
  assert float(controls["frequency_hz"][-1]) < sample_rate / 2
  np.testing.assert_allclose(np.asarray(controls["gain_db"]),
                             20 * np.log10(np.exp(log_magnitude.astype(np.float64))),
                             rtol=1e-5, atol=1e-5)


def test_gain_staging_penalty(rng):
  x = rng.normal(size=(2, 1000)).astype(F32)
  y = 0.25 * x
  penalties = eq.penalties(_params(np.zeros(N_BINS)), jnp.asarray(x), jnp.asarray(y),
                           sample_rate=SAMPLE_RATE)
  assert set(penalties) == {"gain_staging"}
  ref = abs(np.log(np.mean(x.astype(np.float64)**2) + 1e-7)
            - np.log(np.mean(y.astype(np.float64)**2) + 1e-7))
  np.testing.assert_allclose(float(penalties["gain_staging"]), ref, rtol=1e-5)  # = ln 16


@pytest.mark.parametrize("scale", [0.0, 0.5, 2.0])
def test_gradients_are_finite(rng, key, scale):
  params = eq.init(key)
  params = {"log_magnitude": params["log_magnitude"]
            + scale * jnp.asarray(rng.normal(size=N_BINS), jnp.float32)}
  x = jnp.asarray(rng.normal(size=(2, 2000)), jnp.float32)

  def loss(p):
    return jnp.mean(_apply(p, x, sample_rate=SAMPLE_RATE)**2)

  grads = jax.jit(jax.grad(loss))(params)
  assert np.all(np.isfinite(np.asarray(grads["log_magnitude"])))
  assert np.any(np.asarray(grads["log_magnitude"]) != 0)
