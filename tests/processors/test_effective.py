"""Each processor's ``effective`` (its action at a dry/wet weight) against measurements.

Every reference renders the node through its JAX ``apply`` and mixes it as the
console does (``w · wet + (1 - w) · dry``), then measures in float64 NumPy:
the EQ's curve is the spectrum of that impulse response, a compressor's or
gate's static curve the gain on steady signals, a delay's taps the peaks of
its impulse response, a reverb's T60 the decay of a known exponential.
"""

import functools
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.processors import compressor
from mixjax.processors import delay
from mixjax.processors import dynamics
from mixjax.processors import eq
from mixjax.processors import gain_pan
from mixjax.processors import imager
from mixjax.processors import noisegate
from mixjax.processors import reverb

from conftest import SAMPLE_RATE

F32 = np.float32


@functools.lru_cache(maxsize=None)
def _apply(module):
  return jax.jit(functools.partial(module.apply, sample_rate=SAMPLE_RATE))


def mixed(module, params, x, wet):
  """The console's dry/wet mix of one node, float64: ``w · apply(x) + (1 - w) · x``."""
  y = _apply(module)(jax.tree.map(jnp.asarray, params), jnp.asarray(x, jnp.float32))
  return wet * np.asarray(y, np.float64) + (1 - wet) * np.asarray(x, np.float64)


def impulse(n, at=0):
  x = np.zeros((2, n), F32)
  x[:, at] = 1.0
  return x


# ---------------------------------------------------------------------------
# EQ
# ---------------------------------------------------------------------------


def eq_params(*bands):
  """Log-magnitudes: each ``(first_bin, last_bin, gain_db)`` a flat-topped band."""
  log_magnitude = np.zeros(eq.N_MAGNITUDE_BINS, F32)
  for first, last, gain_db in bands:
    log_magnitude[first:last + 1] = gain_db / 20 * np.log(10)
  return {"log_magnitude": log_magnitude}


