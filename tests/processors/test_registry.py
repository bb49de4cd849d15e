"""The processor registry: every ``Processor`` record is complete and consistent.

What ``mixjax.processors`` promises a newcomer who adds a processor: one file
ending with a record, one line in the registry, and these checks pass.
"""

import importlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax import processors
from mixjax.graph_search import SearchConfig
from mixjax.graph_search import precise
from mixjax.processors import PENALTY_NAMES, PROCESSORS, REGISTRY, base

from conftest import SAMPLE_RATE

N = 4000  # 0.5 s at 8 kHz


def _node_input():
  """``[2, n]``: a 220 Hz tone, quiet then loud, a little wider on the left."""
  t = np.arange(N) / SAMPLE_RATE
  level = np.where(t < 0.25, 0.01, 0.3)
  return np.stack([level * np.sin(2 * np.pi * 220 * t),
                   0.8 * level * np.sin(2 * np.pi * 220 * t + 0.3)]).astype(np.float32)


def test_chain_order_names_and_registry():
  assert PROCESSORS == ("eq", "compressor", "noisegate", "imager", "gain_pan", "delay", "reverb")
  assert list(REGISTRY) == list(PROCESSORS)
  for name, record in REGISTRY.items():
    assert isinstance(record, base.Processor)
    assert record.name == name
    assert importlib.import_module(f"mixjax.processors.{name}").PROCESSOR is record
    assert getattr(processors, name).PROCESSOR is record


def test_labels_and_colours_tell_types_apart():
  records = list(REGISTRY.values())
  for field in ("label", "short_label", "colour"):
    values = [getattr(r, field) for r in records]
    assert all(isinstance(v, str) and v for v in values), field
    assert len(set(values)) == len(values), field
  assert all(re.fullmatch(r"#[0-9a-f]{6}", r.colour) for r in records)


def test_penalty_names_come_from_the_records_and_each_has_a_weight():
  want = []
  for record in REGISTRY.values():
    want += [term for term in record.penalty_names if term not in want]
  assert PENALTY_NAMES == tuple(want) == ("gain_staging", "radii")
  for term in PENALTY_NAMES:
    assert isinstance(getattr(SearchConfig(), f"{term}_weight"), float)


def test_commutation_follows_the_lti_forms():
  records = list(REGISTRY.values())
  for a in records:
    for b in records:
      assert base.commute(a, b) == base.commute(b, a)
  assert precise.COMMUTES == {
      "eq": {"eq", "imager", "gain_pan", "delay", "reverb"},
      "gain_pan": {"eq", "gain_pan", "delay", "reverb"},
      "delay": {"eq", "gain_pan", "delay", "reverb"},
      "reverb": {"eq", "gain_pan", "delay", "reverb"},
      "imager": {"eq", "imager"},
      "compressor": set(),
      "noisegate": set(),
  }


@pytest.mark.parametrize("name", PROCESSORS)
def test_record_is_complete(name, key):
  record = REGISTRY[name]
  for field in base.Processor._fields:
    value = getattr(record, field)
    assert value is not None or field in ("lti_form", "prepare", "apply_prepared"), field
    if field in ("init", "apply", "controls", "penalties", "context_samples", "effective",
                 "describe", "compare", "params_from_settings", "sample_settings"):
      assert callable(value), field
  assert record.lti_form in (*base.LTI_FORMS, None)
  assert isinstance(record.sparsity_cost, float) and record.sparsity_cost > 0
  assert isinstance(record.sample_needs_input, bool)
  params = record.init(key)
  assert {k: v.shape for k, v in params.items()} == dict(record.param_shapes)
  x = jnp.asarray(_node_input())
  y = record.apply(params, x, sample_rate=SAMPLE_RATE)
  assert y.shape == x.shape
  assert set(record.penalties(params, x, y, sample_rate=SAMPLE_RATE)) == set(record.penalty_names)
  before, after = record.context_samples(sample_rate=SAMPLE_RATE)
  assert before >= 0 and after >= 0


@pytest.mark.parametrize("name", PROCESSORS)
def test_prepared_apply_equals_apply(name, key):
  """``prepare`` and ``apply_prepared`` come together, and split ``apply`` exactly."""
  record = REGISTRY[name]
  assert (record.prepare is None) == (record.apply_prepared is None)
  params = record.init(key)
  x = jnp.asarray(_node_input())
  prepared = base.prepare(record, params, sample_rate=SAMPLE_RATE, n_samples=x.shape[-1])
  if record.prepare is None:
    assert prepared is params
  y = base.apply_prepared(record, prepared, x, sample_rate=SAMPLE_RATE)
  np.testing.assert_allclose(y, record.apply(params, x, sample_rate=SAMPLE_RATE),
                             rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", PROCESSORS)
def test_sampled_settings_give_params_whose_controls_give_them_back(name):
  """``params_from_settings`` inverts ``controls`` on every scalar setting the prior draws."""
  record = REGISTRY[name]
  rng = np.random.default_rng(0)
  x = _node_input() if record.sample_needs_input else None
  settings = record.sample_settings(rng, x, sample_rate=SAMPLE_RATE)
  params = record.params_from_settings(settings, sample_rate=SAMPLE_RATE)
  assert {k: (v.shape, v.dtype) for k, v in params.items()} == {
      k: (tuple(shape), np.float32) for k, shape in record.param_shapes.items()}
  assert all(np.isfinite(v).all() for v in params.values())
  controls = jax.tree.map(np.asarray, jax.jit(
      lambda p: record.controls(p, sample_rate=SAMPLE_RATE))(params))
  scalars = {k: float(v) for k, v in controls.items() if np.ndim(v) == 0 and k in settings}
  for key, value in scalars.items():
    assert value == pytest.approx(settings[key], rel=1e-3, abs=1e-3), key
  if set(settings) <= set(scalars):  # the settings are controls: a full round trip
    again = record.params_from_settings(scalars, sample_rate=SAMPLE_RATE)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3),
                 again, params)
