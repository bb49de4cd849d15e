"""How good is the search? Losses, ρ and ground-truth recovery on a folder of songs.

For every song of the data-set folders given (plain or MedleyDB song folders,
``benchmarks/README.md`` "Realistic songs"), runs the search and reports the
sum-of-dry-tracks loss, the console loss, the pruned loss, ρ overall and per
type, and the seconds per song. Where a song folder holds a ``truth.json``
(``benchmarks/make_songs.py``) it also scores the pruned graph against it:

* **console** target (mixjax's own console, the answer is known): precision
  and recall of the surviving ``(level, index, processor)`` against the true
  alive set, and recall of the *audible* truth nodes only (those whose
  removal from the true graph raises the whole-song loss of the true render,
  at the search rate, by more than τ);
* **pedalboard** target (JUCE plug-ins): for every effect pedalboard put on a
  track or subgroup, whether the search kept a processor of the matching
  mixjax type (``mixjax_type``) on that node (recall per effect type), and
  the processors it kept where pedalboard put nothing of that type (extra).

Without a ``truth.json`` (a real MedleyDB folder) only losses and ρ are
reported. ``--ablation`` reproduces the paper's Table 1: the console loss
(no pruning) as processor types are added one at a time in the paper's order
g (gain_pan), s (imager), e (eq), r (reverb), c (compressor), n (noisegate),
d (delay), plus the sum baseline, on the songs without a console truth (real
mixes: the pedalboard target, or a user's data set; on every song when all
have a console truth); it plots the mean against the paper's values.

Prints a table and a final JSON line; writes ``quality.md``, ``results.json``
and ``ablation.png`` to ``--out`` (and the plot to ``docs/ablation.png``).

Usage:
  python benchmarks/quality.py [SONGS_DIR ...] [--preset reduced|paper]
      [--sample-rate HZ] [--ablation] [--out DIR] [--max-songs N]
      [--steps N] [--finetune-steps N] [--rounds N] [--ablation-steps N]
      [--mode loop|batch] [--ablation-mode loop|batch] [--no-audible] [--seed S]
      [--methods paper,precise]

  # what benchmarks/RESULTS.md "Quality" ran (about an hour on a shared 2-core CPU):
  nice python benchmarks/quality.py --ablation --max-songs 2 --out /tmp/quality

Presets (the loss, crop, warm-up, τ, sampler and learning rate are always the
paper's; only the amount of optimisation and the rate change):

* ``reduced`` (default): 16 kHz, 200 console steps, 2 hybrid pruning rounds
  of 50 fine-tune steps (optimiser reset and sparsity ramp every 100 steps),
  ablation consoles of 200 steps. The full default set (6 songs × 2 targets
  + ablation) takes 2–3 hours on a shared 2-core CPU; ``--max-songs 2``
  (000_funk, 12 tracks, and 001_ballad, 4 tracks) about one. RESULTS.md
  gives the measured seconds per step and per pruning round of every song,
  to scale up from.
* ``paper``: ``SearchConfig()`` at 30 kHz (6000 console steps, 12 rounds of
  500), ablation consoles of 12000 steps as in the paper (use a GPU).

``--methods paper,precise`` runs every song with each search method
(``SearchConfig.method``) on the same seed and step budget, one after the
other, and adds a side-by-side table (``quality.md`` "Methods side by side").

Searches with pruning run one song at a time (``--mode loop``): on a 2-core
CPU that was faster than ``search_batch`` (whose songs prune in lockstep, so
a song with few trials waits for one with many); console-only fits (the
ablation) run batched (``--ablation-mode batch``), which was faster. Each
song shape (tracks, groups, samples) compiles the two search programs once;
the second target reuses them.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import sys
import time
import warnings

import numpy as np

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import scoring, timing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SONG_TARGETS = ("console", "pedalboard")
"""The default data sets: these folders of ``$MIXJAX_SONGS_DIR`` (``make_songs.py --out``)."""

ABLATION_ORDER = ("gain_pan", "imager", "eq", "reverb", "compressor", "noisegate", "delay")
"""The paper's Table 1 order: g, s, e, r, c, n, d."""

LETTERS = {"gain_pan": "g", "imager": "s", "eq": "e", "reverb": "r", "compressor": "c",
           "noisegate": "n", "delay": "d"}
"""One letter per processor type, as the paper's tables name them."""

PAPER_TABLE1 = (19.7, .689, .676, .557, .481, .423, .414, .409)
"""Paper Table 1, L_a: the sum of dry tracks, then +g, +s, +e, +r, +c, +n, +d (REFERENCE §10)."""

