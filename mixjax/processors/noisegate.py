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

from mixjax.processors import dynamics

PARAM_SHAPES = dynamics.PARAM_SHAPES
init = dynamics.init
controls = dynamics.controls
penalties = dynamics.penalties
context_samples = dynamics.context_samples
describe = dynamics.describe

LABEL = "gate"
"""The processor's name in reports."""


def apply(params, x, *, sample_rate: int):
  """Gate ``x: [2, n]`` (float32) into ``[2, n]``; ``sample_rate`` in Hz sets the smoother length."""
  return dynamics.process(params, x, dynamics.expander_log_gain, sample_rate=sample_rate)


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """The static curve at dry/wet ``wet`` (``dynamics.effective``)."""
  return dynamics.effective(params, wet, dynamics.expander_log_gain, sample_rate=sample_rate)
