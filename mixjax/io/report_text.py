"""The texts of a results folder: report.md, losses.csv, and the demo's truth table.

``report_markdown`` is the report a person reads (the song, the losses and
after which fitting each was measured, ρ, the graph in an engineer's words,
the spectrograms' numbers, the WAVs' peaks, times, settings), with sections the
CLI adds (``loading_notes_markdown``, ``ground_truth_text``: a synthetic song's
true processors next to the found ones); ``losses_csv`` is the table a program
reads (every logged optimisation step, then every pruning trial). All are
pure: they return text, and ``results_folder.write_results`` writes it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math

import numpy as np

from mixjax import nodes as nodes_lib
from mixjax import validation
from mixjax._version import __version__
from mixjax.io import graph_json as graph_lib
from mixjax.nodes import Node
from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.processors import _effective
from mixjax.processors import base as processor_base
from mixjax.synthetic import truth as truth_lib

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


def effect_text(node_type: str, effective: dict) -> str:
  """``base.describe_at_wet`` of a node of type ``node_type``."""
  return processor_base.describe_at_wet(REGISTRY[node_type], effective)


def describe_node(node: dict, sample_rate: int) -> str:
  """A graph.json processor node in an engineer's words: what it does at its dry/wet.

  ``"EQ: +3.1 dB at 5.4 kHz (Q 1.2), −2.0 dB at 3.3 kHz (54 % wet)"``; the
  numbers come from the node's ``effective`` entry (computed from ``raw`` for
  an older graph.json without it) and the processor's ``describe``.
  """
  effective = graph_lib.node_effective(node, sample_rate)
  return f"{REGISTRY[node['type']].label}: {effect_text(node['type'], effective)}"


def peak_dbfs(audio) -> float:
  """``20 log10 max |x|``: a signal's peak in dB re full scale (floored at -120 dB)."""
  return 20 * math.log10(max(float(np.max(np.abs(audio))), 1e-6))


def _peak_text(peak: float) -> str:
  return f"peak {peak:+.1f} dBFS".replace("-", "\u2212")


NULL_NOTE = ("The search matches magnitude spectra, not waveforms: phase, polarity (a "
             "zero-phase EQ whose response changes sign) and the fine structure of delays and "
             "reverbs are left free, so the waveform difference is not expected to null.")
"""Why the estimate does not null against the mix (report.md's and the spectrogram's words)."""