PAPER_HYBRID = {"loss": .422, "rho": .67,
                "rho_per_type": {"gain_pan": .51, "imager": .86, "eq": .46, "reverb": .71,
                                 "compressor": .71, "noisegate": .79, "delay": .63}}
"""Paper Table 2, hybrid sampler at τ = 0.01: pruned L_a, ρ, ρ per type."""

PAPER_CONSOLE_LOSS = .409
RECOVERY_TARGET = 0.9


PRESETS = {
    "reduced": {
        "sample_rate": 16000, "ablation_steps": 200,
        "config": {"console_steps": 200, "finetune_steps": 50, "rounds": 2, "reset_every": 100,
                   "sparsity_ramp_steps": 100, "steps_per_dispatch": 50}},
    "paper": {"sample_rate": 30000, "ablation_steps": 12000, "config": {}},
}


# ---------------------------------------------------------------------------
# Scoring (pure functions of node sets; tests/test_quality.py)
# ---------------------------------------------------------------------------


def ablation_consoles(order=ABLATION_ORDER) -> list[tuple[str, ...]]:
  """The Table 1 consoles: the first 1, 2, ..., 7 processor types of ``order``."""
  return [tuple(order[:k]) for k in range(1, len(order) + 1)]


def ablation_label(types) -> str:
  """``"+g"``, ``"+s"``, ...: the type a Table 1 row adds (its last)."""
  return "+" + LETTERS[types[-1]]


def is_decreasing(values, *, slack: float = 0.0) -> bool:
  """True when every value is at most the previous one plus ``slack``."""
  return all(b <= a + slack for a, b in itertools.pairwise(values))


# ---------------------------------------------------------------------------
# Songs
# ---------------------------------------------------------------------------


def _natural_key(name: str):
  return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_songs(folder: str) -> tuple[list[str], list[str]]:
  """The song folders of a data-set folder (or the folder itself if it is a song).

  Returns:
    ``(songs, skipped)``: song paths in natural order, and one line per
    sub-folder that is not a readable song (with the reason).
  """
  from mixjax.io.song_folder import find_song_files
  try:
    find_song_files(folder)
    return [folder], []
  except ValueError:
    pass
  if not os.path.isdir(folder):
    raise SystemExit(f"quality.py: {folder} is not a folder; give data-set folders of songs.")
  songs, skipped = [], []
  for name in sorted(os.listdir(folder), key=_natural_key):
    path = os.path.join(folder, name)
    if name.startswith(".") or not os.path.isdir(path):
      continue
    try:
      find_song_files(path)
      songs.append(path)
    except ValueError as error:
      skipped.append(f"{path}: {error}")
  return songs, skipped


def song_entries(folders, *, max_songs: int | None = None) -> list[dict]:
  """``{"dataset", "name", "path"}`` of the first ``max_songs`` songs of each folder.

  A data-set folder names its songs' data set; a song folder given alone
  belongs to its parent's (``OUT/pedalboard/000_funk`` -> ``pedalboard``).
  """
  entries = []
  for folder in folders:
    songs, skipped = find_songs(folder)
    for line in skipped:
      print(f"skipped (not a song): {line}", file=sys.stderr)
    folder = os.path.normpath(folder)
    songs = [os.path.normpath(path) for path in songs]
    dataset = os.path.basename(os.path.dirname(folder) if songs == [folder] else folder)
    for path in songs[:max_songs]:
      entries.append({"dataset": dataset, "name": os.path.basename(path), "path": path})
  return entries


# ---------------------------------------------------------------------------
# Audible truth nodes (console target)
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def make_config(args):
  import mixjax
  preset = PRESETS[args.preset]
  settings = dict(preset["config"])
  for name, value in (("console_steps", args.steps), ("finetune_steps", args.finetune_steps),
                      ("rounds", args.rounds)):
    if value is not None:
      settings[name] = value
  return mixjax.SearchConfig(**settings)


def run_searches(songs, config, *, seed: int, mode: str) -> list:
  """``SearchResult`` per song: ``search`` one at a time, or one ``search_batch``.

  Progress bars go to stderr when it is a terminal (not into logs).
  """
  import mixjax
  progress = sys.stderr.isatty()
  if mode == "batch":
    results = mixjax.search_batch(songs, config, seeds=[seed] * len(songs), progress=progress,
                                  songs_per_call=len(songs))  # one vmapped program
    for result in results:  # a batch has one wall time: share it out
      result.seconds = dict(result.seconds, total=result.seconds["total"] / len(songs))
    return results
  return [mixjax.search(song, config, seed=seed, progress=progress) for song in songs]


