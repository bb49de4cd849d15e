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
  ``colour`` in the pictures); ``compare(truth_effective, found_effective)
  -> dict``: how far a found node's action is from a true one's (found −
  true, keys named with their units), for a synthetic song's report.
* ``sample_settings(rng, x, *, sample_rate) -> settings`` and
  ``params_from_settings(settings, *, sample_rate, init_params=None) ->
  params``: a prior over clearly audible physical settings, and the inverse
  of ``controls`` (the synthetic songs draw their ground truth with them).
* optional ``prepare(params, *, sample_rate, n_samples) -> prepared`` and
  ``apply_prepared(prepared, x, *, sample_rate) -> y``: ``apply`` split at
  what depends on the parameters alone (the EQ's, delay's and reverb's
  filter spectra), which a whole-song evaluation computes once per node and
  shares across its chunks.

The module-level functions stay public (``mixjax.processors.eq.apply``);
the console ``vmap``s them over all nodes of a level.

**Adding a processor** takes one new file and one line here:

1. ``mixjax/processors/<name>.py`` with the functions above (pure JAX for
   ``init``, ``apply``, ``controls`` and ``penalties``), ending with
   ``PROCESSOR = base.Processor(name="<name>", label=..., ...)``;
2. its name in ``PROCESSORS`` below, at its place in the chain.

``REGISTRY`` (its module's ``PROCESSOR``) and ``PENALTY_NAMES`` follow from that list.
A new penalty term also needs a ``SearchConfig.<term>_weight``.
``tests/processors/test_registry.py`` checks every record.
"""

import importlib

from mixjax.processors.base import Processor

PROCESSORS = ("eq", "compressor", "noisegate", "imager", "gain_pan", "delay", "reverb")
"""Processor names in chain order, each the name of its module here (the one list to extend)."""

REGISTRY = {name: importlib.import_module(f"{__name__}.{name}").PROCESSOR for name in PROCESSORS}
"""Name -> ``Processor`` record (each module's ``PROCESSOR``)."""

PENALTY_NAMES = tuple(dict.fromkeys(term for record in REGISTRY.values()
                                    for term in record.penalty_names))
"""Every regulariser term a processor may report (first use in chain order)."""

__all__ = ["PROCESSORS", "REGISTRY", "PENALTY_NAMES", "Processor"] + list(PROCESSORS)
