"""The ground truth of a synthetic song, and how well a search recovered it.

``GroundTruth`` is the mixing graph that rendered a synthetic song's mix
(``synthetic_song``, ``random_graph``), with what each of its processors
does at its dry/wet (``GroundTruth.effective``); ``recovery_scores`` compares
the nodes a search kept with its alive nodes (precision, recall, F1), and
``settings_errors`` the kept true nodes' actions with the true ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import numpy as np

from mixjax import nodes
from mixjax.console import ConsoleParams
from mixjax.processors import REGISTRY
from mixjax.processors import base as processor_base


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
    sample_rate: Hz, the rate the parameters act at.
  """
  params: ConsoleParams
  alive: dict
  settings: tuple[NodeSettings, ...]
  sample_rate: int

  def alive_nodes(self) -> set[nodes.Node]:
    """The ``nodes.Node(level, index, processor)`` of every alive processor."""
    return nodes.alive_set(self.alive)

  def effective(self) -> dict[nodes.Node, dict]:
    """What every alive processor does at its dry/wet: ``{Node: effective dict}``.

    The processor's own ``effective`` (the numbers graph.json stores for a
    found node, and ``describe`` puts in words), so the truth and a search's
    result can be read side by side.
    """
    out = {}
    for s in self.settings:
      params = jax.tree.map(lambda leaf: np.asarray(leaf[s.index]),
                            self.params.processors[s.level][s.processor])
      out[nodes.Node(*s.node)] = REGISTRY[s.processor].effective(
          params, s.drywet, sample_rate=self.sample_rate)
    return out

  def describe(self, song) -> str:
    """The true graph in words, one processor a line, by the song's track and group
    names (``nodes.reading_order``):
    ``"  track bass: compressor: settings threshold … (80 % wet)"``."""
    effective = self.effective()
    return "\n".join(
        f"  {nodes.owner_label(node, song.track_names, song.group_names)}: "
        f"{REGISTRY[node.processor].label}: "
        f"{processor_base.describe_at_wet(REGISTRY[node.processor], effective[node])}"
        for node in sorted(effective, key=nodes.reading_order))


def settings_errors(truth_effective: Mapping, found_effective: Mapping) -> dict:
  """How far each found true node's action is from the truth's, by its type's ``compare``.

  Args:
    truth_effective: ``{Node: effective dict}`` of the truth (``GroundTruth.effective``).
    found_effective: the same of a search's kept nodes (graph.json's ``effective``).

  Returns:
    ``{Node: errors}`` for the nodes in both (found − true, keys named with their
    units; ``_effective.error_words`` reads them).
  """
  return {node: REGISTRY[node[2]].compare(truth_effective[node], found_effective[node])
          for node in truth_effective if node in found_effective}


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
