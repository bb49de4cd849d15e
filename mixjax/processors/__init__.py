"""The seven differentiable processors, one module each, in console order.

Every processor module exposes the same pure functions:

* ``init(key) -> params``: a dict of float32 arrays, each entry drawn
  i.i.d. N(0, 0.01²) in its unconstrained domain (grafx
  ``create_empty_parameters(std=1e-2)``).
* ``apply(params, x, *, sample_rate) -> y``: processes one stereo signal
  ``x: [2, n]`` into ``y: [2, n]`` (the *wet* output; the console does the
  dry/wet mix).
* ``controls(params, *, sample_rate) -> dict``: the settings in physical
  units, each key named with its unit (``threshold_db``, ``delay_ms``, ...).
* ``penalties(params, x, y, *, sample_rate) -> dict``: the processor's own
  regulariser terms (``{"gain_staging": ...}`` for EQ and reverb,
  ``{"radii": ...}`` for the delay, ``{}`` for the others).
* ``context_samples(*, sample_rate) -> (before, after)``: how many input
  samples before and after an output sample it depends on (the console
  renders long songs in blocks with this much context).
* ``effective(params, wet, *, sample_rate) -> dict``: what a node does at
  its dry/wet weight ``wet`` (the console outputs ``w · apply(x) + (1 - w) · x``),
  in physical units, JSON-ready: an EQ's curve and bands, a compressor's or
  gate's static curve, a delay's audible taps, a reverb's T60 and level, ...
  (NumPy, outside any trace; graph.json stores it per node).
* ``describe(effective) -> str``: that action in a few words for report.md;
  ``LABEL`` names the processor there.

The console ``vmap``s these over all nodes of a level.
"""

from mixjax.processors import compressor
from mixjax.processors import delay
from mixjax.processors import eq
from mixjax.processors import gain_pan
from mixjax.processors import imager
from mixjax.processors import noisegate
from mixjax.processors import reverb

PROCESSORS = ("eq", "compressor", "noisegate", "imager", "gain_pan", "delay", "reverb")
"""Processor names in chain order."""

REGISTRY = {
    "eq": eq,
    "compressor": compressor,
    "noisegate": noisegate,
    "imager": imager,
    "gain_pan": gain_pan,
    "delay": delay,
    "reverb": reverb,
}
"""Name -> processor module."""

PENALTY_NAMES = ("gain_staging", "radii")
"""Every regulariser term a processor may report."""

MIN_SAMPLE_RATE = 8000
"""Lowest sample rate the processors support (Hz)."""

__all__ = ["PROCESSORS", "REGISTRY", "PENALTY_NAMES", "MIN_SAMPLE_RATE"] + list(PROCESSORS)
