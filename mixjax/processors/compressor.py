r"""Feed-forward compressor with a quadratic knee (grafx ``Compressor()`` defaults).

Above the threshold the log-energy is divided by the ratio:

.. math::

  G_y = G + (1/R - 1)\, \rho_{W/2}(G - T) = \begin{cases}
    G & G < T - W/2 \\
    G + (1/R - 1)(G - T + W/2)^2 / (2W) & |G - T| \le W/2 \\
    T + (G - T)/R & G > T + W/2,
  \end{cases}

and ``y = exp(G_y - G) · x``. The detector, the parameters and their mapping
to ``T, R, W, α`` are shared with the gate: see ``dynamics``.

Parameters: ``{"log_threshold", "log_ratio", "log_knee", "z_alpha"}``, each
``[1]``. Controls: ``threshold_db``, ``ratio``, ``knee_db``,
``time_constant_ms``. No penalties.
"""

from __future__ import annotations

import math

import numpy as np

from mixjax.processors import base
from mixjax.processors import dynamics

PARAM_SHAPES = dynamics.PARAM_SHAPES
init = dynamics.init
controls = dynamics.controls
penalties = dynamics.penalties
context_samples = dynamics.context_samples
describe = dynamics.describe
compare = dynamics.compare
params_from_settings = dynamics.params_from_settings


def apply(params, x, *, sample_rate: int):
  """Compress ``x: [2, n]`` (float32) into ``[2, n]``; ``sample_rate`` in Hz sets the smoother length."""
  return dynamics.process(params, x, dynamics.compressor_log_gain, sample_rate=sample_rate)


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """The static curve at dry/wet ``wet`` (``dynamics.effective``)."""
  return dynamics.effective(params, wet, dynamics.compressor_log_gain, sample_rate=sample_rate)


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """Threshold 6–15 dB below the energy level (RMS) of the node input ``x: [2, n]``; ratio 3–8."""
  del sample_rate
  level_db = 10 * math.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-12)
  shape = dynamics.sample_shape(rng, ratio_range=(3.0, 8.0))
  return {"threshold_db": level_db - rng.uniform(6.0, 15.0), **shape}


PROCESSOR = base.Processor(
    name="compressor", label="compressor", short_label="comp", colour="#e15759",
    param_shapes=PARAM_SHAPES, penalty_names=(), init=init, apply=apply, controls=controls,
    penalties=penalties, context_samples=context_samples, effective=effective,
    describe=describe, compare=compare, params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form=None, sparsity_cost=1.5,
    sample_needs_input=True)