def measured_eq_db(params, wet, n_fft=eq.RESPONSE_FFT):
  """``20 log10 |FFT|`` of the node's rendered impulse response (dry/wet mixed)."""
  ir = mixed(eq, params, impulse(eq.N_TAPS, at=eq.N_TAPS // 2), wet)[0]
  return 20 * np.log10(np.abs(np.fft.rfft(ir, n_fft)))


@pytest.mark.parametrize("wet", [1.0, 0.54, 0.1])
def test_eq_response_is_the_spectrum_of_the_rendered_impulse_response(wet, rng):
  params = {"log_magnitude": (0.4 * rng.standard_normal(eq.N_MAGNITUDE_BINS)).astype(F32)}
  frequency_hz, response = eq.effective_response(params, wet, sample_rate=SAMPLE_RATE)
  assert frequency_hz[1] == pytest.approx(SAMPLE_RATE / eq.RESPONSE_FFT)
  np.testing.assert_allclose(20 * np.log10(np.abs(response)), measured_eq_db(params, wet),
                             atol=2e-3)


def test_octave_smoothing_is_the_mean_power_in_each_window(rng):
  frequency_hz = np.arange(4000) * 2.0
  power = rng.uniform(0.1, 4.0, frequency_hz.size)
  got = eq.octave_smoothed_db(frequency_hz, power, octaves=1 / 3)
  for i in (1, 7, 100, 1500, 3999):
    window = (frequency_hz >= frequency_hz[i] * 2**(-1 / 6)) & (
        frequency_hz <= frequency_hz[i] * 2**(1 / 6))
    assert got[i] == pytest.approx(10 * np.log10(np.mean(power[window])), abs=1e-9)
  np.testing.assert_allclose(eq.octave_smoothed_db(frequency_hz, np.full(4000, 4.0)), 6.0206,
                             atol=1e-4)


def test_eq_bands_are_the_extremes_of_the_smoothed_measured_curve():
  # At 8 kHz a bin is 3.9 Hz: a +9 dB band at 1.1-1.6 kHz, a -6 dB band at 310-510 Hz.
  params = eq_params((280, 410, 9.0), (80, 130, -6.0), (700, 701, 12.0))
  wet = 0.5
  measured = measured_eq_db(params, wet)
  frequency_hz = np.arange(len(measured)) * SAMPLE_RATE / eq.RESPONSE_FFT
  smoothed = eq.octave_smoothed_db(frequency_hz, 10**(measured / 10))
  e = eq.effective(params, wet, sample_rate=SAMPLE_RATE)

  # The 2-bin spike at 2.74 kHz is ripple, not a band: 1/6 octave smooths it under 1 dB.
  assert e["bands"]["kind"] == ["cut", "boost"] and e["n_bands"] == 2
  cut, boost = eq.band_list(e)
  for band, stretch in ((cut, (200, 700)), (boost, (900, 2000))):
    inside = (frequency_hz > stretch[0]) & (frequency_hz < stretch[1])
    peak = np.argmax(np.abs(smoothed[inside]))
    assert band["gain_db"] == pytest.approx(smoothed[inside][peak], abs=0.01)
    assert band["frequency_hz"] == pytest.approx(frequency_hz[inside][peak], abs=0.1)
    half = frequency_hz[inside][np.abs(smoothed[inside]) >= abs(band["gain_db"]) / 2]
    assert (band["low_hz"], band["high_hz"]) == pytest.approx((half[0], half[-1]), abs=0.1)
    assert band["q"] == pytest.approx(band["frequency_hz"] / (half[-1] - half[0]), abs=0.006)
  # A 50 %-wet +9 dB band is about a +5.1 dB boost, |0.5 · 2.82 + 0.5|, and a -6 dB one
  # a -3.0 dB cut (their sharp edges ripple by some tenths of a dB).
  assert boost["gain_db"] == pytest.approx(5.1, abs=0.6)
  assert cut["gain_db"] == pytest.approx(-3.0, abs=0.6)
  assert 1.5 < boost["q"] < 1350 / 510  # the band's Q, widened by the smoothing

  # The curve keeps every detail (a cell keeps its largest gain), the spike's too.
  above = frequency_hz >= 20
  assert max(e["gain_db"]) == e["max_boost_db"] == pytest.approx(measured[above].max(), abs=0.01)
  assert min(e["gain_db"]) == e["max_cut_db"] == pytest.approx(measured[above].min(), abs=0.01)
  assert e["max_boost_db"] > boost["gain_db"] + 1  # the spike
  assert e["ripple_db"] == pytest.approx(np.abs(measured - smoothed)[above].max(), abs=0.01)
  curve_hz = np.asarray(e["frequency_hz"])
  assert len(curve_hz) == eq.CURVE_POINTS and curve_hz[0] == 20.0
  assert curve_hz[-1] == SAMPLE_RATE / 2
  flat = (curve_hz > 3200) & (curve_hz < 3800)  # far from the bands: the curve itself
  np.testing.assert_allclose(np.asarray(e["gain_db"])[flat],
                             np.interp(curve_hz[flat], frequency_hz, measured), atol=0.01)
  np.testing.assert_allclose(e["smoothed_gain_db"], np.interp(curve_hz, frequency_hz, smoothed),
                             atol=0.01)

  text = eq.describe(e)
  khz = f"{boost['frequency_hz'] / 1000:.1f} kHz"
  assert text.startswith(f"+{boost['gain_db']:.1f} dB at {khz} (Q {boost['q']:.1f}), "
                         f"\u2212{abs(cut['gain_db']):.1f} dB at ")
  assert text.endswith(f"narrow ripple ±{e['ripple_db']:.1f} dB")


def test_eq_shelves_broadband_and_flat():
  low_shelf = eq.effective(eq_params((0, 40, -6.0)), 1.0, sample_rate=SAMPLE_RATE)
  assert low_shelf["bands"]["kind"] == ["low shelf"] and low_shelf["bands"]["q"] == [None]
  assert re.fullmatch("low shelf \u22126\\.[01] dB below 1[56]\\d Hz", eq.describe(low_shelf))
  high_shelf = eq.effective(eq_params((900, 1023, 4.0)), 1.0, sample_rate=SAMPLE_RATE)
  assert high_shelf["bands"]["kind"] == ["high shelf"]
  broadband = eq.effective(eq_params((0, 1023, 3.0)), 0.8, sample_rate=SAMPLE_RATE)
  assert broadband["bands"]["kind"] == ["broadband"]
  assert broadband["bands"]["gain_db"][0] == pytest.approx(
      20 * np.log10(0.8 * 10**(3 / 20) + 0.2), abs=0.01)
  flat = eq.effective(eq_params(), 0.7, sample_rate=SAMPLE_RATE)
  assert eq.band_list(flat) == [] and eq.describe(flat) == "flat (within ±1 dB)"
  assert max(np.abs(flat["gain_db"])) < 1e-3


def test_eq_keeps_the_largest_bands():
  starts = [round(20 * 1.35**i) for i in range(12)]  # each about 1/4 octave wide
  bands = [(a, round(1.2 * a), (-1)**i * (2.0 + i)) for i, a in enumerate(starts)]
  e = eq.effective(eq_params(*bands), 1.0, sample_rate=SAMPLE_RATE)
  assert e["n_bands"] == 12 and len(e["bands"]["kind"]) == eq.MAX_BANDS
  kept = sorted(abs(g) for g in e["bands"]["gain_db"])
  assert kept[0] > 4.5  # the four smallest (2 to 5 dB before smoothing) were dropped
  assert "9 smaller bands" in eq.describe(e)


# ---------------------------------------------------------------------------
# Compressor and gate
# ---------------------------------------------------------------------------


def dynamics_params(threshold_db, ratio, knee_db, time_constant_ms):
  return dynamics.params_from_settings(
      {"threshold_db": threshold_db, "ratio": ratio, "knee_db": knee_db,
       "time_constant_ms": time_constant_ms}, sample_rate=SAMPLE_RATE)


def steady_gain_db(module, params, wet, level_db):
  """Gain of the mixed node on ``L = A cos``, ``R = A sin`` (constant energy ``A²/2``)
  at RMS level ``level_db``, measured after the smoother has settled."""
  n = dynamics.smoother_taps(SAMPLE_RATE)
  t = np.arange(n + 2000)
  amplitude = np.sqrt(2 * 10**(level_db / 10))
  x = amplitude * np.stack([np.cos(0.07 * t), np.sin(0.07 * t)])
  y = mixed(module, params, x.astype(F32), wet)
  return 10 * np.log10(np.mean(y[:, n:]**2) / np.mean(x[:, n:]**2))


LEVELS_DB = (-70.0, -45.0, -31.0, -27.0, -24.0, -12.0, -3.0)


@pytest.mark.parametrize("module, wet", [(compressor, 1.0), (compressor, 0.54),
                                         (noisegate, 0.8), (noisegate, 0.3)])
def test_static_curve_is_the_gain_on_steady_signals(module, wet):
  params = dynamics_params(-26.0, 4.0, 6.0, 15.0)
  log_gain_fn = (dynamics.compressor_log_gain if module is compressor
                 else dynamics.expander_log_gain)
  expected = [steady_gain_db(module, params, wet, level) for level in LEVELS_DB]
  got = dynamics.static_gain_db(params, wet, np.asarray(LEVELS_DB), log_gain_fn,
                                sample_rate=SAMPLE_RATE)
  np.testing.assert_allclose(got, expected, atol=1e-3)

  e = module.effective(params, wet, sample_rate=SAMPLE_RATE)
  assert e["input_rms_db"] == list(dynamics.INPUT_LEVELS_DB)
  np.testing.assert_allclose(
      e["gain_db"], dynamics.static_gain_db(params, wet, dynamics.INPUT_LEVELS_DB, log_gain_fn,
                                            sample_rate=SAMPLE_RATE), atol=0.006)
  assert e["threshold_db"] == pytest.approx(-26.0, abs=0.01)
  assert (e["ratio"], e["knee_db"]) == pytest.approx((4.0, 6.0), abs=1e-3)
  assert e["time_constant_ms"] == pytest.approx(15.0, rel=1e-4)
  assert e["max_reduction_db"] == pytest.approx(
      max(20 * np.log10(max(1 - wet, 1e-300)), -120.0), abs=0.01)
  sign = 1 if module is compressor else -1
  assert e["probe_input_rms_db"] == pytest.approx(
      [-26.0 + sign * d for d in dynamics.PROBE_OFFSETS_DB], abs=0.01)
  assert e["probe_gain_db"] == pytest.approx(
      [steady_gain_db(module, params, wet, level) for level in e["probe_input_rms_db"]],
      abs=0.006)
  assert all(g <= 1e-9 for g in e["gain_db"])  # neither processor ever boosts


def test_dynamics_slope_and_words():
  # At w = 1 the level past the knee rises 2/R - 1 dB per dB (G is an energy, the gain
  # scales the amplitude): 0.5 for R = 4/3, so an effective 2:1.
  e = compressor.effective(dynamics_params(-30.0, 4 / 3, 2.0, 10.0), 1.0,
                           sample_rate=SAMPLE_RATE)
  assert e["slope"] == pytest.approx(0.5, abs=0.015)  # the knee bends the first dB
  assert dynamics.full_wet_slope(4 / 3, gate=False) == pytest.approx(0.5)
  assert dynamics.full_wet_slope(1.5, gate=True) == pytest.approx(2.0)
  text = compressor.describe(e)
  assert text.startswith("settings threshold \u221230.0 dB RMS, ratio 1.33 (2.0:1 fully wet), "
                         "knee 2.0 dB, attack = release 10 ms; at its dry/wet ≈2.0:1 over the "
                         "12 dB above the threshold: \u22123.0 dB at 6 dB over, "), text
  assert text.endswith("dB at 12 dB over, never below \u2212120.0 dB")
  limiter = compressor.effective(dynamics_params(-30.0, 4.0, 2.0, 10.0), 1.0,
                                 sample_rate=SAMPLE_RATE)
  assert limiter["slope"] == pytest.approx(-0.5, abs=0.04)
  assert "ratio 4.00 (fully wet, the output falls as the input rises)" in (
      compressor.describe(limiter))
  assert "at its dry/wet output falls as input rises (slope \u22120.4" in (
      compressor.describe(limiter))
  gate = noisegate.effective(dynamics_params(-30.0, 1.5, 2.0, 10.0), 0.9,
                             sample_rate=SAMPLE_RATE)
  assert "ratio 1.50 (1:2.0 fully wet)" in noisegate.describe(gate)
  assert "at its dry/wet ≈1:1.8 over the 12 dB below the threshold: " in (
      noisegate.describe(gate))
  assert "dB at 6 dB under" in noisegate.describe(gate)


@pytest.mark.parametrize("module, settings, wet", [
    (compressor, (-29.3, 1.6, 29.3, 0.1), 0.29),   # the compressor: a wide knee
    (noisegate, (-40.0, 3.0, 20.0, 10.0), 0.3),    # a gate whose curve flattens at its floor
    (noisegate, (-30.0, 1.5, 2.0, 10.0), 0.9)])
def test_dynamics_ratio_is_the_slope_where_the_gains_are_named(module, settings, wet):
  """The ratio named at the dry/wet is the static curve's chord over the stretch whose gains
  the text gives (steady sines, float64): a gate that lowers the level is never 'no
  expansion', and the nominal ratio is said to be a setting."""
  params = dynamics_params(*settings)
  e = module.effective(params, wet, sample_rate=SAMPLE_RATE)
  sign = 1 if module is compressor else -1
  at_threshold = steady_gain_db(module, params, wet, settings[0])
  past = steady_gain_db(module, params, wet, settings[0] + sign * 12.0)
  assert e["slope"] == pytest.approx(1 + (past - at_threshold) / (sign * 12.0), abs=2e-3)
  text = module.describe(e)
  settings_part, effect_part = text.split("; at its dry/wet ")
  assert settings_part.startswith(f"settings threshold ") and f"ratio {settings[1]:.2f} (" in (
      settings_part)
  slope = e["slope"]
  ratio = f"≈1:{slope:.1f}" if module is noisegate else f"≈{1 / slope:.1f}:1"
  assert effect_part.startswith(ratio + " over the 12 dB"), text
  assert "no expansion" not in text


# ---------------------------------------------------------------------------
# Delay
# ---------------------------------------------------------------------------


def delay_params(delays_samples, colour_db):
  """Sharp taps (``|z̃| = 4``) at the given in-segment delays, each coloured by a flat gain."""
  n = delay.segment_length(SAMPLE_RATE)
  theta = -2 * np.pi * np.asarray(delays_samples) / n
  delay_z = 4.0 * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
  log_fir = np.repeat(np.asarray(colour_db, np.float64)[:, None] / 20 * np.log(10),
                      delay.NUM_COLOUR_BINS, axis=1)
  return {"delay_z": delay_z.astype(F32), "log_fir_magnitude": log_fir.astype(F32)}


@pytest.mark.parametrize("direct_tap", [False, True])
def test_delay_taps_are_the_peaks_of_the_rendered_impulse_response(direct_tap, rng):
  n = delay.segment_length(SAMPLE_RATE)
  delays = rng.integers(1, n - 1, delay.NUM_TAPS)
  delays[0] = 0 if direct_tap else 17
  colour_db = np.full(delay.NUM_TAPS, -90.0)  # inaudible, except:
  colour_db[[0, 3, 7, 22, 25]] = [-2.0, 0.0, -6.0, 0.0, -20.0]
  params = delay_params(delays, colour_db)
  wet = 0.6
  e = delay.effective(params, wet, sample_rate=SAMPLE_RATE)

  ir = mixed(delay, params, impulse(delay.ir_length(SAMPLE_RATE)), wet)
  for channel, name in enumerate(delay.CHANNEL_NAMES):
    peaks = np.flatnonzero(np.abs(ir[channel]) >= 10**(delay.MIN_TAP_DB / 20))
    assert e[name]["delay_ms"] == pytest.approx(1000 * peaks / SAMPLE_RATE, abs=0.005)
    assert e[name]["gain_db"] == pytest.approx(
        20 * np.log10(np.abs(ir[channel, peaks])), abs=0.006)
  # the dry path is the tap at 0 ms; a wet tap there adds to it
  assert e["left"]["delay_ms"][0] == 0
  if not direct_tap:
    assert e["left"]["gain_db"][0] == pytest.approx(20 * np.log10(1 - wet), abs=0.006)
    assert len(e["left"]["delay_ms"]) == 4 and len(e["right"]["gain_db"]) == 3
  text = delay.describe(e)
  assert text.startswith("direct ")
  assert f"{1000 * (3 * n + delays[3]) / SAMPLE_RATE:.0f} ms" in text


def test_delay_drops_quiet_taps_and_says_so():
  colour_db = np.full(delay.NUM_TAPS, -90.0)
  colour_db[3] = 0.0  # one tap on the left; the response's energy is normalised to 1
  params = delay_params(np.full(delay.NUM_TAPS, 5), colour_db)
  n = delay.segment_length(SAMPLE_RATE)
  e = delay.effective(params, 0.3, sample_rate=SAMPLE_RATE)
  assert e["right"] == {"delay_ms": [0.0],
                        "gain_db": [pytest.approx(20 * np.log10(0.7), abs=0.01)]}
  assert e["left"]["delay_ms"] == pytest.approx([0.0, 1000 * (3 * n + 5) / SAMPLE_RATE],
                                                abs=0.005)
  assert e["left"]["gain_db"][1] == pytest.approx(20 * np.log10(0.3 * np.sqrt(2)), abs=0.01)
  assert delay.describe(e) == (f"direct \u22123.1 dB; 301 ms "
                               f"\u2212{-e['left']['gain_db'][1]:.1f} dB (L)")
  quiet = delay.effective(params, 0.005, sample_rate=SAMPLE_RATE)
  assert delay.describe(quiet) == "direct \u22120.0 dB; no tap above \u221240 dB"


# ---------------------------------------------------------------------------
# Reverb
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("t60_ms", [150.0, 500.0, 900.0])
def test_schroeder_t60_of_an_exponential_decay(t60_ms, rng):
  n = 2 * SAMPLE_RATE
  t = np.arange(n) / SAMPLE_RATE
  energy = rng.standard_normal(n)**2 * 10**(-6 * t / (t60_ms / 1000))  # -60 dB at T60
  assert reverb.schroeder_t60_ms(energy, SAMPLE_RATE) == pytest.approx(t60_ms, rel=0.05)
  clean = 10**(-6 * t / (t60_ms / 1000))
  assert reverb.schroeder_t60_ms(clean, SAMPLE_RATE) == pytest.approx(t60_ms, rel=1e-3)


@pytest.mark.parametrize("delta", [1.5, 3.0])
def test_reverb_t60_follows_the_mask_and_levels_follow_the_weight(delta):
  params = {"init_log_magnitude": np.zeros((2, reverb.NUM_BINS), F32),
            "delta_log_magnitude": np.full((2, reverb.NUM_BINS), delta, F32)}
  wet = 0.3
  e = reverb.effective(params, wet, sample_rate=SAMPLE_RATE)
  mask_t60 = float(reverb.controls(jax.tree.map(jnp.asarray, params),
                                   sample_rate=SAMPLE_RATE)["t60_mid_ms"])
  assert mask_t60 < 1000  # well inside the 2 s response
  for key in ("t60_ms", "t60_mid_ms", "t60_side_ms"):
    assert e[key] == pytest.approx(mask_t60, rel=0.1), key
  # The rendered response, measured directly, decays as effective says.
  ir = mixed(reverb, params, impulse(reverb.ir_length(SAMPLE_RATE)), wet)
  ir[:, 0] -= 1 - wet  # the dry path
  assert e["t60_ms"] == pytest.approx(
      reverb.schroeder_t60_ms(np.mean(ir**2, axis=0), SAMPLE_RATE), rel=1e-3)
  assert 10 * np.log10(np.mean(np.sum(ir**2, axis=1))) == pytest.approx(e["wet_level_db"],
                                                                          abs=0.01)
  assert e["dry_level_db"] == pytest.approx(20 * np.log10(1 - wet), abs=0.01)
  assert abs(e["side_to_mid_db"]) < 3  # independent mid and side noises of equal masks
  assert reverb.describe(e).startswith(f"T60 {e['t60_ms']:.0f} ms, wet \u221210.5 dB, dry")


# ---------------------------------------------------------------------------
# Gain/pan and imager
# ---------------------------------------------------------------------------


def test_gain_pan_is_the_measured_channel_gain(rng):
  params = {"log_gain": np.asarray([-1.2, 0.4], F32)}
  wet = 0.7
  x = rng.standard_normal((2, 256)).astype(F32)
  y = mixed(gain_pan, params, x, wet)
  gains = np.sqrt(np.sum(y**2, axis=1) / np.sum(x.astype(np.float64)**2, axis=1))
  e = gain_pan.effective(params, wet, sample_rate=SAMPLE_RATE)
  assert (e["left_gain_db"], e["right_gain_db"]) == pytest.approx(
      tuple(20 * np.log10(gains)), abs=0.006)
  assert e["gain_db"] == pytest.approx(np.mean(20 * np.log10(gains)), abs=0.006)
  assert e["pan"] == pytest.approx((gains[1] - gains[0]) / (gains[1] + gains[0]), abs=6e-4)
  assert gain_pan.describe(e) == f"\u2212{-e['gain_db']:.1f} dB, pan {100 * e['pan']:.0f} % right"
  centred = gain_pan.effective({"log_gain": np.asarray([-0.5, -0.5], F32)}, 1.0,
                               sample_rate=SAMPLE_RATE)
  assert gain_pan.describe(centred) == "\u22124.3 dB, pan centre"


@pytest.mark.parametrize("log_gain, wet, word", [(-3.0, 0.5, "narrower"), (1.0, 0.4, "wider"),
                                                 (0.0, 0.9, "unchanged")])
def test_imager_is_the_measured_side_gain(log_gain, wet, word, rng):
  params = {"log_gain": np.asarray([log_gain], F32)}
  x = rng.standard_normal((2, 256)).astype(F32)
  y = mixed(imager, params, x, wet)
  side_in, side_out = x[0] - x[1].astype(np.float64), y[0] - y[1]
  np.testing.assert_allclose(y[0] + y[1], x[0] + x[1].astype(np.float64), atol=1e-5)
  e = imager.effective(params, wet, sample_rate=SAMPLE_RATE)
  assert e["side_gain_db"] == pytest.approx(
      10 * np.log10(np.sum(side_out**2) / np.sum(side_in**2)), abs=0.006)
  assert imager.describe(e).endswith(f"({word})")


# ---------------------------------------------------------------------------
# Every processor
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROCESSORS)
def test_effective_is_json_and_describable_at_init(name, key):
  processor = REGISTRY[name]
  params = jax.tree.map(np.asarray, processor.init(key))
  for wet in (0.5, 1.0):
    e = processor.effective(params, wet, sample_rate=SAMPLE_RATE)
    assert json.loads(json.dumps(e, allow_nan=False)) == e
    assert e["wet"] == wet
    assert isinstance(processor.describe(e), str) and processor.describe(e)


# ---------------------------------------------------------------------------
# compare: a found node against a true one
# ---------------------------------------------------------------------------


def test_eq_compare_is_the_smoothed_curves_rms_difference_over_the_audio_band():
  flat = eq.effective(eq_params(), 1.0, sample_rate=SAMPLE_RATE)
  boost = eq.effective(eq_params((0, 1023, 3.0)), 1.0, sample_rate=SAMPLE_RATE)
  assert eq.compare(flat, flat) == {"curve_rms_db": 0.0}
  assert eq.compare(flat, boost)["curve_rms_db"] == pytest.approx(3.0, abs=0.05)
  # A band above 20 kHz (a 48 kHz EQ) is not heard, so not counted.
  high = eq.effective(eq_params((0, 1023, 3.0)), 1.0, sample_rate=48000)
  top = eq.effective(eq_params((0, 1023, 3.0), (int(20500 / 48000 * 2047), 1023, 12.0)), 1.0,
                     sample_rate=48000)
  assert eq.compare(high, top)["curve_rms_db"] < 0.5
  f = np.asarray(high["frequency_hz"])
  band = (f >= 20) & (f <= 20000)
  expected = np.sqrt(np.mean((np.asarray(top["smoothed_gain_db"])[band]
                              - np.asarray(high["smoothed_gain_db"])[band]) ** 2))
  assert eq.compare(high, top)["curve_rms_db"] == pytest.approx(expected, abs=0.006)


def test_dynamics_compare_gives_setting_errors_and_the_curves_rms_difference():
  truth = compressor.effective(dynamics_params(-30.0, 2.0, 4.0, 10.0), 0.8,
                               sample_rate=SAMPLE_RATE)
  found = compressor.effective(dynamics_params(-27.0, 3.0, 4.0, 20.0), 0.6,
                               sample_rate=SAMPLE_RATE)
  errors = compressor.compare(truth, found)
  expected = np.sqrt(np.mean((dynamics.static_gain_db(
      dynamics_params(-27.0, 3.0, 4.0, 20.0), 0.6, dynamics.INPUT_LEVELS_DB,
      dynamics.compressor_log_gain, sample_rate=SAMPLE_RATE) - dynamics.static_gain_db(
          dynamics_params(-30.0, 2.0, 4.0, 10.0), 0.8, dynamics.INPUT_LEVELS_DB,
          dynamics.compressor_log_gain, sample_rate=SAMPLE_RATE)) ** 2))
  assert errors["threshold_db"] == pytest.approx(3.0, abs=0.02)
  assert errors["ratio_factor"] == pytest.approx(1.5, abs=0.002)
  assert errors["time_constant_factor"] == pytest.approx(2.0, abs=0.002)
  assert errors["curve_rms_db"] == pytest.approx(expected, abs=0.01) and expected > 1.0
  assert noisegate.compare is compressor.compare


def test_delay_compare_matches_each_true_echo_to_the_nearest_found_one():
  truth = {"left": {"delay_ms": [0.0, 120.0, 340.0], "gain_db": [-6.0, -8.0, -9.0]},
           "right": {"delay_ms": [0.0, 250.0], "gain_db": [-6.0, -7.0]}}
  found = {"left": {"delay_ms": [0.0, 118.0, 400.0, 900.0], "gain_db": [-5.0, -9.0, -9.0, -30.0]},
           "right": {"delay_ms": [0.0, 251.0], "gain_db": [-5.0, -8.0]}}
  # 120 -> 118 (-2), 340 -> 400 (+60), 250 -> 251 (+1): the worst is +60; 4 echoes for 3.
  assert delay.compare(truth, found) == {"delay_ms": 60.0, "echo_taps": 1}
  deaf = dict(found, right={"delay_ms": [0.0], "gain_db": [-5.0]})
  assert delay.compare(truth, deaf) == {"delay_ms": None, "echo_taps": 0}
  assert delay.compare(truth, truth) == {"delay_ms": 0.0, "echo_taps": 0}


def test_level_types_compare_by_differences():
  assert gain_pan.compare({"gain_db": -3.0, "pan": 0.2}, {"gain_db": -1.0, "pan": -0.1}) == (
      {"gain_db": 2.0, "pan": -0.3})
  assert imager.compare({"side_gain_db": 6.0}, {"side_gain_db": 4.5}) == {"side_gain_db": -1.5}
  assert reverb.compare({"t60_ms": 1200.0, "wet_level_db": -2.0},
                        {"t60_ms": 900.0, "wet_level_db": -5.0}) == (
      {"t60_ms": -300.0, "wet_level_db": -3.0})


def test_error_words_read_each_key_by_its_unit():
  from mixjax.processors import _effective
  assert _effective.error_words({
      "threshold_db": 2.1, "ratio_factor": 0.5, "time_constant_factor": 0.0123,
      "curve_rms_db": 1.25, "t60_ms": -310.0, "pan": 0.05, "echo_taps": -1,
      "delay_ms": None}) == (
      "threshold +2.1 dB, ratio ×0.5, time constant ×0.012, curve 1.2 dB RMS, "
      "T60 \u2212310 ms, pan +0.05, echo taps \u22121, delay none found")


@pytest.mark.parametrize("name", PROCESSORS)
def test_compare_of_a_node_with_itself_is_no_error(name, key):
  processor = REGISTRY[name]
  e = processor.effective(jax.tree.map(np.asarray, processor.init(key)), 0.7,
                          sample_rate=SAMPLE_RATE)
  errors = processor.compare(e, e)
  assert json.loads(json.dumps(errors, allow_nan=False)) == errors and errors
  for k, v in errors.items():
    assert v == (1.0 if k.endswith("_factor") else 0), (k, v)
