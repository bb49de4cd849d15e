"""The paper's statistics of a collection: ``mixjax stats COLLECTION --out DIR``.

``collection_stats(collection)`` reads off a ``mixjax.collection.Collection``
what the paper reports of its 1129 songs (DAFx-24, Table 3), and more:

* ρ, the fraction of the console's processors that pruning removed, overall
  and per type in the paper's column order g s e r c n d (``TABLE3_TYPES``),
  as the mean of the songs' ρ and pooled over all their processors; the
  console and pruned losses; processors per song before and after pruning;
* per instrument label (MedleyDB metadata; the track or group name where a
  song has none): on how many of its tracks (subgroups) each type survives;
* the kept settings per type, as their ``effective`` entries give them (what
  a node does at its dry/wet, the numbers report.md describes): gain and pan,
  EQ band gains and frequencies, compressor threshold and ratio, gate
  threshold, imager side gain, delay tap times and levels, reverb T60 and
  level (``SETTINGS``), as quartiles and histograms.

``stats_markdown`` puts them in words (stats.md);
``collection_plots.write_stats`` writes ``stats.md``, ``stats.json`` and the
pictures, every file atomically.
"""

from __future__ import annotations

import os
from typing import Callable, NamedTuple

import numpy as np

from mixjax import atomic_files
from mixjax.io.report_text import markdown_table
from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.progress import tqdm

FORMAT = "mixjax.stats"
"""The ``format`` field of stats.json."""

VERSION = 1
"""The schema version of stats.json."""

TABLE3_TYPES = ("gain_pan", "imager", "eq", "reverb", "compressor", "noisegate", "delay")
"""The per-type columns of the paper's Tables 2 and 3, in their order."""

TABLE3_LETTERS = ("g", "s", "e", "r", "c", "n", "d")
"""Their headings: gain/pan, stereo imager, EQ, reverb, compressor, noise gate, delay."""

PAPER_TABLE3 = (
    # (data set, songs, L pruned, ρ, ρ per type in TABLE3_TYPES order), hybrid sampler, τ = 0.01
    ("MedleyDB", 188, 0.431, 0.63, (0.37, 0.84, 0.44, 0.69, 0.74, 0.77, 0.57)),
    ("MixingSecrets", 472, 0.625, 0.64, (0.50, 0.87, 0.33, 0.64, 0.63, 0.80, 0.69)),
    ("Internal", 579, 0.434, 0.75, (0.70, 0.87, 0.55, 0.73, 0.85, 0.86, 0.72)),
    ("all 1129 songs", 1129, 0.506, 0.69, (0.57, 0.87, 0.45, 0.69, 0.75, 0.82, 0.69)),
)
"""The paper's Table 3 (DAFx-24): its four rows, to read a collection next to."""

PAPER_PROCESSORS_PER_SONG = (247.6, 72.1)
"""The paper's mean processors per song, console and pruned (all 1129 songs)."""

HISTOGRAM_BINS = 20
"""Bins of every settings histogram."""


class Quantity(NamedTuple):
  """One kept setting read off a processor node's ``effective`` entry."""
  name: str
  unit: str
  values: Callable[[dict], list]
  log: bool = False  # histogram on a log axis (frequencies, times)


def _echoes(effective: dict, key: str) -> list:
  """A delay's taps after 0 ms (the echoes), both channels: their ``key`` column."""
  return [value for channel in ("left", "right")
          for value, ms in zip(effective[channel][key], effective[channel]["delay_ms"]) if ms > 0]


