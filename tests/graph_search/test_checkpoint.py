"""Checkpoints: arrays and JSON only; loading never runs code and restores the exact pytree."""

import dataclasses
import functools
import hashlib
import os
import pickle

import jax
import numpy as np
import optax
import pytest

import mixjax
from mixjax.graph_search import checkpoint
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search.prune import Trial
from mixjax.nodes import Node

SR = 8000


def fresh_progress(optimizer):
  """A progress dict shaped like a search's (two songs, stacked along axis 0)."""
  console = mixjax.Console.build([0, None], sample_rate=SR)
  params = jax.tree.map(lambda *a: np.stack(a), *[console.init(jax.random.key(k)) for k in (0, 1)])
  state = jax.vmap(functools.partial(fit_lib.init_state, optimizer=optimizer))(params)
  return {"state": state, "next_round": -1, "flags": [np.ones(5, bool)] * 2,
          "l_min": [float("inf")] * 2, "trials": [[], []], "history": [],
          "seconds": {"console_fit": 0.0}, "loss_sum": [float("nan")] * 2, "label": None}


def test_a_checkpoint_restores_the_same_pytree_values_and_types(tmp_path):
  optimizer = optax.adamw(1e-2, weight_decay=0.0)
  progress = fresh_progress(optimizer)
  progress["state"] = progress["state"].replace(
      step=progress["state"].step + 7,
      params=jax.tree.map(lambda x: x + 0.25, progress["state"].params))
  node = Node("track", 1, "eq")
  progress.update(
      next_round=2, l_min=[np.float32(0.5), float("inf")],
      trials=[[Trial(round=1, candidates=(node, Node("group", 0, "reverb")), loss=np.float32(0.75),
                     l_min=np.float32(0.5), accepted=True)], []],
      history=[{"step": np.arange(3), "loss": np.ones((2, 3), np.float32)}],
      seconds={"console_fit": 1.5}, label=("a", 2))
  checkpoint.save(str(tmp_path), progress, "stamp")
  with np.load(os.path.join(tmp_path, checkpoint.FILENAME), allow_pickle=False) as archive:
    assert checkpoint.DOCUMENT in archive.files  # a plain npz: arrays only
  loaded = checkpoint.load(str(tmp_path), "stamp", template=fresh_progress(optimizer))
  assert jax.tree.structure(loaded["state"]) == jax.tree.structure(progress["state"])
  for a, b in zip(jax.tree.leaves(loaded["state"]), jax.tree.leaves(progress["state"])):
    np.testing.assert_array_equal(a, b)
    assert a.dtype == b.dtype
  assert loaded["trials"] == progress["trials"]
  trial = loaded["trials"][0][0]
  assert type(trial) is Trial and type(trial.candidates[0]) is Node
  assert type(trial.loss) is np.float32 and type(loaded["l_min"][0]) is np.float32
  assert loaded["l_min"][1] == float("inf") and np.isnan(loaded["loss_sum"][0])
  assert loaded["next_round"] == 2 and loaded["label"] == ("a", 2)
  np.testing.assert_array_equal(loaded["history"][0]["loss"], progress["history"][0]["loss"])
  np.testing.assert_array_equal(loaded["flags"][1], progress["flags"][1])
  # The restored state resumes fitting: the optimizer accepts it.
  grads = jax.tree.map(np.zeros_like, loaded["state"].params)
  jax.vmap(optimizer.update)(grads, loaded["state"].opt_state, loaded["state"].params)


class _RunsCode:
  def __reduce__(self):
    return (os.mkdir, (self.marker,))


def test_a_pickle_is_refused_without_running_it(tmp_path):
  evil = _RunsCode()
  evil.marker = str(tmp_path / "pickle-ran")
  with open(tmp_path / checkpoint.FILENAME, "wb") as f:
    pickle.dump({"format": checkpoint.FORMAT, "version": checkpoint.VERSION,
                 "fingerprint": "stamp", "progress": evil}, f)
  with pytest.raises(ValueError, match="is not a mixjax checkpoint") as error:
    checkpoint.load(str(tmp_path), "stamp")
  assert "\n" not in str(error.value)
  assert not os.path.exists(evil.marker)
  with pytest.raises(ValueError, match="is not a mixjax checkpoint"):
    checkpoint.check(str(tmp_path), "stamp")


