"""Samplers and the pruning round, with stand-in loss functions (no audio).

The speculative batched driver must take exactly the decisions of one trial
at a time; here that is checked over many seeds, batch sizes and loss
landscapes in milliseconds.
"""

import numpy as np
import pytest

import mixjax
from mixjax import nodes
from mixjax.graph_search import prune
from mixjax.processors import PROCESSORS


@pytest.fixture(scope="module")
def table():
  console = mixjax.Console.build([0, 0, 1, None, 1], sample_rate=8000, max_tracks=6, max_groups=4)
  return nodes.NodeTable.of(console)


def _loss_landscape(table, seed):
  """A deterministic loss of a mask: a base plus a random cost per removed node."""
  cost = np.random.default_rng(seed).exponential(0.006, len(table.nodes))
  cost[np.random.default_rng(seed + 1).random(len(table.nodes)) < 0.3] = 0.05  # essential nodes

  def loss(flags):
    return 0.4 + float(cost[~flags].sum()) - 0.0005 * float((~flags).sum())

  return loss


def _run_round(table, sampler_kind, seed, batch, loss_fn, start_flags, l_min, round_index=1):
  calls = []

  def evaluate(masks):
    assert 1 <= len(masks) <= batch
    calls.append(len(masks))
    return np.array([loss_fn(m) for m in masks])

  drywet = np.random.default_rng(seed + 7).random(len(table.nodes))
  sampler = prune.make_sampler(sampler_kind, round_index - 1, table, start_flags, drywet,
                               np.random.default_rng(seed))
  flags, l_min, trials, start = prune.prune_round(
      sampler, start_flags, l_min, evaluate=evaluate, tolerance=0.01, batch=batch,
      round_index=round_index, table=table)
  return flags, l_min, trials, start, calls


@pytest.mark.parametrize("kind", ["brute", "drywet"])
@pytest.mark.parametrize("seed", range(6))
def test_batched_trials_take_the_sequential_decisions(table, kind, seed):
  loss_fn = _loss_landscape(table, seed)
  start = np.ones(len(table.nodes), bool)
  start[np.random.default_rng(seed).random(len(start)) < 0.2] = False
  reference = _run_round(table, kind, seed, 1, loss_fn, start, np.inf)
  for batch in (2, 3, 8):
    result = _run_round(table, kind, seed, batch, loss_fn, start, np.inf)
    np.testing.assert_array_equal(result[0], reference[0])
    assert result[1] == reference[1]
    assert result[2] == reference[2]
    assert result[3] == reference[3]
    assert len(result[4]) <= len(reference[4])  # fewer evaluation calls


@pytest.mark.parametrize("kind", ["brute", "drywet"])
def test_every_accepted_trial_obeys_the_tolerance(table, kind):
  for seed in range(4):
    loss_fn = _loss_landscape(table, seed)
    start = np.ones(len(table.nodes), bool)
    _, l_min, trials, start_loss, _ = _run_round(table, kind, seed, 4, loss_fn, start, np.inf)
    running = start_loss
    for t in trials:
      assert t.l_min == running
      assert t.accepted == (t.loss <= t.l_min + 0.01)
      running = min(running, t.loss)
    assert l_min == running
    assert any(t.accepted for t in trials) and any(not t.accepted for t in trials)


def test_brute_force_tries_every_alive_node_once(table):
  start = np.ones(len(table.nodes), bool)
  start[:10] = False
  _, _, trials, _, _ = _run_round(table, "brute", 3, 4, _loss_landscape(table, 3), start, np.inf)
  tried = [t.candidates for t in trials]
  assert all(len(c) == 1 for c in tried)
  assert sorted(c[0] for c in tried) == sorted(table.nodes[i] for i in np.flatnonzero(start))


def test_pruning_only_removes(table):
  start = np.ones(len(table.nodes), bool)
  start[::3] = False
  flags, *_ = _run_round(table, "drywet", 0, 4, _loss_landscape(table, 0), start, np.inf)
  assert not np.any(flags & ~start)


def test_drywet_sampler_follows_the_reference_rules():
  """Scripted: one type with 25 nodes (δ 0.1 > 1/25), outcomes pass, pass, fail, ..."""
  ids = list(range(25))
  sampler = prune.DryWetSampler({"eq": ids}, np.random.default_rng(0))
  sizes = []
  outcomes = [True, True, False, True, False, False, True]
  for accepted in outcomes:
    candidate = sampler.propose()
    if candidate is None:
      break
    sizes.append(len(candidate))
    sampler.feedback(accepted)
  # ρ: 0.1 -> 0.2 (pass, pass: 2 -> 5 nodes); fail at 0.3 (8) -> δ 0.05; pass at 0.25 (6)
  # fail at 0.3 (8) -> δ 0.025 <= 1/25: single-node step 0.04 -> 0.29 (7) and eq leaves the pool
  assert sizes[:6] == [2, 5, 8, 6, 8, 7]
  assert sampler.propose() is None


def test_drywet_small_types_get_one_single_node_trial():
  rng = np.random.default_rng(1)
  by_type = {t: [10 * k + i for i in range(3)] for k, t in enumerate(PROCESSORS)}
  sampler = prune.DryWetSampler(by_type, rng)
  count = 0
  while sampler.propose() is not None:
    sampler.feedback(True)
    count += 1
  assert count == len(PROCESSORS)  # N_t = 3 <= 10: exactly one trial per type
  assert sorted(sampler._selected()) == sorted(i for v in by_type.values() for i in v[:1])


def test_drywet_removes_smallest_weights_first(table):
  start = np.ones(len(table.nodes), bool)
  drywet = np.linspace(0, 1, len(table.nodes))
  sampler = prune.make_sampler("drywet", 0, table, start, drywet, np.random.default_rng(0))
  candidate = sampler.propose()
  (node,) = candidate
  of_type = np.flatnonzero(table.of_type(table.nodes[node].processor))
  assert node == of_type[np.argmin(drywet[of_type])]


def test_hybrid_uses_brute_force_every_fourth_round(table):
  start = np.ones(len(table.nodes), bool)
  drywet = np.zeros(len(table.nodes))
  kinds = [type(prune.make_sampler("hybrid", r, table, start, drywet, np.random.default_rng(0))).__name__
           for r in range(12)]
  assert [k == "BruteForceSampler" for k in kinds] == [(r + 1) % 4 == 0 for r in range(12)]


@pytest.mark.parametrize("kind", ["brute", "drywet"])
def test_partial_answers_take_the_same_decisions(table, kind):
  """A driver may answer a leading part of a request; the rest is proposed again."""
  for seed in range(4):
    loss_fn = _loss_landscape(table, seed)
    start = np.ones(len(table.nodes), bool)
    reference = _run_round(table, kind, seed, 1, loss_fn, start, np.inf)
    answer_rng = np.random.default_rng(seed + 100)

    def partial(masks):
      return np.array([loss_fn(m) for m in masks[:answer_rng.integers(1, len(masks) + 1)]])

    drywet = np.random.default_rng(seed + 7).random(len(table.nodes))
    sampler = prune.make_sampler(kind, 0, table, start, drywet, np.random.default_rng(seed))
    result = prune.prune_round(sampler, start, np.inf, evaluate=partial, tolerance=0.01,
                               batch=5, round_index=1, table=table)
    np.testing.assert_array_equal(result[0], reference[0])
    assert result[1:] == reference[1:4]
