"""Pictures of a collection's statistics (``mixjax stats``): pruning, survival, settings.

Each function draws the numbers of ``collection_stats.collection_stats`` on a
fresh ``matplotlib.figure.Figure`` (Agg renderer, no pyplot) and writes the
PNG atomically; ``write_stats`` writes all of ``mixjax stats``'s files.
"""

from __future__ import annotations

import json
import os

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from mixjax import atomic_files
from mixjax.io import collection_stats as stats_lib
from mixjax.processors import PROCESSORS, REGISTRY

MAX_LABELS = 30
"""Rows of the survival picture (the most frequent labels)."""


def _save(fig: Figure, path: str) -> None:
  with atomic_files.atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp, format="png")


def plot_pruning(stats: dict, path: str) -> None:
  """ρ per type next to the paper's (Table 3), the songs' losses, processors before and after."""
  fig = Figure(figsize=(13, 3.8), dpi=100)
  fig.subplots_adjust(left=0.05, right=0.99, bottom=0.16, top=0.86, wspace=0.28)
  ax_rho, ax_loss, ax_count = fig.subplots(1, 3)

  x = np.arange(len(stats_lib.TABLE3_TYPES) + 1)
  ours = [stats["pruning_ratio"]["mean"]] + [stats["pruning_ratio_per_type"][p]["mean"]
                                              for p in stats_lib.TABLE3_TYPES]
  paper = stats_lib.PAPER_TABLE3[-1]
  colours = ["#555555"] + [REGISTRY[p].colour for p in stats_lib.TABLE3_TYPES]
  ax_rho.bar(x - 0.2, ours, 0.4, color=colours, label=f"this collection ({stats['songs']})")
  ax_rho.bar(x + 0.2, [paper[3], *paper[4]], 0.4, color="none", edgecolor="#333333",
             hatch="//", label=f"paper, {paper[0]}")
  ax_rho.set_xticks(x, ["all", *stats_lib.TABLE3_LETTERS])
  ax_rho.set_ylabel("ρ (fraction pruned)")
  ax_rho.set_title("ρ overall and per type (Table 3)", fontsize=10)
  ax_rho.set_ylim(0, 1.18)
  ax_rho.legend(fontsize=7, loc="upper left", ncol=2)

  songs = stats["per_song"]
  for key, colour in (("loss_console", "#4e79a7"), ("loss_pruned", "#e15759")):
    values = [s[key] for s in songs]
    ax_loss.hist(values, bins=min(30, max(5, len(values))), alpha=0.6, color=colour,
                 label=f"{key[5:]} (mean {np.mean(values):.3f})")
  ax_loss.set_xlabel("whole-song loss")
  ax_loss.set_ylabel("songs")
  ax_loss.set_title("console and pruned loss", fontsize=10)
  ax_loss.legend(fontsize=7)

  console = [s["processors_console"] for s in songs]
  pruned = [s["processors_pruned"] for s in songs]
  ax_count.scatter(console, pruned, s=12, color="#4e79a7", alpha=0.7)
  top = max(console) * 1.05
  ax_count.plot([0, top], [0, top], color="#bbbbbb", lw=0.8, ls="--")
  ax_count.set_xlim(0, top)
  ax_count.set_ylim(0, top)
  ax_count.set_xlabel("processors in the console")
  ax_count.set_ylabel("processors kept")
  ax_count.set_title(f"processors per song: {np.mean(console):.1f} → {np.mean(pruned):.1f}",
                     fontsize=10)
  fig.suptitle(f"{stats['collection']}: {stats['songs']} songs", fontsize=11)
  _save(fig, path)