SETTINGS = {
    "gain_pan": (Quantity("gain_db", "dB", lambda e: [e["gain_db"]]),
                 Quantity("pan", "", lambda e: [e["pan"]])),
    "imager": (Quantity("side_gain_db", "dB", lambda e: [e["side_gain_db"]]),),
    "eq": (Quantity("band_gain_db", "dB", lambda e: list(e["bands"]["gain_db"])),
           Quantity("band_frequency_hz", "Hz", lambda e: list(e["bands"]["frequency_hz"]),
                    log=True)),
    "compressor": (Quantity("threshold_db", "dB", lambda e: [e["threshold_db"]]),
                   Quantity("ratio", ":1", lambda e: [e["ratio"]], log=True)),
    "noisegate": (Quantity("threshold_db", "dB", lambda e: [e["threshold_db"]]),),
    "delay": (Quantity("echo_delay_ms", "ms", lambda e: _echoes(e, "delay_ms"), log=True),
              Quantity("echo_gain_db", "dB", lambda e: _echoes(e, "gain_db"))),
    "reverb": (Quantity("t60_ms", "ms", lambda e: [e["t60_ms"]], log=True),
               Quantity("wet_level_db", "dB", lambda e: [e["wet_level_db"]])),
}
"""Per type, the kept settings whose distributions ``collection_stats`` gives."""


def _spread(values) -> dict:
  values = np.asarray(values, np.float64)
  if not values.size:
    return {"count": 0}
  q25, median, q75 = np.percentile(values, [25, 50, 75])
  return {"count": int(values.size), "mean": float(values.mean()), "median": float(median),
          "q25": float(q25), "q75": float(q75), "min": float(values.min()),
          "max": float(values.max())}


def _histogram(values, *, log: bool) -> dict:
  values = np.asarray(values, np.float64)
  if log:
    values = values[values > 0]
  if not values.size:
    return {"edges": [], "counts": []}
  low, high = values.min(), values.max()
  if high <= low:
    low, high = (low / 1.1, high * 1.1) if log else (low - 0.5, high + 0.5)
  edges = (np.geomspace(low, high, HISTOGRAM_BINS + 1) if log
           else np.linspace(low, high, HISTOGRAM_BINS + 1))
  counts, _ = np.histogram(values, edges)
  return {"edges": edges.tolist(), "counts": counts.tolist(), "log": log}


