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

import jax.numpy as jnp

from mixjax import dsp
from mixjax import units
from mixjax.processors import _init

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
  del sample_rate
  return dsp.zero_phase_convolve(x, fir(params))


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(1023, 1023)``: an output sample depends on the input from 1023 samples
  before to 1023 after it (the centred 2047-tap FIR)."""
  del sample_rate
  return (N_TAPS // 2, N_TAPS // 2)


def bin_frequencies_hz(sample_rate: int):
  """``[1024]`` centre frequencies ``k · sample_rate / 2047`` of the EQ bins, in Hz."""
  return jnp.arange(N_MAGNITUDE_BINS, dtype=jnp.float32) * (sample_rate / N_TAPS)


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
