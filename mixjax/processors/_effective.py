"""Shared plumbing of the processors' ``effective`` and ``describe`` functions.

``effective(params, wet, *, sample_rate)`` says what a processor node does to
the signal at its dry/wet weight ``w`` (the console outputs
``w · wet + (1 - w) · dry``), in physical units, as a dict of plain Python
floats, lists and strings (JSON-ready, finite). It runs each processor's own
JAX functions once, outside any trace, and analyses their float32 output in
float64 NumPy. A table (an EQ's bands, a delay's taps) is a dict of
equal-length columns, so that graph.json keeps each column on one line.
"""

from __future__ import annotations

import functools
import math

import jax
import numpy as np

FLOOR_DB = -120.0
"""Lowest level reported (dB): a gain of 0 reads as this, never as -inf."""


@functools.lru_cache(maxsize=None)
def jitted(fn, sample_rate: int):
  """``fn(params, sample_rate=sample_rate)`` compiled once per function and rate."""
  return jax.jit(functools.partial(fn, sample_rate=sample_rate))


def numpy_params(params) -> dict:
  """A parameter dict as float32 NumPy arrays (accepts lists from graph.json)."""
  return {k: np.asarray(v, np.float32) for k, v in params.items()}


def gain_db(gain) -> np.ndarray:
  """``20 log10 |gain|`` in float64, floored at ``FLOOR_DB``."""
  magnitude = np.abs(np.asarray(gain)).astype(np.float64)
  return np.maximum(20.0 * np.log10(np.maximum(magnitude, 1e-300)), FLOOR_DB)


def number(x, decimals: int = 2) -> float:
  """A finite float rounded to ``decimals`` (non-finite values raise)."""
  value = float(x)
  if not math.isfinite(value):
    raise ValueError(f"effective: non-finite value {value}")
  return round(value, decimals)


def numbers(x, decimals: int = 2) -> list:
  """``number`` over an array, as a (nested) list."""
  array = np.asarray(x, np.float64)
  if not np.isfinite(array).all():
    raise ValueError("effective: non-finite values")
  return np.round(array, decimals).tolist()


def hz(frequency_hz: float) -> str:
  """``"80 Hz"``, ``"1.2 kHz"``, ``"12 kHz"``: a frequency for people."""
  if frequency_hz < 1000:
    return f"{frequency_hz:.0f} Hz"
  khz = frequency_hz / 1000
  return f"{khz:.1f} kHz" if khz < 10 else f"{khz:.0f} kHz"


def db(value: float, fmt: str = "+.1f") -> str:
  """``"+3.1 dB"`` / ``"−2.0 dB"`` with a true minus sign."""
  return format(value, fmt).replace("-", "\u2212") + " dB"


def differences(truth: dict, found: dict, keys) -> dict:
  """``{key: found[key] - truth[key]}`` of two ``effective`` dicts, rounded (``number``)."""
  return {key: number(found[key] - truth[key]) for key in keys}


def rms_difference_db(truth_db, found_db) -> float:
  """``sqrt(mean (found - truth)²)`` of two curves in dB on one grid, rounded."""
  return number(np.sqrt(np.mean((np.asarray(found_db, np.float64)
                                 - np.asarray(truth_db, np.float64)) ** 2)))


_ERROR_UNITS = (("_rms_db", lambda v: f"{v:.1f} dB RMS"), ("_db", db),
                ("_ms", lambda v: f"{v:+.0f} ms"), ("_factor", lambda v: f"×{v:.2g}"),
                ("", lambda v: f"{v:+.2f}" if isinstance(v, float) else f"{v:+d}"))


def error_words(errors: dict) -> str:
  """A ``compare`` dict in words, by each key's unit suffix: ``{"threshold_db": 2.1,
  "ratio_factor": 0.5, "curve_rms_db": 1.2, "t60_ms": -310.0, "pan": 0.05}`` ->
  ``"threshold +2.1 dB, ratio ×0.5, curve 1.2 dB RMS, T60 −310 ms, pan +0.05"``
  (None: ``"<name> none found"``)."""
  words = []
  for key, value in errors.items():
    suffix, fmt = next((s, f) for s, f in _ERROR_UNITS if key.endswith(s))
    name = key[:len(key) - len(suffix)].replace("_", " ").replace("t60", "T60")
    words.append(f"{name} none found" if value is None else
                 f"{name} {fmt(value)}".replace("-", "\u2212"))
  return ", ".join(words)