def collection_stats(collection, *, progress: bool = False) -> dict:
  """The statistics of a collection (module docstring), as a JSON-ready dict.

  Args:
    collection: a ``mixjax.collection.Collection`` with at least one song.
    progress: show a progress bar over the songs.

  Returns:
    ``{"format", "version", "collection", "songs", "failed", "broken",
    "sample_rates", "losses", "pruning_ratio", "pruning_ratio_per_type",
    "processors_per_song", "tracks_per_song", "groups_per_song", "survival",
    "settings", "per_song"}`` (``stats.json``).
  """
  per_song, survival = [], {"track": {}, "group": {}}
  kept_by_type, console_by_type = dict.fromkeys(PROCESSORS, 0), dict.fromkeys(PROCESSORS, 0)
  values = {proc: {q.name: [] for q in SETTINGS[proc]} for proc in PROCESSORS}
  labelled = False
  for song in tqdm(collection.songs, unit="song", desc="stats", disable=not progress):
    processors = song.processors
    owners = {"track": song.track_names, "group": sorted(set(song.track_groups),
                                                         key=song.group_names.index)}
    kept = {(n["level"], n["owner"], n["type"]) for n in processors}
    for level, names in owners.items():
      for name in names:
        instrument = song.instrument(level, name)
        labelled |= instrument is not None
        row = survival[level].setdefault(instrument or name,
                                         {"count": 0, "kept": dict.fromkeys(PROCESSORS, 0)})
        row["count"] += 1
        for proc in PROCESSORS:
          row["kept"][proc] += (level, name, proc) in kept
    n_owners = len(owners["track"]) + len(owners["group"])
    for proc in PROCESSORS:
      console_by_type[proc] += n_owners
      kept_by_type[proc] += sum(1 for _, _, t in kept if t == proc)
    for node in processors:
      effective = song.effective(node)
      for quantity in SETTINGS[node["type"]]:
        values[node["type"]][quantity.name] += [float(v) for v in quantity.values(effective)
                                                if v is not None]
    per_song.append({"name": song.name, "tracks": len(song.track_names),
                     "groups": len(owners["group"]), **song.losses,
                     "pruning_ratio": song.pruning_ratio,
                     "pruning_ratio_per_type": song.pruning_ratio_per_type,
                     "processors_console": song.console_processors,
                     "processors_pruned": len(processors)})

  def over_songs(key):
    return _spread([s[key] for s in per_song])

  console_total, kept_total = sum(console_by_type.values()), sum(kept_by_type.values())
  settings = {}
  for proc in PROCESSORS:
    settings[proc] = {}
    for quantity in SETTINGS[proc]:
      vs = values[proc][quantity.name]
      settings[proc][quantity.name] = {"unit": quantity.unit, **_spread(vs),
                                       "histogram": _histogram(vs, log=quantity.log)}
  for level in survival:
    survival[level] = {
        label: {"count": row["count"],
                "kept": {p: row["kept"][p] / row["count"] for p in PROCESSORS}}
        for label, row in sorted(survival[level].items(), key=lambda kv: (-kv[1]["count"], kv[0]))}
  return {
      "format": FORMAT,
      "version": VERSION,
      "collection": collection.folder,
      "songs": len(per_song),
      "failed": [dict(r) for r in collection.failed],
      "broken": [dict(r) for r in collection.broken],
      "sample_rates": sorted({s.sample_rate for s in collection.songs}),
      "losses": {k: over_songs(k) for k in ("loss_sum", "loss_console", "loss_pruned")},
      "pruning_ratio": {"mean": over_songs("pruning_ratio").get("mean"),
                        "pooled": 1 - kept_total / console_total if console_total else None},
      "pruning_ratio_per_type": {
          proc: {"mean": _spread([s["pruning_ratio_per_type"][proc] for s in per_song
                                  if proc in s["pruning_ratio_per_type"]]).get("mean"),
                 "pooled": 1 - kept_by_type[proc] / console_by_type[proc]
                 if console_by_type[proc] else None}
          for proc in TABLE3_TYPES},
      "processors_per_song": {"console": over_songs("processors_console"),
                              "pruned": over_songs("processors_pruned")},
      "tracks_per_song": over_songs("tracks"),
      "groups_per_song": over_songs("groups"),
      "survival": {"labels": "instrument" if labelled else "name", **survival},
      "settings": settings,
      "per_song": per_song,
  }


# ---------------------------------------------------------------------------
# stats.md
# ---------------------------------------------------------------------------


