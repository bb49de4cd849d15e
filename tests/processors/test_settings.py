"""Each processor's ``params_from_settings`` (the inverse of its ``controls``) and prior.

``tests/processors/test_registry.py`` checks every processor the same way;
these are the type-specific checks (curves, taps, thresholds from the input).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax.processors import REGISTRY, compressor, delay, dynamics, eq, gain_pan, imager
from mixjax.processors import noisegate, reverb

SR = 8000


@functools.lru_cache(maxsize=None)
def _jitted_controls(name):
  return jax.jit(functools.partial(REGISTRY[name].controls, sample_rate=SR))


def controls_of(name, params):
  return jax.tree.map(np.asarray, _jitted_controls(name)(jax.tree.map(jnp.asarray, params)))



def test_eq_round_trip():
  bands = [
      {"kind": "peak", "frequency_hz": 500.0, "gain_db": 6.0, "bandwidth_octaves": 1.0},
      {"kind": "low_shelf", "frequency_hz": 100.0, "gain_db": -5.0, "bandwidth_octaves": 1.5},
      {"kind": "high_shelf", "frequency_hz": 2000.0, "gain_db": 4.0, "bandwidth_octaves": 1.0},
  ]
  got = controls_of("eq", eq.params_from_settings({"bands": bands}, sample_rate=SR))
  np.testing.assert_allclose(got["gain_db"], eq.settings_gain_db(bands, got["frequency_hz"]),
                             atol=1e-3)
  curve = eq.settings_gain_db(bands[:1], [500.0, 500.0 * 2**0.5, 500.0 * 2**-0.5])
  np.testing.assert_allclose(curve, [6.0, 3.0, 3.0])  # 1 octave wide at half gain
  shelf = eq.settings_gain_db(bands[1:2], [1.0, 100.0, 1e4])
  np.testing.assert_allclose(shelf, [-5.0, -2.5, 0.0], atol=1e-3)
  with pytest.raises(ValueError, match="unknown band kind"):
    eq.settings_gain_db([dict(bands[0], kind="notch")], [100.0])


@pytest.mark.parametrize("name", ["compressor", "noisegate"])
def test_dynamics_round_trip(name):
  settings = dict(threshold_db=-23.5, ratio=4.5, knee_db=6.0, time_constant_ms=12.0)
  got = controls_of(name, dynamics.params_from_settings(settings, sample_rate=SR))
  for key, value in settings.items():
    assert float(got[key]) == pytest.approx(value, rel=1e-4), key
  with pytest.raises(ValueError, match="ratio > 1"):
    dynamics.params_from_settings(dict(settings, ratio=1.0), sample_rate=SR)
  with pytest.raises(ValueError, match="too long"):
    dynamics.params_from_settings(dict(settings, time_constant_ms=1e6), sample_rate=SR)


def test_imager_and_gain_pan_round_trip():
  got = controls_of("imager", imager.params_from_settings({"side_gain_db": -9.0}, sample_rate=SR))
  assert float(got["side_gain_db"]) == pytest.approx(-9.0, abs=1e-5)
  got = controls_of("gain_pan", gain_pan.params_from_settings(
      {"left_gain_db": -7.0, "right_gain_db": 4.0}, sample_rate=SR))
  assert float(got["left_gain_db"]) == pytest.approx(-7.0, abs=1e-5)
  assert float(got["right_gain_db"]) == pytest.approx(4.0, abs=1e-5)


def test_delay_round_trip_and_impulse_response():
  n = SR // 10
  taps = [
      {"channel": 0, "delay_samples": 1 * n + 17, "gain_db": 0.0},
      {"channel": 0, "delay_samples": 4 * n + 799, "gain_db": -6.0},
      {"channel": 1, "delay_samples": 3 * n + 0, "gain_db": -2.0},
  ]
  raw = delay.params_from_settings({"taps": taps}, sample_rate=SR)
  got = controls_of("delay", raw)
  gains = delay.normalised_tap_gains_db(taps)
  assert np.mean([np.sum(10**(gains[[0, 1]] / 10)), 10**(gains[2] / 10)]) == pytest.approx(1.0)
  for tap, gain in zip(taps, gains):
    c, m = tap["channel"], tap["delay_samples"] // n
    assert int(got["delay_samples"][c, m]) == tap["delay_samples"]
    assert float(got["tap_gain_db"][c, m]) == pytest.approx(gain, abs=0.01)
  impulse_response = jax.jit(functools.partial(delay.impulse_response, sample_rate=SR))
  ir = np.asarray(impulse_response(raw))
  for tap, gain in zip(taps, gains):
    c, d = tap["channel"], tap["delay_samples"]
    assert int(np.argmax(np.abs(ir[c]) * (np.arange(ir.shape[1]) // n == d // n))) == d
    assert 20 * math.log10(abs(ir[c, d])) == pytest.approx(gain, abs=0.05)
  with pytest.raises(ValueError, match="two taps in segment"):
    delay.params_from_settings({"taps": taps + [dict(taps[0], delay_samples=n + 3)]},
                                sample_rate=SR)


def test_reverb_round_trip():
  raw = reverb.params_from_settings(
      {"t60_ms": 800.0, "high_t60_ratio": 0.5, "side_level_db": -3.0}, sample_rate=SR)
  got = controls_of("reverb", raw)
  assert got["t60_ms"][0, 0] == pytest.approx(800.0, rel=1e-4)
  assert got["t60_ms"][0, -1] == pytest.approx(400.0, rel=1e-4)  # at Nyquist
  np.testing.assert_allclose(got["initial_level_db"][1] - got["initial_level_db"][0], -3.0,
                             atol=1e-4)


def test_compressor_threshold_sits_below_the_input_level():
  rng = np.random.default_rng(0)
  t = np.arange(SR) / SR
  x = np.stack([0.5 * np.sin(2 * np.pi * 220 * t)] * 2)  # energy 0.125: -9.03 dB
  for _ in range(20):
    s = compressor.sample_settings(rng, x, sample_rate=SR)
    assert -9.03 - 15 <= s["threshold_db"] <= -9.03 - 6
    assert 3 <= s["ratio"] <= 8 and 5 <= s["time_constant_ms"] <= 30


def test_gate_threshold_sits_between_quiet_and_loud():
  rng = np.random.default_rng(0)
  x = np.full((2, SR), 1e-3)
  x[:, SR // 2:] = 0.3  # quiet half at -60 dB, loud half at -10.5 dB (energy)
  for _ in range(20):
    s = noisegate.sample_settings(rng, x, sample_rate=SR)
    assert -50 < s["threshold_db"] < -12
    assert 2 <= s["ratio"] <= 4


def _numbers(settings):
  """``(numbers, rebuild)``: the settings' numbers as float32 / int32 arrays (strings stay)."""
  leaves, treedef = jax.tree.flatten(settings)
  is_number = [not isinstance(leaf, str) for leaf in leaves]
  numbers = [np.asarray(leaf, np.int32 if isinstance(leaf, (int, np.integer)) else np.float32)
             for leaf, n in zip(leaves, is_number) if n]

  def rebuild(values):
    values = iter(values)
    return jax.tree.unflatten(treedef, [next(values) if n else leaf
                                        for leaf, n in zip(leaves, is_number)])
  return numbers, rebuild


