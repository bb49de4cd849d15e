"""The texts of a results folder: report.md, losses.csv, and the demo's truth table.

``report_markdown`` is the report a person reads (the song, the losses and
after which fitting each was measured, ρ, the graph in an engineer's words,
times, settings), with sections the CLI adds (``loading_notes_markdown``,
``ground_truth_text``); ``losses_csv`` is the table a program reads (every
logged optimisation step, then every pruning trial). All are pure: they return
text, and ``results_folder.write_results`` writes it.
"""

from __future__ import annotations

import csv
import dataclasses
import io

import numpy as np

from mixjax import validation
from mixjax._version import __version__
from mixjax.io import graph_json as graph_lib
from mixjax.processors import PROCESSORS, REGISTRY

LOSS_COLUMNS = ("kind", "step", "phase", "round", "loss", "regularizer", "sparsity", "total",
                "l_min", "accepted", "candidates")
"""Columns of losses.csv; ``kind`` is ``step`` or ``trial``, other cells blank."""


# ---------------------------------------------------------------------------
# losses.csv
# ---------------------------------------------------------------------------


def _node_label(node, result) -> str:
  names = result.track_names if node.level == "track" else result.group_names
  return graph_lib.node_id(node.level, names[node.index], node.processor)


def _number(x) -> str:
  """A float32 value in its shortest exact decimal form."""
  return str(np.float32(x))


def losses_csv(result) -> str:
  """losses.csv text: one row per logged step, then one per pruning trial."""
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=LOSS_COLUMNS, lineterminator="\n")
  writer.writeheader()
  history = {k: np.asarray(v) for k, v in result.history.items()}
  for i in range(len(history.get("step", ()))):
    row = {"kind": "step", "step": int(history["step"][i]), "phase": int(history["phase"][i])}
    for k in ("loss", "regularizer", "sparsity", "total"):
      row[k] = _number(history[k][i])
    writer.writerow(row)
  for trial in result.trials:
    writer.writerow({
        "kind": "trial", "round": int(trial.round), "loss": _number(trial.loss),
        "l_min": _number(trial.l_min), "accepted": int(bool(trial.accepted)),
        "candidates": " ".join(_node_label(n, result) for n in trial.candidates)})
  return buffer.getvalue()


# ---------------------------------------------------------------------------
# report.md
# ---------------------------------------------------------------------------


def describe_node(node: dict, sample_rate: int) -> str:
  """A graph.json processor node in an engineer's words: what it does at its dry/wet.

  ``"EQ: +3.1 dB at 5.4 kHz (Q 1.2), −2.0 dB at 3.3 kHz (54 % wet)"``; the
  numbers come from the node's ``effective`` entry (computed from ``raw`` for
  an older graph.json without it) and the processor's ``describe``.
  """
  processor = REGISTRY[node["type"]]
  effective = graph_lib.node_effective(node, sample_rate)
  return f"{processor.label}: {processor.describe(effective)} ({100 * effective['wet']:.0f} % wet)"


NONE_SETTINGS = {"trial_batch": "auto: 1 on CPU, 4 on GPU and TPU",
                 "max_tracks": "the song's", "max_groups": "the song's"}
"""What ``None`` means for the ``SearchConfig`` settings that may be None."""


def setting_text(name: str, value) -> str:
  """A ``SearchConfig`` setting as report.md shows it: ``hybrid``, ``eq, gain_pan``, ``0.01``."""
  if value is None:
    return NONE_SETTINGS.get(name, "none")
  if isinstance(value, bool):
    return "yes" if value else "no"
  if isinstance(value, (tuple, list)):
    return ", ".join(setting_text(name, v) for v in value)
  if isinstance(value, float):
    return f"{value:g}"
  return str(value)


def _resolved_setting_text(result, name: str) -> str:
  """``setting_text``, led by the value the search resolved for its backend where the
  setting is None: ``1 (auto: 1 on CPU, 4 on GPU and TPU)``."""
  value, text = getattr(result.config, name), setting_text(name, getattr(result.config, name))
  if value is None and name in result.resolved:
    return f"{setting_text(name, result.resolved[name])} ({text})"
  return text


