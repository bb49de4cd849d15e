"""The seven differentiable processors, one module each, in console order.

Each processor module holds everything about one processor type and ends
with one record of it, ``PROCESSOR = base.Processor(...)`` (see
``base.Processor`` for every field):

* ``init(key) -> params``: a dict of float32 arrays, each entry drawn
  i.i.d. N(0, 0.01²) in its unconstrained domain (grafx
  ``create_empty_parameters(std=1e-2)``), shaped as ``param_shapes``.
* ``apply(params, x, *, sample_rate) -> y``: processes one stereo signal
  ``x: [2, n]`` into ``y: [2, n]`` (the *wet* output; the console does the
  dry/wet mix).
* ``controls(params, *, sample_rate) -> dict``: the settings in physical
  units, each key named with its unit (``threshold_db``, ``delay_ms``, ...).
* ``penalties(params, x, y, *, sample_rate) -> dict``: the processor's own
  regulariser terms, named in ``penalty_names`` (``{"gain_staging": ...}``
  for EQ and reverb, ``{"radii": ...}`` for the delay, ``{}`` for the others).
* ``context_samples(*, sample_rate) -> (before, after)``: how many input
  samples before and after an output sample it depends on (the console
  renders long songs in blocks with this much context).
* ``effective(params, wet, *, sample_rate) -> dict``: what a node does at
  its dry/wet weight ``wet`` (the console outputs ``w · apply(x) + (1 - w) · x``),
  in physical units, JSON-ready (NumPy, outside any trace; graph.json stores
  it per node); ``describe(effective) -> str``: that action in a few words
  for report.md, where ``label`` names the processor (``short_label`` and
  ``colour`` in the pictures).
* ``sample_settings(rng, x, *, sample_rate) -> settings`` and
  ``params_from_settings(settings, *, sample_rate, init_params=None) ->
  params``: a prior over clearly audible physical settings, and the inverse
  of ``controls`` (the synthetic songs draw their ground truth with them).

The module-level functions stay public (``mixjax.processors.eq.apply``);
the console ``vmap``s them over all nodes of a level.

**Adding a processor** takes one new file and one line here:

1. ``mixjax/processors/<name>.py`` with the functions above (pure JAX for
   ``init``, ``apply``, ``controls`` and ``penalties``), ending with
   ``PROCESSOR = base.Processor(name="<name>", label=..., ...)``;
2. its ``<name>.PROCESSOR`` in ``_RECORDS`` below, at its place in the chain.

``PROCESSORS``, ``REGISTRY`` and ``PENALTY_NAMES`` follow from that list.
A new penalty term also needs a ``SearchConfig.<term>_weight``.
``tests/processors/test_registry.py`` checks every record.
"""

from mixjax.processors import compressor
from mixjax.processors import delay
from mixjax.processors import eq
from mixjax.processors import gain_pan
from mixjax.processors import imager
from mixjax.processors import noisegate
from mixjax.processors import reverb
from mixjax.processors.base import Processor

_RECORDS = (
    eq.PROCESSOR,
    compressor.PROCESSOR,
    noisegate.PROCESSOR,
    imager.PROCESSOR,
    gain_pan.PROCESSOR,
    delay.PROCESSOR,
    reverb.PROCESSOR,
)
"""Every processor type, in chain order (the one list to extend)."""

PROCESSORS = tuple(record.name for record in _RECORDS)
"""Processor names in chain order."""

REGISTRY = {record.name: record for record in _RECORDS}
"""Name -> ``Processor`` record."""

PENALTY_NAMES = tuple(dict.fromkeys(term for record in _RECORDS for term in record.penalty_names))
"""Every regulariser term a processor may report (first use in chain order)."""

__all__ = ["PROCESSORS", "REGISTRY", "PENALTY_NAMES", "Processor"] + list(PROCESSORS)
