"""Scoring a search against a song's truth: the numbers every benchmark reports of a search.

Pure functions of node sets ``{(level, index, processor)}`` and ``truth.json`` dicts
(``benchmarks/make_songs.py``'s format ``mixjax.truth``), plus the audible truth nodes of a
console target (the search's whole-song loss, ``graph_search.evaluate.song_loss``).
``quality.py``, ``search.py`` and ``vs_reference.py`` score their searches with these.
"""

from __future__ import annotations

import json
import os

import numpy as np

PEDALBOARD_TYPES = ("NoiseGate", "LowShelfFilter", "PeakFilter", "HighShelfFilter", "Compressor",
                    "Gain", "Pan", "StereoWidth", "Delay", "Reverb")
"""Pedalboard effect types in chain order (``truth.json`` ``effects[].type``)."""


def node_key(node: dict) -> tuple:
  """``(level, index, processor)`` of a truth entry (``nodes[]`` or ``effects[]``)."""
  return (node["level"], int(node["index"]), node.get("processor") or node["mixjax_type"])


def truth_nodes(truth: dict) -> set:
  """The true alive ``(level, index, processor)`` set of a ``truth.json``."""
  return {node_key(n) for n in truth["nodes"]}


def recovery(truth: set, found: set) -> dict:
  """Precision, recall, F1 (and tp, fp, fn) of ``found`` against ``truth``.

  ``mixjax.synthetic.recovery_scores``: P = tp / |found|, R = tp / |truth|;
  two empty sets score 1.
  """
  from mixjax.synthetic import recovery_scores
  return recovery_scores(truth, found)


def single_track_groups(truth: dict) -> dict:
  """``{subgroup index: its track's index}`` for the subgroups that hold one track."""
  members = {}
  for t, track in enumerate(truth["tracks"]):
    if track.get("group") in truth["groups"]:
      members.setdefault(truth["groups"].index(track["group"]), []).append(t)
  return {g: tracks[0] for g, tracks in members.items() if len(tracks) == 1}


def merge_series(nodes: set, single: dict) -> set:
  """``nodes`` with every one-track subgroup's processors counted on its track.

  A one-track subgroup's chain follows its track's chain with nothing in
  between (the mix node sums one signal), so the track's and the group's
  processor of a type act on one serial signal path, and a search cannot
  tell from the mix which of the two the engineer used. Counted this way, a
  type is found on a path when the truth has it anywhere on that path.

  Args:
    nodes: ``(level, index, processor)`` tuples.
    single: ``single_track_groups(truth)``.
  """
  return {("track", single[i], p) if level == "group" and i in single else (level, i, p)
          for level, i, p in nodes}


def merged_recovery(truth: dict, found: set) -> dict:
  """``recovery`` with every one-track subgroup counted on its track's path (``merge_series``)."""
  single = single_track_groups(truth)
  return recovery(merge_series(truth_nodes(truth), single), merge_series(found, single))


def audible_recall(audible: set, found: set) -> float:
  """Recall of the audible truth nodes: |audible ∩ found| / |audible| (1 if none is audible)."""
  return len(audible & found) / len(audible) if audible else 1.0


def pedalboard_scores(truth: dict, found: set) -> dict:
  """Whether the search kept, where pedalboard put an effect, a processor of its mixjax type.

  An effect (``truth["effects"][i]``: level, index, type, mixjax_type) is
  *found* when ``(level, index, mixjax_type)`` is in ``found``. Several
  effects can map to one node (two EQ filters, Gain and Pan); each counts.

  Args:
    truth: a pedalboard ``truth.json``.
    found: the search's alive ``(level, index, processor)`` set.

  Returns:
    ``per_type``: ``{pedalboard type: [found, total]}`` (types present only);
    ``effects_found``, ``effects``: over all effects; ``node_recall``,
    ``node_precision``: over distinct ``(node, mixjax type)``; ``extra``:
    kept nodes where pedalboard put nothing of that type, with
    ``extra_per_type`` by mixjax type.
  """
  per_type = {}
  for effect in truth["effects"]:
    hit = node_key(effect) in found
    counts = per_type.setdefault(effect["type"], [0, 0])
    counts[0] += int(hit)
    counts[1] += 1
  nodes = truth_nodes(truth) | {node_key(e) for e in truth["effects"]}
  scores = recovery(nodes, found)
  extra = sorted(found - nodes)
  extra_per_type = {}
  for _, _, processor in extra:
    extra_per_type[processor] = extra_per_type.get(processor, 0) + 1
  return {
      "per_type": {t: per_type[t] for t in sorted(per_type, key=_pedalboard_order)},
      "effects_found": sum(c[0] for c in per_type.values()),
      "effects": sum(c[1] for c in per_type.values()),
      "node_recall": scores["recall"], "node_precision": scores["precision"],
      "extra": len(extra), "extra_per_type": extra_per_type,
  }