@pytest.mark.parametrize("name", list(REGISTRY))
def test_params_from_settings_runs_under_jit_grad_and_vmap(name):
  """A network can predict physical settings and be trained through the console."""
  record = REGISTRY[name]
  t = np.arange(SR) / SR
  x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5)] * 2).astype(np.float32)
  settings = record.sample_settings(np.random.default_rng(1), x if record.sample_needs_input
                                    else None, sample_rate=SR)
  numbers, rebuild = _numbers(settings)
  from_settings = functools.partial(record.params_from_settings, sample_rate=SR)
  want = from_settings(settings)  # concrete: float64 NumPy, checked

  got = jax.jit(lambda values: from_settings(rebuild(values)))(numbers)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-4), got, want)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3),
               controls_of(name, got), controls_of(name, want))
  read = controls_of(name, got)  # ... and round-trips with controls
  for key in set(settings) & {k for k, v in read.items() if np.ndim(v) == 0}:
    assert float(read[key]) == pytest.approx(settings[key], rel=1e-3, abs=1e-3), key

  # vmap over two settings: the drawn ones and each float 3 % larger.
  other = [v * 1.03 if v.dtype == np.float32 else v for v in numbers]
  batch = jax.vmap(lambda values: from_settings(rebuild(values)))(
      [np.stack([a, b]) for a, b in zip(numbers, other)])
  want_other = from_settings(rebuild([v.item() for v in other]))
  for i, expected in enumerate((want, want_other)):
    jax.tree.map(lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=2e-4),
                 batch, expected)

  # grad of the raw parameters, and of the settings read back, w.r.t. every float setting.
  floats = [i for i, v in enumerate(numbers) if v.dtype == np.float32]

  def objective(values):
    merged = list(numbers)
    for i, v in zip(floats, values):
      merged[i] = v
    raw = from_settings(rebuild(merged))
    read = record.controls(raw, sample_rate=SR)
    return (sum(jnp.sum(v) for v in raw.values())
            + sum(jnp.sum(v) for v in jax.tree.leaves(read) if v.dtype == jnp.float32))

  grads = jax.jit(jax.grad(objective))([numbers[i] for i in floats])
  assert all(np.isfinite(g).all() for g in grads)
  assert any(np.abs(g).sum() > 0 for g in grads)
