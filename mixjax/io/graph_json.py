"""graph.json: a searched mixing graph as a file people and programs can read.

The file holds only the surviving processors, their settings in physical
units, and the unconstrained parameters that re-render the graph exactly::

  {"format": "mixjax.graph", "version": 1, "sample_rate": 30000,
   "tracks": [{"name": "kick", "group": "drums"}, ...],
   "groups": ["drums", ...],
   "nodes": [{"id": "track:kick:eq", "type": "eq", "level": "track",
              "owner": "kick", "drywet": 0.73,
              "params": {"frequency_hz": [...], "gain_db": [...]},
              "effective": {"wet": 0.73, "bands": [...], ...},
              "raw": {"drywet_logit": 0.99, "log_magnitude": [...]}}, ...],
   "edges": [["track:kick:input", "track:kick:eq"], ...],
   "metrics": {"loss_sum", "loss_console", "loss_pruned", "pruning_ratio",
               "pruning_ratio_per_type", "seconds", "device", "resolved"}}

Nodes:

* ``input`` (one per track; level ``track``, owner the track),
* a processor type from ``PROCESSORS`` (level ``track`` or ``group``, owner
  the track or group; ``drywet`` is ``w = sigmoid(raw["drywet_logit"])``;
  ``params`` are the processor's ``controls`` in physical units, each named
  with its unit; ``effective`` is what the node does at its dry/wet, from the
  processor's ``effective`` function: an EQ's curve of ``|w H + 1 - w|`` and
  its bands, a compressor's or gate's static curve, a delay's audible taps, a
  reverb's T60 and level, ...; ``raw`` holds the dry/wet logit and the
  processor's unconstrained parameters with their ``param_shapes``),
* ``mix`` (one per subgroup that a track feeds; level ``group``),
* ``output`` (the stereo mix; level and owner null).

``input``, ``mix`` and ``output`` have ``drywet`` null and empty ``params``
and ``raw`` (and no ``effective``). Node ids are ``"<level>:<owner>:<type>"``
and ``"output"``. Edges follow the signal: track input → the track's surviving processors (in
chain order) → its group's mix node → the group's surviving processors →
output. Numbers are the float32 values written in their shortest exact
decimal form; a non-finite physical value is written as null.

``metrics.device`` is the device the search ran on (``"cpu:0"``, ``"gpu:1"``)
and ``metrics.resolved`` the settings it resolved for that backend
(``SearchConfig.resolved``: ``{"trial_batch": 1, "skip_dead_types": true}`` on a CPU).

Version history: 1 (mixjax 0.1); processor nodes gained ``effective``, and
``metrics`` gained ``device`` and ``resolved``, within version 1, so a file
without them still reads (``node_effective`` computes ``effective`` from
``raw``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mixjax import atomic_files
from mixjax import validation
from mixjax.console import LEVELS, Console, ConsoleParams
from mixjax.processors import PROCESSORS, REGISTRY

FORMAT = "mixjax.graph"
"""The ``format`` field of every graph.json."""

VERSION = 1
"""The schema version this mixjax writes and reads."""

NODE_TYPES = ("input", *PROCESSORS, "mix", "output")
"""Every node ``type``, in signal order."""

DRYWET_KEY = "drywet_logit"
"""The ``raw`` entry holding a processor node's dry/wet logit."""

METRIC_KEYS = ("loss_sum", "loss_console", "loss_pruned", "pruning_ratio",
               "pruning_ratio_per_type", "seconds", "device", "resolved")
"""The ``metrics`` entries."""


def node_id(level: str | None, owner: str | None, node_type: str) -> str:
  """The id of a node: ``"<level>:<owner>:<type>"``, or ``"output"``."""
  return "output" if node_type == "output" else f"{level}:{owner}:{node_type}"


# ---------------------------------------------------------------------------
# Numbers to JSON
# ---------------------------------------------------------------------------


