"""Collected graphs as a data set: the output folder of ``mixjax collect``, loaded.

``load_collection(folder)`` reads every finished song of a ``collect`` output
folder (its ``index.jsonl`` files and each song's ``graph.json``) into a
``Collection`` of ``SongGraph``: per song its names, instrument labels, kept
processors with their physical settings and what they do, raw parameters,
losses and ρ. Songs the index records as failed are listed
(``Collection.failed``), not loaded; a song whose files cannot be read is
skipped and listed with one line saying why (``Collection.broken``), so one
damaged song never stops the load. It works from any working folder (the
index records song folders relative to the output folder).

Two views for downstream work:

* ``Collection.nodes()``: one flat record (a dict) per kept processor, e.g.
  ``pandas.DataFrame(collection.nodes())`` (``pandas.json_normalize`` spreads
  the ``settings`` into columns);
* ``Collection.to_arrays()``: every song's console routing, raw parameters
  and alive masks padded to common sizes and stacked, ``[S, ...]``
  (``ConsoleArrays``), ready to ``jax.vmap`` the console over or to train a
  network on.

Loading is plain JSON and NumPy, with no JAX work per song (only the
``effective`` entry of a graph.json older than it is computed, when asked for).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import NamedTuple

import jax
import numpy as np

from mixjax import collect as collect_lib
from mixjax.console import Console, ConsoleParams
from mixjax.io import graph_json
from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.processors import base as processor_base
from mixjax.progress import tqdm

GRAPH_FILE = "graph.json"
"""The file of a song's results folder that the collection reads."""

LOSS_KEYS = ("loss_sum", "loss_console", "loss_pruned")
"""The losses of a song (graph.json ``metrics``)."""


class ConsoleArrays(NamedTuple):
  """Every song of a collection as one padded batch (a pytree, leading axis ``S``).

  Attributes:
    console: a ``Console`` whose leaves are batched: ``track_group``
      ``int32[S, T]`` (the routing), ``track_exists`` ``bool[S, T]`` and
      ``group_exists`` ``bool[S, G]`` (the track and group masks).
    params: ``ConsoleParams``, each leaf ``[S, T or G, ...]`` (dead and padded
      nodes are zeros).
    alive: ``{level: {processor: bool[S, T or G]}}``, the kept processors.

  ``jax.vmap(lambda a, x: console.render(a.console, a.params, x, a.alive))``
  renders every song (``x``: ``[S, T, 2, n]`` tracks, ``Collection.load_tracks``).
  """
  console: Console
  params: ConsoleParams
  alive: dict


