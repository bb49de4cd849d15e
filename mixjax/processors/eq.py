r"""Zero-phase FIR equaliser (grafx ``ZeroPhaseFIREqualizer(num_magnitude_bins=1024)``).

Let ``H_log[k]``, ``k = 0 … K-1`` (K = 1024), be ``params["log_magnitude"]``:
natural-log magnitudes at the DFT bins ``f_k = k · sample_rate / N`` of the
``N = 2K - 1 = 2047``-tap FIR. The FIR is the inverse real DFT of the
magnitudes, centred and windowed with the periodic Hann window ``v``:

.. math::

  h[n] = v[n] \cdot \frac{1}{N} \sum_{k=-(K-1)}^{K-1}
         e^{H_{\log}[|k|]}\, e^{j 2\pi k (n - (N-1)/2) / N},
  \qquad n = 0 … N-1,

and both channels are filtered with the same ``h`` centred on tap
``(N-1)/2 = 1023`` (zero phase: output sample ``t`` is ``Σ_n h[n] x[t + 1023 - n]``).

The window smears the response: the periodic Hann has a three-bin DFT
``[-1/4, 1/2, -1/4]``, so the FIR's response at ``f_k`` is the desired one
smoothed over the neighbouring bins (≈ ``(M[k-1] + 2 M[k] + M[k+1]) / 4``,
``M = exp(H_log)``). A flat EQ gives ``h = v[1023] · δ[n - 1023]`` with
``v[1023] = 1 - 5.9e-7`` (the periodic window peaks between taps), so it is the
identity to float32 precision.

The number of taps does not change with the sample rate; only the bin
frequencies ``f_k`` do.

References:
  grafx ``processors/eq.py`` ``ZeroPhaseFIREqualizer``, ``core/fir.py``.
"""

from __future__ import annotations

import math

import numpy as np

from mixjax import dsp
from mixjax import units
from mixjax.processors import _effective
from mixjax.processors import _init
from mixjax.processors import _settings
from mixjax.processors import base

N_MAGNITUDE_BINS = 1024
"""Number of log-magnitude parameters (grafx ``num_magnitude_bins``)."""

N_TAPS = 2 * N_MAGNITUDE_BINS - 1
"""FIR length, 2047 (odd, so the filter has a centre tap)."""

PARAM_SHAPES = {"log_magnitude": (N_MAGNITUDE_BINS,)}
"""Name and shape of every parameter."""


def init(key) -> dict:
  """Parameters drawn i.i.d. N(0, 0.01²): an almost flat EQ."""
  return _init.normal_params(key, PARAM_SHAPES)


def fir(params):
  """The ``[2047]`` zero-phase FIR, centre tap 1023 (see the module docstring)."""
  return dsp.zero_phase_fir(params["log_magnitude"], n_taps=N_TAPS)


def apply(params, x, *, sample_rate: int):
  """Filter both channels with the same zero-phase FIR.

  Args:
    params: ``{"log_magnitude": [1024]}``, natural-log magnitudes per bin.
    x: ``[2, n]`` float32 stereo signal.
    sample_rate: unused (the FIR is defined per bin, not per Hz).

  Returns:
    ``[2, n]`` filtered signal, aligned with ``x`` (no delay).
  """
  return apply_prepared(prepare(params, sample_rate=sample_rate, n_samples=x.shape[-1]), x,
                        sample_rate=sample_rate)


def prepare(params, *, sample_rate: int, n_samples: int):
  """The FIR's spectrum for ``n_samples``-long inputs (``dsp.filter_spectrum``)."""
  del sample_rate
  return dsp.filter_spectrum(fir(params), n_x=n_samples, offset=dsp.zero_phase_offset(N_TAPS))


