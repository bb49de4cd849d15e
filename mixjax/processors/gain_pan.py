r"""Per-channel stereo gain (grafx ``StereoGain``), read as gain and pan.

Let ``g_L, g_R`` be ``params["log_gain"]``, natural-log amplitude gains:

.. math::

  L' = e^{g_L} L, \qquad R' = e^{g_R} R.

These are two independent gains, not a pan law; ``controls`` also reports
them as an overall gain and a pan position:

.. math::

  \mathrm{gain\_db} &= \tfrac{1}{2}(\mathrm{left\_gain\_db} + \mathrm{right\_gain\_db})
                      = 20 \log_{10} \sqrt{e^{g_L} e^{g_R}}, \\
  \mathrm{pan} &= \frac{e^{g_R} - e^{g_L}}{e^{g_R} + e^{g_L}}
               = \tanh\frac{g_R - g_L}{2} \in (-1, 1),

so ``pan = -1`` is hard left, ``0`` centre (equal gains), ``+1`` hard right.

References:
  grafx ``processors/stereo.py`` ``StereoGain``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from mixjax import units
from mixjax.processors import _effective
from mixjax.processors import _init
from mixjax.processors import _settings
from mixjax.processors import base

PARAM_SHAPES = {"log_gain": (2,)}
"""Name and shape of every parameter (left, right)."""


def init(key) -> dict:
  """Parameters drawn i.i.d. N(0, 0.01²): almost unity gain on both channels."""
  return _init.normal_params(key, PARAM_SHAPES)


def apply(params, x, *, sample_rate: int):
  """Multiply each channel by its own gain.

  Args:
    params: ``{"log_gain": [2]}``, natural-log gains (left, right).
    x: ``[2, n]`` float32 stereo signal.
    sample_rate: unused.

  Returns:
    ``[2, n]`` ``exp(log_gain)[:, None] · x``.
  """
  del sample_rate
  return jnp.exp(params["log_gain"])[:, None] * x


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(0, 0)``: memoryless."""
  del sample_rate
  return (0, 0)


def controls(params, *, sample_rate: int) -> dict:
  """Channel gains in dB, their mean in dB, and the pan position in [-1, 1] (scalars)."""
  del sample_rate
  log_left, log_right = params["log_gain"][0], params["log_gain"][1]
  left_db = units.log_gain_to_db(log_left)
  right_db = units.log_gain_to_db(log_right)
  return {
      "left_gain_db": left_db,
      "right_gain_db": right_db,
      "gain_db": (left_db + right_db) / 2,
      # (e^gR - e^gL) / (e^gR + e^gL), written without overflowing exp.
      "pan": jnp.tanh((log_right - log_left) / 2),
  }


def penalties(params, x, y, *, sample_rate: int) -> dict:
  """No regulariser."""
  del params, x, y, sample_rate
  return {}


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """Channel gains at dry/wet ``w``: ``w e^{g_c} + 1 - w``, read as gain and pan.

  Returns:
    A JSON-ready dict: ``left_gain_db``, ``right_gain_db``, their mean
    ``gain_db``, ``pan = (a_R - a_L) / (a_R + a_L)`` of the effective linear
    gains ``a_c`` (-1 left, 0 centre, +1 right), and ``wet``.
  """
  del sample_rate
  gains = wet * np.exp(np.asarray(params["log_gain"], np.float64)) + (1.0 - wet)
  left_db, right_db = _effective.gain_db(gains)
  return {
      "wet": _effective.number(wet, 4),
      "left_gain_db": _effective.number(left_db),
      "right_gain_db": _effective.number(right_db),
      "gain_db": _effective.number((left_db + right_db) / 2),
      "pan": _effective.number((gains[1] - gains[0]) / (gains[1] + gains[0]), 3),
  }


def describe(effective_dict: dict) -> str:
  """``"+3.1 dB, pan 20 % right"``."""
  pan = effective_dict["pan"]
  side = "right" if pan > 0 else "left"
  where = "centre" if round(100 * abs(pan)) == 0 else f"{100 * abs(pan):.0f} % {side}"
  return f"{_effective.db(effective_dict['gain_db'])}, pan {where}"


def compare(truth_effective: dict, found_effective: dict) -> dict:
  """A found node against the true one: ``gain_db`` and ``pan``, found − true."""
  return _effective.differences(truth_effective, found_effective, ("gain_db", "pan"))


# ---------------------------------------------------------------------------
# Physical settings (the synthetic songs' prior) and their raw parameters
# ---------------------------------------------------------------------------


def params_from_settings(settings, *, sample_rate: int, init_params=None) -> dict:
  """``{"log_gain": float32[2]}`` from ``left_gain_db`` and ``right_gain_db``
  (also under ``jit``, ``grad`` and ``vmap``: ``_settings``)."""
  del sample_rate, init_params
  xp = _settings.namespace(settings)
  gains_db = xp.stack([_settings.floats(xp, settings[k])
                       for k in ("left_gain_db", "right_gain_db")])
  return {"log_gain": _settings.param(xp, units.db_to_log_gain(gains_db))}


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """-9…+6 dB per channel, at least 3 dB off unity or between the sides."""
  del x, sample_rate
  while True:  # redraw settings too close to unity to be heard
    left_db, right_db = rng.uniform(-9.0, 6.0, size=2)
    if max(abs(left_db), abs(right_db), abs(left_db - right_db)) >= 3.0:
      return {"left_gain_db": float(left_db), "right_gain_db": float(right_db)}


PROCESSOR = base.Processor(
    name="gain_pan", label="gain/pan", short_label="gain/pan", colour="#59a14f",
    param_shapes=PARAM_SHAPES, penalty_names=(), init=init, apply=apply, controls=controls,
    penalties=penalties, context_samples=context_samples, effective=effective,
    describe=describe, compare=compare, params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form="per_channel", sparsity_cost=0.5)
