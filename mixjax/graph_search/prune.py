"""Iterative pruning (DAFx-24 Algorithm 1) with exact, batched trials.

A *trial* removes a candidate set of processor nodes (alive bit -> False),
evaluates the whole-song loss ``L`` and is accepted iff ``L <= L_min + τ``;
``L_min`` is a running minimum, lowered at the start of each round (loss of
the current graph) and after every trial (REFERENCE §7).

Samplers propose the candidate sets. They are small host-side state machines
with two methods: ``propose() -> frozenset | None`` (the whole set removed in
this round if the trial passes; None when the round is over) and
``feedback(accepted)``. Their randomness is an explicit NumPy generator.

**Batched trials.** Proposals depend only on earlier outcomes, so the driver
speculates that the next ``batch`` trials all pass, proposes them on a copy of
the sampler, evaluates their masks in one ``vmap``ped call, and walks through
the losses in order; at the first rejection it drops the later (invalid)
speculations, restores the sampler to that trial, tells it "rejected" and
goes on. The decisions are exactly those of one trial at a time.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Callable, NamedTuple

import numpy as np

from mixjax.nodes import NodeTable
from mixjax.processors import PROCESSORS


# ---------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------


class BruteForceSampler:
  """Every remaining node once, one per trial, in random order."""

  def __init__(self, candidates, rng: np.random.Generator):
    self.order = [int(i) for i in rng.permutation(np.asarray(candidates, int))]
    self.position = 0
    self.removed: frozenset = frozenset()

  def propose(self):
    if self.position >= len(self.order):
      return None
    return self.removed | {self.order[self.position]}

  def feedback(self, accepted: bool) -> None:
    if accepted:
      self.removed = self.removed | {self.order[self.position]}
    self.position += 1


DRYWET_INITIAL_STEP = 0.1
"""The dry/wet sampler's first removal step: 10 % of a type's nodes per trial."""


class DryWetSampler:
  """Removes growing fractions of the smallest-dry/wet nodes of a random type.

  Per round (REFERENCE §7, prune ``prune_graph_weight``): every type t starts
  with cumulative ratio ``ρ_t = 0`` and step ``δ_t = 0.1``. A type is picked
  uniformly from the pool; its trial step is ``δ_t`` if ``δ_t > 1/N_t``, else
  ``1/N_t`` and the type leaves the pool whatever the outcome. The candidate
  set holds, for every type u, the ``round(N_u · ρ_u)`` nodes of u with the
  smallest dry/wet weight. On failure ``ρ_t -= step, δ_t /= 2``; on success
  a type whose ``ρ_t`` reached 1 leaves the pool.
  """

  def __init__(self, nodes_by_type: dict, rng: np.random.Generator,
               initial_step: float = DRYWET_INITIAL_STEP):
    """``nodes_by_type[t]``: the type's node ids sorted by ascending dry/wet weight."""
    self.nodes_by_type = {t: list(map(int, v)) for t, v in nodes_by_type.items()}
    self.rng = rng
    self.pool = [t for t in PROCESSORS if t in self.nodes_by_type]
    self.ratio = {t: 0.0 for t in self.pool}
    self.step = {t: initial_step for t in self.pool}
    self.pending = None

  def _selected(self) -> frozenset:
    chosen = set()
    for t, ids in self.nodes_by_type.items():
      chosen.update(ids[:round(len(ids) * self.ratio[t])])
    return frozenset(chosen)

  def propose(self):
    while self.pool:
      t = self.pool[int(self.rng.integers(len(self.pool)))]
      count = len(self.nodes_by_type[t])
      if count == 0:
        self.pool.remove(t)
        continue
      if self.step[t] > 1.0 / count:
        step = self.step[t]
      else:
        step = 1.0 / count
        self.pool.remove(t)
      self.ratio[t] += step
      self.pending = (t, step)
      return self._selected()
    return None

  def feedback(self, accepted: bool) -> None:
    t, step = self.pending
    if not accepted:
      self.ratio[t] -= step
      self.step[t] /= 2
    elif self.ratio[t] >= 1.0:
      self.ratio[t] = 1.0
      if t in self.pool:
        self.pool.remove(t)
    self.pending = None