def _loss_rows(result) -> list[list[str]]:
  """The rows of report.md's loss table: what renders the song, its loss, after which fitting."""
  c = result.config
  fit = f"the console fit ({c.console_steps} steps)"
  if c.rounds:
    pruned_after = (f"the console fit, then {c.rounds} pruning rounds with {c.finetune_steps} "
                    f"fine-tune steps each ({c.console_steps + c.rounds * c.finetune_steps} "
                    f"steps in all)")
  else:
    pruned_after = fit + " (no pruning round: the full console)"
  return [
      ["plain sum of the dry tracks", f"{result.loss_sum:.4f}", "no fitting"],
      ["full console (every processor)", f"{result.loss_console:.4f}", fit],
      ["pruned graph (estimate.wav)", f"{result.loss_pruned:.4f}", pruned_after],
  ]


def _loss_explanation(result) -> str:
  """What the console and pruned losses compare, in words, with the loss at each round's start."""
  if not result.config.rounds:
    return "No pruning round ran: the pruned graph is the full console."
  c = result.config
  starts = ", ".join(f"{loss:.4f}" for loss in result.round_losses)
  return (
      f"The two losses are not measured at the same point: the full console's right after "
      f"its fit, the pruned graph's after {c.rounds * c.finetune_steps} more steps of "
      f"fine-tuning. A pruning round removes a processor only if the loss without it stays "
      f"within τ = {c.tolerance:g} of the lowest loss so far, and the fine-tuning that follows "
      f"keeps lowering the loss, so the pruned graph can end below the full console although "
      f"it has fewer processors: a like-for-like full console would have had those steps too. "
      f"The whole-song loss of the graph at the start of each round (round 1: the full "
      f"console after its fit): {starts}.")


def loading_notes_markdown(notes: list[str]) -> str | None:
  """The notes printed while loading the song, as a report.md section (None when none)."""
  if not notes:
    return None
  return "\n".join(["## Notes from loading the song", "", *[f"- {n}" for n in notes]])


def ground_truth_text(song, truth_nodes, found_nodes, scores: dict) -> tuple[str, str]:
  """A synthetic song's true graph next to the found one: ``(printed text, report.md section)``.

  Args:
    song: the ``Song`` (for track and group names).
    truth_nodes, found_nodes: ``{(level, index, processor)}`` of the truth and
      of the search's result (``alive_nodes()``).
    scores: the recovery metric (``precision``, ``recall``, ``f1``).
  """
  rows = []
  for level, index, processor in sorted(truth_nodes | found_nodes):
    names = song.track_names if level == "track" else song.group_names
    node = (level, index, processor)
    rows.append((validation.owner_label(level, names[index]), processor,
                 "yes" if node in truth_nodes else "no", "yes" if node in found_nodes else "no"))
  recovery = (f"recovery: precision {scores['precision']:.2f}, recall {scores['recall']:.2f}, "
              f"F1 {scores['f1']:.2f}")
  printed = ["ground truth vs found:"]
  printed += [f"  {o:22s} {p:10s} truth {t:3s} found {f}" for o, p, t, f in rows]
  printed.append(recovery)
  notes = ["## Ground truth", "",
           "The song is synthetic: its true graph is known. Every processor in either:", "",
           "| node | processor | in the truth | found |", "|---|---|---|---|"]
  notes += [f"| {o} | {p} | {t} | {f} |" for o, p, t, f in rows]
  notes += ["", recovery + ".", "",
            "`target.wav` is the synthetic mix, `dry_sum.wav` the plain sum of the tracks."]
  return "\n".join(printed), "\n".join(notes)


def _table(header, rows) -> list[str]:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return lines


