"""The precise search method: sparser graphs (``SearchConfig(method="precise")``).

The paper's Algorithm 1 (``method="paper"``) judges every removal on a
console fitted without any pressure to be sparse, and once a processor is
pruned it never comes back. ``benchmarks/RESULTS.md`` ("Where the precision
goes") measured what that costs: false positives the fitted console leans on
(not near misses), and one-track subgroups whose chain stands in for the
track's. The precise method keeps the paper's loss, τ, samplers and
schedule, and changes three things:

1. **Sparsity during the console fit, with per-type costs** (an adaptive
   lasso on the dry/wet weights). The training objective carries
   ``λ · c(step) · Σ_i cost_i · w_i`` (in pruning runs, as the paper's)
   from a quarter of the console fit on (ramped over the next quarter)
   instead of only from the first pruning round, with
   ``λ = PRECISE_SPARSITY_WEIGHT``. ``cost_i`` is a prior per type that
   breaks ties toward the simpler explanation (a gain/pan is cheaper than
   an EQ, an EQ than a delay or a compressor: each type's ``sparsity_cost``),
   ×``ONE_TRACK_GROUP_COST`` on a one-track subgroup (whose chain is in
   series with its track's: prefer the track), times the adaptive-lasso
   reweighting ``a / (w_i + ε)`` of the node's current weight (Zou 2006;
   Candès et al. 2008), recomputed before every dispatch. The costs are a
   traced argument of the one compiled step: no recompiles.
2. **Removed processors can return** (the forward step of FoBa, Zhang
   2008). After each pruning round, every processor removed so far is put
   back alone (a mask, evaluated like a trial); the best ones whose return
   lowers the whole-song loss by more than ``τ`` come back, one at a time,
   each re-checked against the graph with the earlier returns. A returned
   processor lowers ``L_min`` by more than ``τ``, so removing it again fails
   the paper's test: no cycles.
3. **Canonical placement.** A one-track subgroup's chain is in series with
   its track's; a processor on the subgroup moves to the same slot of the
   track when that slot is free and the move is exact (every alive
   processor it would jump over commutes with it: the linear time-invariant
   types commute as ``COMMUTES`` says; a compressor or gate jumps over
   nothing). Equivalent graphs then read the same. (Exact up to float
   rounding, except within a zero-phase EQ's half length of the song's end,
   where the two renders cut the tails at different points: below 1e-3 of
   the peak in the tests.)

Everything is masks and traced arrays: one fit program (with costs), the
paper's trial programs.

Measured on twelve songs with known answers and a gains-only mix at a reduced
budget (``benchmarks/RESULTS.md``, "Issue 15, session 9"): ~5 points more of the
console pruned and 30 % fewer processors where the mix has none, but recall
falls with precision unchanged (0.39 / 0.46 paper, 0.37 / 0.38 precise), and
the pruned loss is more than τ above the paper's on 7 of 13 songs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mixjax.console import LEVELS
from mixjax.graph_search import batch as batch_lib
from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.processors.base import commute

PRECISE_SPARSITY_WEIGHT = 2e-3
"""λ of the precise method's sparsity term (the paper's is 1e-4, from the first round)."""

SPARSITY_START_FRACTION = 0.25
"""The sparsity term starts after this fraction of the console fit ..."""

SPARSITY_RAMP_FRACTION = 0.25
"""... and ramps to full weight over this fraction of it."""

ONE_TRACK_GROUP_COST = 1.5
"""Cost factor on a one-track subgroup's processors (prefer the track in series with it)."""

REWEIGHT_SCALE, REWEIGHT_EPS, REWEIGHT_MAX = 0.6, 0.1, 4.0
"""Adaptive-lasso reweighting ``min(a / (w + ε), max)``: 1 at w = 0.5, 3 at w = 0.1."""

MAX_RETURNS_PER_ROUND = 4
"""At most this many removed processors return after one round."""

COMMUTES = {a: frozenset(b for b in PROCESSORS if commute(REGISTRY[a], REGISTRY[b]))
            for a in PROCESSORS}