def _f(x, spec: str = ".3f") -> str:
  return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def stats_markdown(stats: dict, *, pictures: dict | None = None, max_labels: int = 40) -> str:
  """stats.md: the tables of ``collection_stats`` (the pictures' files, when given)."""
  per_type = stats["pruning_ratio_per_type"]
  losses = stats["losses"]
  lines = [f"# Statistics of {stats['collection']}", "",
           f"{stats['songs']} songs read; {len(stats['failed'])} failed or unfinished in the "
           f"search, {len(stats['broken'])} unreadable. Searched at "
           f"{', '.join(map(str, stats['sample_rates']))} Hz.", "",
           "## Pruning, in the paper's Table 3 layout", ""]
  header = ["songs", "n", "L sum", "L console", "L pruned", "ρ", *TABLE3_LETTERS]
  rows = [["**this collection**", stats["songs"], _f(losses["loss_sum"].get("mean")),
           _f(losses["loss_console"].get("mean")), _f(losses["loss_pruned"].get("mean")),
           _f(stats["pruning_ratio"]["mean"], ".2f"),
           *[_f(per_type[p]["mean"], ".2f") for p in TABLE3_TYPES]],
          ["pooled over processors", "", "", "", "", _f(stats["pruning_ratio"]["pooled"], ".2f"),
           *[_f(per_type[p]["pooled"], ".2f") for p in TABLE3_TYPES]]]
  rows += [[f"*paper: {name}*", n, "", "", f"*{loss:.3f}*", f"*{rho:.2f}*",
            *[f"*{r:.2f}*" for r in ratios]] for name, n, loss, rho, ratios in PAPER_TABLE3]
  lines += markdown_table(header, rows)
  console, pruned = stats["processors_per_song"]["console"], stats["processors_per_song"]["pruned"]
  lines += ["", "Losses and ρ are means over songs (the paper's La is its pruned loss, hybrid "
            "sampler, τ = 0.01, 30 kHz); *pooled*: the fraction of all the collection's console "
            "processors of a type that were pruned. " + ", ".join(
                f"{letter} {REGISTRY[p].label}" for letter, p in zip(TABLE3_LETTERS, TABLE3_TYPES))
            + ".", "",
            "| per song | mean | min | max |", "|---|---|---|---|",
            f"| processors in the console | {_f(console.get('mean'), '.1f')} | "
            f"{_f(console.get('min'), '.0f')} | {_f(console.get('max'), '.0f')} |",
            f"| processors kept | {_f(pruned.get('mean'), '.1f')} | {_f(pruned.get('min'), '.0f')} "
            f"| {_f(pruned.get('max'), '.0f')} |"]
  for key, what in (("tracks_per_song", "tracks"), ("groups_per_song", "subgroups")):
    s = stats[key]
    lines.append(f"| {what} | {_f(s.get('mean'), '.1f')} | {_f(s.get('min'), '.0f')} | "
                 f"{_f(s.get('max'), '.0f')} |")
  lines += ["", f"The paper's 1129 songs: {PAPER_PROCESSORS_PER_SONG[0]} processors per console, "
            f"{PAPER_PROCESSORS_PER_SONG[1]} kept.", ""]

  by = "instrument label" if stats["survival"]["labels"] == "instrument" else "name"
  lines += [f"## Which types survive, per {by}", "",
            f"Per track (then per subgroup) {by}: how many there are, and on what share of "
            "them each type was kept." + (" Tracks without a label are listed by name."
                                          if by != "name" else ""), ""]
  labels = [REGISTRY[p].label for p in PROCESSORS]
  for level, title in (("track", "tracks"), ("group", "subgroups")):
    rows = [[label, row["count"], *[f"{100 * row['kept'][p]:.0f} %" for p in PROCESSORS]]
            for label, row in list(stats["survival"][level].items())[:max_labels]]
    lines += markdown_table([f"{title} ({by})", "n", *labels], rows)
    more = len(stats["survival"][level]) - max_labels
    lines += ([f"", f"... and {more} more in stats.json."] if more > 0 else []) + [""]

  lines += ["## Kept settings", "",
            "What the kept processors do at their dry/wet, as report.md describes them "
            "(`effective` in graph.json): quartiles over every kept node.", ""]
  rows = []
  for proc in PROCESSORS:
    for name, s in stats["settings"][proc].items():
      unit = f" ({s['unit']})" if s["unit"] else ""
      rows.append([REGISTRY[proc].label, f"{name}{unit}", s["count"], _f(s.get("q25"), ".4g"),
                   _f(s.get("median"), ".4g"), _f(s.get("q75"), ".4g")])
  lines += markdown_table(["type", "setting", "n", "25 %", "median", "75 %"], rows) + [""]

  lines += ["## Songs", ""]
  lines += markdown_table(["song", "tracks", "groups", "L sum", "L console", "L pruned", "ρ",
                   "processors"],
                  [[s["name"], s["tracks"], s["groups"], _f(s["loss_sum"]), _f(s["loss_console"]),
                    _f(s["loss_pruned"]), _f(s["pruning_ratio"], ".2f"),
                    f"{s['processors_console']} → {s['processors_pruned']}"]
                   for s in stats["per_song"]])
  skipped = ([f"- {r['name']}: {r.get('status')}{': ' + r['error'] if r.get('error') else ''}"
              for r in stats["failed"]] + [f"- {r['name']}: {r['error']}" for r in stats["broken"]])
  if skipped:
    lines += ["", "## Not read", ""] + skipped
  if pictures:
    lines += ["", "## Pictures", ""] + [f"![{what}]({os.path.basename(path)})"
                                         for what, path in pictures.items()]
  return "\n".join(lines) + "\n"