def make_sampler(kind: str, round_index: int, table: NodeTable, alive_flags: np.ndarray,
                 drywet: np.ndarray, rng: np.random.Generator, *, brute_every: int = 4):
  """The sampler for a round (``round_index`` counts from 0).

  Args:
    kind: ``"brute"``, ``"drywet"`` or ``"hybrid"`` (brute force in rounds
      ``brute_every, 2·brute_every, ...`` counting from 1).
    alive_flags: ``bool[n_nodes]`` at the round start.
    drywet: ``f32[n_nodes]`` dry/wet weights at the round start.
  """
  if kind == "hybrid":
    kind = "brute" if (round_index + 1) % brute_every == 0 else "drywet"
  alive_ids = np.flatnonzero(alive_flags)
  if kind == "brute":
    return BruteForceSampler(alive_ids, rng)
  by_type = {}
  for t in PROCESSORS:
    ids = alive_ids[table.of_type(t)[alive_ids]]
    by_type[t] = ids[np.argsort(drywet[ids], kind="stable")]
  return DryWetSampler(by_type, rng)


# ---------------------------------------------------------------------------
# One round of Algorithm 1
# ---------------------------------------------------------------------------


class Trial(NamedTuple):
  """One trial of the log."""
  round: int
  candidates: tuple  # the nodes removed by this trial (beyond the round start)
  loss: float
  l_min: float  # the running minimum the decision was taken against
  accepted: bool


def prune_round_steps(sampler, start_flags: np.ndarray, l_min: float, *, tolerance: float,
                      batch: int, round_index: int, table: NodeTable):
  """One pruning round as a generator of evaluation requests.

  Yields lists of at most ``batch`` masks (``bool[n_nodes]``) and expects
  their whole-song losses back through ``send``; this lets a driver evaluate
  the requests of many songs in one call. ``prune_round`` drives it for one
  song. A driver may answer only a leading part of a request (fewer losses
  than masks): the unanswered candidates are proposed again later, so the
  decisions do not change.

  Returns (as ``StopIteration.value``):
    ``(flags at the round end, l_min, [Trial, ...], round-start loss)``.
  """
  def mask_without(removed):
    flags = start_flags.copy()
    flags[list(removed)] = False
    return flags

  trials, removed = [], frozenset()
  start_loss = None
  live = sampler
  while True:
    speculative = copy.deepcopy(live)
    snapshots, proposals, exhausted = [], [], False
    for _ in range(batch - (1 if start_loss is None else 0)):
      snapshot = copy.deepcopy(speculative)
      candidate = speculative.propose()
      if candidate is None:
        exhausted = True
        break
      snapshots.append(snapshot)
      proposals.append(candidate)
      speculative.feedback(True)
    masks = [mask_without(c) for c in proposals]
    if start_loss is None:
      masks = [start_flags] + masks
    if not masks:
      break
    losses = [float(v) for v in (yield masks)]
    if start_loss is None:
      if not losses:
        continue  # nothing answered: ask again
      start_loss = losses.pop(0)
      l_min = min(l_min, start_loss)
    if exhausted and not proposals:
      break
    if len(losses) < len(proposals):  # a partial answer: re-propose the rest later
      speculative = snapshots[len(losses)]
    for k, (candidate, loss) in enumerate(zip(proposals, losses)):
      accepted = loss <= l_min + tolerance
      trials.append(Trial(round=round_index,
                          candidates=tuple(table.nodes[i] for i in sorted(candidate - removed)),
                          loss=loss, l_min=l_min, accepted=accepted))
      l_min = min(l_min, loss)
      if accepted:
        removed = candidate
      else:
        live = snapshots[k]
        live.propose()  # replays the same proposal from the same state
        live.feedback(False)
        break
    else:
      live = speculative
  return mask_without(removed), l_min, trials, start_loss


def prune_round(sampler, start_flags: np.ndarray, l_min: float, *,
                evaluate: Callable[[list], np.ndarray], tolerance: float, batch: int,
                round_index: int, table: NodeTable):
  """Runs one pruning round for one song.

  Args:
    sampler: from ``make_sampler``.
    start_flags: ``bool[n_nodes]`` alive at the round start.
    l_min: running minimum before the round (``inf`` at first).
    evaluate: whole-song loss of a list of ``bool[n_nodes]`` masks (at most
      ``batch`` of them) -> ``f32[len]``.
    tolerance: τ.
    batch: trials evaluated per call (speculatively).

  Returns:
    ``(flags at the round end, l_min, [Trial, ...], round-start loss)``.
  """
  steps = prune_round_steps(sampler, start_flags, l_min, tolerance=tolerance, batch=batch,
                            round_index=round_index, table=table)
  try:
    request = next(steps)
    while True:
      request = steps.send(evaluate(request))
  except StopIteration as done:
    return done.value
