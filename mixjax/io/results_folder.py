"""The results folder of a search: the graph, audio, pictures, losses and a report.

``write_results(result, song, out_dir)`` writes, each file atomically:

==================  =========================================================
``graph.json``      the pruned graph (``mixjax.io.graph_json``; re-render it with
                    ``mixjax render``)
``graph.png/.svg``  a drawing of the pruned graph
``processors.png``  each kept EQ's curve and compressor's/gate's static curve,
                    at its dry/wet
``estimate.wav``    the pruned graph's render of the whole song
``console.wav``     the full console's render (every processor, final params)
``spectrogram.png`` mid/side spectrograms of the mix, the estimate and their
                    difference
``losses.csv``      every logged optimisation step, then every pruning trial
``report.md``       song, settings, losses, pruning ratios, times, device
``mixjax-run.json`` which song the folder belongs to (so a later run for
                    another song does not mix its files in)
==================  =========================================================
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import io
import json
import os

import jax
import numpy as np

from mixjax import atomic_files
from mixjax._version import __version__
from mixjax.io import graph_json as graph_lib
from mixjax.io import plots
from mixjax import validation
from mixjax.processors import PROCESSORS, REGISTRY

RESULT_FILES = ("graph.json", "graph.png", "graph.svg", "processors.png", "estimate.wav",
                "console.wav", "spectrogram.png", "losses.csv", "report.md")
"""The files ``write_results`` writes (besides ``MARKER``)."""

MARKER = "mixjax-run.json"
"""The file naming the song whose results a folder holds."""

MARKER_FORMAT = "mixjax.run"
"""The ``format`` field of the marker."""

LOSS_COLUMNS = ("kind", "step", "phase", "round", "loss", "regularizer", "sparsity", "total",
                "l_min", "accepted", "candidates")
"""Columns of losses.csv; ``kind`` is ``step`` or ``trial``, other cells blank."""


# ---------------------------------------------------------------------------
# Which song a folder belongs to
# ---------------------------------------------------------------------------


def song_fingerprint(song) -> str:
  """A hash of a ``Song``: its track names, sample rate and mix samples."""
  digest = hashlib.sha256()
  digest.update(json.dumps([list(song.track_names), int(song.sample_rate)]).encode())
  digest.update(np.ascontiguousarray(song.mix, np.float32).tobytes())
  return "song:" + digest.hexdigest()[:32]


def files_fingerprint(mix_path: str, track_names) -> str:
  """A hash of a song folder: its mix file's bytes and its track names.

  Unlike ``song_fingerprint`` it does not depend on the search's sample rate,
  so re-running a song at another rate reuses its folder.
  """
  digest = hashlib.sha256()
  digest.update(json.dumps(list(track_names)).encode())
  with open(mix_path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return "files:" + digest.hexdigest()[:32]


def read_marker(out_dir: str) -> dict | None:
  """The marker of a results folder, or None when it has none (or an unreadable one)."""
  try:
    with open(os.path.join(out_dir, MARKER), encoding="utf-8") as f:
      marker = json.load(f)
  except (OSError, ValueError):
    return None
  return marker if isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT else None


def check_output_dir(out_dir: str, *, fingerprint: str, overwrite: bool = False) -> bool:
  """Checks that ``out_dir`` may receive this song's results.

  A missing or empty folder, or one holding this song's earlier results, is
  fine. A folder holding another song's results, or other files, is refused
  unless ``overwrite``.

  Returns:
    True when the folder holds another song's results (or foreign files) that
    ``overwrite`` allows replacing.

  Raises:
    ValueError: when the folder cannot be used.
  """
  if not os.path.exists(out_dir):
    return False
  if not os.path.isdir(out_dir):
    raise ValueError(f"{out_dir} is a file; --out must be a folder (new or empty).")
  entries = [e for e in os.listdir(out_dir) if not e.startswith(".")]
  if not entries:
    return False
  marker = read_marker(out_dir)
  if marker is not None and marker.get("fingerprint") == fingerprint:
    return False
  if overwrite:
    return True
  if marker is not None:
    raise ValueError(
        f"{out_dir} holds the results of another song ({marker.get('song', '?')}); choose "
        f"another --out folder, or pass --overwrite to replace them.")
  raise ValueError(
      f"{out_dir} is not empty and holds no mixjax results; choose a new or empty --out "
      f"folder, or pass --overwrite to write into it anyway.")


def write_marker(out_dir: str, *, fingerprint: str, song: str, track_names, status: str,
                 settings: dict | None = None) -> None:
  """Writes ``mixjax-run.json``: which song the folder belongs to, and how far the run got."""
  marker = {
      "format": MARKER_FORMAT,
      "version": 1,
      "song": song,
      "fingerprint": fingerprint,
      "track_names": list(track_names),
      "status": status,
      "updated": datetime.datetime.now().isoformat(timespec="seconds"),
      "mixjax": __version__,
  }
  if settings is not None:
    marker["settings"] = settings
  atomic_files.write_text(os.path.join(out_dir, MARKER), json.dumps(marker, indent=2) + "\n")


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
  module = REGISTRY[node["type"]]
  effective = graph_lib.node_effective(node, sample_rate)
  return f"{module.LABEL}: {module.describe(effective)} ({100 * effective['wet']:.0f} % wet)"


NONE_SETTINGS = {"trial_batch": "auto (1 on CPU, 4 on GPU and TPU)",
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


def _table(header, rows) -> list[str]:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return lines


def report_markdown(result, graph: dict, *, song_label: str, n_samples: int, device: str,
                    notes: str | None = None) -> str:
  """report.md text."""
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
            f"({accepted} accepted); device: {device}; mixjax {__version__}.", ""]
  lines += ["## Settings", "", f"seed {result.seed}", ""]
  lines += _table(["setting", "value"], [
      [f.name, setting_text(f.name, getattr(result.config, f.name))]
      for f in dataclasses.fields(result.config)])
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


# ---------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------


def default_device() -> str:
  """``"cpu (cpu)"``, ``"gpu (NVIDIA A100-SXM4-40GB) x 8"``, ...: what JAX runs on."""
  devices = jax.devices()
  name = f"{jax.default_backend()} ({devices[0].device_kind})"
  return name + (f" x {len(devices)}" if len(devices) > 1 else "")


def write_results(result, song, out_dir: str, *, device: str | None = None,
                  fingerprint: str | None = None, song_label: str | None = None,
                  notes: str | None = None, settings: dict | None = None) -> dict:
  """Writes the results folder of a search (module docstring), every file atomically.

  Args:
    result: a ``SearchResult``.
    song: the ``Song`` that was searched.
    out_dir: the folder (created if needed).
    device: what ran the search, for report.md (default: JAX's devices).
    fingerprint: identifies the song in ``mixjax-run.json`` (default:
      ``song_fingerprint(song)``).
    song_label: the song's name in report.md (default: its track count).
    notes: extra markdown appended to report.md.
    settings: extra entries for the marker (e.g. the command line's options).

  Returns:
    ``{file name: path}`` of everything written.

  Raises:
    ValueError: when ``song`` is not the song of ``result``.
  """
  if list(song.track_names) != list(result.track_names) or (
      song.sample_rate != result.sample_rate):
    raise ValueError(
        "write_results: the song is not the one searched (track names or sample rate "
        "differ); pass the Song given to search.")
  device = default_device() if device is None else device
  fingerprint = song_fingerprint(song) if fingerprint is None else fingerprint
  song_label = f"{song.n_tracks}-track song" if song_label is None else song_label
  os.makedirs(out_dir, exist_ok=True)
  paths = {name: os.path.join(out_dir, name) for name in (*RESULT_FILES, MARKER)}
  write_marker(out_dir, fingerprint=fingerprint, song=song_label,
               track_names=song.track_names, status="writing results", settings=settings)

  graph = graph_lib.save_graph(result, paths["graph.json"])
  plots.draw_graph(graph, paths["graph.png"], paths["graph.svg"])
  plots.plot_processors(graph, paths["processors.png"])
  estimate = result.render(song)
  atomic_files.write_wav(paths["estimate.wav"], estimate, song.sample_rate)
  full = result.console.render_song(result.params, song.padded_tracks(result.console.max_tracks))
  atomic_files.write_wav(paths["console.wav"], full, song.sample_rate)
  plots.plot_spectrograms(song.mix, estimate, song.sample_rate, paths["spectrogram.png"])
  atomic_files.write_text(paths["losses.csv"], losses_csv(result))
  atomic_files.write_text(paths["report.md"], report_markdown(
      result, graph, song_label=song_label, n_samples=song.n_samples, device=device,
      notes=notes))
  write_marker(out_dir, fingerprint=fingerprint, song=song_label,
               track_names=song.track_names, status="complete", settings=settings)
  return paths