NONE_SETTINGS = {"trial_batch": "auto: 1 on CPU, 4 on GPU and TPU",
                 "skip_dead_types": "auto: yes on CPU, no on GPU and TPU",
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
    unfitted = ("The console was not fitted (0 steps): every loss, file and picture here comes "
                "from its initial parameters, not from a search. "
                if not result.config.console_steps else "")
    return unfitted + "No pruning round ran: the pruned graph is the full console."
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


def found_effective(result) -> dict:
  """``{Node: effective dict}`` of a search's kept processors (as graph.json holds them)."""
  graph = graph_lib.graph_to_json(result)
  names = {"track": list(result.track_names), "group": list(result.group_names)}
  return {Node(n["level"], names[n["level"]].index(n["owner"]), n["type"]): n["effective"]
          for n in graph["nodes"] if n["type"] in PROCESSORS}


def ground_truth_text(song, truth, result) -> tuple[str, str]:
  """A synthetic song's true graph next to the found one: ``(printed text, report.md section)``.

  ``comparison_text`` of the truth's ``effective`` and the result's kept nodes.

  Args:
    song: the synthetic ``Song`` (names, the mix).
    truth: its ``GroundTruth``.
    result: the ``SearchResult`` of a search of ``song``.
  """
  return comparison_text(song, truth.effective(), found_effective(result))


def comparison_text(song, truth_effect: dict, found_effect: dict) -> tuple[str, str]:
  """Two graphs side by side: ``(printed text, report.md section)``.

  Every processor in the truth or in the found graph, on its track or group,
  with what it does at its dry/wet in the same words for both (the
  processor's ``describe``), the settings error of a true processor that was
  kept (its type's ``compare``, found − true), the recovery scores, and the
  peaks of the synthetic mix and of the plain sum.

  Args:
    song: the synthetic ``Song`` (names, the mix).
    truth_effect, found_effect: ``{Node: effective dict}`` of the true and the
      found processors (``GroundTruth.effective``, ``found_effective``).
  """
  errors = truth_lib.settings_errors(truth_effect, found_effect)
  scores = truth_lib.recovery_scores(set(truth_effect), set(found_effect))
  rows = []
  for node in sorted(set(truth_effect) | set(found_effect), key=nodes_lib.reading_order):
    processor = node[2]
    rows.append((
        nodes_lib.owner_label(node, song.track_names, song.group_names), REGISTRY[processor].label,
        effect_text(processor, truth_effect[node]) if node in truth_effect else "not in the truth",
        effect_text(processor, found_effect[node]) if node in found_effect else "not kept",
        _effective.error_words(errors[node]) if node in errors else "\u2013"))
  recovery = (f"recovery: precision {scores['precision']:.2f}, recall {scores['recall']:.2f}, "
              f"F1 {scores['f1']:.2f}")
  printed = ["ground truth vs found (what each processor does at its dry/wet; "
             "error: found \u2212 true):"]
  for owner, label, true_text, found_text, error in rows:
    printed += [f"  {owner}, {label}", f"    truth: {true_text}", f"    found: {found_text}"]
    printed += [f"    error: {error}"] if error != "\u2013" else []
  printed.append(recovery)
  notes = ["## Ground truth", "",
           "The song is synthetic: its true graph is known. Every processor in either, by what "
           "it does at its dry/wet (the same words for both), and the settings error of each "
           "true processor that was kept (found \u2212 true; a `×` factor is found / true):", ""]
  notes += markdown_table(["node", "processor", "truth", "found", "settings error"], rows)
  notes += ["", recovery + ".", "",
            f"`target.wav` is the synthetic mix ({_peak_text(peak_dbfs(song.mix))}), "
            f"`dry_sum.wav` the plain sum of the tracks "
            f"({_peak_text(peak_dbfs(song.dry_sum()))})."]
  return "\n".join(printed), "\n".join(notes)


MAX_GROUPS_LISTED, MAX_NAMES_PER_GROUP = 24, 8
"""How many subgroups, and tracks of each, report.md's song table names (then "+N more")."""


def _name_list(names, limit: int) -> str:
  """``"a, b, c"``, or the first ``limit`` names and ``"+N more"``."""
  shown = ", ".join(names[:limit])
  return shown if len(names) <= limit else f"{shown}, +{len(names) - limit} more"


def markdown_table(header, rows) -> list[str]:
  """The lines of a markdown table (report.md, stats.md)."""
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return lines


def spectrogram_markdown(spectrogram: dict | None) -> list[str]:
  """report.md's Spectrograms section: the picture, and what its difference panels say.

  Args:
    spectrogram: ``{"mean_abs_difference_db": {"mid", "side"}, "null_db": {"mid",
      "side"}}`` (``plots.SpectrogramPanels``'s numbers), or None (the picture only).
  """
  lines = ["## Spectrograms", "", "![mid/side spectrograms](spectrogram.png)", ""]
  if spectrogram is None:
    return lines

  def both(key, fmt):
    return ", ".join(f"{row} {format(spectrogram[key][row], fmt)} dB".replace("-", "\u2212")
                     for row in ("mid", "side"))

  return lines + [
      "The right-hand panels show what the search fits: the estimate's magnitude spectrogram "
      "minus the mix's, in dB (red: the estimate is louder, blue: quieter). Their mean absolute "
      f"difference, over the cells within the picture's colour range: "
      f"{both('mean_abs_difference_db', '.1f')}.", "",
      f"Waveform null (the energy of mix \u2212 estimate re the mix's): "
      f"{both('null_db', '+.1f')}. {NULL_NOTE}", ""]


def report_markdown(result, graph: dict, *, song_label: str, n_samples: int,
                    notes: str | None = None, spectrogram: dict | None = None,
                    peaks_dbfs: dict | None = None) -> str:
  """report.md text (the device is the one the search ran on: ``result.device``).

  Args:
    result: the ``SearchResult``; graph: its graph.json dict.
    song_label, n_samples: what the report names the song, and its length.
    notes: markdown appended at the end (the CLI's sections).
    spectrogram: the spectrogram's numbers (``spectrogram_markdown``), or None.
    peaks_dbfs: ``{file name: peak in dBFS}`` of the WAVs written, or None.
  """
  sr = result.sample_rate
  counts = result.processor_counts()
  members = {g: [t["name"] for t in graph["tracks"] if t["group"] == g] for g in graph["groups"]}
  groups = [g for g in graph["groups"] if members[g]]
  n_groups = len(groups)
  lines = [f"# mixjax search: {song_label}", ""]
  lines += markdown_table(["song", ""], [
      ["tracks", f"{len(result.track_names)}: {', '.join(result.track_names)}"],
      ["subgroups", f"{n_groups}: " + _name_list(
          [f"{g} ({_name_list(members[g], MAX_NAMES_PER_GROUP)})" for g in groups],
          MAX_GROUPS_LISTED)],
      ["length", f"{n_samples / sr:.1f} s at {sr} Hz"],
  ])
  lines += ["", "## Losses", "",
            "Whole-song multi-resolution loss (lower is closer to the mix):", ""]
  lines += markdown_table(["what renders the song", "loss", "measured after"],
                  _loss_rows(result))
  lines += ["", _loss_explanation(result)]
  total_per_type = (len(result.track_names) + n_groups)
  types = [t for t in PROCESSORS if t in result.config.processors]  # the console's types
  lines += ["", "## Pruning", "",
            f"ρ = {result.pruning_ratio:.3f}: {sum(counts[t] for t in types)} of "
            f"{total_per_type * len(types)} processors kept"
            + ("." if len(types) == len(PROCESSORS) else
               f" (the console holds {', '.join(types)} only)."), ""]
  lines += markdown_table(["type", "kept", "ρ"], [
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
  lines += [""] + spectrogram_markdown(spectrogram)
  steps = len(np.asarray(result.history.get("step", ())))
  accepted = sum(bool(t.accepted) for t in result.trials)
  lines += ["## Time", ""]
  lines += markdown_table(["phase", "seconds"], [[k.replace("_", " "), f"{v:.1f}"]
                                         for k, v in result.seconds.items()])
  lines += ["", "Wall time of the search; the total includes compiling and the final "
            "evaluation, not loading the song. "
            "A search resumed after an interruption counts the interrupted runs up to their "
            "last checkpoint (work after it was done again, and is counted once).", ""]
  lines += [f"{steps} optimisation steps, {len(result.trials)} pruning trials "
            f"({accepted} accepted); device: {result.device or 'unknown'}; "
            f"mixjax {__version__}.", ""]
  lines += ["## Settings", "", f"seed {result.seed}", ""]
  lines += markdown_table(["setting", "value"], [
      [f.name, _resolved_setting_text(result, f.name)] for f in dataclasses.fields(result.config)])
  lines += ["", "## Files", ""]
  peaks = {} if peaks_dbfs is None else {k: f" ({_peak_text(v)})" for k, v in peaks_dbfs.items()}
  lines += markdown_table(["file", "what it holds"], [
      ["graph.json", "the pruned graph: processors, settings, exact parameters "
       "(`mixjax render graph.json SONG --out x.wav` re-renders it)"],
      ["graph.png, graph.svg", "the drawing above"],
      ["processors.png", "each kept EQ's curve and compressor's or gate's static curve"],
      ["estimate.wav", "the pruned graph's render of the whole song"
       + peaks.get("estimate.wav", "")],
      ["console.wav", "the full console's render (every processor, final parameters)"
       + peaks.get("console.wav", "")],
      ["spectrogram.png", "the spectrograms above"],
      ["losses.csv", "every optimisation step, then every pruning trial"],
  ])
  if peaks_dbfs is not None:
    lines += ["", "The WAVs are 32-bit float: a peak above 0 dBFS is stored as it is (nothing "
              "is clipped or normalised), but a player may clip it; turn it down to listen."]
  if notes:
    lines += ["", notes.rstrip()]
  return "\n".join(lines) + "\n"
