"""Named conversions between unconstrained parameters and physical units.

Processors keep unconstrained parameters (``log_gain``, ``z_alpha``, ...);
``controls`` functions map them to units people read (dB, ms, Hz, ratio)
with these helpers.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

_DB_PER_NEPER_AMPLITUDE = 20.0 / math.log(10.0)  # 8.6859 dB per neper of amplitude
_DB_PER_NEPER_ENERGY = 10.0 / math.log(10.0)  # 4.3429 dB per neper of energy


def log_gain_to_db(log_gain):
  """Natural-log amplitude gain -> dB (``20 log10 exp(g)``)."""
  return log_gain * _DB_PER_NEPER_AMPLITUDE


def db_to_log_gain(gain_db):
  """dB -> natural-log amplitude gain."""
  return gain_db / _DB_PER_NEPER_AMPLITUDE


def log_energy_to_db(log_energy):
  """Natural-log energy (power) -> dB (``10 log10 exp(e)``)."""
  return log_energy * _DB_PER_NEPER_ENERGY


def db_to_log_energy(energy_db):
  """dB -> natural-log energy."""
  return energy_db / _DB_PER_NEPER_ENERGY


def gain_to_db(gain, eps: float = 1e-12):
  """Linear amplitude gain -> dB (floored at ``eps``)."""
  return 20.0 * jnp.log10(jnp.maximum(gain, eps))


def pole_to_time_constant_ms(alpha, sample_rate: int):
  """One-pole coefficient α -> time constant ``-1 / (sr · ln α)`` in ms."""
  return -1000.0 / (sample_rate * jnp.log(alpha))


def samples_to_ms(samples, sample_rate: int):
  """Sample count -> milliseconds."""
  return 1000.0 * samples / sample_rate


def logit(p: float) -> float:
  """Inverse of the sigmoid, ``ln(p / (1 - p))``, for a host float ``p`` in ``(0, 1)`` (float64)."""
  return math.log(p) - math.log1p(-p)