@dataclasses.dataclass(frozen=True)
class SongGraph:
  """One finished song of a collection: its graph.json and its index record.

  Attributes:
    name: the song's name in the index (its results folder's name).
    results_dir: its results folder.
    song_dir: its song folder, or None when it is not found (any more).
    graph: its graph.json (``mixjax.io.graph_json``).
    record: its ``index.jsonl`` record.
  """
  name: str
  results_dir: str
  song_dir: str | None
  graph: dict = dataclasses.field(repr=False)
  record: dict = dataclasses.field(repr=False)

  @property
  def sample_rate(self) -> int:
    return int(self.graph["sample_rate"])

  @property
  def track_names(self) -> list[str]:
    return [t["name"] for t in self.graph["tracks"]]

  @property
  def group_names(self) -> list[str]:
    return list(self.graph["groups"])

  @property
  def track_groups(self) -> list[str]:
    """The subgroup of every track, by name."""
    return [t["group"] for t in self.graph["tracks"]]

  @property
  def losses(self) -> dict:
    """``{"loss_sum", "loss_console", "loss_pruned"}``: the whole-song losses."""
    return {k: float(self.graph["metrics"][k]) for k in LOSS_KEYS}

  @property
  def pruning_ratio(self) -> float:
    """ρ: the fraction of the console's processors that pruning removed."""
    return float(self.graph["metrics"]["pruning_ratio"])

  @property
  def pruning_ratio_per_type(self) -> dict:
    """ρ per processor type, in ``PROCESSORS`` order."""
    ratios = self.graph["metrics"]["pruning_ratio_per_type"]
    return {name: float(ratios[name]) for name in PROCESSORS if name in ratios}

  @property
  def console_processors(self) -> int:
    """Processors of the full console: 7 on every track and every fed subgroup."""
    return len(PROCESSORS) * (len(self.track_names) + len(set(self.track_groups)))

  @property
  def processors(self) -> list[dict]:
    """The graph's kept processor nodes (graph.json ``nodes``), in signal order."""
    return [node for node in self.graph["nodes"] if node["type"] in PROCESSORS]

  @functools.cached_property
  def instruments(self) -> dict:
    """``{"track": [label], "group": [label]}``, in track and group order.

    Labels come from the song folder's MedleyDB metadata (``instrument``: a
    raw track's own, else its stem's); None where there is none (a plain
    song folder, or a song folder that is not found).
    """
    labels = {"track": [None] * len(self.track_names), "group": [None] * len(self.group_names)}
    if self.song_dir is None:
      return labels
    from mixjax.io import song_folder  # reads audio libraries: only when labels are asked for
    try:
      found = song_folder.find_song_files(self.song_dir, need_mix=False)
    except ValueError:
      return labels
    for level, names, found_names, found_labels in (
        ("track", self.track_names, found.track_names, found.track_instruments),
        ("group", self.group_names, found.group_names, found.group_instruments)):
      by_name = dict(zip(found_names, found_labels or ()))
      labels[level] = [by_name.get(name) for name in names]
    return labels

  def instrument(self, level: str, owner: str) -> str | None:
    """The instrument label of a track or group (``instruments``), or None."""
    names = self.track_names if level == "track" else self.group_names
    return self.instruments[level][names.index(owner)]

  def effective(self, node: dict) -> dict:
    """What a processor node does at its dry/wet (its graph.json ``effective``)."""
    return graph_json.node_effective(node, self.sample_rate)

  def describe(self, node: dict) -> str:
    """That action in words, as report.md gives it: ``"+3.1 dB at 1.2 kHz (Q 1.4) (54 % wet)"``
    (``processors.base.describe_at_wet``)."""
    return processor_base.describe_at_wet(REGISTRY[node["type"]], self.effective(node))

  def nodes(self) -> list[dict]:
    """One flat record per kept processor (see ``Collection.nodes``)."""
    records, position = [], {}
    for node in self.processors:
      owner = (node["level"], node["owner"])
      position[owner] = position.get(owner, -1) + 1
      records.append({
          "song": self.name,
          "level": node["level"],
          "owner": node["owner"],
          "instrument": self.instrument(*owner),
          "type": node["type"],
          "position": position[owner],
          "drywet": node["drywet"],
          "settings": node["params"],
          "effective": self.effective(node),
          "description": self.describe(node),
      })
    return records

  def arrays(self, *, max_tracks: int | None = None, max_groups: int | None = None):
    """``(console, params, alive)`` of the graph with NumPy leaves, padded to the sizes given.

    Raises:
      ValueError: when the song does not fit ``max_tracks``/``max_groups``.
    """
    try:
      return graph_json.graph_arrays(self.graph, max_tracks=max_tracks, max_groups=max_groups)
    except ValueError as error:
      raise ValueError(f"{self.name}: {error}") from None

  def load_tracks(self, *, max_tracks: int | None = None) -> np.ndarray:
    """The song's dry tracks, ``float32[T, 2, n]``, in the graph's track order.

    Read from its song folder at the graph's sample rate; padded with silent
    tracks to ``max_tracks``.

    Raises:
      ValueError: when the song folder is not found or its tracks are not the
        graph's.
    """
    if self.song_dir is None:
      raise ValueError(
          f"{self.name}: its song folder ({self.record.get('path')!r} in the index, relative "
          f"to the collection) is not found; put the data set back where collect read it.")
    from mixjax.io import song_folder  # reads audio libraries: only when audio is asked for
    tracks = graph_json.graph_tracks(
        self.graph, song_folder.load_tracks(self.song_dir, sample_rate=self.sample_rate))
    n_tracks = len(tracks) if max_tracks is None else max_tracks
    if n_tracks < len(tracks):
      raise ValueError(f"{self.name} has {len(tracks)} tracks, more than max_tracks={n_tracks}.")
    return np.pad(tracks, [(0, n_tracks - len(tracks)), (0, 0), (0, 0)])