def report_markdown(result, graph: dict, *, song_label: str, n_samples: int,
                    notes: str | None = None) -> str:
  """report.md text (the device is the one the search ran on: ``result.device``)."""
  sr = result.sample_rate
  counts = result.processor_counts()
  groups = [g for g in graph["groups"] if any(t["group"] == g for t in graph["tracks"])]
  n_groups = len(groups)
  lines = [f"# mixjax search: {song_label}", ""]
  lines += _table(["song", ""], [
      ["tracks", f"{len(result.track_names)}: {', '.join(result.track_names)}"],
      ["subgroups", f"{n_groups}: {', '.join(groups)}"],
      ["length", f"{n_samples / sr:.1f} s at {sr} Hz"],
  ])
  lines += ["", "## Losses", "",
            "Whole-song multi-resolution loss (lower is closer to the mix):", ""]
  lines += _table(["what renders the song", "loss", "measured after"],
                  _loss_rows(result))
  lines += ["", _loss_explanation(result)]
  total_per_type = (len(result.track_names) + n_groups)
  types = [t for t in PROCESSORS if t in result.config.processors]  # the console's types
  lines += ["", "## Pruning", "",
            f"ρ = {result.pruning_ratio:.3f}: {sum(counts[t] for t in types)} of "
            f"{total_per_type * len(types)} processors kept"
            + ("." if len(types) == len(PROCESSORS) else
               f" (the console holds {', '.join(types)} only)."), ""]
  lines += _table(["type", "kept", "ρ"], [
      [t, f"{counts[t]} of {total_per_type}", f"{result.pruning_ratio_per_type[t]:.3f}"]
      for t in types])
  lines += ["", "## The graph", "", "![the pruned mixing graph](graph.png)", "",
            "Surviving processors in chain order, each by what it does at its dry/wet "
            "(levels in dB re the input; every setting is in `graph.json`):", ""]
  by_owner = {}
  for node in graph["nodes"]:
    if node["type"] in PROCESSORS:
      by_owner.setdefault((node["level"], node["owner"]), []).append(node)
  for level, owners in (("group", groups), ("track", [t["name"] for t in graph["tracks"]])):
    for owner in owners:
      chain = by_owner.get((level, owner), [])
      lines.append(f"- **{validation.owner_label(level, owner)}**: " + (
          "; ".join(describe_node(n, graph["sample_rate"]) for n in chain)
          or "dry (no processor)"))
  lines += ["", "![EQ curves and compressor/gate static curves at their dry/wet]"
            "(processors.png)", ""]
  lines += ["", "## Spectrograms", "", "![mid/side spectrograms](spectrogram.png)", ""]
  steps = len(np.asarray(result.history.get("step", ())))
  accepted = sum(bool(t.accepted) for t in result.trials)
  lines += ["## Time", ""]
  lines += _table(["phase", "seconds"], [[k.replace("_", " "), f"{v:.1f}"]
                                         for k, v in result.seconds.items()])
  lines += ["", "Wall time of the search; the total includes compiling and the final "
            "evaluation, not loading the song. "
            "A search resumed after an interruption counts the interrupted runs up to their "
            "last checkpoint (work after it was done again, and is counted once).", ""]
  lines += [f"{steps} optimisation steps, {len(result.trials)} pruning trials "
            f"({accepted} accepted); device: {result.device or 'unknown'}; mixjax {__version__}.", ""]
  lines += ["## Settings", "", f"seed {result.seed}", ""]
  lines += _table(["setting", "value"], [
      [f.name, _resolved_setting_text(result, f.name)] for f in dataclasses.fields(result.config)])
  lines += ["", "## Files", ""]
  lines += _table(["file", "what it holds"], [
      ["graph.json", "the pruned graph: processors, settings, exact parameters "
       "(`mixjax render graph.json SONG --out x.wav` re-renders it)"],
      ["graph.png, graph.svg", "the drawing above"],
      ["processors.png", "each kept EQ's curve and compressor's or gate's static curve"],
      ["estimate.wav", "the pruned graph's render of the whole song"],
      ["console.wav", "the full console's render (every processor, final parameters)"],
      ["spectrogram.png", "the spectrograms above"],
      ["losses.csv", "every optimisation step, then every pruning trial"],
  ])
  if notes:
    lines += ["", notes.rstrip()]
  return "\n".join(lines) + "\n"
