r"""Noise gate as a downward expander with a quadratic knee (grafx ``NoiseGate()`` defaults).

Below the threshold the distance to it is multiplied by the ratio:

.. math::

  G_y = G + (1 - R)\, \rho_{W/2}(T - G) = \begin{cases}
    T + R (G - T) & G < T - W/2 \\
    G + (1 - R)(G - T - W/2)^2 / (2W) & |G - T| \le W/2 \\
    G & G > T + W/2,
  \end{cases}

and ``y = exp(G_y - G) · x``. The detector, the parameters and their mapping
to ``T, R, W, α`` are shared with the compressor: see ``dynamics``.

Parameters: ``{"log_threshold", "log_ratio", "log_knee", "z_alpha"}``, each
``[1]``. Controls: ``threshold_db``, ``ratio`` (the expansion slope ``R``),
``knee_db``, ``time_constant_ms``. No penalties.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

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
  """Gate ``x: [2, n]`` (float32) into ``[2, n]``; ``sample_rate`` in Hz sets the smoother length."""
  return dynamics.process(params, x, dynamics.expander_log_gain, sample_rate=sample_rate)


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """The static curve at dry/wet ``wet`` (``dynamics.effective``)."""
  return dynamics.effective(params, wet, dynamics.expander_log_gain, sample_rate=sample_rate)


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """Threshold between the quiet (10th percentile) and loud (95th) envelope levels of ``x``.

  Ratio 2–4, knee and time constant as the compressor's (``dynamics.sample_shape``).
  """
  shape = dynamics.sample_shape(rng, ratio_range=(2.0, 4.0))
  alpha = math.exp(-1000.0 / (sample_rate * shape["time_constant_ms"]))
  energy = np.mean(np.square(x, dtype=np.float64), axis=0)
  smoothed = np.maximum(sps.lfilter([1 - alpha], [1, -alpha], energy), 0.0)
  envelope_db = 10 * np.log10(smoothed + dynamics.ENERGY_FLOOR)
  quiet_db, loud_db = np.percentile(envelope_db, [10, 95])
  threshold_db = quiet_db + rng.uniform(0.4, 0.7) * (loud_db - quiet_db)
  return {"threshold_db": float(threshold_db), **shape}


PROCESSOR = base.Processor(
    name="noisegate", label="gate", short_label="gate", colour="#76b7b2",
    param_shapes=PARAM_SHAPES, penalty_names=(), init=init, apply=apply, controls=controls,
    penalties=penalties, context_samples=context_samples, effective=effective,
    describe=describe, compare=compare, params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form=None, sparsity_cost=1.5,
    sample_needs_input=True)