@dataclasses.dataclass(frozen=True)
class Collection:
  """The finished songs of a ``collect`` output folder (``load_collection``).

  Attributes:
    folder: the output folder.
    songs: every finished, readable song (``SongGraph``), by name.
    failed: the index records of the songs that failed or did not finish
      (``name``, ``status``, ``error``).
    broken: ``{"name", "error"}`` of every song the index lists as done whose
      results cannot be read (one line each: what is wrong, which file).
  """
  folder: str
  songs: tuple[SongGraph, ...]
  failed: tuple[dict, ...] = ()
  broken: tuple[dict, ...] = ()

  def __len__(self) -> int:
    return len(self.songs)

  def __iter__(self):
    return iter(self.songs)

  def __getitem__(self, key: int | str) -> SongGraph:
    """A song by position or by name."""
    if isinstance(key, str):
      for song in self.songs:
        if song.name == key:
          return song
      raise KeyError(f"{self.folder} holds no finished song {key!r}")
    return self.songs[key]

  @property
  def names(self) -> list[str]:
    return [song.name for song in self.songs]

  def nodes(self) -> list[dict]:
    """One flat record per kept processor of every song.

    Each record: ``song``, ``level`` (``track``/``group``), ``owner`` (the
    track or group), ``instrument`` (its label, or None), ``type``,
    ``position`` (0 for the first kept processor of its chain), ``drywet``,
    ``settings`` (the physical settings, graph.json ``params``),
    ``effective`` (what it does at its dry/wet) and ``description`` (that in
    words). ``pandas.DataFrame(collection.nodes())`` makes a table of them.
    """
    return [record for song in self.songs for record in song.nodes()]

  def sizes(self) -> tuple[int, int]:
    """``(max_tracks, max_groups)``: the largest track and group counts of the songs."""
    return (max(len(s.track_names) for s in self.songs),
            max(len(s.group_names) for s in self.songs))

  def to_arrays(self, *, max_tracks: int | None = None, max_groups: int | None = None
                ) -> ConsoleArrays:
    """Every song's console, raw parameters and alive masks, padded and stacked.

    Song ``s`` of the batch is ``self.songs[s]``; rendering it (``vmap`` over
    the batch, ``ConsoleArrays``) gives its ``estimate.wav`` up to float32
    rounding.

    Args:
      max_tracks, max_groups: the padded sizes (default: ``sizes()``).

    Returns:
      ``ConsoleArrays`` with NumPy leaves (``jax.device_put`` moves them).

    Raises:
      ValueError: for an empty collection, songs at different sample rates,
        or a song larger than ``max_tracks``/``max_groups``.
    """
    if not self.songs:
      raise ValueError(f"{self.folder} holds no finished song; nothing to stack.")
    rates = sorted({song.sample_rate for song in self.songs})
    if len(rates) > 1:
      raise ValueError(
          f"{self.folder}: the songs were searched at different sample rates "
          f"({', '.join(map(str, rates))} Hz); a batch needs one (collect each rate into its "
          f"own --out folder).")
    default_tracks, default_groups = self.sizes()
    sizes = dict(max_tracks=default_tracks if max_tracks is None else max_tracks,
                 max_groups=default_groups if max_groups is None else max_groups)
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves),
                           *[song.arrays(**sizes) for song in self.songs])
    return ConsoleArrays(*stacked)

  def load_tracks(self, *, max_tracks: int | None = None) -> np.ndarray:
    """Every song's dry tracks, ``float32[S, T, 2, n]`` (``SongGraph.load_tracks``),
    shorter songs followed by silence up to the longest."""
    max_tracks = self.sizes()[0] if max_tracks is None else max_tracks
    tracks = [song.load_tracks(max_tracks=max_tracks) for song in self.songs]
    n = max(t.shape[-1] for t in tracks)
    return np.stack([np.pad(t, [(0, 0), (0, 0), (0, n - t.shape[-1])]) for t in tracks])


def load_collection(folder: str, *, progress: bool = False) -> Collection:
  """Reads the finished songs of a ``mixjax collect`` output folder.

  Args:
    folder: the ``--out`` folder of ``mixjax collect`` (it holds
      ``index.jsonl`` and one results folder per song).
    progress: show a progress bar over the songs.

  Returns:
    A ``Collection``: its ``songs`` sorted by name, the ``failed`` and
    ``broken`` ones listed apart.

  Raises:
    ValueError: when ``folder`` is not a collection (no such folder, no index
      file) or an index file is damaged.
  """
  folder = os.fspath(folder)
  if not os.path.isdir(folder):
    raise ValueError(f"{folder}: no such folder; give the --out folder of 'mixjax collect'.")
  if not collect_lib.index_files(folder):
    raise ValueError(
        f"{folder} is not a collection: it holds no {collect_lib.INDEX}; give the --out "
        f"folder of 'mixjax collect'.")
  index = collect_lib.read_index(folder)
  songs, failed, broken = [], [], []
  for name in tqdm(sorted(index), unit="song", desc="load", disable=not progress):
    record = index[name]
    if record.get("status") != "done":
      failed.append({"name": name, "status": record.get("status"),
                     "error": record.get("error", "")})
      continue
    results_dir = os.path.join(folder, name)
    if not os.path.isdir(results_dir):
      broken.append({"name": name, "error": (
          f"{results_dir}: no such results folder, though {collect_lib.INDEX} lists the song "
          f"as done; run 'mixjax collect' again to search it anew.")})
      continue
    try:
      graph = graph_json.load_graph(os.path.join(results_dir, GRAPH_FILE))
    except ValueError as error:
      broken.append({"name": name, "error": " ".join(str(error).split())})
      continue
    songs.append(SongGraph(name=name, results_dir=results_dir,
                           song_dir=collect_lib.song_dir(folder, record), graph=graph,
                           record=record))
  return Collection(folder=folder, songs=tuple(songs), failed=tuple(failed),
                    broken=tuple(broken))

