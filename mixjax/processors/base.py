"""``Processor``: everything the rest of mixjax knows about one processor type.

Each processor module ends with one ``PROCESSOR = base.Processor(...)``
record of its own functions; ``mixjax.processors`` lists the records in chain
order. The console, the search, the reports, the pictures and the synthetic
songs look a type up there (``REGISTRY[name].apply``, ``.label``, ...) and
never branch on its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple


class Processor(NamedTuple):
  """One processor type (a small typed record, like Optax's ``GradientTransformation``).

  Attributes:
    name: the type's name in ``PROCESSORS``, graph.json and the alive masks.
    label: its name in report.md and the picture titles (``"EQ"``, ``"gate"``).
    short_label: its column heading in the graph drawing (``"comp"``).
    colour: its colour in the pictures (``"#rrggbb"``).
    param_shapes: ``{param: shape}`` of one node's unconstrained parameters.
    penalty_names: the regulariser terms ``penalties`` may return.
    init: ``init(key) -> params``, each entry i.i.d. N(0, 0.01²).
    apply: ``apply(params, x, *, sample_rate) -> y``, stereo ``[2, n] -> [2, n]``
      (the wet output; the console mixes dry and wet).
    controls: ``controls(params, *, sample_rate) -> dict``, the settings in
      physical units, each key named with its unit.
    penalties: ``penalties(params, x, y, *, sample_rate) -> dict``, keyed by
      ``penalty_names``.
    context_samples: ``context_samples(*, sample_rate) -> (before, after)``,
      the input samples an output sample depends on.
    effective: ``effective(params, wet, *, sample_rate) -> dict``, what a
      node does at dry/wet ``wet``, JSON-ready (NumPy, outside any trace).
    describe: ``describe(effective) -> str``, that action in a few words.
    compare: ``compare(truth_effective, found_effective) -> dict``, how far a
      found node's action is from a true one's (found − true, or found / true
      for ``*_factor``), each key named with its unit (``_effective.error_words``
      says it in words); a synthetic song's report shows it.
    params_from_settings: ``params_from_settings(settings, *, sample_rate,
      init_params=None) -> params`` (float32 NumPy), the inverse of
      ``controls``: it turns physical settings (the dict ``sample_settings``
      draws) into raw parameters; ``init_params`` supplies the entries the
      settings leave free (a delay's silenced taps).
    sample_settings: ``sample_settings(rng, x, *, sample_rate) -> settings``,
      clearly audible random settings drawn with the NumPy generator ``rng``
      (the synthetic songs' prior); ``x`` is the node's ``[2, n]`` input when
      ``sample_needs_input``, else None.
    lti_form: how the type acts on the stereo pair if it is linear and
      time-invariant (with its dry/wet mix, still LTI): ``"same"`` (one
      filter on both channels: the EQ), ``"per_channel"`` (a filter on L and
      one on R: gain/pan, delay, reverb), ``"mid_side"`` (a filter on M and
      one on S: the imager); None when it is not LTI (compressor, gate).
    sparsity_cost: the precise search's prior cost of one node of this type
      (plainer types cost less, so the simpler explanation wins ties).
    sample_needs_input: whether ``sample_settings`` sets levels from the
      node's input (a compressor's or gate's threshold).
    prepare: optional ``prepare(params, *, sample_rate, n_samples) ->
      prepared``, the part of ``apply`` that depends on the parameters and
      the input length only (an FIR's spectrum). A whole-song evaluation
      prepares every node once and applies it to every chunk. None: the
      prepared form is the parameters.
    apply_prepared: ``apply_prepared(prepared, x, *, sample_rate) -> y``,
      with ``apply(params, x) == apply_prepared(prepare(params, n_samples=
      len(x)), x)``; given exactly when ``prepare`` is.
  """
  name: str
  label: str
  short_label: str
  colour: str
  param_shapes: Mapping[str, tuple[int, ...]]
  penalty_names: tuple[str, ...]
  init: Callable
  apply: Callable
  controls: Callable
  penalties: Callable
  context_samples: Callable
  effective: Callable
  describe: Callable
  compare: Callable
  params_from_settings: Callable
  sample_settings: Callable
  lti_form: str | None
  sparsity_cost: float
  sample_needs_input: bool = False
  prepare: Callable | None = None
  apply_prepared: Callable | None = None


def prepare(processor: Processor, params, *, sample_rate: int, n_samples: int):
  """``processor.prepare`` of one node's ``params`` for ``n_samples``-long inputs
  (the parameters themselves for a type without one)."""
  if processor.prepare is None:
    return params
  return processor.prepare(params, sample_rate=sample_rate, n_samples=n_samples)


def apply_prepared(processor: Processor, prepared, x, *, sample_rate: int):
  """``processor.apply`` from the output of ``prepare`` (see there)."""
  if processor.prepare is None:
    return processor.apply(prepared, x, sample_rate=sample_rate)
  return processor.apply_prepared(prepared, x, sample_rate=sample_rate)


def describe_at_wet(processor: Processor, effective: dict) -> str:
  """What a node does at its dry/wet, in words: ``"+3.1 dB at 5.4 kHz (Q 1.2) (54 % wet)"``
  (``processor.describe`` of its ``effective`` dict, then the dry/wet)."""
  return f"{processor.describe(effective)} ({100 * effective['wet']:.0f} % wet)"


LTI_FORMS = ("same", "per_channel", "mid_side")
"""The values of ``Processor.lti_form`` besides None."""


def commute(a: Processor, b: Processor) -> bool:
  """Whether a node of type ``a`` can move across one of type ``b`` exactly (``a ∘ b = b ∘ a``).

  Two LTI stereo processors are 2×2 matrices of filters: one that is the same
  filter on both channels (a scalar) commutes with every one of them, and two
  that are diagonal in the same basis (L/R or M/S) commute with each other.
  A processor that is not LTI commutes with nothing.
  """
  if a.lti_form is None or b.lti_form is None:
    return False
  return "same" in (a.lti_form, b.lti_form) or a.lti_form == b.lti_form
