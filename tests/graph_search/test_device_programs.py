"""The search's device programs, read from their jaxprs (traced only, never compiled).

* No loop whose trip count grows with the rendered signal: on a GPU every trip
  of a loop is a kernel launch, so a serial loop over a signal (the smoother's
  former ``lax.scan`` over 256-sample blocks: 446 trips per crop at 30 kHz) is
  paid per sample.
* ``SearchConfig.skip_dead_types`` chooses whether they hold conditionals.
"""

import functools

import numpy as np
import pytest

import mixjax
from mixjax.graph_search import batch as batch_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search import incremental as incremental_lib

from conftest import primitives

SR = 8000
LOOPS = ("scan", "while")


@functools.lru_cache(maxsize=None)
def _programs(crop_seconds: float, skip_dead_types: bool, cached_chunks: int | None = None) -> dict:
  """``{name: jaxpr}`` of every program of a search of a 2-track, 1-group, 2 s song at 8 kHz
  (two chunks, hop 1 s, whatever the crop); with a cache of ``cached_chunks`` chunks
  (default: both), only the evaluation programs (the step is the same)."""
  rng = np.random.default_rng(0)
  n = 2 * SR
  song = mixjax.Song((0.1 * rng.standard_normal((2, 2, n))).astype(np.float32),
                     (0.1 * rng.standard_normal((2, n))).astype(np.float32), [0, 0], SR)
  config = mixjax.SearchConfig.quick(
      console_steps=20, finetune_steps=10, rounds=1, steps_per_dispatch=10, crop_seconds=crop_seconds,
      omit_seconds=0.5, eval_hop_seconds=1.0, skip_dead_types=skip_dead_types)
  search = batch_lib.BatchSearch([song], config, [0], fit_lib.default_optimizer(config), False)
  run = search.new_run()
  if cached_chunks is None:
    programs = search.programs(run)
  else:
    with pytest.MonkeyPatch.context() as patch:
      patch.setattr(incremental_lib, "cached_chunks", lambda n_chunks, **_: cached_chunks)
      programs = search.evaluation_programs(run["state"].params, run["flags"])
  return {name: fn.trace(*args, **kwargs).jaxpr for name, (fn, args, kwargs) in programs.items()}


# The default cache holds both chunks; with one cached, the trial program renders the
# base of the other afresh (its second chunk loop).
@pytest.mark.parametrize("cached_chunks", [None, 1])
def test_no_loop_trip_count_grows_with_the_signal(cached_chunks):
  """Every loop of the step, the evaluation, the trial cache render and the trial
  programs has the same trip count at two crop (chunk) lengths, 1.5 s and 2 s.

  The loops that remain do not depend on the rendered signal's length: the steps per
  dispatch (``lax.scan`` in ``fit``), and the chunks of the whole-song evaluation and
  of the trials (``ceil(song length / hop)``, the same two chunks at both crops, and
  the cache's share of them). A ``while`` loop has no static trip count: none may
  appear. The programs are traced with ``skip_dead_types=False`` (no conditionals,
  a faster trace); the conditionals' branches hold the same code.
  """
  short, long = (_programs(c, False, cached_chunks) for c in (1.5, 2.0))
  names = {"song_loss", "trial_cache", "trial_loss", "trial_rebase"}
  assert set(short) == (names if cached_chunks else names | {"fit"})
  for name in short:
    loops = primitives(short[name], LOOPS)
    assert loops == primitives(long[name], LOOPS), name
    assert not [loop for loop in loops if loop[1] == "while"], name
  if "fit" in short:
    assert [n for _, _, n in primitives(short["fit"], LOOPS)] == [10]  # steps per dispatch
  assert [n for _, _, n in primitives(short["song_loss"], LOOPS)] == [2]  # chunks
  fresh = [1, 1] if cached_chunks == 1 else [2]  # cached chunks, then fresh ones
  assert [n for _, _, n in primitives(short["trial_loss"], LOOPS)] == fresh


def test_skip_dead_types_chooses_conditionals_in_every_program():
  """``skip_dead_types=True``: a ``lax.cond`` per processor type and level in every
  render (forward and backward of the step); False: none anywhere."""
  skip, no_skip = _programs(1.5, True), _programs(1.5, False)
  n_types = len(mixjax.PROCESSORS)
  counts = {name: len(primitives(jaxpr, ("cond",))) for name, jaxpr in skip.items()}
  assert counts == {"fit": 4 * n_types, "song_loss": 2 * n_types, "trial_cache": 2 * n_types,
                    "trial_loss": 2 * n_types, "trial_rebase": 0}
  assert {name: len(primitives(jaxpr, ("cond",))) for name, jaxpr in no_skip.items()} == {
      name: 0 for name in no_skip}


def test_skip_dead_types_defaults_to_the_backend():
  config = mixjax.SearchConfig()
  assert config.skip_dead_types is None
  assert config.skips_dead_types("cpu") and not config.skips_dead_types("gpu")
  assert not config.skips_dead_types("tpu")
  for value in (True, False):
    assert all(config.replace(skip_dead_types=value).skips_dead_types(backend) is value
               for backend in ("cpu", "gpu", "tpu"))
  with pytest.raises(ValueError, match="skip_dead_types must be True, False or None"):
    mixjax.SearchConfig(skip_dead_types="yes")
