"""Incremental trial evaluation: re-render only what a candidate mask changes.

A track's output depends only on its own alive flags; a subgroup's output
only on its own flags and on the outputs of its tracks. So once the
per-chunk track and group outputs of a *base* mask are cached, a candidate
mask needs new renders of just

* the tracks whose flags differ from the base (*track jobs*), and
* the groups whose own flags differ, or one of whose tracks is a job
  (*group jobs*);

every other output is read from the cache, and the mix is the sum of the
group outputs. Candidates of one request share jobs whose inputs and flags
are the same (the speculative candidates of a round are nested, so ``B``
brute-force trials cost ``B`` track and at most ``B`` group chains instead of
``B · (T + G)``).

Shapes stay static: a request renders ``track_jobs`` track chains and
``group_jobs`` group chains whatever it needs (unused jobs render a
bypassed chain that nothing reads). ``make_plan`` answers the longest
prefix of a request that fits; the pruning round re-proposes the rest
(``prune.prune_round_steps`` accepts partial answers), so the decisions
stay those of one trial at a time. After a request, the base moves to the
earlier candidate that makes the next request cheapest (``rebase``, a
gather of cached and job outputs, no rendering); a candidate that does not
fit even alone makes the driver render a fresh cache for it
(``cache_render``).

The cache is bounded: it holds the track and group outputs of the leading
``K`` chunks that fit ``cache_bytes`` (``CACHE_BYTES``, 512 MiB, by
default; ``cached_chunks``), ``(T + G + R_t + R_g) · 2 · chunk`` floats per
song and chunk with the job outputs kept for ``rebase`` (a 16 × 4 console at
30 kHz, one trial per call: 22 MB a chunk, so a song of up to about 67 s, 24
chunks, is cached whole). Each trial call renders the later chunks afresh
from the base mask (a full render of the chunk, then the jobs as with cached
outputs), so the memory stays flat in the song's length and a long song's
trials cost more time; the losses are the same up to float32 rounding. The
song's own tracks and mix, ``[S, T + 1, 2, n]``, still grow with it.
``SearchConfig(incremental_trials=False)`` evaluates every trial with a full
render instead.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixjax import batching
from mixjax import console as console_lib
from mixjax import loss as loss_lib
from mixjax.graph_search.fit import crop
from mixjax.graph_search.prune import DRYWET_INITIAL_STEP
from mixjax.nodes import alive_rows, level_alive
from mixjax.processors import PROCESSORS

CACHE_BYTES = 512 * 2**20
"""Default memory budget of a round's trial cache (``RoundEvaluator``), in bytes."""


