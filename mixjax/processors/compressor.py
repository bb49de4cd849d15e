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

from mixjax.processors import dynamics

PARAM_SHAPES = dynamics.PARAM_SHAPES
init = dynamics.init
controls = dynamics.controls
penalties = dynamics.penalties
context_samples = dynamics.context_samples
describe = dynamics.describe

LABEL = "compressor"
"""The processor's name in reports."""


def apply(params, x, *, sample_rate: int):
  """Compress ``x: [2, n]`` (float32) into ``[2, n]``; ``sample_rate`` in Hz sets the smoother length."""
  return dynamics.process(params, x, dynamics.compressor_log_gain, sample_rate=sample_rate)


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """The static curve at dry/wet ``wet`` (``dynamics.effective``)."""
  return dynamics.effective(params, wet, dynamics.compressor_log_gain, sample_rate=sample_rate)
