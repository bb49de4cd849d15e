"""Pictures of a search: the mixing graph, the kept EQ and dynamics curves, and spectrograms.

Every function draws on a fresh ``matplotlib.figure.Figure`` (no pyplot, no
global state, the Agg renderer) and write every file atomically.
"""

from __future__ import annotations

import math
import textwrap
from typing import NamedTuple

import numpy as np
from matplotlib import patches
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image
from matplotlib import ticker
from matplotlib.figure import Figure
import matplotlib

from mixjax import atomic_files
from mixjax import dsp
from mixjax.io import graph_json as graph_lib
from mixjax.io import report_text
from mixjax import validation
from mixjax.processors import PROCESSORS, REGISTRY, dynamics, eq

SPECTROGRAM_RANGE_DB = 80.0
"""Colour range of the spectrograms below their loudest bin (dB)."""

LOG_FREQUENCY_ROWS = 300
"""Frequency rows of the spectrograms (log-spaced)."""

MAX_FRAMES = 700
"""At most this many spectrogram frames (the hop grows for long songs)."""

SPECTROGRAM_CMAP = "magma"
"""Colour map of the spectrograms."""

DIFFERENCE_CMAP = "RdBu_r"
"""Colour map of the magnitude difference (blue: the estimate is quieter, red: louder)."""

DIFFERENCE_RANGE_DB = 12.0
"""The magnitude difference's colour scale spans ± this (dB)."""

_PALETTE_GREYS = 40  # palette entries kept for text and lines in the spectrogram PNG
_ROW_INCHES = 0.34  # height of one track row in the graph drawing
_GROUP_GAP_ROWS = 0.6  # extra space between groups (rows)


def _shorten(text: str, limit: int) -> str:
  return text if len(text) <= limit else text[:limit - 1] + "…"


def _chains(graph: dict):
  """``(tracks, groups)``: per track/group its name and ``{type: drywet}`` of survivors."""
  chains = {("track", t["name"]): {} for t in graph["tracks"]}
  chains.update({("group", g): {} for g in graph["groups"]})
  for node in graph["nodes"]:
    if node["type"] in PROCESSORS:
      chains[(node["level"], node["owner"])][node["type"]] = node["drywet"]
  return chains