def _pedalboard_order(name: str) -> int:
  return PEDALBOARD_TYPES.index(name) if name in PEDALBOARD_TYPES else len(PEDALBOARD_TYPES)


def pool_per_type(rows) -> dict:
  """Sums ``per_type`` ``[found, total]`` counts over songs."""
  pooled = {}
  for row in rows:
    for t, (hit, total) in row["per_type"].items():
      counts = pooled.setdefault(t, [0, 0])
      counts[0] += hit
      counts[1] += total
  return {t: pooled[t] for t in sorted(pooled, key=_pedalboard_order)}


def read_truth(song_dir: str) -> dict | None:
  """The song's ``truth.json`` (make_songs format ``mixjax.truth``), or None."""
  path = os.path.join(song_dir, "truth.json")
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    truth = json.load(f)
  if truth.get("format") != "mixjax.truth":
    return None
  return truth


def check_truth_matches(truth: dict, song) -> None:
  """Raises if the truth's track and group order is not the loaded song's."""
  names = [t["name"] for t in truth["tracks"]]
  if names != list(song.track_names) or list(truth["groups"]) != list(song.group_names):
    raise ValueError(
        f"truth.json lists tracks {names} and groups {truth['groups']}, but the song loads "
        f"as {list(song.track_names)} / {list(song.group_names)}; the indices would not match.")


def audible_nodes(song, truth_path: str, *, config, tolerance: float,
                  masks_per_call: int = 8) -> tuple[set, dict]:
  """Truth nodes whose removal raises the true render's whole-song loss by more than τ.

  The reference is the true graph rendered at the song's (search) rate; the
  true graph and every truth node removed alone are scored against it with
  the search's whole-song loss (``graph_search.evaluate.song_loss``: chunks of
  ``crop_seconds`` every ``eval_hop_seconds``, each rendered on its own), and
  a node is audible iff its removal's loss exceeds the true graph's by more
  than τ (the pruning rule, with the true graph as ``L_min``).

  Returns:
    ``(audible, losses)``: the audible set and the loss of every removal.
  """
  import jax

  from benchmarks.songs.targets import read_console_truth
  from mixjax import nodes as nodes_lib
  from mixjax.console import Console
  from mixjax.graph_search import evaluate

  params, alive = read_console_truth(truth_path)
  console = Console.of(song)
  sr = song.sample_rate
  starts = evaluate.chunk_starts(song.n_samples, sample_rate=sr, config=config)
  chunk_len = config.crop_samples(sr)
  one_song = lambda tree: jax.tree.map(lambda x: np.asarray(x)[None], tree)
  pad = lambda x: one_song(evaluate.pad_for_chunks(np.asarray(x), starts, chunk_len))
  tracks = song.padded_tracks()
  reference = console.render(params, tracks, alive)
  args = (one_song(params), one_song(console), pad(tracks), pad(reference))
  nodes = sorted(nodes_lib.alive_set(alive))
  masks = [alive] + [_without(alive, node) for node in nodes]
  losses = []
  for i in range(0, len(masks), masks_per_call):
    part = masks[i:i + masks_per_call]
    full = part + [part[-1]] * (masks_per_call - len(part))  # one compiled shape
    out = evaluate.song_loss(*args, one_song(nodes_lib.stack(full)),
                             np.asarray(starts, np.int32), np.array([len(starts)], np.int32),
                             chunk_len=chunk_len, omit_seconds=config.omit_seconds,
                             fft_sizes=tuple(config.fft_sizes),
                             skip_dead_types=config.skips_dead_types())
    losses.extend(float(v) for v in np.asarray(out)[0, :len(part)])
  base, removal = losses[0], dict(zip(nodes, losses[1:]))
  return {n for n, value in removal.items() if value - base > tolerance}, removal


def _without(alive: dict, node: tuple) -> dict:
  """A copy of the alive mask with ``(level, index, processor)`` removed."""
  level, index, processor = node
  mask = {lv: {p: np.array(a) for p, a in procs.items()} for lv, procs in alive.items()}
  mask[level][processor][index] = False
  return mask


def search_numbers(result) -> dict:
  """What every benchmark reports of one ``SearchResult``: losses, ρ, trials and seconds."""
  return {"loss_sum": result.loss_sum, "loss_console": result.loss_console,
          "loss_pruned": result.loss_pruned, "pruning_ratio": result.pruning_ratio,
          "pruning_ratio_per_type": result.pruning_ratio_per_type,
          "trials": len(result.trials), "seconds": result.seconds}


def truth_ratio(truth: dict, n_processors: int) -> float:
  """ρ of the true graph: 1 − distinct true ``(node, type)`` / processors in the console."""
  nodes = truth_nodes(truth) | {node_key(e) for e in truth.get("effects", [])}
  return 1 - len(nodes) / n_processors