def cost(song, result) -> dict:
  """Wall seconds per optimisation step and for the trials: what scales a search."""
  config, sec = result.config, result.seconds
  tune_steps = config.rounds * config.finetune_steps
  return {"nodes": song.n_tracks + song.n_groups,
          "console_fit_s_per_step": sec["console_fit"] / max(config.console_steps, 1),
          "finetune_s_per_step": sec["finetune"] / tune_steps if tune_steps else None,
          "trials": len(result.trials), "trials_s": sec["trials"]}


def song_row(entry: dict, song, result, truth: dict | None, *, audible: set | None) -> dict:
  """The numbers of one searched song."""
  found = result.alive_nodes()
  n_processors = (song.n_tracks + song.n_groups) * len(result.config.processors)
  row = {
      "dataset": entry["dataset"], "song": entry["name"], "path": entry["path"],
      "method": result.config.method,
      "target": truth["target"] if truth else None,
      "tracks": song.n_tracks, "groups": song.n_groups, "seconds_audio": round(song.seconds, 2),
      **scoring.search_numbers(result), "processors_kept": len(found),
      "compilations": result.compilations,
      "compiled": any(v > 0 for v in result.compilations.values()),
      "cost": cost(song, result),
      "found": sorted(found),
      "truth_ratio": scoring.truth_ratio(truth, n_processors) if truth else None,
      "method_log": result.method_log,
  }
  if truth and truth["target"] == "console":
    true = scoring.truth_nodes(truth)
    row["recovery"] = scoring.recovery(true, found)
    row["recovery_merged"] = scoring.merged_recovery(truth, found)
    row["truth_processors"] = len(true)
    if audible is not None:
      row["audible"] = len(audible)
      row["recall_audible"] = scoring.audible_recall(audible, found)
  elif truth and truth["target"] == "pedalboard":
    row["pedalboard"] = scoring.pedalboard_scores(truth, found)
  return row


def mean(values) -> float:
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else float("nan")


def summarise(rows: list[dict]) -> dict:
  """Means per data set (and the pooled recovery counts)."""
  out = {}
  several = len({r.get("method", "paper") for r in rows}) > 1
  for dataset in dict.fromkeys(summary_key(r, several) for r in rows):
    group = [r for r in rows if summary_key(r, several) == dataset]
    summary = {
        "songs": len(group),
        "loss_sum": mean(r["loss_sum"] for r in group),
        "loss_console": mean(r["loss_console"] for r in group),
        "loss_pruned": mean(r["loss_pruned"] for r in group),
        "pruning_ratio": mean(r["pruning_ratio"] for r in group),
        "pruning_ratio_per_type": {t: mean(r["pruning_ratio_per_type"].get(t) for r in group)
                                   for t in ABLATION_ORDER},
        "seconds": mean(r["seconds"]["total"] for r in group),
    }
    with_recovery = [r for r in group if "recovery" in r]
    if with_recovery:
      tp = sum(r["recovery"]["tp"] for r in with_recovery)
      fp = sum(r["recovery"]["fp"] for r in with_recovery)
      fn = sum(r["recovery"]["fn"] for r in with_recovery)
      summary["precision"] = mean(r["recovery"]["precision"] for r in with_recovery)
      summary["recall"] = mean(r["recovery"]["recall"] for r in with_recovery)
      summary["precision_pooled"] = tp / (tp + fp) if tp + fp else 0.0
      summary["recall_pooled"] = tp / (tp + fn) if tp + fn else 0.0
      merged = [r["recovery_merged"] for r in with_recovery if "recovery_merged" in r]
      if len(merged) == len(with_recovery):
        summary["recovery_merged"] = {k: mean(m[k] for m in merged)
                                      for k in ("precision", "recall")}
      if all("recall_audible" in r for r in with_recovery):
        summary["recall_audible"] = mean(r["recall_audible"] for r in with_recovery)
    with_pedalboard = [r["pedalboard"] for r in group if "pedalboard" in r]
    if with_pedalboard:
      summary["per_type"] = scoring.pool_per_type(with_pedalboard)
      summary["effects_found"] = sum(p["effects_found"] for p in with_pedalboard)
      summary["effects"] = sum(p["effects"] for p in with_pedalboard)
      summary["node_recall"] = mean(p["node_recall"] for p in with_pedalboard)
      summary["node_precision"] = mean(p["node_precision"] for p in with_pedalboard)
      summary["extra"] = sum(p["extra"] for p in with_pedalboard)
    out[dataset] = summary
  return out


def summary_key(row: dict, several_methods: bool) -> str:
  """The row's data set, with its search method when a run compares methods."""
  return f"{row['dataset']} ({row.get('method', 'paper')})" if several_methods else row["dataset"]


