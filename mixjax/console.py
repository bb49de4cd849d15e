"""The padded mixing console: the search space of the mixing-graph search.

Every track goes through the 7-processor chain (``PROCESSORS`` order); the
track outputs are summed into their subgroups; every subgroup sum goes
through the same chain; the subgroup outputs are summed into the stereo mix.
There is no master-bus chain (DAFx-24 §2.2).

Each processor node *i* has a dry/wet weight ``w_i = sigmoid(z_i)`` and an
alive bit ``a_i``::

    y_i = u_i                                  if not a_i
    y_i = w_i · f_i(u_i; p_i) + (1 - w_i) · u_i  otherwise

Sizes (``max_tracks``, ``max_groups``, samples, sample rate) are static; which
tracks exist, which group each track feeds and which nodes are alive are
arrays. Changing any of them, or any parameter, never recompiles ``render``.
Padded tracks and groups contribute exactly zero.

Shapes: ``T = max_tracks``, ``G = max_groups``, ``n`` samples.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mixjax import validation
from mixjax.data import resolve_groups
from mixjax.processors import PENALTY_NAMES, PROCESSORS, REGISTRY
from mixjax.processors import base as processor_base

LEVELS = ("track", "group")
"""The two levels of the console, in signal order."""

Alive = dict  # {"track": {name: bool[T]}, "group": {name: bool[G]}}


@struct.dataclass
class ConsoleParams:
  """All parameters of a console (a pytree; Optax optimises it whole).

  Attributes:
    processors: ``{level: {name: params}}``, each leaf with a leading node axis
      (``T`` for tracks, ``G`` for groups).
    drywet_logits: ``{level: {name: f32[nodes]}}``; ``w = sigmoid(logit)``,
      initialised to 0 (half wet), as the reference does.
  """
  processors: dict
  drywet_logits: dict


class RenderDetails(NamedTuple):
  """Everything a render computes.

  Attributes:
    mix: ``[2, n]`` stereo mix.
    penalties: ``{"gain_staging": scalar, "radii": scalar}``, each summed over
      the alive nodes of both levels (unweighted; ``loss.regularization``
      weights them).
    track_outputs: ``[T, 2, n]`` outputs of the track chains (0 for padding).
    group_outputs: ``[G, 2, n]`` outputs of the group chains (0 for padding).
  """
  mix: Any
  penalties: dict
  track_outputs: Any
  group_outputs: Any


@struct.dataclass
class Console:
  """A padded mixing console (a pytree: routing arrays are leaves).

  Build one with ``Console.build``.

  Attributes:
    track_group: ``int32[T]``, the subgroup each track feeds (0 for padding).
    track_exists: ``bool[T]``, False for padded track slots.
    group_exists: ``bool[G]``, False for group slots that no track feeds.
    sample_rate: Hz (static).
  """
  track_group: jax.Array
  track_exists: jax.Array
  group_exists: jax.Array
  sample_rate: int = struct.field(pytree_node=False, default=30000)

  # -- construction --------------------------------------------------------

  @classmethod
  def build(cls,
            track_groups: Sequence[int | None],
            *,
            sample_rate: int = 30000,
            max_tracks: int | None = None,
            max_groups: int | None = None) -> "Console":
    """Builds a console from the subgroup index of every track.

    Args:
      track_groups: ``track_groups[i]`` is the subgroup index of track ``i``,
        or None for a track with no subgroup, which then gets a group of its
        own (numbered after the largest given index).
      sample_rate: Hz, at least ``validation.MIN_SAMPLE_RATE``.
      max_tracks: padded track count (default: the number of tracks).
      max_groups: padded group count (default: the number of groups).

    Raises:
      ValueError: for an empty song, a bad group index, more tracks or groups
        than the console holds, or a sample rate that is too low.
    """
    sample_rate = validation.check_sample_rate(sample_rate, where="Console.build")
    groups = list(track_groups)
    if not groups:
      raise ValueError("Console.build: a console needs at least one track (track_groups is empty).")
    for i, g in enumerate(groups):
      if g is None:
        continue
      if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 0:
        raise ValueError(
            f"Console.build: track {i} is assigned to group {g!r}; group indices must be "
            f"integers >= 0 (or None for a track with no subgroup).")
      if max_groups is not None and g >= max_groups:
        raise ValueError(
            f"Console.build: track {i} is assigned to group {g}, out of range for "
            f"max_groups={max_groups}; raise max_groups or fix the grouping.")
    resolved = resolve_groups(groups)
    n_tracks, n_groups = len(resolved), max(resolved) + 1
    max_tracks = n_tracks if max_tracks is None else max_tracks
    max_groups = n_groups if max_groups is None else max_groups
    if n_tracks > max_tracks:
      raise ValueError(
          f"Console.build: the song has {n_tracks} tracks but the console holds "
          f"max_tracks={max_tracks}; raise max_tracks.")
    if n_groups > max_groups:
      raise ValueError(
          f"Console.build: the grouping needs {n_groups} groups (tracks with no subgroup "
          f"get one each) but the console holds max_groups={max_groups}; raise max_groups.")
    track_group = np.zeros(max_tracks, np.int32)
    track_group[:n_tracks] = resolved
    track_exists = np.arange(max_tracks) < n_tracks
    group_exists = np.zeros(max_groups, bool)
    group_exists[list(resolved)] = True
    return cls(
        track_group=jnp.asarray(track_group),
        track_exists=jnp.asarray(track_exists),
        group_exists=jnp.asarray(group_exists),
        sample_rate=sample_rate)

  @classmethod
  def of(cls, song, *, max_tracks: int | None = None, max_groups: int | None = None) -> "Console":
    """The console for a ``Song``: ``build`` of its grouping at its sample rate.

    Args:
      song: a ``mixjax.Song`` (or anything with ``track_groups`` and ``sample_rate``).
      max_tracks: padded track count (default: the song's); give the same
        value to several songs to batch them.
      max_groups: padded group count (default: the song's).

    Raises:
      ValueError: when the song does not fit ``max_tracks`` or ``max_groups``.
    """
    return cls.build(song.track_groups, sample_rate=song.sample_rate,
                     max_tracks=max_tracks, max_groups=max_groups)

  @property
  def max_tracks(self) -> int:
    return self.track_exists.shape[-1]

  @property
  def max_groups(self) -> int:
    return self.group_exists.shape[-1]

  def level_sizes(self) -> dict:
    """``{"track": T, "group": G}``."""
    return {"track": self.max_tracks, "group": self.max_groups}

  def level_exists(self) -> dict:
    """``{"track": bool[T], "group": bool[G]}``."""
    return {"track": self.track_exists, "group": self.group_exists}

  # -- parameters and masks ------------------------------------------------

  def init(self, key) -> ConsoleParams:
    """Parameters of every node: processor params ~ N(0, 0.01²), logits 0."""
    return init_params(self, key)

  def all_alive(self) -> Alive:
    """Every processor of every existing node alive (padded nodes are not)."""
    return {
        level: {name: exists for name in PROCESSORS}
        for level, exists in self.level_exists().items()
    }

  def none_alive(self) -> Alive:
    """Every processor bypassed: the console renders the plain sum of tracks."""
    return jax.tree.map(jnp.zeros_like, self.all_alive())

  # -- rendering -----------------------------------------------------------

  def render(self, params: ConsoleParams, tracks, alive: Alive | None = None):
    """Renders the stereo mix.

    Args:
      params: from ``init`` (or a search).
      tracks: ``[max_tracks, 2, n]`` dry tracks (padded slots are ignored).
      alive: from ``all_alive`` with some entries set to False (default: all).

    Returns:
      ``[2, n]`` mix.

    Raises:
      ValueError: for tracks of the wrong shape, mono, or with NaN/Inf.
    """
    return self.render_details(params, tracks, alive).mix

  def render_details(self, params: ConsoleParams, tracks, alive: Alive | None = None) -> RenderDetails:
    """Like ``render``, and also returns the penalties and per-node outputs."""
    validation.check_stereo(tracks, what="tracks", leading=(self.max_tracks,))
    alive = self.all_alive() if alive is None else alive
    return render_details(self, params, jnp.asarray(tracks, jnp.float32), alive,
                          active_types(alive))

  def render_song(self, params: ConsoleParams, tracks, alive: Alive | None = None, *,
                  block_seconds: float = 30.0) -> np.ndarray:
    """Renders a whole song of any length in blocks, with memory bounded by the block.

    Every block of ``block_seconds`` is rendered from its input with
    ``context_samples`` of context before and after (about 10 s at any rate:
    the reach of both levels' chains), and only the block itself is kept, so
    the result equals ``render`` up to float32 rounding (within about 1e-3
    of the peak, as close as two whole renders of different lengths are:
    gates and compressors amplify FFT rounding in quiet parts). A song no
    longer than one block and its context (about 40 s with 30 s blocks) is
    rendered in one call, exactly as ``render``.

    Args:
      params, tracks, alive: as for ``render`` (``tracks`` may be NumPy).
      block_seconds: output seconds per block (one compiled render serves
        every block).

    Returns:
      ``float32[2, n]`` NumPy mix.

    Raises:
      ValueError: as ``render``, or for a block shorter than 1 s.
    """
    validation.check_stereo(tracks, what="tracks", leading=(self.max_tracks,))
    if not block_seconds >= 1.0:
      raise ValueError(
          f"Console.render_song: block_seconds must be at least 1, got {block_seconds}.")
    alive = self.all_alive() if alive is None else alive
    return render_in_blocks(self, params, np.asarray(tracks, np.float32), alive,
                            block_samples=int(round(block_seconds * self.sample_rate)))


# ---------------------------------------------------------------------------
# The pure, jitted render (no input checks: the search calls it directly)
# ---------------------------------------------------------------------------


def active_types(alive: Alive) -> dict:
  """``{level: {name: bool scalar}}``: is the type alive on any node (of any batch entry)?

  The ``active`` argument of ``render_details``: with it, the render skips a
  type that is dead everywhere. Computed over every axis, so that under
  ``vmap`` (over songs or masks) the render can still skip it: pass it from
  outside the ``vmap``, where a ``lax.cond`` on a batched predicate would run
  both branches.
  """
  return jax.tree.map(jnp.any, alive)


def apply_chain(processors, logits, on, x, *, sample_rate, active=None, prepared=None):
  """Runs the 7-processor chain on all nodes of one level at once.

  Args:
    processors: ``{name: params}`` with a leading node axis.
    logits: ``{name: f32[nodes]}`` dry/wet logits.
    on: ``{name: bool[nodes]}``, alive and existing.
    x: ``[nodes, 2, n]`` inputs.
    active: ``{name: bool scalar}``: a type that is not active is skipped at
      run time (a ``lax.cond`` per type); None (default): every type runs on
      every node and ``on`` alone chooses (no conditional, the same result).
    prepared: ``{name: prepared}`` from ``prepare_level`` for these nodes and
      this input length, or None (each type prepares its own).

  Returns:
    ``([nodes, 2, n] outputs, {penalty: scalar summed over the on nodes})``.

  Raises:
    ValueError: (while tracing) a processor returns a penalty that is not
      in ``PENALTY_NAMES``.
  """
  penalties = {name: jnp.zeros((), x.dtype) for name in PENALTY_NAMES}
  for name in PROCESSORS:
    module = REGISTRY[name]
    if prepared is None:
      apply = functools.partial(module.apply, sample_rate=sample_rate)
      state = processors[name]
    else:
      apply = functools.partial(processor_base.apply_prepared, module, sample_rate=sample_rate)
      state = prepared[name]
    penalize = functools.partial(module.penalties, sample_rate=sample_rate)

    def process(u, params=processors[name], state=state, logit=logits[name], mask=on[name],
                apply=apply, penalize=penalize):
      wet = jax.vmap(apply)(state, u)
      terms = jax.vmap(penalize)(params, u, wet)
      w = jax.nn.sigmoid(logit)[:, None, None]
      mixed = jnp.where(mask[:, None, None], w * wet + (1 - w) * u, u)
      unknown = sorted(set(terms) - set(PENALTY_NAMES))
      if unknown:  # raised while tracing: a penalty must never be dropped silently
        raise ValueError(
            f"processor {name!r} returns the penalties {unknown}, which are not in "
            f"PENALTY_NAMES {PENALTY_NAMES}; add them there (and a weight in the loss).")
      sums = {k: jnp.sum(jnp.where(mask, v, 0.0)) for k, v in terms.items()}
      return mixed, {k: sums.get(k, jnp.zeros((), u.dtype)) for k in PENALTY_NAMES}

    def skip(u):
      return u, {k: jnp.zeros((), u.dtype) for k in PENALTY_NAMES}

    if active is None:
      x, terms = process(x)
    else:  # skip a processor type that is dead on every node of the level (no recompile)
      x, terms = jax.lax.cond(active[name], process, skip, x)
    penalties = {k: penalties[k] + terms[k] for k in PENALTY_NAMES}
  return x, penalties


def prepare_level(processors, *, sample_rate: int, n_samples: int) -> dict:
  """``{name: prepared}`` of every node of one level for ``n_samples``-long inputs.

  What ``apply_chain(..., prepared=...)`` needs: each type's
  ``Processor.prepare`` (an FIR's spectrum) over the node axis. Whole-song
  evaluations compute it once and render every chunk with it.
  """
  return {
      name: jax.vmap(functools.partial(processor_base.prepare, REGISTRY[name],
                                       sample_rate=sample_rate, n_samples=n_samples))(params)
      for name, params in processors.items()
  }


def prepare(console: Console, params: ConsoleParams, n_samples: int) -> dict:
  """``{level: prepare_level(...)}``: the ``prepared`` argument of ``render_details``."""
  return {level: prepare_level(params.processors[level], sample_rate=console.sample_rate,
                               n_samples=n_samples) for level in LEVELS}


def init_params(console: Console, key) -> ConsoleParams:
  """Pure ``Console.init``.

  Node ``i`` of a level draws from ``fold_in(key_of(level, processor), i)``,
  so a node's initial parameters do not depend on how far the console is
  padded: a song searched alone or in a padded batch starts the same. The
  nodes are drawn one by one by a single compiled program (``_init_node``),
  so consoles of any size share it: compiling a random initialiser per
  console size took longer than the draws themselves by far. Under ``jit``
  or ``vmap`` (a traced ``key``: one console per key) the draws are stacked
  in the traced program instead.
  """
  traced = isinstance(key, jax.core.Tracer)  # under jit or vmap: stack on the device
  processors = {}
  for level_key, (level, size) in zip(
      jax.random.split(key, len(LEVELS)), console.level_sizes().items()):
    nodes = [_init_node(level_key, i) for i in range(size)]
    if traced:
      processors[level] = jax.tree.map(lambda *a: jnp.stack(a), *nodes)
    else:
      processors[level] = jax.device_put(jax.tree.map(lambda *a: np.stack(a),
                                                      *jax.device_get(nodes)))
  logits = {
      level: {name: jnp.zeros(size, jnp.float32) for name in PROCESSORS}
      for level, size in console.level_sizes().items()
  }
  return ConsoleParams(processors=processors, drywet_logits=logits)


@jax.jit
def _init_node(level_key, index):
  """``{processor: params}`` of node ``index`` of the level whose key is ``level_key``."""
  return {name: REGISTRY[name].init(jax.random.fold_in(k, index))
          for k, name in zip(jax.random.split(level_key, len(PROCESSORS)), PROCESSORS)}


@jax.jit
def render_details(console: Console, params: ConsoleParams, tracks, alive: Alive,
                   active=None, prepared=None) -> RenderDetails:
  """Pure render of ``console`` (no input checks). See ``Console.render``.

  ``active`` (``active_types`` of ``alive``, or of a whole batch of masks,
  unbatched, for a ``vmap``ped render) skips the types that are dead in every
  node (and batch entry), a ``lax.cond`` each; None runs every type on every
  node, the masks choosing (no conditional; ``SearchConfig.skip_dead_types``
  chooses the form in a search).
  ``prepared`` (``prepare(console, params, n)`` for the tracks' length ``n``)
  spares the work that depends on the parameters alone, when many signals
  are rendered with the same parameters.
  """
  sr = console.sample_rate
  on = {
      level: {name: jnp.logical_and(alive[level][name], exists) for name in PROCESSORS}
      for level, exists in console.level_exists().items()
  }
  active = active or {level: None for level in LEVELS}
  prepared = prepared or {level: None for level in LEVELS}
  track_out, track_pen = apply_chain(
      params.processors["track"], params.drywet_logits["track"], on["track"], tracks,
      sample_rate=sr, active=active["track"], prepared=prepared["track"])
  track_out = jnp.where(console.track_exists[:, None, None], track_out, 0.0)
  routing = jax.nn.one_hot(console.track_group, console.max_groups, dtype=tracks.dtype)
  group_in = jnp.einsum("tg,tcn->gcn", routing, track_out,
                        precision=jax.lax.Precision.HIGHEST)  # exact sums, also on TPU
  group_out, group_pen = apply_chain(
      params.processors["group"], params.drywet_logits["group"], on["group"], group_in,
      sample_rate=sr, active=active["group"], prepared=prepared["group"])
  group_out = jnp.where(console.group_exists[:, None, None], group_out, 0.0)
  penalties = {k: track_pen[k] + group_pen[k] for k in PENALTY_NAMES}
  return RenderDetails(
      mix=jnp.sum(group_out, axis=0), penalties=penalties,
      track_outputs=track_out, group_outputs=group_out)


def render(console: Console, params: ConsoleParams, tracks, alive: Alive, active=None,
           prepared=None):
  """Pure render returning ``(mix [2, n], penalties)``, for use inside ``jit``."""
  details = render_details(console, params, tracks, alive, active, prepared)
  return details.mix, details.penalties


def context_samples(sample_rate: int) -> tuple[int, int]:
  """``(before, after)``: the input samples before and after an output sample of
  the mix that it depends on: the sum of every processor's ``context_samples``
  over the track chain and the group chain (the mix and group sums are
  memoryless). At 30 kHz: 307 574 before (EQ 1023, the two smoothers 16383
  each, delay and reverb 59999 each, on both levels), 2046 after (the EQs)."""
  before = after = 0
  for name in PROCESSORS:
    b, a = REGISTRY[name].context_samples(sample_rate=sample_rate)
    before, after = before + len(LEVELS) * b, after + len(LEVELS) * a
  return before, after


def render_in_blocks(console: Console, params: ConsoleParams, tracks: np.ndarray, alive: Alive, *,
                     block_samples: int) -> np.ndarray:
  """The mix of ``tracks: [T, 2, n]`` (host array) rendered ``block_samples`` at a time.

  Block ``k`` keeps output samples ``[kB, kB + B)`` of a render of the input
  window ``[kB - before, kB + B + after)`` (zeros outside the song), which
  holds everything those samples depend on (``context_samples``). Every
  window has the same length, so one compiled render serves all blocks. A
  song no longer than one window is rendered whole (no more memory than a
  window, and no context rendered twice).
  """
  n = tracks.shape[-1]
  before, after = context_samples(console.sample_rate)
  active = active_types(alive)  # a one-off render: skip the dead types
  if n <= before + block_samples + after:  # no longer than one window: one render, less work
    return np.asarray(render_details(console, params, jnp.asarray(tracks), alive, active).mix)
  mix = np.empty((2, n), np.float32)
  for start in range(0, n, block_samples):
    lo, hi = start - before, start + block_samples + after
    window = np.pad(tracks[..., max(lo, 0):min(hi, n)],
                    [(0, 0), (0, 0), (max(-lo, 0), max(hi - n, 0))])
    block = render_details(console, params, jnp.asarray(window), alive, active).mix
    stop = min(start + block_samples, n)
    mix[:, start:stop] = np.asarray(block[:, before:before + stop - start])
  return mix


def count_alive(console: Console, alive: Alive) -> dict:
  """Number of alive processors per type, over both levels (host ints)."""
  exists = console.level_exists()
  return {
      name: int(sum(np.sum(np.asarray(alive[level][name]) & np.asarray(exists[level]))
                    for level in LEVELS))
      for name in PROCESSORS
  }