def test_a_foreign_or_mismatched_checkpoint_is_refused(tmp_path):
  assert checkpoint.load(str(tmp_path), "stamp") is None  # none: start over
  (tmp_path / checkpoint.FILENAME).write_bytes(b"PK\x03\x04 damaged")
  with pytest.raises(ValueError, match="is not a mixjax checkpoint"):
    checkpoint.load(str(tmp_path), "stamp")
  adam = optax.adamw(1e-2, weight_decay=0.0)
  checkpoint.save(str(tmp_path), fresh_progress(adam), "stamp")
  with pytest.raises(ValueError, match="belongs to another run"):
    checkpoint.load(str(tmp_path), "other stamp", template=fresh_progress(adam))
  # The state of another optimizer does not fit this run's (checked leaf by leaf).
  with pytest.raises(ValueError, match="does not fit this search.*another structure"):
    checkpoint.load(str(tmp_path), "stamp", template=fresh_progress(optax.sgd(1e-2)))


def test_digest_hashes_text_bytes_and_arrays_in_order():
  array = np.arange(6, dtype=np.float32).reshape(2, 3)
  expected = hashlib.sha256("ab".encode() + b"c" + array.tobytes() + array.T.copy().tobytes())
  assert checkpoint.digest(["ab", b"c", array, array.T]) == expected.hexdigest()
  assert checkpoint.digest(iter(["ab"]), n_hex=8) == hashlib.sha256(b"ab").hexdigest()[:8]


def test_the_fingerprint_tells_optimizers_apart():
  song, _ = mixjax.synthetic_song(jax.random.key(0), n_tracks=2, n_groups=1, seconds=0.5,
                                  sample_rate=SR)
  config = mixjax.SearchConfig()

  def stamp(optimizer=None):
    return checkpoint.fingerprint_batch([song], config, [0], optimizer)

  assert stamp() == stamp(fit_lib.default_optimizer(config))
  assert stamp(optax.adamw(1e-2, weight_decay=0.0)) == stamp(optax.adamw(1e-2, weight_decay=0.0))
  others = [optax.adamw(1e-3, weight_decay=0.0), optax.adamw(1e-2, weight_decay=0.1),
            optax.adam(1e-2), optax.sgd(1e-2),
            optax.adamw(optax.linear_schedule(1e-2, 0.0, 100), weight_decay=0.0)]
  stamps = {stamp(o) for o in others}
  assert len(stamps) == len(others) and stamp() not in stamps


def test_how_the_programs_run_is_no_part_of_a_runs_identity():
  # skip_dead_types changes the programs, not the result: a checkpoint written on one
  # backend (or with one setting) resumes with the other, and `collect` skips done songs.
  from mixjax import collect as collect_lib
  song, _ = mixjax.synthetic_song(jax.random.key(0), n_tracks=2, n_groups=1, seconds=0.5,
                                  sample_rate=SR)
  configs = [mixjax.SearchConfig(skip_dead_types=v) for v in (None, True, False)]
  assert len({checkpoint.fingerprint_batch([song], c, [0]) for c in configs}) == 1
  optimizer = fit_lib.default_optimizer(configs[0])
  assert len({collect_lib.song_identity("a", seed=0, sample_rate=SR, config=c,
                                        optimizer=optimizer) for c in configs}) == 1
  names = [name for name, _ in configs[0].result_settings()]
  assert names == sorted(f.name for f in dataclasses.fields(mixjax.SearchConfig)
                         if f.name != "skip_dead_types")
  assert checkpoint.fingerprint_batch([song], configs[0].replace(tolerance=0.02), [0]) != \
      checkpoint.fingerprint_batch([song], configs[0], [0])