def draw_graph(graph: dict, path_png: str, path_svg: str | None = None) -> None:
  """Draws a graph.json dict: tracks → processors → subgroups → processors → mix.

  Each track is a row, grouped by subgroup. Every processor slot of the
  console has a fixed column (``PROCESSORS`` order, headed at the top); a
  surviving processor is a box in its type's colour whose filled part and
  label give its dry/wet weight ``w`` (a bar from the left, ``w`` in percent);
  a pruned one is a small grey dot on the wire.

  Args:
    graph: from ``graph_json.graph_to_json`` or ``graph_json.load_graph``.
    path_png: where to write the PNG.
    path_svg: where to write the same drawing as SVG (None: no SVG).
  """
  chains = _chains(graph)
  groups = [g for g in graph["groups"] if any(t["group"] == g for t in graph["tracks"])]
  members = {g: [t["name"] for t in graph["tracks"] if t["group"] == g] for g in groups}

  # Rows: tracks in group order, a gap between groups; y grows downwards.
  track_y, group_y, y = {}, {}, 0.0
  for g in groups:
    ys = []
    for name in members[g]:
      track_y[name] = y
      ys.append(y)
      y += 1.0
    group_y[g] = float(np.mean(ys))
    y += _GROUP_GAP_ROWS
  n_rows = y - _GROUP_GAP_ROWS

  n = len(PROCESSORS)
  x_track = 1.0 + np.arange(n)  # processor slots of the tracks
  x_mix = x_track[-1] + 2.3
  x_group = x_mix + 2.3 + np.arange(n)
  x_out = x_group[-1] + 1.6
  box_w, box_h = 0.84, 0.66

  width_in = 15.0
  height_in = max(3.2, _ROW_INCHES * (n_rows + 3.4))
  fig = Figure(figsize=(width_in, height_in), dpi=110)
  ax = fig.add_axes([0.0, 0.0, 1.0, 1.0])
  ax.set_xlim(-3.2, x_out + 0.8)
  ax.set_ylim(n_rows + 0.4, -3.0)
  ax.axis("off")
  font = 8 if len(track_y) <= 16 else 7
  wire = dict(color="#9a9a9a", lw=0.9, zorder=1)

  def slot(x, y, node_type, drywet):
    if drywet is None:
      ax.plot([x], [y], "o", color="#c8c8c8", ms=2.5, zorder=2)
      return
    colour = REGISTRY[node_type].colour
    left, bottom = x - box_w / 2, y - box_h / 2
    ax.add_patch(patches.FancyBboxPatch(
        (left, bottom), box_w, box_h, boxstyle="round,pad=0,rounding_size=0.08",
        facecolor="white", edgecolor=colour, lw=1.2, zorder=3))
    w = float(np.clip(drywet, 0.0, 1.0))
    ax.add_patch(patches.Rectangle((left + 0.03, bottom + 0.06), (box_w - 0.06) * w,
                                   box_h - 0.12, facecolor=colour, alpha=0.85, lw=0,
                                   zorder=4))
    ax.text(x, y, f"{100 * w:.0f}%", ha="center", va="center", fontsize=font - 1,
            color="black", zorder=5,
            bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.6))

  def chain(level, owner, xs, y, start):
    ax.plot([start, xs[-1] + 0.5], [y, y], **wire)
    for x, node_type in zip(xs, PROCESSORS):
      slot(x, y, node_type, chains[(level, owner)].get(node_type))

  # Column headings and the legend.
  for xs, where in ((x_track, "track"), (x_group, "group")):
    for x, node_type in zip(xs, PROCESSORS):
      ax.text(x, -1.0, REGISTRY[node_type].short_label, ha="center", va="bottom", fontsize=font,
              color=REGISTRY[node_type].colour, fontweight="bold", rotation=0)
    ax.text(float(np.mean(xs)), -1.9, f"{where} processors", ha="center", va="bottom",
            fontsize=font + 1, color="#444444")
  n_proc = sum(node["type"] in PROCESSORS for node in graph["nodes"])
  n_slots = n * (len(graph["tracks"]) + len(groups))
  title = (f"{len(graph['tracks'])} tracks, {len(groups)} subgroups: {n_proc} of {n_slots} "
           f"processors kept (bar and label: dry/wet; grey dot: pruned)")
  metrics = graph.get("metrics", {})
  if all(k in metrics for k in ("loss_sum", "loss_console", "loss_pruned")):
    title += (f".   Loss: dry sum {metrics['loss_sum']:.3f}, full console "
              f"{metrics['loss_console']:.3f}, this graph {metrics['loss_pruned']:.3f}")
  ax.text(-3.1, -2.6, title, ha="left", va="center", fontsize=font + 1)

  for g in groups:
    gy = group_y[g]
    for name in members[g]:
      ty = track_y[name]
      ax.text(0.2, ty, _shorten(name, 26), ha="right", va="center", fontsize=font)
      chain("track", name, x_track, ty, 0.35)
      ax.plot([x_track[-1] + 0.5, x_mix - 1.2], [ty, gy], **wire)
    ax.add_patch(patches.FancyBboxPatch(
        (x_mix - 1.2, gy - 0.36), 2.4, 0.72, boxstyle="round,pad=0,rounding_size=0.15",
        facecolor="#f2f2f2", edgecolor="#666666", lw=1.0, zorder=3))
    ax.text(x_mix, gy, _shorten(g, 22), ha="center", va="center", fontsize=font, zorder=4)
    chain("group", g, x_group, gy, x_mix + 1.2)
    ax.plot([x_group[-1] + 0.5, x_out - 0.5], [gy, n_rows / 2], **wire)

  ax.add_patch(patches.FancyBboxPatch(
      (x_out - 0.5, n_rows / 2 - 0.4), 1.0, 0.8, boxstyle="round,pad=0,rounding_size=0.15",
      facecolor="#333333", edgecolor="#333333", zorder=3))
  ax.text(x_out, n_rows / 2, "mix", ha="center", va="center", fontsize=font + 1,
          color="white", zorder=4)

  with atomic_files.atomic_path(path_png, suffix=".png") as tmp:
    fig.savefig(tmp, format="png")
  if path_svg is not None:
    with matplotlib.rc_context({"svg.fonttype": "none"}):
      with atomic_files.atomic_path(path_svg, suffix=".svg") as tmp:
        fig.savefig(tmp, format="svg")


