"""A synthetic song: procedural dry tracks mixed by a sparse random graph.

``synthetic_song(key)`` makes the dry tracks of a short procedural song
(``music.synthetic_tracks``), groups them, draws a sparse random mixing
graph on the console (which processors are alive on which node, with which
settings), renders the mix with ``Console.render`` and returns both the
``Song`` and its ``GroundTruth``. Everything is deterministic from ``key``.

**The graph.** Each (node, processor) pair is alive with probability
``density`` (at least one per song). An alive processor gets physical
settings from its ``sample_settings`` (clearly audible ranges: see each
processor's) turned into raw parameters by its ``params_from_settings``,
and a dry/wet weight ``w ~ U[0.6, 0.95]`` (logit ``ln(w / (1 - w))``); dead
ones keep their initial-like parameters (N(0, 0.01²), as ``Console.init``
draws them) and logit 0. Compressor and gate thresholds are set from the
node's actual input (the track or group signal after the upstream alive
processors), measured with partial renders of the console.
``random_graph(key, tracks, track_groups, sample_rate=...)`` draws such a
graph for dry tracks of your own (the realistic benchmark songs use it).

The mix is exactly ``Console.render`` of the ground truth and is not
normalised: with boosts on both levels its peak can exceed 0 dBFS (write it
as float audio).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import jax
import numpy as np

from mixjax import units
from mixjax import validation
from mixjax.console import LEVELS, Console, ConsoleParams
from mixjax.data import Song
from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.processors._init import INIT_STD
from mixjax.synthetic.music import numpy_rng, synthetic_tracks
from mixjax.synthetic.truth import GroundTruth, NodeSettings


def _random_groups(rng, n_tracks: int, n_groups: int) -> tuple[int, ...]:
  """A random grouping in which every group has at least one track."""
  groups = np.empty(n_tracks, int)
  order = rng.permutation(n_tracks)
  groups[order[:n_groups]] = np.arange(n_groups)
  groups[order[n_groups:]] = rng.integers(0, n_groups, size=n_tracks - n_groups)
  return tuple(int(g) for g in groups)


def _node_inputs(console: Console, params: ConsoleParams, tracks, alive, level: str,
                 processor: str):
  """``[nodes, 2, n]`` input of ``processor`` on every node of ``level``.

  A render with that processor and everything after it (on that level and,
  for tracks, on the groups) bypassed.
  """
  position = PROCESSORS.index(processor)
  probe = {lv: dict(masks) for lv, masks in alive.items()}
  for lv in LEVELS[LEVELS.index(level):]:
    for name in PROCESSORS[position if lv == level else 0:]:
      probe[lv][name] = jax.device_put(np.zeros(np.shape(alive[lv][name]), bool))
  details = console.render_details(params, tracks, probe)
  return np.asarray(details.track_outputs if level == "track" else details.group_outputs)


def _init_like_params(rng, sizes: Mapping[str, int]) -> dict:
  """``{level: {name: {param: float64[nodes, ...]}}}`` drawn i.i.d. N(0, 0.01²).

  The same distribution as ``Console.init``, drawn with NumPy (no
  compilation), parameters in sorted name order.
  """
  return {
      level: {
          name: {param: rng.normal(0.0, INIT_STD, (size, *shape))
                 for param, shape in sorted(REGISTRY[name].param_shapes.items())}
          for name in PROCESSORS
      }
      for level, size in sizes.items()
  }


def _console_params(processors_np: dict, logits_np: dict) -> ConsoleParams:
  # Cast on the host and device_put: jnp.asarray would compile a small program per shape.
  to_f32 = lambda leaf: jax.device_put(np.asarray(leaf, np.float32))
  return ConsoleParams(processors=jax.tree.map(to_f32, processors_np),
                       drywet_logits=jax.tree.map(to_f32, logits_np))



def synthetic_song(key, *, n_tracks: int = 4, n_groups: int = 2, seconds: float = 4.0,
                   sample_rate: int = 30000, density: float = 0.35) -> tuple[Song, GroundTruth]:
  """A procedural song mixed by a sparse random graph, and that graph.

  Args:
    key: a ``jax.random`` key; the same key gives the same song and graph.
    n_tracks: number of dry tracks (>= 1).
    n_groups: number of subgroups, ``1 <= n_groups <= n_tracks``; every
      group gets at least one track.
    seconds: duration.
    sample_rate: Hz (>= 8000).
    density: probability that each (node, processor) is alive, in ``[0, 1]``;
      at least one processor is alive in every song.

  Returns:
    ``(song, truth)``: the ``Song`` whose mix is
    ``Console.of(song).render(truth.params, song.tracks, truth.alive)``, and
    the ``GroundTruth``.

  Raises:
    ValueError: for ``n_groups`` outside ``[1, n_tracks]`` or ``density``
      outside ``[0, 1]`` (and the ``Song`` checks).
  """
  if n_tracks < 1 or not 1 <= n_groups <= n_tracks:
    raise ValueError(f"synthetic_song: need 1 <= n_groups <= n_tracks (every group gets a track), "
                     f"got n_tracks={n_tracks}, n_groups={n_groups}.")
  if not 0.0 <= density <= 1.0:
    raise ValueError(f"synthetic_song: density is a probability in [0, 1], got {density}.")
  sample_rate = validation.check_sample_rate(sample_rate, where="synthetic_song")
  tracks, names = synthetic_tracks(key, n_tracks=n_tracks, seconds=seconds,
                                   sample_rate=sample_rate)
  rng = numpy_rng(key, stream=1)
  dry = Song(tracks=tracks, mix=np.sum(tracks, axis=0),
             track_groups=_random_groups(rng, n_tracks, n_groups),
             sample_rate=sample_rate, track_names=names)
  console = Console.of(dry)
  truth = _draw_graph(rng, numpy_rng(key, stream=2), console, dry.tracks, density=density)
  mix = np.asarray(console.render(truth.params, dry.padded_tracks(), truth.alive))
  return dataclasses.replace(dry, mix=mix), truth


def random_graph(key, tracks, track_groups: Sequence[int | None], *, sample_rate: int,
                 density: float = 0.35) -> GroundTruth:
  """A sparse random mixing graph for given dry tracks (``synthetic_song``'s graph).

  The graph is drawn exactly as ``synthetic_song`` draws it (see the module
  docstring), on the console of ``track_groups``; compressor and gate
  thresholds are set from the given tracks. Render the mix with
  ``Console.build(track_groups, sample_rate=sample_rate).render(truth.params,
  tracks, truth.alive)``.

  Args:
    key: a ``jax.random`` key; the same key and tracks give the same graph.
    tracks: ``[T, 2, n]`` dry stereo tracks.
    track_groups: the subgroup of every track, as ``Console.build`` takes it.
    sample_rate: Hz (>= 8000).
    density: probability that each (node, processor) is alive, in ``[0, 1]``;
      at least one processor is alive.

  Returns:
    The ``GroundTruth``: parameters, alive masks and physical settings.

  Raises:
    ValueError: for tracks of the wrong shape or with NaN/Inf samples, a
      grouping of another length, ``density`` outside ``[0, 1]``, or the
      ``Console.build`` checks.
  """
  if not 0.0 <= density <= 1.0:
    raise ValueError(f"random_graph: density is a probability in [0, 1], got {density}.")
  tracks = np.asarray(tracks, np.float32)
  validation.check_stereo(tracks, what="random_graph: tracks", leading=(len(track_groups),))
  console = Console.build(track_groups, sample_rate=sample_rate)
  return _draw_graph(numpy_rng(key, stream=1), numpy_rng(key, stream=2), console, tracks,
                     density=density)


def _draw_graph(rng, params_rng, console: Console, tracks, *, density: float) -> GroundTruth:
  """The graph of ``random_graph``, drawn with ``rng`` (masks, settings) and ``params_rng``."""
  sample_rate = console.sample_rate
  sizes = console.level_sizes()

  alive_np = {lv: {name: rng.random(size) < density for name in PROCESSORS}
              for lv, size in sizes.items()}
  if not any(mask.any() for masks in alive_np.values() for mask in masks.values()):
    level = LEVELS[rng.integers(len(LEVELS))]
    alive_np[level][PROCESSORS[rng.integers(len(PROCESSORS))]][rng.integers(sizes[level])] = True
  alive = jax.device_put(alive_np)

  processors_np = _init_like_params(params_rng, sizes)
  logits_np = {lv: {name: np.zeros(size) for name in PROCESSORS} for lv, size in sizes.items()}
  settings = []
  for level in LEVELS:
    for name in PROCESSORS:
      nodes = np.flatnonzero(alive_np[level][name])
      if nodes.size == 0:
        continue
      processor = REGISTRY[name]
      if processor.sample_needs_input:  # set from the node's actual input
        inputs = _node_inputs(console, _console_params(processors_np, logits_np), tracks,
                              alive, level, name)
      for index in nodes:
        physical = processor.sample_settings(
            rng, inputs[index] if processor.sample_needs_input else None,
            sample_rate=sample_rate)
        node = processors_np[level][name]
        raw = processor.params_from_settings(
            physical, sample_rate=sample_rate,
            init_params={param: leaf[index] for param, leaf in node.items()})
        for param, leaf in node.items():
          leaf[index] = raw[param]
        drywet = float(rng.uniform(0.6, 0.95))
        logits_np[level][name][index] = units.logit(drywet)
        settings.append(NodeSettings(level=level, index=int(index), processor=name,
                                     settings=physical, drywet=drywet))

  params = _console_params(processors_np, logits_np)
  return GroundTruth(params=params, alive=alive, settings=tuple(settings),
                     sample_rate=sample_rate)
