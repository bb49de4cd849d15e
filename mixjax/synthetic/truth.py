r"""The ground truth of a synthetic song, and how well a search recovered it.

``GroundTruth`` is the mixing graph that rendered a synthetic song's mix
(``synthetic_song``, ``random_graph``); ``recovery_scores`` compares the
nodes a search kept with its alive nodes (precision, recall, F1).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from mixjax import nodes
from mixjax.console import ConsoleParams


@dataclasses.dataclass(frozen=True)
class NodeSettings:
  """The settings of one alive processor of the ground-truth graph.

  Attributes:
    level: ``"track"`` or ``"group"``.
    index: the track or group index.
    processor: a name in ``PROCESSORS``.
    settings: the physical settings (see the module docstring; keys as
      the processor's ``controls`` names them where they coincide).
    drywet: the wet weight ``w`` in ``[0, 1]``.
  """
  level: str
  index: int
  processor: str
  settings: Mapping[str, Any]
  drywet: float

  @property
  def node(self) -> tuple[str, int, str]:
    """``(level, index, processor)``."""
    return (self.level, self.index, self.processor)


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
  """The mixing graph that rendered a synthetic song's mix.

  Attributes:
    params: the console parameters of every node (alive or not).
    alive: ``{"track": {name: bool[T]}, "group": {name: bool[G]}}``.
    settings: one ``NodeSettings`` per alive processor, in console order
      (level, processor, index).
  """
  params: ConsoleParams
  alive: dict
  settings: tuple[NodeSettings, ...]

  def alive_nodes(self) -> set[nodes.Node]:
    """The ``nodes.Node(level, index, processor)`` of every alive processor."""
    return nodes.alive_set(self.alive)


def recovery_scores(truth_nodes: set, found_nodes: set) -> dict:
  r"""Precision, recall and F1 of a found set of nodes against the true set.

  With ``tp = |truth ∩ found|``, ``fp = |found - truth|``, ``fn = |truth - found|``:

  .. math::
    P = \frac{tp}{tp + fp}, \quad R = \frac{tp}{tp + fn}, \quad
    F_1 = \frac{2PR}{P + R}.

  A ratio with a zero denominator is 0, except that two empty sets match
  perfectly (all scores 1).

  Args:
    truth_nodes: e.g. ``GroundTruth.alive_nodes()``.
    found_nodes: nodes of the same form kept by a search.

  Returns:
    ``{"precision", "recall", "f1"}`` floats and ``{"tp", "fp", "fn"}`` ints.
  """
  truth_nodes, found_nodes = set(truth_nodes), set(found_nodes)
  tp = len(truth_nodes & found_nodes)
  fp = len(found_nodes - truth_nodes)
  fn = len(truth_nodes - found_nodes)
  if not truth_nodes and not found_nodes:
    return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 0, "fp": 0, "fn": 0}
  precision = tp / (tp + fp) if tp + fp else 0.0
  recall = tp / (tp + fn) if tp + fn else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}
