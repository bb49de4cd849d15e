"""The causal-FIR plumbing shared by the delay and the reverb.

Both are a stereo impulse response ``h = impulse_response(params)`` applied
per channel, ``y_c = (h_c * x_c)[:n]``; ``causal_filter`` makes their
``apply``, ``prepare`` (the response's spectrum, shared by the chunks of a
whole-song evaluation) and ``apply_prepared`` from the two functions that
differ.
"""

from __future__ import annotations

from collections.abc import Callable

from mixjax import dsp


def causal_filter(impulse_response: Callable, ir_length: Callable, *, what: str):
  """``(apply, prepare, apply_prepared)`` of a causal FIR processor.

  Args:
    impulse_response: ``impulse_response(params, *, sample_rate) -> [2, L]``.
    ir_length: ``ir_length(sample_rate) -> L``.
    what: the processor's verb for the docstring of ``apply`` ("Delays").
  """

  def apply(params, x, *, sample_rate: int):
    return apply_prepared(prepare(params, sample_rate=sample_rate, n_samples=x.shape[-1]), x,
                          sample_rate=sample_rate)

  def prepare(params, *, sample_rate: int, n_samples: int):
    """The impulse response's spectrum for ``n_samples``-long inputs (``dsp.filter_spectrum``)."""
    return dsp.filter_spectrum(impulse_response(params, sample_rate=sample_rate), n_x=n_samples)

  def apply_prepared(spectrum, x, *, sample_rate: int):
    """``apply`` given ``prepare``'s spectrum."""
    return dsp.convolve_spectrum(x, spectrum, n_h=ir_length(sample_rate))

  apply.__doc__ = f"{what} ``x: [2, n]`` -> ``[2, n]``: ``y_c = (h_c * x_c)[:n]`` per channel."
  return apply, prepare, apply_prepared