"""``COMMUTES[a]``: the types whose alive nodes a type-``a`` processor can move across exactly.

From each type's ``lti_form`` (``processors.base.commute``): the EQ is the
same zero-phase filter on both channels (a scalar per frequency) and commutes
with every LTI stereo processor; gain/pan, delay and reverb act per channel
(diagonal in L/R): they commute with each other and with the EQ, not with the
imager (diagonal in M/S); compressors and gates depend on their input level:
they commute with nothing.
"""


def type_cost_tree(sizes: dict, one_track_groups) -> dict:
  """``{level: {type: f32[nodes]}}``: the prior cost of every node slot."""
  costs = {level: {name: np.full(size, REGISTRY[name].sparsity_cost, np.float32)
                   for name in PROCESSORS}
           for level, size in sizes.items()}
  for g in one_track_groups:
    for name in PROCESSORS:
      costs["group"][name][g] *= ONE_TRACK_GROUP_COST
  return costs


def reweight(prior: np.ndarray, logits: np.ndarray) -> np.ndarray:
  """Adaptive-lasso costs ``prior · min(a / (sigmoid(z) + ε), max)`` (NumPy)."""
  w = 1 / (1 + np.exp(-np.asarray(logits, np.float64)))
  return (prior * np.minimum(REWEIGHT_SCALE / (w + REWEIGHT_EPS), REWEIGHT_MAX)).astype(np.float32)


def one_track_groups(track_groups) -> dict:
  """``{group: track}`` for every subgroup holding exactly one track."""
  members: dict = {}
  for t, g in enumerate(track_groups):
    members.setdefault(int(g), []).append(t)
  return {g: ts[0] for g, ts in members.items() if len(ts) == 1}


def canonical_moves(track_alive: dict, group_alive: dict) -> list[str]:
  """The processor types to move from a one-track subgroup to its track, in chain order.

  ``track_alive``, ``group_alive``: ``{type: bool}`` of the track's and the
  subgroup's chains. A subgroup processor of type ``t`` moves when the
  track's ``t`` slot is free and it commutes (``COMMUTES``) with every alive
  processor between the two slots: the track's after ``t`` and the
  subgroup's before ``t``. Moves are applied in order (an earlier move frees
  the path of a later one).
  """
  track, group = dict(track_alive), dict(group_alive)
  moves = []
  for i, name in enumerate(PROCESSORS):
    if not group[name] or track[name]:
      continue
    between = [p for p in PROCESSORS[i + 1:] if track[p]] + [p for p in PROCESSORS[:i] if group[p]]
    if all(p in COMMUTES[name] for p in between):
      moves.append(name)
      track[name], group[name] = True, False
  return moves


def canonicalize(params, flags: np.ndarray, table, track_groups, song: int = 0):
  """The canonical form of song ``song``'s graph: ``(params, flags)`` with moves applied.

  ``params``: host ``ConsoleParams`` with a song axis; only song ``song``'s
  entries change. A moved processor's parameters and dry/wet logit are
  copied to the track slot; the subgroup slot is bypassed.
  """
  flags = np.array(flags, bool)
  moved = []
  for g, t in one_track_groups(track_groups).items():
    track = {name: bool(flags[table.position("track", t, name)]) for name in PROCESSORS}
    group = {name: bool(flags[table.position("group", g, name)]) for name in PROCESSORS}
    for name in canonical_moves(track, group):
      procs = params.processors
      for leaf_t, leaf_g in zip(jax.tree.leaves(procs["track"][name]), jax.tree.leaves(procs["group"][name])):
        leaf_t[song, t] = leaf_g[song, g]
      params.drywet_logits["track"][name][song, t] = params.drywet_logits["group"][name][song, g]
      flags[table.position("track", t, name)] = True
      flags[table.position("group", g, name)] = False
      moved.append((g, t, name))
  return params, flags, moved