def methods_table(rows: list[dict]) -> list[str]:
  """Markdown lines: every song's methods side by side (same seed and budget)."""
  lines = [("| data set | song | method | L console | L pruned | ρ (truth ρ) | kept | P / R "
            "| P / R merged | effects found / extra | returned | moved | search s |"),
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    rec, pb, log = r.get("recovery"), r.get("pedalboard"), r.get("method_log") or {}
    lines.append(
        f"| {r['dataset']} | {r['song']} | {r.get('method', 'paper')} | {_f(r['loss_console'])} "
        f"| {_f(r['loss_pruned'])} | {_f(r['pruning_ratio'], 2)} ({_f(r.get('truth_ratio'), 2)}) "
        f"| {r['processors_kept']} "
        f"| {(_f(rec['precision'], 2) + ' / ' + _f(rec['recall'], 2)) if rec else '–'} "
        f"| {_merged(r.get('recovery_merged'))} "
        f"| {(_found(pb) + ' / ' + str(pb['extra'])) if pb else '–'} "
        f"| {len(log.get('returned', [])) if log else '–'} | {len(log.get('moved', [])) if log else '–'} "
        f"| {r['seconds']['total']:.0f}{'*' if r['compiled'] else ''} |")
  return lines


def run_ablation(entries, loaded, rows, config, *, steps: int, seed: int, mode: str) -> dict:
  """Table 1: console loss (no pruning) for the first k types of ABLATION_ORDER.

  ``mode="loop"`` fits each song alone; the full console (k = 7) at the main
  search's console steps is then the main search's own ``loss_console``
  (same seed, crops and steps; the sparsity term only starts with pruning:
  checked equal to the last digit), so it is not fitted twice.
  ``mode="batch"`` fits all songs of one console with one ``search_batch``.
  """
  losses = [[row_of(rows, e)["loss_sum"]] for e in entries]
  seconds = [[] for _ in entries]
  for types in ablation_consoles():
    ablation = config.replace(processors=types, rounds=0, console_steps=steps)
    if mode == "batch":
      results = run_searches(loaded, ablation, seed=seed, mode="batch")
    else:
      results = []
      for entry, song in zip(entries, loaded):
        if len(types) == len(ABLATION_ORDER) and steps == config.console_steps:
          results.append(None)
        else:
          results.append(run_searches([song], ablation, seed=seed, mode="loop")[0])
    for i, (entry, result) in enumerate(zip(entries, results)):
      if result is None:
        losses[i].append(row_of(rows, entry)["loss_console"])
        continue
      losses[i].append(result.loss_console)
      seconds[i].append(result.seconds["total"])
      print(f"  ablation {entry['dataset']}/{entry['name']} {ablation_label(types)}: "
            f"{result.loss_console:.4f} ({result.seconds['total']:.0f} s)", flush=True)
  per_song = [{"dataset": e["dataset"], "song": e["name"], "losses": l, "seconds": s}
              for e, l, s in zip(entries, losses, seconds)]
  means = [mean(s["losses"][k] for s in per_song) for k in range(len(ABLATION_ORDER) + 1)]
  return {"labels": ["sum"] + [ablation_label(t) for t in ablation_consoles()],
          "steps": steps, "mode": mode, "songs": per_song, "mean": means,
          "paper": list(PAPER_TABLE1), "decreasing": is_decreasing(means)}


def row_of(rows, entry) -> dict:
  return next(r for r in rows if r["path"] == entry["path"])


def _songs_label(songs: list) -> str:
  """``"mean of 6 songs"``, or the song's name when there is one."""
  if len(songs) == 1:
    return f"{songs[0]['dataset']}/{songs[0]['song']}"
  return f"mean of {len(songs)} songs"


def plot_ablation(ablation: dict, paths: list[str], *, title: str) -> None:
  """Mean console loss vs number of types, with the paper's Table 1 (log scale)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  x = np.arange(len(ablation["labels"]))
  fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=100)
  ax.plot(x, ablation["mean"], "o-", color="tab:blue",
          label=f"mixjax, {_songs_label(ablation['songs'])} ({title})")
  ax.plot(x, ablation["paper"], "s--", color="tab:gray", label="paper, Table 1 (72 songs, 30 kHz)")
  ax.set_yscale("log")
  ax.set_xticks(x, [f"{label}\n{k}" for k, label in enumerate(ablation["labels"])])
  ax.set_xlabel("processor types in the console (added one at a time)")
  ax.set_ylabel("console loss $L_a$ (log)")
  ax.grid(True, which="both", alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  for path in paths:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
  plt.close(fig)


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def machine() -> dict:
  cpu = platform.processor() or ""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    cpu = names[0] if names else cpu
  except OSError:
    pass
  import jax
  return {"nproc": os.cpu_count(), "cpu": cpu, "jax": jax.__version__,
          "device": str(jax.devices()[0]), "load_avg_start": os.getloadavg()}


def paper_checks(summary: dict, ablation: dict | None, *, tolerance: float) -> list[dict]:
  """The issue's targets, measured against this run's means."""
  checks = []
  for dataset, s in summary.items():
    if "effects" in s or ("precision" not in s):  # real-mix-like data sets: losses and ρ
      checks += [
          {"what": f"{dataset}: console loss ≤ {PAPER_CONSOLE_LOSS}", "paper": PAPER_CONSOLE_LOSS,
           "measured": s["loss_console"], "reached": s["loss_console"] <= PAPER_CONSOLE_LOSS},
          {"what": f"{dataset}: pruned loss ≤ console loss + τ", "paper": PAPER_HYBRID["loss"],
           "measured": s["loss_pruned"],
           "reached": s["loss_pruned"] <= s["loss_console"] + tolerance},
          {"what": f"{dataset}: ρ ≥ {PAPER_HYBRID['rho']}", "paper": PAPER_HYBRID["rho"],
           "measured": s["pruning_ratio"], "reached": s["pruning_ratio"] >= PAPER_HYBRID["rho"]},
      ]
    if "precision" in s:
      for name in ("precision", "recall"):
        checks.append({"what": f"{dataset}: {name} ≥ {RECOVERY_TARGET}", "paper": RECOVERY_TARGET,
                       "measured": s[name], "reached": s[name] >= RECOVERY_TARGET})
  if ablation:
    checks.append({"what": "ablation: mean console loss decreases as types are added",
                   "paper": "yes", "measured": " > ".join(f"{v:.3f}" for v in ablation["mean"]),
                   "reached": ablation["decreasing"]})
  return checks


def _f(value, digits: int = 3) -> str:
  if value is None or (isinstance(value, float) and np.isnan(value)):
    return "–"
  return f"{value:.{digits}f}"


def _plural(n: int, word: str) -> str:
  return f"{n} {word}{'' if n == 1 else 's'}"


def _found(scores: dict | None) -> str:
  """``"found/total"`` pedalboard effects, or a dash."""
  if not scores or "effects" not in scores:
    return "–"
  return f"{scores['effects_found']}/{scores['effects']}"


def _merged(scores: dict | None) -> str:
  """``"P / R"`` of a ``recovery_merged`` entry, or a dash."""
  return f"{scores['precision']:.2f} / {scores['recall']:.2f}" if scores else "–"


def _rho_types(rho: dict) -> str:
  return " ".join(_f(rho.get(t), 2) for t in ABLATION_ORDER)


LEGEND = (
    "L: the paper's whole-song loss L_a (sum of dry tracks, full console, pruned graph). "
    "ρ: fraction of the console's processors pruned (per type in the paper's order g s e r c n d). "
    "P, R: precision and recall of the kept processors against the console truth; R audible: "
    "recall of the truth processors whose removal from the true graph raises its whole-song loss "
    "by more than τ; P / R merged: the same with each one-track subgroup's processors counted "
    "on its track (the two chains are in series, and the mix cannot tell them apart). Effects "
    "found: pedalboard effects on whose track or subgroup the search kept a processor of the "
    "matching type; extra: kept processors where pedalboard put nothing of that type. Search s: "
    "wall seconds of the search (console fit, trials, fine-tuning).")


COST_LEGEND = (
    "Cost per song (wall seconds on this machine, shared with other jobs; \\* includes "
    "compiling the two search programs, once per song shape). A search costs about console "
    "steps × fit s/step + rounds × fine-tune steps × tune s/step + trial s; a step's cost grows "
    "with nodes (tracks + subgroups) × samples per crop, a pruning round's trials with "
    "processors × nodes × song length.")


def markdown(report: dict) -> str:
  """``quality.md``: settings, per-song table, means, pedalboard effects, ablation, targets."""
  s, m = report["settings"], report["machine"]
  lines = [
      "# Quality benchmark", "",
      f"Preset `{s['preset']}`: {s['sample_rate']} Hz, {s['console_steps']} console steps, "
      f"{_plural(s['rounds'], 'pruning round')} ({s['sampler']}, τ = {s['tolerance']}) of "
      f"{s['finetune_steps']} fine-tune steps, seed {s['seed']}, mode `{s['mode']}`"
      + (f", ablation consoles of {s['ablation_steps']} steps (mode `{s['ablation_mode']}`)"
         if report.get("ablation") else "")
      + f". Machine: {m['nproc']} cores ({m['cpu']}), {m['device']}, jax {m['jax']}, "
      f"load average {m['load_avg_start'][0]:.1f} at the start. Wall time "
      f"{report['wall_seconds'] / 60:.1f} min, {report['date']}.", "",
      ("| data set | song | T/G | s | L sum | L console | L pruned | ρ | ρ g s e r c n d | "
       "P | R | R audible | P / R merged | effects found | extra | search s |"),
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ]
  several = len({r.get("method", "paper") for r in report["songs"]}) > 1
  for r in report["songs"]:
    rec, pb = r.get("recovery"), r.get("pedalboard")
    lines.append(
        f"| {summary_key(r, several)} | {r['song']} | {r['tracks']}/{r['groups']} | {r['seconds_audio']:.1f} "
        f"| {_f(r['loss_sum'])} | {_f(r['loss_console'])} | {_f(r['loss_pruned'])} "
        f"| {_f(r['pruning_ratio'], 2)} | {_rho_types(r['pruning_ratio_per_type'])} "
        f"| {_f(rec and rec['precision'], 2)} | {_f(rec and rec['recall'], 2)} "
        f"| {_f(r.get('recall_audible'), 2)} | {_merged(r.get('recovery_merged'))} "
        f"| {_found(pb)} "
        f"| {pb['extra'] if pb else '–'} | {r['seconds']['total']:.0f}{'*' if r['compiled'] else ''} |")
  for dataset, a in report["summary"].items():
    lines.append(
        f"| **{dataset} mean** | {_plural(a['songs'], 'song')} | | | {_f(a['loss_sum'])} "
        f"| {_f(a['loss_console'])} | {_f(a['loss_pruned'])} | {_f(a['pruning_ratio'], 2)} "
        f"| {_rho_types(a['pruning_ratio_per_type'])} | {_f(a.get('precision'), 2)} "
        f"| {_f(a.get('recall'), 2)} | {_f(a.get('recall_audible'), 2)} "
        f"| {_merged(a.get('recovery_merged'))} | {_found(a)} "
        f"| {a.get('extra', '–')} | {a['seconds']:.0f} |")
  lines.append(
      f"| *paper (hybrid, τ 0.01)* | 72 songs | | | *19.7* | *{PAPER_CONSOLE_LOSS}* "
      f"| *{PAPER_HYBRID['loss']}* | *{PAPER_HYBRID['rho']}* "
      f"| *{_rho_types(PAPER_HYBRID['rho_per_type'])}* "
      f"| | | | | | | |")
  lines += ["", LEGEND]
  if several:
    lines += ["", "Methods side by side (the same songs, seed and step budget; returned: "
              "processors that came back after a round; moved: one-track subgroup processors "
              "moved to their track):", ""] + methods_table(report["songs"])
  lines += ["", COST_LEGEND, "",
            ("| data set | song | nodes | length s | fit s/step | tune s/step | trials | trial s "
             "| audible s | search s |"), "|---|---|---|---|---|---|---|---|---|---|"]
  for r in report["songs"]:
    c = r["cost"]
    lines.append(
        f"| {summary_key(r, several)} | {r['song']} | {c['nodes']} | {r['seconds_audio']:.1f} "
        f"| {_f(c['console_fit_s_per_step'], 2)}{'*' if r['compiled'] else ''} "
        f"| {_f(c['finetune_s_per_step'], 2)} | {c['trials']} | {c['trials_s']:.0f} "
        f"| {_f(r.get('audible_seconds'), 0)} | {r['seconds']['total']:.0f} |")
  pedal = {d: a for d, a in report["summary"].items() if "per_type" in a}
  for dataset, a in pedal.items():
    lines += ["", f"Effects found per pedalboard type ({dataset}, all songs pooled):", "",
              "| " + " | ".join(a["per_type"]) + " | all | node recall | node precision |",
              "|" + "---|" * (len(a["per_type"]) + 3),
              "| " + " | ".join(f"{h}/{n}" for h, n in a["per_type"].values())
              + f" | {a['effects_found']}/{a['effects']} | {_f(a['node_recall'], 2)} "
              f"| {_f(a['node_precision'], 2)} |"]
  ab = report.get("ablation")
  if ab:
    lines += ["", f"Ablation (Table 1): console loss with no pruning, {ab['steps']} steps, as "
              f"types are added (mean of {_plural(len(ab['songs']), 'song')}: "
              + ", ".join(sorted({f"{x['dataset']}" for x in ab["songs"]})) + ").", "",
              "| | " + " | ".join(ab["labels"]) + " |", "|---|" + "---|" * len(ab["labels"])]
    for x in ab["songs"]:
      lines.append(f"| {x['dataset']}/{x['song']} | " + " | ".join(_f(v) for v in x["losses"]) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{_f(v)}**" for v in ab["mean"]) + " |")
    lines.append("| *paper* | " + " | ".join(f"*{v}*" for v in ab["paper"]) + " |")
    lines += ["", "![ablation](ablation.png)"]
  lines += ["", "Against the paper's targets:", "", "| target | paper | measured | reached |",
            "|---|---|---|---|"]
  for c in report["checks"]:
    measured = c["measured"] if isinstance(c["measured"], str) else _f(c["measured"])
    lines.append(f"| {c['what']} | {c['paper']} | {measured} | {'yes' if c['reached'] else 'no'} |")
  return "\n".join(lines) + "\n"


def print_row(r: dict) -> None:
  rec, pb = r.get("recovery"), r.get("pedalboard")
  extra = ""
  if rec:
    extra = f" P {rec['precision']:.2f} R {rec['recall']:.2f}"
    if "recall_audible" in r:
      extra += f" R_aud {r['recall_audible']:.2f} ({r['audible']}/{r['truth_processors']} audible)"
    if "recovery_merged" in r:
      extra += f" P/R merged {_merged(r['recovery_merged'])}"
  if pb:
    extra = f" effects found {pb['effects_found']}/{pb['effects']} extra {pb['extra']}"
  print(f"{r['dataset']:>11} {r['song']:<12} {r['tracks']:>2}/{r['groups']:<2} | "
        f"sum {r['loss_sum']:.3f} console {r['loss_console']:.3f} pruned {r['loss_pruned']:.3f} "
        f"rho {r['pruning_ratio']:.2f} [{_rho_types(r['pruning_ratio_per_type'])}] |{extra} | "
        f"{r['seconds']['total']:.0f} s", flush=True)


def _jsonable(value):
  if isinstance(value, dict):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple, set)):
    return [_jsonable(v) for v in value]
  if isinstance(value, (np.floating, np.integer, np.bool_)):
    return value.item()
  return value


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description="Search every song of the given data-set folders and score the graphs found.")
  parser.add_argument("song_dirs", nargs="*", metavar="SONGS_DIR",
                      help="data-set folders of plain or MedleyDB songs, or song folders "
                           "(default: $MIXJAX_SONGS_DIR/console and $MIXJAX_SONGS_DIR/pedalboard)")
  parser.add_argument("--preset", choices=sorted(PRESETS), default="reduced")
  parser.add_argument("--sample-rate", type=int, default=None,
                      help="search rate in Hz (default: 16000 reduced, 30000 paper)")
  parser.add_argument("--ablation", action="store_true", help="also run the Table 1 ablation")
  parser.add_argument("--out", default="quality-results", help="results folder")
  parser.add_argument("--max-songs", type=int, default=None, help="first N songs of each folder")
  parser.add_argument("--steps", type=int, default=None, help="console steps (preset)")
  parser.add_argument("--finetune-steps", type=int, default=None, help="steps per round (preset)")
  parser.add_argument("--rounds", type=int, default=None, help="pruning rounds (preset)")
  parser.add_argument("--ablation-steps", type=int, default=None,
                      help="steps of each ablation console (preset: 200 reduced, 12000 paper)")
  parser.add_argument("--mode", choices=("loop", "batch"), default="loop",
                      help="search songs one by one (default) or each folder as one search_batch")
  parser.add_argument("--ablation-mode", choices=("loop", "batch"), default="batch",
                      help="fit the ablation consoles song by song or all songs of one console "
                           "as one search_batch (default: batch, faster for console-only fits)")
  parser.add_argument("--no-audible", action="store_true",
                      help="skip the audible-truth recall of console-target songs")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--methods", default="paper",
                      help="search methods to run side by side, comma-separated "
                           "(paper, precise; default: paper)")
  parser.add_argument("--plot", default=os.path.join(REPO, "docs", "ablation.png"),
                      help="where else to save the ablation plot ('' for --out only)")
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  if not args.song_dirs:
    songs = timing.env_path("MIXJAX_SONGS_DIR", "the default song folders (or give SONGS_DIR)")
    args.song_dirs = [os.path.join(songs, target) for target in SONG_TARGETS]
  started = time.perf_counter()
  import mixjax
  mixjax.enable_compilation_cache()
  from mixjax.io.song_folder import LoadWarning

  preset = PRESETS[args.preset]
  sample_rate = args.sample_rate or preset["sample_rate"]
  ablation_steps = args.ablation_steps or preset["ablation_steps"]
  config = make_config(args)
  from mixjax.graph_search.config import METHODS
  methods = [m.strip() for m in args.methods.split(",") if m.strip()]
  if not methods or any(m not in METHODS for m in methods):
    raise SystemExit(f"quality.py: --methods takes a comma-separated list of "
                     f"{', '.join(METHODS)}, got {args.methods!r}.")
  os.makedirs(args.out, exist_ok=True)

  entries = song_entries(args.song_dirs, max_songs=args.max_songs)
  if not entries:
    raise SystemExit(f"quality.py: no songs found in {args.song_dirs}.")

  settings = {"preset": args.preset, "sample_rate": sample_rate, "seed": args.seed,
              "mode": args.mode, "methods": methods, "ablation_steps": ablation_steps if args.ablation else None,
              "ablation_mode": args.ablation_mode if args.ablation else None,
              **{k: getattr(config, k) for k in ("console_steps", "finetune_steps", "rounds",
                                                 "sampler", "tolerance", "reset_every",
                                                 "sparsity_ramp_steps", "trial_batch",
                                                 "crop_seconds", "omit_seconds")},
              "command": " ".join([os.path.basename(sys.argv[0])] + (argv or sys.argv[1:]))}
  print(f"quality: {len(entries)} songs, {json.dumps(settings)}", flush=True)

  report = {"settings": settings, "machine": machine(),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "songs": []}
  loaded, truths = [], []
  for entry in entries:
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter("always", LoadWarning)
      song = mixjax.load_song(entry["path"], sample_rate=sample_rate)
    entry["load_warnings"] = [str(w.message) for w in caught if issubclass(w.category, LoadWarning)]
    truth = scoring.read_truth(entry["path"])
    if truth is not None:
      scoring.check_truth_matches(truth, song)
    loaded.append(song)
    truths.append(truth)

  rows = []
  datasets = list(dict.fromkeys(e["dataset"] for e in entries))
  audible_of = {}
  for dataset in datasets:
    index = [i for i, e in enumerate(entries) if e["dataset"] == dataset]
    batched = {}
    if args.mode == "batch":
      for method in methods:
        results = run_searches([loaded[i] for i in index], config.replace(method=method),
                               seed=args.seed, mode="batch")
        batched.update({(i, method): r for i, r in zip(index, results)})
    # Song by song, every method in turn: a partial run still compares them.
    for i, method in itertools.product(index, methods):
      entry, song, truth = entries[i], loaded[i], truths[i]
      result = batched.get((i, method)) or run_searches(
          [song], config.replace(method=method), seed=args.seed, mode="loop")[0]
      audible = None
      if i in audible_of:
        audible, removal = audible_of[i]
      elif truth and truth["target"] == "console" and not args.no_audible:
        t0 = time.perf_counter()
        audible, removal = scoring.audible_nodes(song, os.path.join(entry["path"], "truth.json"),
                                         config=config, tolerance=config.tolerance)
        entry["audible_seconds"] = time.perf_counter() - t0
        audible_of[i] = (audible, removal)
      row = song_row(entry, song, result, truth, audible=audible)
      if audible is not None:
        row["audible_seconds"] = entry["audible_seconds"]
        row["removal_losses"] = [[*n, v] for n, v in sorted(removal.items())]
      row["load_warnings"] = entry["load_warnings"]
      rows.append(row)
      print_row(row)
      report["songs"] = rows
      _write_json(os.path.join(args.out, "results.json"), report)

  summary = summarise(rows)
  report["summary"] = summary
  ablation = None
  if args.ablation:
    real = [i for i, t in enumerate(truths) if not (t and t["target"] == "console")]
    chosen = real or list(range(len(entries)))
    ablation = run_ablation([entries[i] for i in chosen], [loaded[i] for i in chosen], rows,
                            config, steps=ablation_steps, seed=args.seed, mode=args.ablation_mode)
    report["ablation"] = ablation
    paths = [os.path.join(args.out, "ablation.png")] + ([args.plot] if args.plot else [])
    plot_ablation(ablation, paths, title=f"{args.preset}, {sample_rate // 1000} kHz, "
                                         f"{ablation_steps} steps")
  report["checks"] = paper_checks(summary, ablation, tolerance=config.tolerance)
  report["wall_seconds"] = time.perf_counter() - started
  report["machine"]["load_avg_end"] = os.getloadavg()
  _write_json(os.path.join(args.out, "results.json"), report)
  text = markdown(report)
  with open(os.path.join(args.out, "quality.md"), "w", encoding="utf-8") as f:
    f.write(text)

  print()
  print(text)
  final = {"settings": settings, "summary": summary, "wall_seconds": report["wall_seconds"],
           "checks": [{k: c[k] for k in ("what", "measured", "reached")} for c in report["checks"]]}
  if ablation:
    final["ablation"] = {k: ablation[k] for k in ("labels", "mean", "paper", "decreasing")}
  print(json.dumps(_jsonable(final)))
  return 0


def _write_json(path: str, value) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(_jsonable(value), f, indent=1)
  os.replace(tmp, path)


if __name__ == "__main__":
  sys.exit(main())