def plot_survival(stats: dict, path: str) -> None:
  """Per track label and per subgroup label: the share of them on which each type was kept."""
  panels = [(level, list(stats["survival"][level].items())[:MAX_LABELS])
            for level in ("track", "group")]
  rows = max(len(items) for _, items in panels)
  fig = Figure(figsize=(12, 1.6 + 0.28 * rows), dpi=100)
  fig.subplots_adjust(left=0.16, right=0.97, bottom=0.12 if rows > 3 else 0.25, top=0.86,
                      wspace=0.55)
  for ax, (level, items) in zip(fig.subplots(1, 2), panels):
    grid = np.array([[row["kept"][p] for p in PROCESSORS] for _, row in items]).reshape(
        len(items), len(PROCESSORS))
    ax.imshow(grid, vmin=0, vmax=1, cmap="Blues", aspect="auto")
    for (r, c), value in np.ndenumerate(grid):
      ax.text(c, r, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
              color="white" if value > 0.6 else "#222222")
    ax.set_xticks(range(len(PROCESSORS)), [REGISTRY[p].short_label for p in PROCESSORS],
                  fontsize=8)
    ax.set_yticks(range(len(items)), [f"{label[:24]} ({row['count']})" for label, row in items],
                  fontsize=7)
    ax.set_title(f"{'tracks' if level == 'track' else 'subgroups'} by "
                 f"{stats['survival']['labels']}: % kept", fontsize=10)
  _save(fig, path)


def plot_settings(stats: dict, path: str) -> None:
  """A histogram of every kept setting of ``collection_stats.SETTINGS``."""
  panels = [(proc, quantity) for proc in PROCESSORS for quantity in stats_lib.SETTINGS[proc]]
  columns = 4
  rows = -(-len(panels) // columns)
  fig = Figure(figsize=(3.2 * columns, 2.3 * rows), dpi=100)
  fig.subplots_adjust(left=0.05, right=0.99, bottom=0.06, top=0.93, wspace=0.3, hspace=0.75)
  axes = fig.subplots(rows, columns, squeeze=False).ravel()
  for ax, (proc, quantity) in zip(axes, panels):
    entry = stats["settings"][proc][quantity.name]
    histogram, colour = entry["histogram"], REGISTRY[proc].colour
    unit = f" ({quantity.unit})" if quantity.unit else ""
    ax.set_title(f"{REGISTRY[proc].label}: {quantity.name}{unit}", fontsize=9, color=colour)
    ax.tick_params(labelsize=7)
    if not histogram["counts"]:
      ax.text(0.5, 0.5, "none kept", ha="center", va="center", transform=ax.transAxes,
              fontsize=8, color="#888888")
      continue
    edges = np.asarray(histogram["edges"])
    ax.stairs(histogram["counts"], edges, fill=True, color=colour, alpha=0.8)
    if quantity.log and edges[-1] > 10 * edges[0]:  # a log axis where it spans a decade
      ax.set_xscale("log")
      ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  for ax in axes[len(panels):]:
    ax.axis("off")
  fig.suptitle(f"Kept settings at their dry/wet ({stats['songs']} songs)", fontsize=11)
  _save(fig, path)


PICTURES = {"ρ, losses and processors per song": "pruning.png",
            "which types survive per label": "survival.png",
            "the kept settings": "settings.png"}
"""The pictures ``write_stats`` draws, by what they show."""


def write_stats(collection, out_dir: str, *, progress: bool = False) -> dict:
  """Writes stats.md, stats.json and the pictures of a collection into ``out_dir``.

  Returns:
    ``{file name: path}`` of everything written.

  Raises:
    ValueError: when the collection holds no song that could be read.
  """
  if not len(collection):
    raise ValueError(
        f"{collection.folder}: no song could be read ({len(collection.failed)} failed in the "
        f"search, {len(collection.broken)} unreadable); nothing to count.")
  stats = stats_lib.collection_stats(collection, progress=progress)
  pictures = {what: os.path.join(out_dir, name) for what, name in PICTURES.items()}
  for draw, path in zip((plot_pruning, plot_survival, plot_settings), pictures.values()):
    draw(stats, path)
  paths = {"stats.json": os.path.join(out_dir, "stats.json"),
           "stats.md": os.path.join(out_dir, "stats.md")}
  atomic_files.write_text(paths["stats.json"],
                          json.dumps(stats, indent=1, allow_nan=False) + "\n")
  atomic_files.write_text(paths["stats.md"], stats_lib.stats_markdown(stats, pictures=pictures))
  return {**paths, **{os.path.basename(p): p for p in pictures.values()}}