class PreciseSearch(batch_lib.BatchSearch):
  """``BatchSearch`` with the precise method's costs, returns and canonical form."""

  def __init__(self, songs, config, seeds, optimizer, progress: bool, **sizes):
    super().__init__(songs, config, seeds, optimizer, progress, **sizes)
    start = int(round(config.console_steps * SPARSITY_START_FRACTION))
    ramp = max(int(round(config.console_steps * SPARSITY_RAMP_FRACTION)), 1)
    weight = PRECISE_SPARSITY_WEIGHT if config.rounds else 0.0  # as the paper: pruning runs only
    self.sparsity = jnp.array([start, ramp, weight], jnp.float32)
    padded = songs + [songs[0]] * (len(self.tables) - len(songs))
    self.track_groups = [list(s.resolved_groups()) for s in padded]
    self.priors = [type_cost_tree(t.sizes, one_track_groups(g))
                   for t, g in zip(self.tables, self.track_groups)]

  def sparsity_costs(self, state, flags):
    logits = jax.device_get(state.params.drywet_logits)
    costs = {level: {name: np.stack([reweight(p[level][name], logits[level][name][s])
                                     for s, p in enumerate(self.priors)])
                     for name in PROCESSORS} for level in LEVELS}
    return self.put(costs)

  def after_round(self, run, r: int) -> None:
    """The forward step: removed processors whose return lowers the loss by more than τ."""
    tau = self.config.tolerance
    in_console = [t.of_types(self.config.processors) for t in self.tables]
    params = run["state"].params
    for _ in range(MAX_RETURNS_PER_ROUND):
      candidates = [np.flatnonzero(c & ~f) for c, f in zip(in_console, run["flags"])]
      if not any(len(c) for c in candidates):
        return
      requests = []
      for s, ids in enumerate(candidates):
        masks = [run["flags"][s].copy()]
        for i in ids:
          m = run["flags"][s].copy()
          m[i] = True
          masks.append(m)
        requests.append(masks)
      losses = self.evaluate_all(params, run["flags"], requests)
      any_returned = False
      for s, ids in enumerate(candidates):
        current, with_one = losses[s][0], losses[s][1:]
        run["l_min"][s] = min(run["l_min"][s], float(current))
        if not len(ids):
          continue
        best = int(np.argmin(with_one))
        if with_one[best] < current - tau:
          run["flags"][s][ids[best]] = True
          run["l_min"][s] = min(run["l_min"][s], float(with_one[best]))
          returned = run.setdefault("returned", [[] for _ in self.tables])
          returned[s].append((r + 1, tuple(self.tables[s].nodes[ids[best]]),
                              float(current), float(with_one[best])))
          any_returned = True
      if not any_returned:
        return

  def evaluate_all(self, params, flags, requests: list) -> list:
    """Every mask of every song's request, through the round evaluator (partial answers resumed)."""
    evaluator = self.round_evaluator(params, flags)
    batch = self.trial_batch  # at most one trial batch per call: one program shape
    out = [[] for _ in requests]
    pending = [list(q) for q in requests]
    while any(pending):
      answered = evaluator([q[:batch] for q in pending])
      for s, values in enumerate(answered):
        out[s] += [float(v) for v in values]
        pending[s] = pending[s][len(values):]
    return [np.array(o) for o in out]

  def finish(self, run) -> None:
    """Puts every song's graph in canonical form (one-track subgroups' processors on the track)."""
    params = jax.tree.map(np.array, jax.device_get(run["state"].params))
    for s, table in enumerate(self.tables):
      params, run["flags"][s], moved = canonicalize(params, run["flags"][s], table,
                                                    self.track_groups[s], song=s)
      run.setdefault("moved", [[] for _ in self.tables])[s] += moved
    run["state"] = run["state"].replace(params=self.put(params))

  def result(self, s, run, *args, **kwargs):
    result = super().result(s, run, *args, **kwargs)
    result.method_log = {"returned": list(run.get("returned", [[]] * (s + 1))[s]),
                         "moved": list(run.get("moved", [[]] * (s + 1))[s])}
    return result