def _json_numbers(x) -> Any:
  """A float/int array (or scalar) as nested lists of JSON-safe numbers.

  Floats are written as float32 in their shortest decimal form that reads
  back to the same float32 (exactly: any value whose short form would not
  round-trip is written as its exact double); non-finite values become None.
  """
  x = np.asarray(x)
  if np.issubdtype(x.dtype, np.bool_):
    return x.tolist()
  if np.issubdtype(x.dtype, np.integer):
    return x.astype(np.int64).tolist()
  x32 = x.astype(np.float32)
  short = x32.astype(str)
  values = short.astype(np.float64)
  inexact = values.astype(np.float32) != x32
  values = np.where(inexact, x32.astype(np.float64), values).astype(object)
  values[~np.isfinite(x32)] = None
  return values.tolist()


def _dumps(value, indent: int = 0) -> str:
  """JSON text with dicts and lists of objects indented, number arrays on one line."""
  pad, inner = " " * indent, " " * (indent + 2)
  if isinstance(value, dict):
    flat = json.dumps(value, separators=(", ", ": "), allow_nan=False)
    if not value or (len(flat) <= 80 and not any(isinstance(v, (dict, list)) for v in value.values())):
      return flat
    items = [f"{inner}{json.dumps(k)}: {_dumps(v, indent + 2)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"
  if isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value) and (
      any(isinstance(v, dict) for v in value) or all(
          isinstance(v, list) and all(isinstance(u, str) for u in v) for v in value)):
    items = [f"{inner}{_dumps(v, indent + 2)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"
  return json.dumps(value, separators=(", ", ": "), allow_nan=False)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _check_unique(names, what: str) -> None:
  seen = set()
  for name in names:
    if name in seen:
      raise ValueError(
          f"graph.json names every {what} uniquely, but {name!r} appears twice; give the "
          f"Song unique {what}_names.")
    seen.add(name)


@functools.lru_cache(maxsize=None)
def _batched_controls(processor: str, sample_rate: int):
  """``controls`` of one processor type, vmapped over nodes and compiled once."""
  return jax.jit(jax.vmap(functools.partial(REGISTRY[processor].controls,
                                            sample_rate=sample_rate)))


def graph_to_json(result) -> dict:
  """The pruned graph of a search as a graph.json dict (see the module docstring).

  Args:
    result: a ``SearchResult``.

  Returns:
    A JSON-serialisable dict (``json.dumps(graph, allow_nan=False)`` works).

  Raises:
    ValueError: when two tracks or two groups share a name.
  """
  sr = int(result.sample_rate)
  track_names = [str(n) for n in result.track_names]
  group_names = [str(n) for n in result.group_names]
  _check_unique(track_names, "track")
  _check_unique(group_names, "group")
  track_groups = [int(g) for g in result.track_groups]
  params = jax.device_get(result.params)
  alive = {level: {name: np.asarray(v, bool) for name, v in d.items()}
           for level, d in result.alive.items()}

  # Physical settings: one compiled `controls` per type, over the nodes of both levels.
  controls = {level: {} for level in LEVELS}
  for proc in PROCESSORS:
    if not any(alive[level][proc].any() for level in LEVELS):
      continue
    both = jax.tree.map(lambda t, g: np.concatenate([t, g]),
                        params.processors["track"][proc], params.processors["group"][proc])
    values = jax.device_get(_batched_controls(proc, sr)(both))
    n_tracks = len(alive["track"][proc])
    controls["track"][proc] = {k: v[:n_tracks] for k, v in values.items()}
    controls["group"][proc] = {k: v[n_tracks:] for k, v in values.items()}

  nodes, edges = [], []

  def add(level, owner, node_type, index=None):
    node = {"id": node_id(level, owner, node_type), "type": node_type, "level": level,
            "owner": owner, "drywet": None, "params": {}, "raw": {}}
    if node_type in PROCESSORS:
      logit = np.float32(params.drywet_logits[level][node_type][index])
      node["drywet"] = _json_numbers(1 / (1 + np.exp(-logit)))
      node["params"] = {k: _json_numbers(v[index])
                        for k, v in controls[level][node_type].items()}
      node["effective"] = REGISTRY[node_type].effective(
          {k: v[index] for k, v in params.processors[level][node_type].items()},
          float(node["drywet"]), sample_rate=sr)
      del node["raw"]  # re-added below, so that the long arrays come last
      node["raw"] = {DRYWET_KEY: _json_numbers(logit)}
      node["raw"].update({k: _json_numbers(v[index])
                          for k, v in params.processors[level][node_type].items()})
    nodes.append(node)
    return node["id"]

  def chain(level, owner, index, start):
    previous = start
    for proc in PROCESSORS:
      if alive[level][proc][index]:
        current = add(level, owner, proc, index)
        edges.append([previous, current])
        previous = current
    return previous

  fed = sorted(set(track_groups))
  for t, name in enumerate(track_names):
    last = chain("track", name, t, add("track", name, "input"))
    edges.append([last, node_id("group", group_names[track_groups[t]], "mix")])
  for g in fed:
    last = chain("group", group_names[g], g, add("group", group_names[g], "mix"))
    edges.append([last, node_id(None, None, "output")])
  add(None, None, "output")

  return {
      "format": FORMAT,
      "version": VERSION,
      "sample_rate": sr,
      "tracks": [{"name": name, "group": group_names[g]}
                 for name, g in zip(track_names, track_groups)],
      "groups": group_names,
      "nodes": nodes,
      "edges": edges,
      "metrics": {
          "loss_sum": float(result.loss_sum),
          "loss_console": float(result.loss_console),
          "loss_pruned": float(result.loss_pruned),
          "pruning_ratio": float(result.pruning_ratio),
          "pruning_ratio_per_type": {k: float(v)
                                     for k, v in result.pruning_ratio_per_type.items()},
          "seconds": {k: float(v) for k, v in result.seconds.items()},
          "device": str(result.device),
          "resolved": dict(result.resolved),
      },
  }


def dumps(graph: dict) -> str:
  """graph.json text: objects indented, each number array on one line."""
  return _dumps(graph) + "\n"


def save_graph(result, path: str) -> dict:
  """Writes the graph of a ``SearchResult`` (or a graph dict) to ``path``, atomically.

  Returns:
    The graph dict that was written.
  """
  graph = result if isinstance(result, dict) else graph_to_json(result)
  atomic_files.write_text(path, dumps(graph))
  return graph


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def load_graph(path: str) -> dict:
  """Reads and checks a graph.json.

  Raises:
    ValueError: when the file is missing or not JSON, of another format or
      version, or inconsistent (see ``check_graph``).
  """
  try:
    with open(path, encoding="utf-8") as f:
      graph = json.load(f)
  except FileNotFoundError:
    raise ValueError(f"{path}: no such file; give the graph.json a search wrote.") from None
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
    raise ValueError(f"{path} is not a JSON file ({error}); give the graph.json a search "
                     f"wrote.") from None
  return check_graph(graph, where=path)


def check_graph(graph: dict, *, where: str = "graph") -> dict:
  """Checks a graph dict's format, version and consistency; returns it.

  Raises:
    ValueError: naming the first problem found.
  """
  if not isinstance(graph, dict) or graph.get("format") != FORMAT:
    found = graph.get("format") if isinstance(graph, dict) else type(graph).__name__
    raise ValueError(
        f"{where} is not a mixjax graph (format {found!r}, expected {FORMAT!r}); give the "
        f"graph.json a mixjax search wrote.")
  if graph.get("version") != VERSION:
    raise ValueError(
        f"{where} is a mixjax graph of version {graph.get('version')!r}, but this mixjax "
        f"reads version {VERSION}; use the mixjax version that wrote it.")

  def bad(message):
    return ValueError(f"{where}: {message}; the file is damaged or was edited by hand.")

  for key in ("sample_rate", "tracks", "groups", "nodes", "edges", "metrics"):
    if key not in graph:
      raise bad(f"the {key!r} entry is missing")
  validation.check_sample_rate(graph["sample_rate"], where=where)
  groups = graph["groups"]
  if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
    raise bad("'groups' must be a list of names")
  if len(set(groups)) != len(groups):
    raise bad("'groups' has a name twice")
  tracks = graph["tracks"]
  if not isinstance(tracks, list) or not tracks:
    raise bad("'tracks' must be a non-empty list")
  for track in tracks:
    if not isinstance(track, dict) or not isinstance(track.get("name"), str) or (
        track.get("group") not in groups):
      raise bad(f"track entry {track!r} needs a 'name' and a 'group' from 'groups'")
  track_names = [t["name"] for t in tracks]
  if len(set(track_names)) != len(track_names):
    raise bad("'tracks' has a name twice")
  owners = {"track": set(track_names), "group": {t["group"] for t in tracks}}

  ids = set()
  for node in graph["nodes"]:
    if not isinstance(node, dict) or node.get("type") not in NODE_TYPES:
      raise bad(f"node {node.get('id') if isinstance(node, dict) else node!r} has an unknown "
                f"type (known: {', '.join(NODE_TYPES)})")
    node_type, level, owner = node["type"], node.get("level"), node.get("owner")
    expected_level = {"input": ("track",), "mix": ("group",), "output": (None,)}.get(
        node_type, LEVELS)
    if level not in expected_level:
      raise bad(f"node {node.get('id')!r} of type {node_type} has level {level!r}")
    if node_type != "output" and owner not in owners[level]:
      raise bad(f"node {node.get('id')!r} belongs to an unknown {level} {owner!r}")
    if node.get("id") != node_id(level, owner, node_type) or node["id"] in ids:
      raise bad(f"node id {node.get('id')!r} is wrong or repeated")
    ids.add(node["id"])
    if node_type in PROCESSORS:
      _check_raw(node, bad)
      if not isinstance(node.get("effective", {}), dict):
        raise bad(f"node {node['id']!r} 'effective' must be an object")
  for edge in graph["edges"]:
    if not (isinstance(edge, list) and len(edge) == 2 and all(e in ids for e in edge)):
      raise bad(f"edge {edge!r} does not join two nodes")
  return graph


def node_effective(node: dict, sample_rate: int) -> dict:
  """A processor node's ``effective`` entry, computed from its ``raw`` when the
  graph.json predates it (or holds something else there)."""
  effective = node.get("effective")
  if isinstance(effective, dict):
    return effective
  raw = node["raw"]
  wet = node.get("drywet")
  if not isinstance(wet, (int, float)):  # as graph_to_json writes it
    wet = _json_numbers(1 / (1 + np.exp(-np.float32(raw[DRYWET_KEY]))))
  params = {k: np.asarray(raw[k], np.float32) for k in REGISTRY[node["type"]].param_shapes}
  return REGISTRY[node["type"]].effective(params, float(wet), sample_rate=sample_rate)


def with_effective(graph: dict) -> dict:
  """The graph with an ``effective`` entry on every processor node (a copy when any was missing)."""
  if all(isinstance(n.get("effective"), dict) for n in graph["nodes"] if n["type"] in PROCESSORS):
    return graph
  nodes = [dict(n, effective=node_effective(n, graph["sample_rate"]))
           if n["type"] in PROCESSORS else n for n in graph["nodes"]]
  return dict(graph, nodes=nodes)


def _check_raw(node: dict, bad) -> None:
  raw = node.get("raw")
  shapes = REGISTRY[node["type"]].param_shapes
  if not isinstance(raw, dict) or set(raw) != {DRYWET_KEY, *shapes}:
    raise bad(f"node {node['id']!r} must have 'raw' entries {sorted([DRYWET_KEY, *shapes])}")
  for key, shape in [(DRYWET_KEY, ()), *shapes.items()]:
    try:
      value = np.asarray(raw[key], np.float32)
    except (TypeError, ValueError):
      value = None
    if value is None or value.shape != tuple(shape) or not np.isfinite(value).all():
      raise bad(f"node {node['id']!r} raw {key!r} must be finite numbers of shape {shape}")


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def graph_arrays(graph: dict, *, max_tracks: int | None = None,
                 max_groups: int | None = None) -> tuple[Console, ConsoleParams, dict]:
  """``console_from_graph`` with NumPy leaves (no device work): stack many on the host.

  Padded track and group slots are dead, with zero parameters.
  """
  check_graph(graph)
  groups = graph["groups"]
  track_groups = [groups.index(t["group"]) for t in graph["tracks"]]
  console = jax.device_get(Console.build(
      track_groups, sample_rate=graph["sample_rate"], max_tracks=max_tracks,
      max_groups=max(len(groups), 1) if max_groups is None else max_groups))
  sizes = console.level_sizes()
  processors = {level: {proc: {k: np.zeros((size, *shape), np.float32)
                               for k, shape in REGISTRY[proc].param_shapes.items()}
                        for proc in PROCESSORS} for level, size in sizes.items()}
  logits = {level: {proc: np.zeros(size, np.float32) for proc in PROCESSORS}
            for level, size in sizes.items()}
  alive = {level: {proc: np.zeros(size, bool) for proc in PROCESSORS}
           for level, size in sizes.items()}
  index = {"track": {t["name"]: i for i, t in enumerate(graph["tracks"])},
           "group": {g: i for i, g in enumerate(groups)}}
  for node in graph["nodes"]:
    proc, level = node["type"], node["level"]
    if proc not in PROCESSORS:
      continue
    i = index[level][node["owner"]]
    alive[level][proc][i] = True
    logits[level][proc][i] = np.float32(node["raw"][DRYWET_KEY])
    for k in REGISTRY[proc].param_shapes:
      processors[level][proc][k][i] = np.asarray(node["raw"][k], np.float32)
  return console, ConsoleParams(processors=processors, drywet_logits=logits), alive


def console_from_graph(graph: dict, *, max_tracks: int | None = None,
                       max_groups: int | None = None) -> tuple[Console, ConsoleParams, dict]:
  """The console, parameters and alive masks that a graph describes.

  Processors that the graph does not hold are dead (their parameters zero).

  Args:
    graph: from ``load_graph``.
    max_tracks, max_groups: pad the console to these sizes (default: the
      graph's own), e.g. to stack several graphs into one batch.

  Returns:
    ``(console, params, alive)`` for ``console.render(params, tracks, alive)``
    with tracks in the order of ``graph["tracks"]`` (then padding).

  Raises:
    ValueError: for a graph that does not fit ``max_tracks``/``max_groups``.
  """
  console, params, alive = graph_arrays(graph, max_tracks=max_tracks, max_groups=max_groups)
  return jax.tree.map(jnp.asarray, (console, params, alive))


def graph_tracks(graph: dict, song) -> np.ndarray:
  """A song's dry tracks in the order of the graph's tracks (matched by name).

  Args:
    graph: from ``load_graph`` or ``graph_to_json``.
    song: a ``Song``, or the ``Tracks`` of ``song_folder.load_tracks``, at the
      graph's sample rate with the graph's tracks (their order may differ).

  Returns:
    ``float32[n_tracks, 2, n]``.

  Raises:
    ValueError: when the song's sample rate or tracks differ from the graph's.
  """
  names = [t["name"] for t in graph["tracks"]]
  if song.sample_rate != graph["sample_rate"]:
    raise ValueError(
        f"the graph was searched at {graph['sample_rate']} Hz but the song is at "
        f"{song.sample_rate} Hz; load the song with sample_rate={graph['sample_rate']}.")
  song_names = list(song.track_names)
  missing = [n for n in names if n not in song_names]
  extra = [n for n in song_names if n not in names]
  if missing or extra or len(song_names) != len(names):
    parts = []
    if missing:
      parts.append(f"the song lacks {', '.join(map(repr, missing[:5]))}")
    if extra:
      parts.append(f"the graph has no {', '.join(map(repr, extra[:5]))}")
    if not parts:
      parts.append("a track name repeats")
    raise ValueError(
        f"the song's {len(song_names)} tracks do not match the graph's {len(names)} "
        f"({'; '.join(parts)}); render the graph on the song it was searched on.")
  return np.asarray(song.tracks)[[song_names.index(n) for n in names]]


def render_graph(graph: dict, song) -> np.ndarray:
  """Renders a graph on a song's dry tracks.

  Args:
    graph: from ``load_graph`` or ``graph_to_json``.
    song: a ``Song``, or the ``Tracks`` of ``song_folder.load_tracks`` (no mix
      needed), at the graph's sample rate with the graph's tracks (matched by
      name; their order may differ). The routing into subgroups is the
      graph's, whatever the song's grouping.

  Returns:
    ``float32[2, n]``: the mix the graph makes of the song.

  Raises:
    ValueError: when the song's sample rate or tracks differ from the graph's.
  """
  check_graph(graph)
  tracks = graph_tracks(graph, song)
  console, params, alive = console_from_graph(graph)
  return console.render_song(params, tracks, alive)


def processor_count(graph: dict) -> int:
  """Number of processor nodes in a graph."""
  return sum(node["type"] in PROCESSORS for node in graph["nodes"])

