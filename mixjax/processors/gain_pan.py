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

from mixjax import units
from mixjax.processors import _init

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
