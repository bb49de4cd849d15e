"""``SearchResult``: what a search found, and ways to read it."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mixjax import console as console_lib
from mixjax import nodes as nodes_lib
from mixjax import validation
from mixjax.graph_search.config import SearchConfig
from mixjax.processors import PROCESSORS, REGISTRY


@dataclasses.dataclass
class SearchResult:
  """What a search found.

  Attributes:
    params: the fitted ``ConsoleParams``.
    alive: the pruned graph's alive pytree (numpy bool leaves).
    console: the (padded) console searched.
    loss_sum: whole-song loss of the plain sum of the dry tracks.
    loss_console: whole-song loss of the full console after the console fit.
    loss_pruned: whole-song loss of the pruned, fine-tuned graph.
    pruning_ratio: ρ, pruned processors / processors in the console.
    pruning_ratio_per_type: ρ per processor type.
    history: per optimisation step: ``step``, ``phase`` (0 console fit,
      r ≥ 1 the fine-tune after round r), ``loss``, ``regularizer``,
      ``sparsity``, ``total`` (numpy arrays).
    trials: every pruning trial (``prune.Trial``: round, candidates, loss,
      L_min, accepted).
    round_losses: whole-song loss of the graph at the start of each round.
    seconds: wall time per phase (``console_fit``, ``trials``, ``finetune``,
      ``total``: the whole search, loading the song excepted). After a resume
      each counts the interrupted runs too, up to their last checkpoint.
    compilations: programs compiled by this search per jitted function (at
      most 1 each; 0 when an earlier search compiled them). Songs searched
      side by side on several devices (``search_batch``) each report the
      whole batch's: at most one per device and bucket.
    track_names, group_names, track_groups: the song's, for reading.
    config, seed: what ran.
    method_log: what the search method did besides the trials (precise
      method: ``returned``, the processors that came back after a round, as
      ``(round, (level, index, type), loss before, loss after)``; ``moved``,
      the canonical moves ``(group, track, type)``); empty for the paper's.
    device: the device the song's search ran on (``"cpu:0"``, ``"gpu:1"``,
      ``"tpu:3"``: ``devices.device_name``).
    resolved: the settings resolved for the backend when the search
      started (``SearchConfig.resolved``: ``{"trial_batch": 1, "skip_dead_types": True}`` on a CPU).
  """
  params: Any
  alive: dict
  console: console_lib.Console
  loss_sum: float
  loss_console: float
  loss_pruned: float
  pruning_ratio: float
  pruning_ratio_per_type: dict
  history: dict
  trials: list
  round_losses: list
  seconds: dict
  compilations: dict
  track_names: list
  group_names: list
  track_groups: list
  config: SearchConfig
  seed: int
  method_log: dict = dataclasses.field(default_factory=dict)
  device: str = ""
  resolved: dict = dataclasses.field(default_factory=dict)

  @property
  def sample_rate(self) -> int:
    return self.console.sample_rate

  def alive_nodes(self) -> set:
    """The ``nodes.Node(level, index, processor)`` of every surviving processor."""
    return nodes_lib.alive_set(self.alive, self.console.level_exists())

  def render(self, song):
    """The pruned graph's ``[2, n]`` render of the whole song (``Console.render_song``)."""
    return self.console.render_song(self.params, song.padded_tracks(self.console.max_tracks),
                                    jax.tree.map(jnp.asarray, self.alive))

  def processor_counts(self) -> dict:
    """Alive processors per type in the pruned graph."""
    return console_lib.count_alive(self.console, self.alive)

  def graph(self) -> dict:
    """The surviving processors per track and group, in physical units.

    Returns:
      ``{"tracks": [...], "groups": [...]}``; each entry has ``name``,
      ``index`` (and ``group`` for tracks) and ``processors``: a list, in
      chain order, of ``{"type", "drywet", "controls"}`` with controls from
      each processor's ``controls`` (numpy values).
    """
    sr = self.sample_rate
    out = {"tracks": [], "groups": []}
    for level, names, key in (("track", self.track_names, "tracks"),
                              ("group", self.group_names, "groups")):
      for index, name in enumerate(names):
        chain = []
        for proc in PROCESSORS:
          if not bool(np.asarray(self.alive[level][proc])[index]):
            continue
          node_params = jax.tree.map(lambda p: p[index], self.params.processors[level][proc])
          controls = REGISTRY[proc].controls(node_params, sample_rate=sr)
          chain.append({
              "type": proc,
              "drywet": float(jax.nn.sigmoid(self.params.drywet_logits[level][proc][index])),
              "controls": jax.tree.map(np.asarray, controls),
          })
        entry = {"name": name, "index": index, "processors": chain}
        if level == "track":
          entry["group"] = self.group_names[self.track_groups[index]]
        out[key].append(entry)
    return out

  def summary(self) -> str:
    """A short human-readable report: the whole-song losses, ρ, times, and every chain
    with each processor's dry/wet (``eq (72 % wet) -> compressor (29 % wet)``)."""
    counts = self.processor_counts()
    lines = [
        f"whole-song loss  sum of dry tracks {self.loss_sum:.4f} | full console "
        f"{self.loss_console:.4f} | pruned graph {self.loss_pruned:.4f}",
        f"pruning ratio {self.pruning_ratio:.2f}  ("
        + ", ".join(f"{t} {r:.2f}" for t, r in self.pruning_ratio_per_type.items()) + ")",
        f"processors left {sum(counts.values())}  ("
        + ", ".join(f"{t} {n}" for t, n in counts.items()) + ")",
        "time  " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()),
    ]
    graph = self.graph()
    for level in ("groups", "tracks"):
      for entry in graph[level]:
        chain = " -> ".join(f"{p['type']} ({100 * p['drywet']:.0f} % wet)"
                            for p in entry["processors"])
        lines.append(f"  {validation.owner_label(level[:-1], entry['name'])}: "
                     f"{chain or '(dry)'}")
    return "\n".join(lines)
