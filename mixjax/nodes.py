"""The node vocabulary: which processor nodes of a console are alive, in its four forms.

A *node* is one processor on one track or subgroup: ``Node(level, index,
processor)``, e.g. ``Node("track", 2, "eq")``. Which nodes are alive is
written in one of four forms, each for one job:

* the **alive pytree** ``{level: {processor: bool[slots]}}`` (``Alive``): what
  ``Console.render`` takes, one flag per padded slot (padding is False);
  several of them stacked on a leading axis (``stack``) render as a batch;
* **alive rows** ``{level: bool[slots, P]}``, the same flags with the
  processors as a last axis in ``PROCESSORS`` order (``alive_rows``,
  ``level_alive``): what the incremental trials gather and scatter;
* **flat flags** ``bool[n_nodes]`` over the existing nodes of one console, in
  ``NodeTable`` order (level, then processor, then slot): what the pruning
  loop, its samplers (sets of flat indices) and checkpoints keep;
* a **set of nodes** ``{Node, ...}`` (``alive_set``): what people and the
  recovery metric compare (``SearchResult.alive_nodes``,
  ``GroundTruth.alive_nodes``).

graph.json names a node by ``graph_json.node_id`` (``"track:<name>:eq"``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import numpy as np

from mixjax import validation
from mixjax.console import LEVELS, Console
from mixjax.processors import PROCESSORS


class Node(NamedTuple):
  """One processor node of the console."""
  level: str  # "track" or "group"
  index: int  # track or group slot
  processor: str  # a name from PROCESSORS


def reading_order(node) -> tuple:
  """Sort key of nodes as people read them (report.md): groups first, then tracks, each
  owner's processors in chain order."""
  level, index, processor = node
  return (level != "group", index, PROCESSORS.index(processor))


def owner_label(node, track_names, group_names) -> str:
  """The track or group a node sits on, named as in text: ``"track kick"``, ``"group 1"``."""
  level, index, _ = node
  return validation.owner_label(level, (track_names if level == "track" else group_names)[index])


def alive_set(alive, exists: dict | None = None) -> set[Node]:
  """The ``Node`` of every alive flag of an alive pytree (of existing slots, given ``exists``).

  Args:
    alive: ``{level: {processor: bool[slots]}}``.
    exists: ``{level: bool[slots]}`` (``Console.level_exists``); default:
      every slot counts.
  """
  def on(level, name):
    flags = np.asarray(alive[level][name], bool)
    return flags & np.asarray(exists[level], bool) if exists is not None else flags
  return {Node(level, int(i), name)
          for level in LEVELS for name in PROCESSORS for i in np.flatnonzero(on(level, name))}


def alive_rows(alive) -> dict:
  """``{level: bool[slots, P]}`` from an alive pytree (NumPy leaves)."""
  return {level: np.stack([np.asarray(alive[level][name], bool) for name in PROCESSORS], -1)
          for level in LEVELS}


def level_alive(rows):
  """``{processor: bool[...]}``, one level's alive pytree, from ``bool[..., P]`` rows."""
  return {name: rows[..., i] for i, name in enumerate(PROCESSORS)}


def stack(masks: list) -> dict:
  """Alive pytrees (NumPy leaves) stacked along a new leading axis, on the host."""
  return jax.tree.map(lambda *leaves: np.stack(leaves), *masks)


@dataclasses.dataclass(frozen=True)
class NodeTable:
  """Numbers the processor nodes of the existing tracks and groups of one console.

  Alive pytrees (or any ``{level: {processor: [slots]}}`` tree) <-> flat
  vectors over ``nodes``, one NumPy gather or scatter per (level, processor).
  """
  nodes: tuple[Node, ...]
  sizes: dict

  @classmethod
  def of(cls, console: Console) -> "NodeTable":
    exists = {level: np.asarray(e) for level, e in console.level_exists().items()}
    nodes = tuple(
        Node(level, int(i), name)
        for level in LEVELS for name in PROCESSORS for i in np.flatnonzero(exists[level]))
    return cls(nodes=nodes, sizes=console.level_sizes())

  @functools.cached_property
  def _positions(self) -> dict:
    """``{(level, processor): (flat positions, slot indices)}``, both int arrays."""
    groups: dict = {}
    for position, node in enumerate(self.nodes):
      groups.setdefault((node.level, node.processor), []).append((position, node.index))
    return {key: tuple(np.array(column, int) for column in zip(*pairs))
            for key, pairs in groups.items()}

  def values(self, tree) -> np.ndarray:
    """``[n_nodes]``: each node's entry of a ``{level: {processor: [slots]}}`` tree (host)."""
    out = np.zeros(len(self.nodes), np.result_type(*[np.asarray(v).dtype for d in tree.values()
                                                     for v in d.values()]))
    for (level, name), (positions, slots) in self._positions.items():
      out[positions] = np.asarray(tree[level][name])[slots]
    return out

  def from_alive(self, alive) -> np.ndarray:
    """``bool[n_nodes]`` from an alive pytree."""
    return self.values(alive).astype(bool)

  def to_alive(self, flags: np.ndarray) -> dict:
    """An alive pytree (NumPy bool leaves) from ``bool[n_nodes]``; padding is False."""
    alive = {level: {name: np.zeros(size, bool) for name in PROCESSORS}
             for level, size in self.sizes.items()}
    flags = np.asarray(flags, bool)
    for (level, name), (positions, slots) in self._positions.items():
      alive[level][name][slots] = flags[positions]
    return alive

  def position(self, level: str, index: int, processor: str) -> int:
    """The flat position of ``Node(level, index, processor)``."""
    positions, slots = self._positions[(level, processor)]
    return int(positions[np.flatnonzero(slots == index)[0]])

  def of_types(self, processors) -> np.ndarray:
    """``bool[n_nodes]``: the nodes of any of the given processor types."""
    return np.array([n.processor in processors for n in self.nodes], bool)

  def of_type(self, processor: str) -> np.ndarray:
    """``bool[n_nodes]``: the nodes of one processor type."""
    return self.of_types((processor,))
