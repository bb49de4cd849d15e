"""Compressor and noise gate against float64 NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from mixjax.processors import compressor
from mixjax.processors import dynamics
from mixjax.processors import noisegate

from conftest import SAMPLE_RATE

F32 = np.float32
NEPERS_PER_DB = np.log(10) / 10  # energy: 10 log10 e^G dB
ENERGY_FLOOR = 1e-5


# ---------------------------------------------------------------------------
# float64 references, written from the three-case curves (not from the ramp)
# ---------------------------------------------------------------------------


def _np_compressor_curve(g, t, r, w):
  """G_y: G below T - W/2, T + (G - T)/R above T + W/2, quadratic in between."""
  return np.where(g < t - w / 2, g,
                  np.where(g > t + w / 2, t + (g - t) / r,
                           g + (1 / r - 1) * (g - t + w / 2)**2 / (2 * w)))


def _np_gate_curve(g, t, r, w):
  """G_y: T + R(G - T) below T - W/2, G above T + W/2, quadratic in between."""
  return np.where(g < t - w / 2, t + r * (g - t),
                  np.where(g > t + w / 2, g,
                           g + (1 - r) * (g - t - w / 2)**2 / (2 * w)))


def _np_smooth(energy, alpha, n_taps):
  h = (1 - alpha) * alpha**np.arange(n_taps, dtype=np.float64)
  return np.maximum(scipy.signal.fftconvolve(energy, h)[:energy.shape[-1]], 0.0)


def _params(threshold_db, ratio, knee_db, time_constant_ms, sample_rate=SAMPLE_RATE):
  """Unconstrained parameters for the given physical settings."""
  alpha = np.exp(-1000.0 / (sample_rate * time_constant_ms))
  return {
      "log_threshold": jnp.asarray([threshold_db * NEPERS_PER_DB + 6], jnp.float32),
      "log_ratio": jnp.asarray([np.log(ratio - 1)], jnp.float32),
      "log_knee": jnp.asarray([np.log(knee_db * NEPERS_PER_DB)], jnp.float32),
      "z_alpha": jnp.asarray([np.log(alpha / (1 - alpha))], jnp.float32),
  }


def _physical(params, sample_rate=SAMPLE_RATE):
  """(T, R, W, α, taps) in float64 from the float32 parameters, by the reference formulas."""
  p = {k: float(np.asarray(v, np.float64)[0]) for k, v in params.items()}
  alpha = min(1 / (1 + np.exp(-p["z_alpha"])), 1 - 1e-5)
  taps = round(16384 * sample_rate / 30000)
  return p["log_threshold"] - 6, 1 + np.exp(p["log_ratio"]), np.exp(p["log_knee"]), alpha, taps


def _apply_batch(module, params, x, sample_rate=SAMPLE_RATE):
  fn = jax.jit(jax.vmap(lambda u: module.apply(params, u, sample_rate=sample_rate)))
  return np.asarray(fn(jnp.asarray(x, jnp.float32)))


# ---------------------------------------------------------------------------
# Parameters and controls
# ---------------------------------------------------------------------------


def test_param_shapes_and_init(key):
  for module in (compressor, noisegate):
    params = module.init(key)
    assert set(params) == {"log_threshold", "log_ratio", "log_knee", "z_alpha"}
    for value in params.values():
      assert value.shape == (1,) and value.dtype == jnp.float32
      assert 0 < abs(float(value[0])) < 0.05
  draws = jax.vmap(dynamics.init)(jax.random.split(key, 100))
  assert 0.008 < float(jnp.std(jnp.stack(list(draws.values())))) < 0.012


def test_smoother_taps():
  assert dynamics.smoother_taps(30000) == 16384
  assert dynamics.smoother_taps(8000) == 4369  # round(16384 · 8/30)
  assert dynamics.smoother_taps(44100) == 24084
  assert dynamics.smoother_taps(48000) == 26214


@pytest.mark.parametrize("sample_rate", [SAMPLE_RATE, 30000])
def test_controls(rng, sample_rate):
  for draw in (np.zeros(4), rng.normal(size=4), [0.3, -1.0, 0.5, 20.0]):
    params = dict(zip(dynamics.PARAM_SHAPES, (jnp.asarray([v], jnp.float32) for v in draw)))
    t, r, w, alpha, _ = _physical(params, sample_rate)
    for module in (compressor, noisegate):
      controls = module.controls(params, sample_rate=sample_rate)
      assert set(controls) == {"threshold_db", "ratio", "knee_db", "time_constant_ms"}
      np.testing.assert_allclose(float(controls["threshold_db"]), 10 * np.log10(np.exp(t)),
                                 rtol=1e-6)
      np.testing.assert_allclose(float(controls["ratio"]), r, rtol=1e-6)
      np.testing.assert_allclose(float(controls["knee_db"]), 10 * np.log10(np.exp(w)), rtol=1e-6)
      # α is float32: near the clamp 1 - α = 1e-5 carries ~0.6 % rounding.
      np.testing.assert_allclose(float(controls["time_constant_ms"]),
                                 -1000 / (sample_rate * np.log(alpha)), rtol=1e-2)


def test_controls_at_init_match_the_reference_defaults():
  zeros = {name: jnp.zeros(shape) for name, shape in dynamics.PARAM_SHAPES.items()}
  controls = compressor.controls(zeros, sample_rate=30000)
  np.testing.assert_allclose(float(controls["threshold_db"]), -60 / np.log(10), rtol=1e-6)  # -26.06
  np.testing.assert_allclose(float(controls["ratio"]), 2.0, rtol=1e-6)
  np.testing.assert_allclose(float(controls["knee_db"]), 10 / np.log(10), rtol=1e-6)  # 4.34
  np.testing.assert_allclose(float(controls["time_constant_ms"]), 1000 / (30000 * np.log(2)),
                             rtol=1e-6)


def test_penalties_are_empty(rng):
  x = jnp.asarray(rng.normal(size=(2, 100)), jnp.float32)
  for module in (compressor, noisegate):
    assert module.penalties(module.init(jax.random.key(0)), x, x, sample_rate=SAMPLE_RATE) == {}


# ---------------------------------------------------------------------------
# Static curves and the knee
# ---------------------------------------------------------------------------

# Jitted once each (settings traced), instead of op-by-op per test case.
_CURVES = [
    (jax.jit(dynamics.compressor_log_gain), _np_compressor_curve),
    (jax.jit(dynamics.expander_log_gain), _np_gate_curve),
]
_CURVE_IDS = ["compressor", "gate"]


@pytest.mark.parametrize("log_gain_fn,np_curve", _CURVES, ids=_CURVE_IDS)
@pytest.mark.parametrize("t,r,w", [(-6.0, 2.0, 1.0), (-3.0, 8.0, 4.0), (-8.0, 1.2, 0.05)])
def test_static_curve_matches_the_three_cases(log_gain_fn, np_curve, t, r, w):
  g = np.concatenate([np.linspace(-12, 0, 4001), [t - w / 2, t + w / 2, t]])  # and the edges
  log_gain = log_gain_fn(jnp.asarray(g, jnp.float32), *map(jnp.float32, (t, r, w)))
  ref = np_curve(g.astype(F32).astype(np.float64), t, r, w) - g.astype(F32)
  # float32 arithmetic on |G| ≤ 12 nepers: a few eps of 12.
  np.testing.assert_allclose(np.asarray(log_gain), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("log_gain_fn", [c[0] for c in _CURVES], ids=_CURVE_IDS)
@pytest.mark.parametrize("t,r,w", [(0.0, 4.0, 2.0), (-6.0, 2.0, 1.0)])
def test_knee_is_continuous_with_finite_gradients_at_its_edges(log_gain_fn, t, r, w):
  # Both edges are exact float32 values here (T ± W/2 with W/2 a power of 2).
  def f(g, t, r, w):
    return log_gain_fn(g, t, r, w)

  grad_all = jax.jit(jax.grad(f, argnums=(0, 1, 2, 3)))
  delta = 1e-3
  settings = tuple(map(jnp.float32, (t, r, w)))
  for edge in (t - w / 2, t + w / 2):
    below, at, above = (float(f(jnp.float32(edge + d), *settings)) for d in (-delta, 0.0, delta))
    # |slope of G_y - G| ≤ max(1, R - 1): the two sides differ by at most that × 2δ.
    assert abs(above - below) <= 2 * delta * max(1.0, r - 1) + 1e-6
    assert abs(at - below) <= delta * max(1.0, r - 1) + 1e-6
    grads = [grad_all(jnp.float32(edge + d), *settings) for d in (-delta, 0.0, delta)]
    for g in grads:
      assert all(np.isfinite(float(v)) for v in g)
    # C¹: d/dG matches on both sides, to the knee's curvature |1 - R| / W times δ.
    slopes = [float(g[0]) for g in grads]
    curvature = max(abs(1 / r - 1), abs(1 - r)) / w
    assert max(slopes) - min(slopes) <= 2 * delta * curvature + 1e-5


@pytest.mark.parametrize("log_gain_fn,np_curve", _CURVES, ids=_CURVE_IDS)
def test_vanishing_knee_is_a_hard_knee_without_nans(log_gain_fn, np_curve):
  g = jnp.asarray(np.linspace(-12, 0, 1001), jnp.float32)
  hard = np_curve(np.asarray(g, np.float64), -6.0, 3.0, 1e-30) - np.asarray(g, np.float64)
  grad_fn = jax.jit(jax.grad(lambda t, r, w: jnp.sum(log_gain_fn(g, t, r, w)), argnums=(0, 1, 2)))
  # exp(-100) underflows to 0 in float32; 1e-20 is a normal float whose 1/w² overflows
  for w in (1e-20, float(np.exp(F32(-100))), 0.0):
    w = jnp.float32(w)
    log_gain = log_gain_fn(g, jnp.float32(-6.0), jnp.float32(3.0), w)
    np.testing.assert_allclose(np.asarray(log_gain), hard, atol=1e-5)
    grads = grad_fn(jnp.float32(-6.0), jnp.float32(3.0), w)
    assert all(np.isfinite(float(v)) for v in grads)


# ---------------------------------------------------------------------------
# Detector: smoothing against a truncated-FIR convolution
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.5, 0.99, 0.9999])
def test_smooth_energy_matches_truncated_fir_with_relu(rng, alpha):
  n_taps = dynamics.smoother_taps(SAMPLE_RATE)
  # A signed input, so that the convolution goes negative and the ReLU acts.
  signal = rng.normal(size=8000) + 0.3 * np.sin(np.arange(8000) / 700)
  alpha32 = float(F32(alpha))  # the pole the float32 computation uses
  ref = _np_smooth(signal, alpha32, n_taps)
  assert np.mean(ref == 0) > 0.1  # the ReLU is exercised
  smooth = jax.jit(dynamics.smooth_energy, static_argnames="n_taps")
  y = np.asarray(smooth(jnp.asarray(signal, jnp.float32), jnp.float32(alpha32), n_taps=n_taps))
  assert np.all(y >= 0)
  # Scan rounding: ~1e-7 of the input amplitude (see tests/test_dsp.py).
  np.testing.assert_allclose(y, ref, atol=1e-6 * np.abs(signal).max(), rtol=0)


def test_log_envelope_matches_numpy_at_30khz(rng):
  # α = 0.9999 (a 33 ms time constant): the 16384-tap truncation (α^N = 0.19)
  # matters over this 0.6 s signal.
  sample_rate, n, alpha = 30000, 18000, float(F32(0.9999))
  x = rng.normal(size=(2, n)) * np.linspace(0.01, 1, n)
  envelope = jax.jit(dynamics.log_envelope, static_argnames="sample_rate")
  g = np.asarray(envelope(jnp.asarray(x, jnp.float32), jnp.float32(alpha), sample_rate=sample_rate))
  ref = np.log(_np_smooth(np.mean(x**2, axis=0), alpha, 16384) + ENERGY_FLOOR)
  # log of a float32 smoothed energy ≥ 1e-5: relative error ~1e-6.
  np.testing.assert_allclose(g, ref, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------
# Steady state on stationary sines
# ---------------------------------------------------------------------------

_LEVELS_DBFS = np.arange(-60.0, 0.1, 5.0)
_N = 4000  # 0.5 s at 8 kHz
_LAST = 1000  # the settled last 125 ms


def _sines(kind):
  """``[levels, 2, n]`` 440 Hz sines of peak amplitude ``10^(level/20)``.

  ``quadrature``: L = A sin, R = A cos, so the detector energy is exactly
  A²/2 at every sample (no ripple); ``mono``: the same sine on both channels.
  """
  phase = 2 * np.pi * 440 * np.arange(_N) / SAMPLE_RATE
  amplitude = 10**(_LEVELS_DBFS / 20)[:, None, None]
  right = np.cos(phase) if kind == "quadrature" else np.sin(phase)
  return amplitude * np.stack([np.sin(phase), right])[None]


def _steady_gain_db(x, y):
  power = lambda s: np.mean(s[..., -_LAST:].astype(np.float64)**2, axis=(-2, -1))
  return 10 * np.log10(power(y) / power(x))


def _expected_gain_db(params, np_curve):
  t, r, w, alpha, taps = _physical(params)
  energy = 10**(_LEVELS_DBFS / 10) / 2 * (1 - alpha**taps)  # A²/2 through the truncated FIR
  g = np.log(energy + ENERGY_FLOOR)
  return 20 * np.log10(np.exp(np_curve(g, t, r, w) - g))


@pytest.mark.parametrize("kind,time_constant_ms,tolerance_db", [
    ("quadrature", 2.0, 1e-3),  # constant energy: only float32 rounding
    ("mono", 20.0, 0.03),  # 880 Hz energy ripple through a 20 ms smoother: ~0.01 dB
])
def test_compressor_steady_state_follows_the_static_curve(kind, time_constant_ms, tolerance_db):
  params = _params(threshold_db=-20.0, ratio=4.0, knee_db=10.0, time_constant_ms=time_constant_ms)
  x = _sines(kind)
  gain_db = _steady_gain_db(x, _apply_batch(compressor, params, x))
  expected = _expected_gain_db(params, _np_compressor_curve)
  np.testing.assert_allclose(gain_db, expected, atol=tolerance_db, rtol=0)
  # sanity of the scenario: unity gain well below the knee, ~-25 dB at 0 dBFS,
  # and at least one level inside the knee (-25 … -15 dB energy)
  assert np.all(expected[_LEVELS_DBFS - 3 < -25.01] == 0)
  assert expected[-1] < -20
  assert np.any(np.abs(_LEVELS_DBFS - 3 + 20) < 5)


@pytest.mark.parametrize("kind,time_constant_ms,tolerance_db", [
    ("quadrature", 2.0, 1e-3),
    ("mono", 20.0, 0.1),  # the gate's slope R = 3 triples the ripple's effect
])
def test_gate_attenuates_below_threshold_and_passes_above(kind, time_constant_ms, tolerance_db):
  params = _params(threshold_db=-30.0, ratio=3.0, knee_db=6.0, time_constant_ms=time_constant_ms)
  x = _sines(kind)
  gain_db = _steady_gain_db(x, _apply_batch(noisegate, params, x))
  expected = _expected_gain_db(params, _np_gate_curve)
  np.testing.assert_allclose(gain_db, expected, atol=tolerance_db, rtol=0)
  energy_db = _LEVELS_DBFS - 3.01
  above = energy_db > -30 + 3 + 0.5
  below = energy_db < -30 - 3 - 0.5
  np.testing.assert_allclose(gain_db[above], 0.0, atol=max(tolerance_db, 1e-4))
  assert np.all(gain_db[below] < -5)
  assert np.all(np.diff(gain_db[below]) > 0)  # quieter input, more attenuation


# ---------------------------------------------------------------------------
# jit, vmap and gradients
# ---------------------------------------------------------------------------


def _test_signal(rng, n=2000):
  """Noise whose level sweeps -60 … 0 dB, so every part of the curves is visited."""
  return rng.normal(size=(2, n)) * np.logspace(-3, 0, n)


@pytest.mark.parametrize("module", [compressor, noisegate], ids=["compressor", "gate"])
def test_jit_and_vmap(module, rng):
  params = jax.vmap(module.init)(jax.random.split(jax.random.key(3), 3))
  params = {k: v * 100 for k, v in params.items()}  # spread the settings
  x = jnp.asarray(np.stack([_test_signal(rng) for _ in range(3)]), jnp.float32)
  batched = jax.jit(jax.vmap(lambda p, u: module.apply(p, u, sample_rate=SAMPLE_RATE)))(params, x)
  single = jax.jit(module.apply, static_argnames="sample_rate")
  for i in range(3):
    expected = single({k: v[i] for k, v in params.items()}, x[i], sample_rate=SAMPLE_RATE)
    np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(expected), rtol=1e-5, atol=1e-6)


_EXTREME = {"log_threshold": 3.0, "log_ratio": 5.0, "log_knee": -100.0, "z_alpha": 12.0}


@pytest.mark.parametrize("module", [compressor, noisegate], ids=["compressor", "gate"])
def test_gradients_are_finite(module, rng):
  x = jnp.asarray(_test_signal(rng), jnp.float32)
  target = jnp.asarray(rng.normal(size=(2, 2000)) * 0.1, jnp.float32)

  def loss(p):
    return jnp.mean((module.apply(p, x, sample_rate=SAMPLE_RATE) - target)**2)

  grad = jax.jit(jax.grad(loss))
  candidates = [module.init(jax.random.key(0))]
  for seed in (1, 2, 3):
    draw = np.random.default_rng(seed).normal(size=4)
    candidates.append(dict(zip(dynamics.PARAM_SHAPES,
                               (jnp.asarray([v], jnp.float32) for v in draw))))
  candidates.append({k: jnp.asarray([v], jnp.float32) for k, v in _EXTREME.items()})
  for params in candidates:
    grads = grad(params)
    for name, value in grads.items():
      assert np.all(np.isfinite(np.asarray(value))), f"{name}: {value} at {params}"
  # At a setting where the sweep crosses the knee every parameter matters.
  grads = grad(_params(threshold_db=-30.0, ratio=3.0, knee_db=6.0, time_constant_ms=5.0))
  assert all(float(v[0]) != 0 for v in grads.values()), grads