def cached_chunks(n_chunks: int, *, n_songs: int, n_outputs: int, chunk_len: int,
                  cache_bytes: int | None) -> int:
  """How many leading chunks the cache holds: as many as fit, at least one.

  A cached chunk holds ``n_songs · n_outputs`` stereo float32 outputs of
  ``chunk_len`` samples. ``cache_bytes=None`` caches every chunk.
  """
  if cache_bytes is None:
    return n_chunks
  chunk_bytes = n_songs * n_outputs * 2 * chunk_len * 4
  return max(1, min(n_chunks, cache_bytes // chunk_bytes))


class Plan(NamedTuple):
  """What one request renders, for one song (NumPy arrays).

  ``P = len(PROCESSORS)``; ``R_t``, ``R_g`` job slots; ``B`` candidates.

  Attributes:
    track_node: ``int32[R_t]`` track slot of each track job.
    track_alive: ``bool[R_t, P]`` alive flags of each track job.
    group_node: ``int32[R_g]`` group slot of each group job.
    group_alive: ``bool[R_g, P]`` alive flags of each group job.
    group_inputs: ``f32[R_g, T + R_t]`` 0/1 weights: the input of group job
      ``r`` is ``Σ_k w[r, k] · outputs[k]`` over the cached track outputs
      followed by the track jobs' outputs.
    mix_inputs: ``f32[B, G + R_g]`` 0/1 weights: candidate ``b``'s mix is
      ``Σ_k w[b, k] · outputs[k]`` over cached group outputs and group jobs.
    track_source: ``int32[B, T]`` where each candidate's track outputs come
      from (``k < T``: cache row, else job ``k - T``); used by ``rebase``.
    group_source: ``int32[B, G]`` likewise for group outputs.
  """
  track_node: np.ndarray
  track_alive: np.ndarray
  group_node: np.ndarray
  group_alive: np.ndarray
  group_inputs: np.ndarray
  mix_inputs: np.ndarray
  track_source: np.ndarray
  group_source: np.ndarray


class Layout(NamedTuple):
  """The host-side routing of one console (NumPy)."""
  track_group: np.ndarray  # int[T]
  track_exists: np.ndarray  # bool[T]
  group_exists: np.ndarray  # bool[G]

  @classmethod
  def of(cls, console: console_lib.Console) -> "Layout":
    return cls(np.asarray(console.track_group), np.asarray(console.track_exists, bool),
               np.asarray(console.group_exists, bool))


def _sources(base: dict, candidates: list, layout: Layout, *, track_jobs: int, group_jobs: int):
  """Job lists and per-candidate sources for the longest fitting prefix."""
  n_tracks, n_groups = base["track"].shape[0], base["group"].shape[0]
  tracks = np.flatnonzero(layout.track_exists)
  groups = np.flatnonzero(layout.group_exists)
  members = {g: tracks[layout.track_group[tracks] == g] for g in groups}
  t_jobs, g_jobs = {}, {}
  t_src, g_src = [], []
  for cand in candidates:
    new_t, new_g = dict(t_jobs), dict(g_jobs)
    src_t = np.arange(n_tracks)
    for t in tracks:
      if (cand["track"][t] != base["track"][t]).any():
        key = (int(t), cand["track"][t].tobytes())
        src_t[t] = n_tracks + new_t.setdefault(key, len(new_t))
    src_g = np.arange(n_groups)
    for g in groups:
      inputs = tuple(src_t[members[g]])
      if inputs != tuple(members[g]) or (cand["group"][g] != base["group"][g]).any():
        key = (int(g), inputs, cand["group"][g].tobytes())
        src_g[g] = n_groups + new_g.setdefault(key, len(new_g))
    if len(new_t) > track_jobs or len(new_g) > group_jobs:
      break
    t_jobs, g_jobs = new_t, new_g
    t_src.append(src_t)
    g_src.append(src_g)
  return t_jobs, g_jobs, t_src, g_src


def job_counts(base: dict, candidates: list, layout: Layout) -> tuple[int, int]:
  """Track and group jobs that ``candidates`` need against ``base`` (unbounded)."""
  t_jobs, g_jobs, *_ = _sources(base, candidates, layout, track_jobs=1 << 30, group_jobs=1 << 30)
  return len(t_jobs), len(g_jobs)


def make_plan(base: dict, candidates: list, layout: Layout, *, track_jobs: int,
              group_jobs: int, batch: int) -> tuple[Plan, int]:
  """Plans the longest prefix of ``candidates`` that fits the job slots.

  Args:
    base: ``alive_rows`` of the cached mask.
    candidates: ``alive_rows`` of the requested masks (at most ``batch``).
    layout: the song's routing.
    track_jobs, group_jobs: job slots ``R_t``, ``R_g``.
    batch: candidate slots ``B`` (the plan is padded to it).

  Returns:
    ``(plan, answered)``: the plan and how many leading candidates it
    evaluates (0 if the first one alone does not fit).
  """
  n_tracks, n_groups = base["track"].shape[0], base["group"].shape[0]
  t_jobs, g_jobs, t_src, g_src = _sources(
      base, candidates, layout, track_jobs=track_jobs, group_jobs=group_jobs)
  answered = len(t_src)
  n_proc = len(PROCESSORS)
  track_node = np.zeros(track_jobs, np.int32)
  track_alive = np.zeros((track_jobs, n_proc), bool)
  for (t, flags), j in t_jobs.items():
    track_node[j] = t
    track_alive[j] = np.frombuffer(flags, bool)
  group_node = np.zeros(group_jobs, np.int32)
  group_alive = np.zeros((group_jobs, n_proc), bool)
  group_inputs = np.zeros((group_jobs, n_tracks + track_jobs), np.float32)
  for (g, inputs, flags), j in g_jobs.items():
    group_node[j] = g
    group_alive[j] = np.frombuffer(flags, bool)
    group_inputs[j, list(inputs)] = 1.0
  track_source = np.tile(np.arange(n_tracks, dtype=np.int32), (batch, 1))
  group_source = np.tile(np.arange(n_groups, dtype=np.int32), (batch, 1))
  mix_inputs = np.zeros((batch, n_groups + group_jobs), np.float32)
  groups = np.flatnonzero(layout.group_exists)
  for b in range(batch):
    if b < answered:
      track_source[b], group_source[b] = t_src[b], g_src[b]
    mix_inputs[b, group_source[b][groups]] = 1.0
  return Plan(track_node, track_alive, group_node, group_alive, group_inputs, mix_inputs,
              track_source, group_source), answered


def stack_plans(plans: list) -> Plan:
  """Stacks per-song plans along a leading song axis."""
  return Plan(*[np.stack(parts) for parts in zip(*plans)])


# ---------------------------------------------------------------------------
# Device side
# ---------------------------------------------------------------------------


class Jobs(NamedTuple):
  """The parameters of a request's job slots on one level, gathered once per call."""
  processors: dict  # {name: params}, leading axis R
  logits: dict  # {name: f32[R]}
  prepared: dict  # console.prepare_level of ``processors``: their filters, for every chunk


def _gather_jobs(params, level: str, nodes, *, sample_rate: int, chunk_len: int) -> Jobs:
  """``Jobs`` of the node slots ``nodes`` of ``level`` (filters of these R nodes only)."""
  gather = functools.partial(jax.tree.map, lambda p: p[nodes])
  processors = gather(params.processors[level])
  return Jobs(processors, gather(params.drywet_logits[level]),
              console_lib.prepare_level(processors, sample_rate=sample_rate, n_samples=chunk_len))


def _render_jobs(jobs: Jobs, alive, x, active, *, sample_rate: int):
  """The chains of the job slots with their own flags: ``[R, 2, n]``."""
  out, _ = console_lib.apply_chain(jobs.processors, jobs.logits, level_alive(alive), x,
                                   sample_rate=sample_rate, active=active, prepared=jobs.prepared)
  return out


@functools.partial(jax.jit, static_argnames=("chunk_len", "skip_dead_types"))
def cache_render(params, console, tracks, alive, starts, *, chunk_len: int,
                 skip_dead_types: bool = True):
  """Per-chunk track and group outputs of one mask per song (a full render).

  Args:
    params, console: leading song axis ``S``.
    tracks: ``[S, T, 2, n]`` whole songs (padded for the chunks).
    alive: alive pytree with a leading song axis.
    starts: ``int32[K]`` starts of the chunks to cache.
    skip_dead_types: skip the types dead in every song (``lax.cond``) or not
      (static; ``SearchConfig.skips_dead_types``).

  Returns:
    ``([S, K, T, 2, chunk], [S, K, G, 2, chunk])``.
  """
  # Over all songs: the types dead in every song are skipped (or None: masks only).
  active = console_lib.active_types(alive) if skip_dead_types else None

  def one_song(params, console, tracks, alive):
    prepared = console_lib.prepare(console, params, chunk_len)  # shared by every chunk

    def one_chunk(_, start):
      details = console_lib.render_details(console, params, crop(tracks, start, chunk_len),
                                           alive, active, prepared)
      return None, (details.track_outputs, details.group_outputs)
    return jax.lax.scan(one_chunk, None, starts)[1]
  return batching.vmap(one_song)(params, console, tracks, alive)


def _trial_loss_one_song(params, console, tracks, mix, cache_tracks, cache_groups, base_alive,
                        plan: Plan, starts, fresh_starts, n_chunks, active, base_active, *,
                        chunk_len: int, omit_seconds: float, fft_sizes: tuple[int, ...]):
  sr = console.sample_rate
  batch = plan.mix_inputs.shape[0]
  hi = jax.lax.Precision.HIGHEST
  # Shared by every chunk: the job slots' parameters and filters (R nodes, not T + G).
  track_jobs = _gather_jobs(params, "track", plan.track_node, sample_rate=sr, chunk_len=chunk_len)
  group_jobs = _gather_jobs(params, "group", plan.group_node, sample_rate=sr, chunk_len=chunk_len)

  def chunk_losses(total, index, start, base_tracks, base_groups):
    chunk_tracks, chunk_mix = crop(tracks, start, chunk_len), crop(mix, start, chunk_len)
    job_tracks = _render_jobs(track_jobs, plan.track_alive, chunk_tracks[plan.track_node],
                              active["track"], sample_rate=sr)
    all_tracks = jnp.concatenate([base_tracks, job_tracks])
    group_in = jnp.einsum("rk,kcn->rcn", plan.group_inputs, all_tracks, precision=hi)
    job_groups = _render_jobs(group_jobs, plan.group_alive, group_in, active["group"],
                              sample_rate=sr)
    all_groups = jnp.concatenate([base_groups, job_groups])
    preds = jnp.einsum("bk,kcn->bcn", plan.mix_inputs, all_groups, precision=hi)
    losses = batching.vmap(lambda pred: loss_lib.mrstft_loss(
        pred, chunk_mix, sample_rate=sr, omit_seconds=omit_seconds, fft_sizes=fft_sizes))(preds)
    return total + jnp.where(index < n_chunks, losses, 0.0), (job_tracks, job_groups)

  def cached_chunk(total, xs):
    return chunk_losses(total, *xs)

  n_cached = starts.shape[0]
  xs = (jnp.arange(n_cached), starts, cache_tracks, cache_groups)
  total, jobs = jax.lax.scan(cached_chunk, jnp.zeros(batch), xs)
  if fresh_starts.shape[0]:  # static: the chunks past the cache
    prepared = console_lib.prepare(console, params, chunk_len)  # every node's, for the base

    def fresh_chunk(total, xs):
      index, start = xs
      base = console_lib.render_details(console, params, crop(tracks, start, chunk_len),
                                        base_alive, base_active, prepared)
      return chunk_losses(total, index, start, base.track_outputs, base.group_outputs)[0], None

    fresh = (n_cached + jnp.arange(fresh_starts.shape[0]), fresh_starts)
    total, _ = jax.lax.scan(fresh_chunk, total, fresh)
  return total / n_chunks, jobs


@functools.partial(jax.jit, static_argnames=("chunk_len", "omit_seconds", "fft_sizes",
                                             "skip_dead_types"))
def trial_loss(params, console, tracks, mix, cache_tracks, cache_groups, base_alive, plan: Plan,
               starts, fresh_starts, n_chunks, *, chunk_len: int, omit_seconds: float,
               fft_sizes: tuple[int, ...], skip_dead_types: bool = True):
  """Whole-song losses of the planned candidates, and the job outputs of the cached chunks.

  Args:
    params, console, tracks, mix, n_chunks: as ``evaluate.song_loss``
      (leading song axis ``S``).
    cache_tracks, cache_groups: from ``cache_render`` or ``rebase``.
    base_alive: the alive pytree of each song's base mask (the cache's).
    plan: ``stack_plans`` of one ``Plan`` per song (device arrays).
    starts: ``int32[K]`` starts of the cached chunks.
    fresh_starts: ``int32[C - K]`` starts of the later chunks, whose base
      outputs are rendered afresh (possibly none).
    chunk_len, omit_seconds, fft_sizes, skip_dead_types: as ``evaluate.song_loss``.

  Returns:
    ``(f32[S, B] losses, (job tracks [S, K, R_t, 2, chunk], job groups
    [S, K, R_g, 2, chunk]))``; candidates past a plan's answered prefix get
    the loss of the base mask (ignore them).
  """
  one_song = functools.partial(_trial_loss_one_song, chunk_len=chunk_len,
                               omit_seconds=omit_seconds, fft_sizes=fft_sizes)
  if skip_dead_types:  # types alive in any job of any song (outside the vmap: skipped)
    active = console_lib.active_types({"track": level_alive(plan.track_alive),
                                       "group": level_alive(plan.group_alive)})
    base_active = console_lib.active_types(base_alive)
  else:  # masks only, no conditional
    active, base_active = dict.fromkeys(console_lib.LEVELS), None
  in_axes = (0, 0, 0, 0, 0, 0, 0, 0, None, None, 0, None, None)
  return batching.vmap(one_song, in_axes=in_axes)(
      params, console, tracks, mix, cache_tracks, cache_groups, base_alive, plan, starts,
      fresh_starts, n_chunks, active, base_active)


@jax.jit
def rebase(cache_tracks, cache_groups, jobs, track_source, group_source):
  """The cache of another mask of the last request: a gather, no rendering.

  Args:
    cache_tracks, cache_groups: the cache the request was evaluated against.
    jobs: the job outputs ``trial_loss`` returned for it.
    track_source, group_source: ``[S, T]``, ``[S, G]``: the chosen
      candidate's rows of each song's plan.
  """
  def one_song(cache_tracks, cache_groups, job_tracks, job_groups, t_src, g_src):
    tracks = jnp.concatenate([cache_tracks, job_tracks], axis=1)[:, t_src]
    groups = jnp.concatenate([cache_groups, job_groups], axis=1)[:, g_src]
    return tracks, groups
  return batching.vmap(one_song)(cache_tracks, cache_groups, *jobs, track_source, group_source)


# ---------------------------------------------------------------------------
# Host driver
# ---------------------------------------------------------------------------


def job_slots(console, batch: int) -> int:
  """Track (and group) job slots of a request.

  A batch's worth, and at least the dry/wet sampler's first step (10 % of a
  type's ``T + G`` nodes: 2 at 16 × 4), so that its multi-node candidates fit
  without a new cache.
  """
  return max(batch, math.ceil(DRYWET_INITIAL_STEP * (console.max_tracks + console.max_groups)))


class RoundEvaluator:
  """Evaluates the trial requests of one pruning round for a batch of songs.

  Call it with one request (a list of ``bool[n_nodes]`` masks, possibly
  empty) per song; it returns, per song, the losses of a leading part of the
  request (at least one mask of every non-empty request).

  Args:
    params: the console parameters (song axis first, on the devices); fixed
      during a round.
    arrays: the search's stacked ``console``, ``tracks``, ``mix``,
      ``n_chunks`` arrays.
    consoles, tables: per song.
    start_flags: per song, the alive flags at the round start (the first
      base).
    starts: chunk starts; put: places a stacked pytree on the devices.
    chunk_len, omit_seconds, fft_sizes: the loss settings; batch: ``B``.
    skip_dead_types: the programs' form (``SearchConfig.skips_dead_types``).
    cache_bytes: the cache's budget (``cached_chunks``; None: every chunk).
  """

  def __init__(self, params, arrays, consoles, tables, start_flags, *, starts, put,
               chunk_len: int, omit_seconds: float, fft_sizes: tuple[int, ...], batch: int,
               skip_dead_types: bool = True, cache_bytes: int | None = CACHE_BYTES):
    self.params, self.arrays, self.tables, self.put = params, arrays, tables, put
    self.layouts = [Layout.of(c) for c in consoles]
    self.cache_settings = dict(chunk_len=chunk_len, skip_dead_types=skip_dead_types)
    self.settings = dict(self.cache_settings, omit_seconds=omit_seconds, fft_sizes=fft_sizes)
    self.batch = batch
    self.track_jobs = self.group_jobs = job_slots(consoles[0], batch)
    n_outputs = (consoles[0].max_tracks + consoles[0].max_groups + self.track_jobs
                 + self.group_jobs)  # the base's outputs and the jobs' (kept for rebase)
    n_cached = cached_chunks(len(starts), n_songs=len(consoles), n_outputs=n_outputs,
                             chunk_len=chunk_len, cache_bytes=cache_bytes)
    self.starts, self.fresh_starts = starts[:n_cached], starts[n_cached:]
    self.bases = [alive_rows(t.to_alive(f)) for t, f in zip(tables, start_flags)]
    self.cache = None  # rendered by render_cache or the first call
    self.last = None  # (plans, jobs, answered rows) of the previous call

  def _base_alive(self):
    """The bases' alive pytree, stacked and on the devices."""
    return self.put({level: level_alive(np.stack([rows[level] for rows in self.bases]))
                     for level in console_lib.LEVELS})

  def _cache_args(self) -> tuple:
    a = self.arrays
    return (self.params, a["console"], a["tracks"], self._base_alive(), self.starts)

  def _loss_args(self, cache, plan: Plan) -> tuple:
    a = self.arrays
    return (self.params, a["console"], a["tracks"], a["mix"], *cache, self._base_alive(),
            self.put(plan), self.starts, self.fresh_starts, a["n_chunks"])

  def render_cache(self, bases: list | None = None) -> None:
    """Renders the cache of ``bases`` (default: the current ones; at first, the round start).

    Without it, the first call renders the round-start cache.
    """
    self.bases = self.bases if bases is None else bases
    self.cache = cache_render(*self._cache_args(), **self.cache_settings)
    self.last = None

  def programs(self) -> dict:
    """The round's three programs and their arguments for the current bases:
    ``{name: (jitted function, args, static keyword arguments)}`` for
    ``trial_cache``, ``trial_loss`` and ``trial_rebase`` (the cache and job
    outputs as shapes only: nothing is rendered)."""
    cache_args = self._cache_args()
    cache = jax.eval_shape(functools.partial(cache_render, **self.cache_settings), *cache_args)
    plans, _ = self._plans([[base] for base in self.bases])
    plan = stack_plans(plans)
    loss_args = self._loss_args(cache, plan)
    _, jobs = jax.eval_shape(functools.partial(trial_loss, **self.settings), *loss_args)
    rebase_args = (*cache, jobs, self.put(plan.track_source[:, 0]),
                   self.put(plan.group_source[:, 0]))
    return {"trial_cache": (cache_render, cache_args, self.cache_settings),
            "trial_loss": (trial_loss, loss_args, self.settings),
            "trial_rebase": (rebase, rebase_args, {})}

  def compile(self) -> None:
    """Compiles the round's three programs (``programs``) without running them.

    A search calls it in a thread while the console fit runs, so that the
    compiler works beside the fit; the calls of the round then reuse the
    programs (JAX's in-memory compilation cache). One device only (the
    shapes carry no shardings).
    """
    for fn, args, kwargs in self.programs().values():
      fn.lower(*args, **kwargs).compile()

  def _move_bases(self, rows: list) -> None:
    """Moves each song's base to the earlier candidate that makes ``rows`` cheapest."""
    if self.last is None:
      return
    plans, jobs, answered_rows = self.last
    t_src = [np.arange(len(b["track"]), dtype=np.int32) for b in self.bases]
    g_src = [np.arange(len(b["group"]), dtype=np.int32) for b in self.bases]
    moved = False
    for s, (request, layout) in enumerate(zip(rows, self.layouts)):
      if not request:
        continue
      best = sum(job_counts(self.bases[s], request, layout))
      for b, option in enumerate(answered_rows[s]):
        cost = sum(job_counts(option, request, layout))
        if cost < best:
          best, moved = cost, True
          t_src[s], g_src[s] = plans.track_source[s, b], plans.group_source[s, b]
          self.bases[s] = option
    if moved:
      self.cache = rebase(*self.cache, jobs, self.put(np.stack(t_src)), self.put(np.stack(g_src)))
    self.last = None

  def _plans(self, rows: list):
    made = [make_plan(base, request, layout, track_jobs=self.track_jobs,
                      group_jobs=self.group_jobs, batch=self.batch)
            for base, request, layout in zip(self.bases, rows, self.layouts)]
    return [p for p, _ in made], [n for _, n in made]

  def __call__(self, requests: list) -> list:
    rows = [[alive_rows(t.to_alive(f)) for f in request]
            for t, request in zip(self.tables, requests)]
    if self.cache is None:
      self.render_cache()
    self._move_bases(rows)
    plans, answered = self._plans(rows)
    if any(n == 0 and request for n, request in zip(answered, rows)):
      # A candidate too different from the base even alone: cache it afresh.
      self.render_cache([request[0] if n == 0 and request else base
                          for base, request, n in zip(self.bases, rows, answered)])
      plans, answered = self._plans(rows)
    plan = stack_plans(plans)
    losses, jobs = trial_loss(*self._loss_args(self.cache, plan), **self.settings)
    self.last = (plan, jobs, [r[:n] for r, n in zip(rows, answered)])
    losses = np.asarray(losses)
    return [losses[s, :n] for s, n in enumerate(answered)]