# ---------------------------------------------------------------------------
# EQ and dynamics curves
# ---------------------------------------------------------------------------

CURVE_TYPES = ("eq", "compressor", "noisegate")
"""Processor types ``plot_processors`` draws, one column each."""

_PANEL_INCHES = (4.3, 2.9)  # width, height of one panel of plot_processors


def _frequency_axis(ax, sample_rate: int) -> None:
  ax.set_xscale("log")
  ax.set_xlim(20, sample_rate / 2)
  ticks = [f for f in (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
           if f <= sample_rate / 2]
  ax.set_xticks(ticks, [f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks])
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def _eq_panel(ax, effective: dict, sample_rate: int, colour: str) -> None:
  frequency_hz = np.asarray(effective["frequency_hz"])
  gain_db = np.asarray(effective["gain_db"])
  top = max(6.0, 3 * math.ceil((np.abs(gain_db).max() + 0.5) / 3))
  smoothed_db = np.asarray(effective.get("smoothed_gain_db", gain_db))
  ax.axhline(0, color="#888888", lw=0.8)
  ax.plot(frequency_hz, gain_db, color=colour, lw=0.7, alpha=0.45)  # every detail
  ax.fill_between(frequency_hz, 0, smoothed_db, color=colour, alpha=0.18, lw=0)
  ax.plot(frequency_hz, smoothed_db, color=colour, lw=1.6)  # the broad strokes
  for band in sorted(eq.band_list(effective), key=lambda b: -abs(b["gain_db"]))[:3]:
    f, g = band["frequency_hz"], band["gain_db"]
    ax.plot([f], [g], "o", color=colour, ms=3.5)
    edge = math.log(f / 20) / math.log(sample_rate / 40)  # 0 at 20 Hz, 1 at Nyquist
    ax.annotate(f"{g:+.1f} dB".replace("-", "\u2212"), (f, g), xytext=(0, 5 if g > 0 else -11),
                textcoords="offset points", fontsize=7, color="#333333",
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.7),
                ha="left" if edge < 0.08 else "right" if edge > 0.92 else "center")
  _frequency_axis(ax, sample_rate)
  ax.set_ylim(-top, top)
  ax.set_xlabel("frequency (Hz)", fontsize=8)
  ax.set_ylabel("gain (dB)", fontsize=8)


def dynamics_note(effective: dict) -> str:
  """The note on a compressor's or gate's panel: its nominal settings, then what they do at
  its dry/wet (the words of ``dynamics.describe``, one idea a line)."""
  threshold, ratio, knee, times = dynamics.settings_words(effective)
  slope, *gains = dynamics.effect_words(effective)
  effect = (f"at {100 * effective['wet']:.0f} % wet: {slope}: {', '.join(gains)} "
            f"(dashed)")
  return "\n".join([f"settings: {threshold} (dotted),", f"{ratio}, {knee},", times,
                    textwrap.fill(effect, 46)])