def apply_prepared(spectrum, x, *, sample_rate: int):
  """``apply`` given ``prepare``'s spectrum."""
  del sample_rate
  return dsp.convolve_spectrum(x, spectrum, n_h=N_TAPS, offset=dsp.zero_phase_offset(N_TAPS))


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(1023, 1023)``: an output sample depends on the input from 1023 samples
  before to 1023 after it (the centred 2047-tap FIR)."""
  del sample_rate
  return (N_TAPS // 2, N_TAPS // 2)


def bin_frequencies_hz(sample_rate: int) -> np.ndarray:
  """``float32[1024]`` centre frequencies ``k · sample_rate / 2047`` of the EQ bins, in Hz
  (a NumPy constant: usable inside a trace, as ``params_from_settings`` is)."""
  return np.arange(N_MAGNITUDE_BINS, dtype=np.float32) * np.float32(sample_rate / N_TAPS)


def controls(params, *, sample_rate: int) -> dict:
  """The EQ curve in physical units.

  Returns:
    ``frequency_hz`` ``[1024]``: bin frequencies; ``gain_db`` ``[1024]``: the
    requested gain at each bin, ``20 log10 exp(H_log)`` (before the window's
    three-bin smoothing).
  """
  return {
      "frequency_hz": bin_frequencies_hz(sample_rate),
      "gain_db": units.log_gain_to_db(params["log_magnitude"]),
  }


def penalties(params, x, y, *, sample_rate: int) -> dict:
  """Gain-staging regulariser ``|ln(mean x² + ε) - ln(mean y² + ε)|`` on the wet output."""
  del params, sample_rate
  return {"gain_staging": dsp.gain_staging(x, y)}


# ---------------------------------------------------------------------------
# Effective action at a dry/wet weight
# ---------------------------------------------------------------------------

RESPONSE_FFT = 8 * (N_TAPS + 1)
"""FFT size of the dense response grid (16384: 8 points per EQ bin)."""

CURVE_POINTS = 240
"""Points of the log-frequency curve in ``effective``."""

LOWEST_HZ = 20.0
"""Lowest frequency of the curve and of the bands (Hz)."""

BAND_THRESHOLD_DB = 1.0
"""A band is a stretch of the curve more than this far from 0 dB."""

MAX_BANDS = 8
"""At most this many bands (the largest by |gain|) in ``effective``."""

SMOOTHING_OCTAVES = 1 / 6
"""Width of the fractional-octave smoothing that the bands are read from."""

RIPPLE_NOTE_DB = 3.0
"""``describe`` mentions the narrow ripple when it exceeds this (dB)."""


def octave_smoothed_db(frequency_hz, power, *, octaves: float = SMOOTHING_OCTAVES):
  """``10 log10`` of the mean of ``power`` over ``[f · 2^{-o/2}, f · 2^{o/2}]`` at each ``f``.

  Args:
    frequency_hz: ``[n]`` increasing, evenly spaced frequencies.
    power: ``[n]`` squared magnitudes at them.
    octaves: the window's width ``o`` in octaves.

  Returns:
    ``[n]`` smoothed level in dB (floored as ``_effective.gain_db``).
  """
  total = np.concatenate([[0.0], np.cumsum(np.asarray(power, np.float64))])
  low = np.searchsorted(frequency_hz, frequency_hz * 2 ** (-octaves / 2), "left")
  high = np.searchsorted(frequency_hz, frequency_hz * 2 ** (octaves / 2), "right")
  return _effective.gain_db(np.sqrt((total[high] - total[low]) / (high - low)))


def effective_response(params, wet: float, *, sample_rate: int, n_fft: int = RESPONSE_FFT):
  r"""The node's complex response at the bins ``k · sample_rate / n_fft``, ``k = 0 … n_fft/2``.

  .. math::  E(f) = w\, H(f) + (1 - w), \qquad
             H(f) = \sum_n h[n]\, e^{-j 2\pi f (n - 1023) / f_s},

  with ``h`` the node's FIR (``fir``) and the phase taken about its centre tap.
  ``H`` is nearly real (the periodic Hann window is not exactly symmetric about
  tap 1023), so the complex sum is kept.

  Returns:
    ``(frequency_hz [n_fft/2 + 1], response complex128 [n_fft/2 + 1])``.
  """
  h = np.asarray(fir(_effective.numpy_params(params)), np.float64)
  k = np.arange(n_fft // 2 + 1)
  response = np.fft.rfft(h, n_fft) * np.exp(2j * np.pi * k * (N_TAPS // 2) / n_fft)
  return k * (sample_rate / n_fft), wet * response + (1.0 - wet)


def _pooled_curve(frequency_hz, gain_db, curve_hz):
  """The dense curve on the log grid: in each grid point's cell the gain of largest
  magnitude (so a peak narrower than the grid still shows); interpolated where a
  cell holds no dense point."""
  ratio = np.sqrt(curve_hz[1] / curve_hz[0])
  edges = np.searchsorted(frequency_hz, np.concatenate([curve_hz / ratio, curve_hz[-1:] * ratio]))
  curve = np.interp(curve_hz, frequency_hz, gain_db)
  for i in range(len(curve_hz)):
    cell = gain_db[edges[i]:edges[i + 1]]
    if cell.size:
      curve[i] = cell[np.argmax(np.abs(cell))]
  return curve


def _bands(frequency_hz, gain_db):
  """Stretches where ``|gain| > 1 dB`` with one sign, as bands (see ``effective``)."""
  outside = np.abs(gain_db) > BAND_THRESHOLD_DB
  sign = np.sign(gain_db) * outside
  bands, start = [], None
  for i in range(len(gain_db) + 1):
    if start is not None and (i == len(gain_db) or sign[i] != sign[start]):
      stretch = slice(start, i)
      peak = start + int(np.argmax(np.abs(gain_db[stretch])))
      gain = gain_db[peak]
      half = np.abs(gain_db) >= np.abs(gain) / 2
      low = peak
      while low > start and half[low - 1]:
        low -= 1
      high = peak
      while high < i - 1 and half[high + 1]:
        high += 1
      at_bottom, at_top = start == 0, i == len(gain_db)
      if at_bottom and at_top:
        kind = "broadband"
      elif at_bottom:
        kind = "low shelf"
      elif at_top:
        kind = "high shelf"
      else:
        kind = "boost" if gain > 0 else "cut"
      width = frequency_hz[high] - frequency_hz[low]
      band = {"kind": kind, "frequency_hz": _effective.number(frequency_hz[peak], 1),
              "gain_db": _effective.number(gain),
              "low_hz": _effective.number(frequency_hz[low], 1),
              "high_hz": _effective.number(frequency_hz[high], 1),
              "q": (_effective.number(frequency_hz[peak] / width) if kind in ("boost", "cut")
                    and width > 0 else None)}
      bands.append(band)
      start = None
    if start is None and i < len(gain_db) and outside[i]:
      start = i
  return bands


BAND_KEYS = ("kind", "frequency_hz", "gain_db", "low_hz", "high_hz", "q")
"""The columns of the ``bands`` table of ``effective``."""


def band_list(effective_dict: dict) -> list[dict]:
  """The ``bands`` of an ``effective`` dict as rows, ``[{kind, frequency_hz, ...}, ...]``."""
  columns = effective_dict["bands"]
  return [dict(zip(BAND_KEYS, row)) for row in zip(*(columns[k] for k in BAND_KEYS))]


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """What the EQ does at dry/wet ``w``: the curve of ``|w H + (1 - w)|`` and its main bands.

  Returns:
    A JSON-ready dict:

    * ``frequency_hz``, ``gain_db`` ``[240]``: the effective curve on a log
      grid from 20 Hz to Nyquist; each point is the gain of largest magnitude
      within its cell of the dense grid (``effective_response``).
    * ``smoothed_gain_db`` ``[240]``: the same curve smoothed over 1/6 octave
      (``octave_smoothed_db``, in power): the EQ's broad strokes.
    * ``ripple_db``: the largest ``|gain − smoothed|`` above 20 Hz: how far
      narrow peaks and notches stray from the broad strokes.
    * ``bands``: the stretches of the smoothed curve above 20 Hz more than 1 dB
      from 0 dB with one sign, the ``MAX_BANDS`` largest by |gain| in order
      of frequency, as a table of columns (``band_list`` turns it into rows)
      ``{kind, frequency_hz, gain_db, low_hz, high_hz, q}``: ``kind`` is
      ``boost``/``cut``, or ``low shelf``/``high shelf``/``broadband`` when the
      stretch reaches 20 Hz and/or Nyquist; ``frequency_hz`` and ``gain_db``
      its extremum; ``low_hz``/``high_hz`` where the gain falls to half the
      extremum's (in dB) around it; ``q = frequency / (high − low)`` (null for
      shelves).
    * ``n_bands``: how many such stretches there are in all.
    * ``max_boost_db``, ``max_cut_db``: extremes of the dense curve above 20 Hz.
    * ``wet``: ``w``.
  """
  frequency_hz, response = effective_response(params, wet, sample_rate=sample_rate)
  gain_db = _effective.gain_db(response)
  smoothed_db = octave_smoothed_db(frequency_hz, np.abs(response)**2)
  keep = frequency_hz >= LOWEST_HZ
  frequency_hz, gain_db, smoothed_db = frequency_hz[keep], gain_db[keep], smoothed_db[keep]
  curve_hz = np.geomspace(LOWEST_HZ, sample_rate / 2, CURVE_POINTS)
  curve = _pooled_curve(frequency_hz, gain_db, curve_hz)
  bands = _bands(frequency_hz, smoothed_db)
  largest = sorted(bands, key=lambda b: -abs(b["gain_db"]))[:MAX_BANDS]
  return {
      "wet": _effective.number(wet, 4),
      "frequency_hz": _effective.numbers(curve_hz, 1),
      "gain_db": _effective.numbers(curve),
      "smoothed_gain_db": _effective.numbers(np.interp(curve_hz, frequency_hz, smoothed_db)),
      "ripple_db": _effective.number(np.abs(gain_db - smoothed_db).max()),
      "bands": {key: [b[key] for b in sorted(largest, key=lambda b: b["frequency_hz"])]
                for key in BAND_KEYS},
      "n_bands": len(bands),
      "max_boost_db": _effective.number(max(gain_db.max(), 0.0)),
      "max_cut_db": _effective.number(min(gain_db.min(), 0.0)),
  }


def describe(effective_dict: dict, *, max_bands: int = 3) -> str:
  """``"+3.1 dB at 5.4 kHz (Q 1.2), −2.0 dB at 3.3 kHz (Q 4.0)"``: the largest bands."""
  bands = sorted(band_list(effective_dict), key=lambda b: -abs(b["gain_db"]))
  ripple = effective_dict["ripple_db"]
  ripple_words = [f"narrow ripple ±{ripple:.1f} dB"] if ripple > RIPPLE_NOTE_DB else []
  if not bands:
    return ", ".join([f"flat (within ±{BAND_THRESHOLD_DB:.0f} dB)"] + ripple_words)
  words = []
  for band in bands[:max_bands]:
    gain, kind = _effective.db(band["gain_db"]), band["kind"]
    if kind == "broadband":
      words.append(f"{gain} broadband")
    elif kind == "low shelf":
      words.append(f"low shelf {gain} below {_effective.hz(band['high_hz'])}")
    elif kind == "high shelf":
      words.append(f"high shelf {gain} above {_effective.hz(band['low_hz'])}")
    else:
      q = "" if band["q"] is None else f" (Q {band['q']:.{0 if band['q'] >= 10 else 1}f})"
      words.append(f"{gain} at {_effective.hz(band['frequency_hz'])}{q}")
  more = effective_dict["n_bands"] - min(len(bands), max_bands)
  if more > 0:
    words.append(f"{more} smaller band{'s' if more > 1 else ''}")
  return ", ".join(words + ripple_words)


COMPARE_HZ = (20.0, 20000.0)
"""``compare`` measures the curves between these frequencies (and Nyquist)."""


def compare(truth_effective: dict, found_effective: dict) -> dict:
  """A found EQ against the true one: ``curve_rms_db``, the RMS difference of their
  1/6-octave smoothed curves at their dry/wets, over the log-spaced points of the true
  curve between 20 Hz and 20 kHz (the bands' curves: narrow ripple left out)."""
  frequency_hz = np.asarray(truth_effective["frequency_hz"], np.float64)
  keep = (frequency_hz >= COMPARE_HZ[0]) & (frequency_hz <= COMPARE_HZ[1])
  found_db = np.interp(np.log(frequency_hz), np.log(found_effective["frequency_hz"]),
                       found_effective["smoothed_gain_db"])
  truth_db = np.asarray(truth_effective["smoothed_gain_db"], np.float64)
  return {"curve_rms_db": _effective.rms_difference_db(truth_db[keep], found_db[keep])}


# ---------------------------------------------------------------------------
# Physical settings (the synthetic songs' prior) and their raw parameters
# ---------------------------------------------------------------------------


def settings_gain_db(bands, frequency_hz) -> np.ndarray:
  r"""The curve of the settings' bands in dB: smooth bands summed on a log-frequency axis.

  With ``u = log2(f / f_c)`` (``f`` floored at 1 Hz), gain ``g`` (dB) and
  bandwidth ``b`` (octaves) of each band:

  .. math::
    \text{peak: } g\, e^{-u^2 / (2σ^2)},\ σ = \frac{b}{2\sqrt{2\ln 2}}
    \qquad \text{low shelf: } g\, σ(-4u/b) \qquad
    \text{high shelf: } g\, σ(4u/b),

  so a peak is ``b`` octaves wide at half its gain, and a shelf moves from
  2 % to 98 % of its gain over ``b`` octaves around ``f_c``.

  Args:
    bands: dicts with ``kind`` (``"peak"``, ``"low_shelf"``, ``"high_shelf"``),
      ``frequency_hz``, ``gain_db`` and ``bandwidth_octaves``.
    frequency_hz: ``[k]`` frequencies.

  Returns:
    ``float64[k]`` gains in dB (``float32`` under a trace: the numbers may be
    traced, the kinds may not).
  """
  xp = _settings.namespace((bands, frequency_hz))
  f = xp.maximum(_settings.floats(xp, frequency_hz), 1.0)
  curve = xp.zeros_like(f)
  for band in bands:
    u = xp.log2(f / band["frequency_hz"])
    width = band["bandwidth_octaves"]
    if band["kind"] == "peak":
      sigma = width / (2 * math.sqrt(2 * math.log(2)))
      shape = xp.exp(-0.5 * (u / sigma)**2)
    elif band["kind"] == "low_shelf":
      shape = 1 / (1 + xp.exp(4 * u / width))
    elif band["kind"] == "high_shelf":
      shape = 1 / (1 + xp.exp(-4 * u / width))
    else:
      raise ValueError(f"eq.settings_gain_db: unknown band kind {band['kind']!r}; "
                       f"use 'peak', 'low_shelf' or 'high_shelf'.")
    curve += band["gain_db"] * shape
  return curve


def params_from_settings(settings, *, sample_rate: int, init_params=None) -> dict:
  """Parameters whose ``controls(...)["gain_db"]`` is ``settings_gain_db(settings["bands"], f_k)``.

  Runs under ``jit``, ``grad`` and ``vmap`` over the bands' numbers
  (``_settings``).

  Returns:
    ``{"log_magnitude": float32[1024]}``.
  """
  del init_params
  xp = _settings.namespace(settings)
  gain_db = settings_gain_db(settings["bands"], bin_frequencies_hz(sample_rate))
  return {"log_magnitude": _settings.param(xp, units.db_to_log_gain(gain_db))}


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """``bands``: 1–3 peaks or shelves of ±4–9 dB (a smooth curve)."""
  del x
  top_hz = min(8000.0, 0.35 * sample_rate)
  bands = []
  for _ in range(rng.integers(1, 4)):
    kind = rng.choice(["peak", "peak", "low_shelf", "high_shelf"])
    if kind == "peak":
      frequency_hz = math.exp(rng.uniform(math.log(80.0), math.log(top_hz)))
      width = rng.uniform(0.7, 2.0)
    elif kind == "low_shelf":
      frequency_hz, width = rng.uniform(80.0, 400.0), rng.uniform(1.0, 2.0)
    else:
      frequency_hz = rng.uniform(min(2000.0, 0.2 * sample_rate), top_hz)
      width = rng.uniform(1.0, 2.0)
    gain_db = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 9.0)
    bands.append({"kind": str(kind), "frequency_hz": float(frequency_hz),
                  "gain_db": float(gain_db), "bandwidth_octaves": float(width)})
  return {"bands": tuple(bands)}


PROCESSOR = base.Processor(
    name="eq", label="EQ", short_label="EQ", colour="#4e79a7",
    param_shapes=PARAM_SHAPES, penalty_names=("gain_staging",), init=init, apply=apply,
    prepare=prepare, apply_prepared=apply_prepared,
    controls=controls, penalties=penalties, context_samples=context_samples,
    effective=effective, describe=describe, compare=compare,
    params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form="same", sparsity_cost=1.0)