def _dynamics_panel(ax, effective: dict, colour: str, node_type: str) -> None:
  level_db = np.asarray(effective["input_rms_db"])
  gain_db = np.asarray(effective["gain_db"])
  lowest = min(gain_db.min(), effective["max_reduction_db"])
  bottom = max(-60.0, min(-12.0, 6 * math.floor((lowest - 3) / 6)))
  ax.axhline(0, color="#888888", lw=0.8)
  ax.axvline(effective["threshold_db"], color="#555555", lw=0.8, ls=":")
  ax.axhline(max(effective["max_reduction_db"], bottom), color="#555555", lw=0.8, ls="--")
  ax.fill_between(level_db, 0, np.maximum(gain_db, bottom), color=colour, alpha=0.18, lw=0)
  ax.plot(level_db, np.maximum(gain_db, bottom), color=colour, lw=1.5)
  ax.set_xlim(level_db[0], level_db[-1])
  ax.set_ylim(bottom, 1.5)
  # The note goes where the curve is not: under the left of a compressor's curve (0 dB
  # below the threshold), under the right of a gate's.
  right = node_type == "noisegate"
  ax.text(0.97 if right else 0.03, 0.04, dynamics_note(effective),
          transform=ax.transAxes, fontsize=6, color="#333333", va="bottom",
          ha="right" if right else "left",
          bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="#dddddd", alpha=0.85))
  ax.set_xlabel("input level (dB RMS)", fontsize=8)
  ax.set_ylabel("gain (dB)", fontsize=8)


def plot_processors(graph: dict, path: str) -> None:
  """Every kept EQ's effective curve and compressor's/gate's static curve, at its dry/wet.

  One row per track or subgroup that keeps an EQ, a compressor or a gate, in
  the order of the graph drawing (tracks by subgroup, then the subgroups), one
  column per type: the EQ's gain ``20 log10 |w H + 1 - w|`` against frequency
  (thin: every detail; bold: smoothed over 1/6 octave, its three largest
  bands marked), and the dynamics' steady-state gain
  against the input's RMS level (threshold dotted; the floor
  ``20 log10(1 - w)`` that the dry path sets, dashed). The numbers are the
  nodes' ``effective`` entries (computed from ``raw`` for an older graph.json).

  Args:
    graph: a graph.json dict (``graph_json.graph_to_json`` or ``graph_json.load_graph``).
    path: where to write the PNG.
  """
  graph = graph_lib.with_effective(graph)
  sample_rate = graph["sample_rate"]
  groups = [g for g in graph["groups"] if any(t["group"] == g for t in graph["tracks"])]
  owners = [("track", t["name"]) for g in groups for t in graph["tracks"] if t["group"] == g]
  owners += [("group", g) for g in groups]
  nodes = {(n["level"], n["owner"], n["type"]): n for n in graph["nodes"]
           if n["type"] in CURVE_TYPES}
  rows = [o for o in owners if any((*o, t) in nodes for t in CURVE_TYPES)]
  columns = [t for t in CURVE_TYPES if any((*o, t) in nodes for o in owners)]

  if not rows:
    fig = Figure(figsize=(6, 1.2), dpi=100)
    fig.text(0.5, 0.5, "no EQ, compressor or gate kept", ha="center", va="center",
             fontsize=11, color="#444444")
  else:
    width, height = _PANEL_INCHES
    total_height = height * len(rows) + 0.7  # inches, with the figure title
    fig = Figure(figsize=(width * len(columns), total_height), dpi=100)
    fig.subplots_adjust(left=0.6 / (width * len(columns)), right=1 - 0.15 / (width * len(columns)),
                        bottom=0.55 / total_height, top=1 - 1.0 / total_height,
                        wspace=0.3, hspace=0.8)
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (level, owner) in enumerate(rows):
      for c, node_type in enumerate(columns):
        ax = axes[r, c]
        node = nodes.get((level, owner, node_type))
        if node is None:
          ax.axis("off")
          continue
        effective, colour = node["effective"], REGISTRY[node_type].colour
        if node_type == "eq":
          _eq_panel(ax, effective, sample_rate, colour)
        else:
          _dynamics_panel(ax, effective, colour, node_type)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="major", color="#e6e6e6", lw=0.6)
        ax.set_axisbelow(True)
        ax.set_title(f"{validation.owner_label(level, _shorten(owner, 24))} — "
                     f"{REGISTRY[node_type].label}, "
                     f"{100 * effective['wet']:.0f} % wet", fontsize=9, color=colour,
                     fontweight="bold")
    fig.suptitle("Kept EQs and dynamics at their dry/wet (gain re the input)", fontsize=11,
                 y=1 - 0.25 / total_height, va="top")
  with atomic_files.atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp, format="png")


# ---------------------------------------------------------------------------
# Spectrograms
# ---------------------------------------------------------------------------


def _stft_db(x: np.ndarray, *, n_fft: int, hop: int) -> np.ndarray:
  """``[frames, n_fft // 2 + 1]`` magnitude in dB of a 1-D signal (``dsp.stft``)."""
  x = np.asarray(x, np.float64)
  if len(x) <= n_fft // 2:  # the centred STFT reflects n_fft // 2 samples at each end
    x = np.pad(x, (0, n_fft // 2 + 1 - len(x)))
  spectrum = dsp.stft(x, n_fft=n_fft, hop=hop).T
  scale = 4.0 / n_fft  # 2 / sum(window): a full-scale sine reads 0 dB
  return 20 * np.log10(np.abs(spectrum) * scale + 1e-10)


def _log_frequency_ticks(low_hz: float, high_hz: float):
  """``(positions in log10 Hz, labels)`` of round frequencies between the limits."""
  candidates = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
  ticks = [f for f in candidates if low_hz <= f <= high_hz]
  labels = [f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks]
  return np.log10(ticks), labels


class SpectrogramPanels(NamedTuple):
  """What ``plot_spectrograms`` draws, and the two numbers it prints on it.

  Rows ``"mid"`` (``(L + R) / 2``) and ``"side"`` (``(L - R) / 2``); every
  picture is ``[LOG_FREQUENCY_ROWS, frames]`` in dB, frequency upwards.
  """
  frequency_hz: np.ndarray
  """``[LOG_FREQUENCY_ROWS]`` log-spaced frequencies of the picture rows (Hz)."""
  seconds: float
  """Time the frames span (s)."""
  magnitude_db: dict
  """``{row: {"mix": ..., "estimate": ...}}``: magnitudes in dB re full scale."""
  floor_db: float
  """The colour scale's bottom: ``SPECTROGRAM_RANGE_DB`` below its (rounded-up) top."""
  top_db: float
  """The colour scale's top: the loudest bin, rounded up to 10 dB."""
  difference_db: dict
  """``{row: estimate_db - mix_db}``, each floored at ``floor_db`` first (the search
  matches magnitudes; below the floor both read as the floor, so silence matches silence)."""
  mean_abs_difference_db: dict
  """``{row: mean |difference_db|}`` over the cells where the mix or the estimate is above
  ``floor_db`` (0 when none is)."""
  null_db: dict
  """``{row: 10 log10(Σ (mix - estimate)² / Σ mix²)}``: the waveform difference's energy
  re the mix's (a null test; 0 dB: as loud as the mix, -inf dB: a perfect null)."""


def spectrogram_panels(mix, estimate, sample_rate: int) -> SpectrogramPanels:
  r"""The mid and side spectrograms of the mix and the estimate, their magnitude difference
  and the waveform null level.

  Per row, with ``M`` and ``E`` the mix's and the estimate's STFT magnitudes
  in dB (``dsp.stft``, about 64 ms periodic Hann windows, resampled onto
  log-spaced frequencies) and ``F`` the colour scale's floor:

  .. math::

    D = \max(E, F) - \max(M, F), \qquad
    \text{null} = 10 \log_{10} \frac{\sum (m - e)^2}{\sum m^2}.

  ``D`` is what the search fits (its loss compares magnitude spectra only);
  the waveforms need not null, as phase, polarity and the fine structure of
  delays and reverbs are left free.

  Args:
    mix: ``[2, n]`` the mix the search matched.
    estimate: ``[2, n]`` the render to compare.
    sample_rate: Hz.

  Returns:
    ``SpectrogramPanels``.

  Raises:
    ValueError: when the two are not both ``[2, n]``.
  """
  mix = np.asarray(mix, np.float32)
  estimate = np.asarray(estimate, np.float32)
  if mix.shape != estimate.shape or mix.ndim != 2 or mix.shape[0] != 2:
    raise ValueError(
        f"plot_spectrograms: mix and estimate must both be [2, n], got {mix.shape} "
        f"and {estimate.shape}.")
  n_fft = 2 ** int(round(math.log2(0.064 * sample_rate)))  # about 64 ms
  n = mix.shape[-1]
  hop = max(n_fft // 4, int(math.ceil((n - n_fft) / MAX_FRAMES)) if n > n_fft else 1)
  rows = {"mid": lambda x: (x[0].astype(np.float64) + x[1]) / 2,
          "side": lambda x: (x[0].astype(np.float64) - x[1]) / 2}

  # Resample each spectrum onto log-spaced frequencies, so a plain image has a log axis.
  low_hz, high_hz = max(20.0, 2 * sample_rate / n_fft), sample_rate / 2
  frequency_hz = np.geomspace(low_hz, high_hz, LOG_FREQUENCY_ROWS)
  bin_freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
  magnitude = {}
  for row, f in rows.items():
    magnitude[row] = {}
    for col, x in (("mix", mix), ("estimate", estimate)):
      db = _stft_db(f(x), n_fft=n_fft, hop=hop)
      magnitude[row][col] = np.stack([np.interp(frequency_hz, bin_freqs, frame)
                                      for frame in db], axis=1)
  top = 10 * math.ceil(max(float(s.max()) for cols in magnitude.values()
                           for s in cols.values()) / 10)
  floor = top - SPECTROGRAM_RANGE_DB
  difference, mean_abs, null = {}, {}, {}
  for row, f in rows.items():
    m, e = magnitude[row]["mix"], magnitude[row]["estimate"]
    difference[row] = np.maximum(e, floor) - np.maximum(m, floor)
    heard = np.maximum(m, e) > floor
    mean_abs[row] = float(np.mean(np.abs(difference[row][heard]))) if heard.any() else 0.0
    error, reference = np.sum((f(mix) - f(estimate)) ** 2), np.sum(f(mix) ** 2)
    null[row] = 10 * math.log10((error + 1e-20) / (reference + 1e-20))
  seconds = (magnitude["mid"]["mix"].shape[1] * hop + n_fft - hop) / sample_rate
  return SpectrogramPanels(frequency_hz=frequency_hz, seconds=seconds, magnitude_db=magnitude,
                           floor_db=floor, top_db=top, difference_db=difference,
                           mean_abs_difference_db=mean_abs, null_db=null)


def difference_title(panels: SpectrogramPanels, row: str) -> str:
  """The title of a difference panel: what it shows and its two numbers."""
  return (f"estimate \u2212 mix, magnitude \u2014 {row}\n"
          f"mean |\u0394| {panels.mean_abs_difference_db[row]:.1f} dB; "
          f"waveform null {panels.null_db[row]:+.1f} dB re mix").replace("-", "\u2212")


def plot_spectrograms(mix, estimate, sample_rate: int, path: str) -> SpectrogramPanels:
  """Mid and side spectrograms of the mix and the estimate, and their magnitude difference.

  Six panels (``spectrogram_panels``): rows mid ``(L + R) / 2`` and side
  ``(L - R) / 2``; columns the mix and the estimate on one colour scale (dB
  re full scale, the top ``SPECTROGRAM_RANGE_DB`` below the loudest bin),
  and the estimate's magnitude minus the mix's in dB on a diverging scale of
  ``±DIFFERENCE_RANGE_DB`` (red: the estimate is louder), titled with its
  mean absolute value and the waveform null level; a note under the panels
  says why the waveforms do not null. Time in seconds, frequency in Hz on a
  log axis.

  Args:
    mix: ``[2, n]`` the mix the search matched.
    estimate: ``[2, n]`` the render to compare.
    sample_rate: Hz.
    path: where to write the PNG.

  Returns:
    The ``SpectrogramPanels`` drawn.
  """
  panels = spectrogram_panels(mix, estimate, sample_rate)
  log_freqs = np.log10(panels.frequency_hz)
  ticks, labels = _log_frequency_ticks(panels.frequency_hz[0], panels.frequency_hz[-1])
  extent = [0, panels.seconds, log_freqs[0], log_freqs[-1]]

  fig = Figure(figsize=(14, 7.2), dpi=90)
  fig.subplots_adjust(left=0.06, right=0.98, bottom=0.22, top=0.92, wspace=0.1, hspace=0.32)
  axes = fig.subplots(2, 3, sharex=True, sharey=True)
  images = {}
  for r, row in enumerate(panels.magnitude_db):
    for c, col in enumerate(("mix", "estimate", "difference")):
      ax = axes[r, c]
      if col == "difference":
        images[col] = ax.imshow(panels.difference_db[row], origin="lower", aspect="auto",
                                cmap=DIFFERENCE_CMAP, vmin=-DIFFERENCE_RANGE_DB,
                                vmax=DIFFERENCE_RANGE_DB, interpolation="nearest", extent=extent)
        ax.set_title(difference_title(panels, row), fontsize=10)
      else:
        images[col] = ax.imshow(panels.magnitude_db[row][col], origin="lower", aspect="auto",
                                cmap=SPECTROGRAM_CMAP, vmin=panels.floor_db, vmax=panels.top_db,
                                interpolation="nearest", extent=extent)
        ax.set_title(f"{col} \u2014 {row}", fontsize=10)
      ax.set_yticks(ticks, labels)
      ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
      if r == 1:
        ax.set_xlabel("time (s)")
      if c == 0:
        ax.set_ylabel("frequency (Hz)")
  left, right = axes[1, 0].get_position(), axes[1, 2].get_position()
  middle = axes[1, 1].get_position()
  magnitude_bar = fig.add_axes([left.x0, 0.125, middle.x1 - left.x0, 0.018])
  fig.colorbar(images["mix"], cax=magnitude_bar, orientation="horizontal",
               label="magnitude (dB re full scale)")
  difference_bar = fig.add_axes([right.x0, 0.125, right.x1 - right.x0, 0.018])
  fig.colorbar(images["difference"], cax=difference_bar, orientation="horizontal",
               label="estimate \u2212 mix (dB); red: the estimate is louder")
  fig.text(0.06, 0.012, textwrap.fill(report_text.NULL_NOTE, 150), fontsize=9,
           color="#333333", ha="left", va="bottom")
  _save_palette_png(fig, path, (SPECTROGRAM_CMAP, DIFFERENCE_CMAP))
  return panels


def _save_palette_png(fig: Figure, path: str, cmaps: tuple[str, ...]) -> None:
  """Saves ``fig`` as an 8-bit palette PNG (the colour maps' colours and greys), atomically.

  A third of the size of a full-colour PNG, with no visible difference: the
  images use the colour maps and the rest is black text on white.
  """
  canvas = FigureCanvasAgg(fig)
  canvas.draw()
  rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
  per_map = (256 - _PALETTE_GREYS) // len(cmaps)
  colours = np.concatenate([matplotlib.colormaps[cmap](np.linspace(0, 1, per_map))[:, :3]
                            for cmap in cmaps])
  greys = np.repeat(np.linspace(0, 1, _PALETTE_GREYS)[:, None], 3, axis=1)
  palette = Image.new("P", (1, 1))
  palette.putpalette(np.round(255 * np.concatenate([colours, greys])).astype(np.uint8)
                     .ravel().tolist())
  with atomic_files.atomic_path(path, suffix=".png") as tmp:
    rgb.quantize(palette=palette, dither=Image.Dither.NONE).save(tmp, format="PNG",
                                                                   optimize=True)
