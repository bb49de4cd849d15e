"""Tests of mixjax.io.graph_json (graph.json) and mixjax.io.plots, on one tiny search.

The song shape (3 tracks in 2 groups, 2 s at 8 kHz) and the search settings
are the ones tests/test_cli.py uses, so both files share compiled programs.
"""

import dataclasses
import json
import os
import xml.etree.ElementTree as ElementTree

import jax
import matplotlib.axes
import numpy as np
import pytest

import mixjax
from mixjax import validation
from mixjax.io import graph_json as graph_lib
from mixjax.io import plots
from mixjax.io import report_text
from mixjax.processors import PROCESSORS, REGISTRY

SR = 8000
N = 2 * SR
TINY = mixjax.SearchConfig.quick(console_steps=10, finetune_steps=10, rounds=1,
                                 crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
"""The settings ``mixjax search --preset quick --steps 10 --finetune-steps 10 --rounds 1
--crop-seconds 1.5 --warmup-seconds 0.5`` makes (tests/test_cli.py checks it)."""


def make_song(order=(0, 1, 2), names=("kick", "bass", "lead"), sample_rate=SR, n_tracks=3):
  rng = np.random.default_rng(0)
  t = np.arange(N) / SR
  tracks = np.stack([np.stack([np.sin(2 * np.pi * f * t)] * 2) * 0.3
                     for f in (60, 110, 440, 880)[:n_tracks]])
  tracks = tracks + 0.01 * rng.standard_normal(tracks.shape)
  mix = 0.8 * tracks.sum(0)
  groups = (0, 0, None, None)[:n_tracks]
  order = list(order) + list(range(3, n_tracks))
  track_names = [names[i] if i < 3 else f"extra {i}" for i in order]
  return mixjax.Song(tracks[order], mix, [groups[i] for i in order], sample_rate,
                     track_names=track_names,
                     group_names=("rhythm", *[n for i, n in zip(order, track_names) if i >= 2]))


@pytest.fixture(scope="module")
def searched():
  song = make_song()
  result = mixjax.search(song, TINY, seed=0, progress=False)
  return song, result


@pytest.fixture(scope="module")
def graph(searched):
  return graph_lib.graph_to_json(searched[1])


# -- the schema ---------------------------------------------------------------


def test_top_level(graph, searched):
  song, result = searched
  assert list(graph) == ["format", "version", "sample_rate", "tracks", "groups", "nodes",
                         "edges", "metrics"]
  assert graph["format"] == "mixjax.graph" and graph["version"] == 1
  assert graph["sample_rate"] == SR
  assert graph["tracks"] == [{"name": "kick", "group": "rhythm"},
                             {"name": "bass", "group": "rhythm"},
                             {"name": "lead", "group": "lead"}]
  assert graph["groups"] == ["rhythm", "lead"]
  metrics = graph["metrics"]
  assert set(metrics) == set(graph_lib.METRIC_KEYS)
  assert metrics["loss_pruned"] == pytest.approx(result.loss_pruned)
  assert metrics["pruning_ratio"] == pytest.approx(result.pruning_ratio)
  assert set(metrics["pruning_ratio_per_type"]) == set(PROCESSORS)
  assert metrics["device"] == "cpu:0" and metrics["resolved"] == {"trial_batch": 1}
  json.dumps(graph, allow_nan=False)  # strict JSON: no NaN, no numpy types


def test_only_surviving_processors_are_nodes(graph, searched):
  song, result = searched
  names = {"track": list(song.track_names), "group": list(song.group_names)}
  found = {(n["level"], names[n["level"]].index(n["owner"]), n["type"])
           for n in graph["nodes"] if n["type"] in PROCESSORS}
  assert found == result.alive_nodes()
  assert 0 < len(found) < 7 * 5  # the search pruned something and kept something
  types = [n["type"] for n in graph["nodes"]]
  assert types.count("input") == 3 and types.count("mix") == 2 and types.count("output") == 1


def test_nodes(graph, searched):
  _, result = searched
  for node in graph["nodes"]:
    keys = ["id", "type", "level", "owner", "drywet", "params", "raw"]
    if node["type"] in PROCESSORS:
      keys.insert(6, "effective")
    assert list(node) == keys
    assert node["id"] == graph_lib.node_id(node["level"], node["owner"], node["type"])
    if node["type"] not in PROCESSORS:
      assert node["drywet"] is None and node["params"] == {} and node["raw"] == {}
      continue
    level, proc = node["level"], node["type"]
    index = (result.track_names if level == "track" else result.group_names).index(node["owner"])
    logit = float(result.params.drywet_logits[level][proc][index])
    assert node["raw"]["drywet_logit"] == pytest.approx(logit, abs=1e-7)
    assert node["drywet"] == pytest.approx(1 / (1 + np.exp(-logit)), abs=1e-6)
    assert set(node["raw"]) == {"drywet_logit", *REGISTRY[proc].param_shapes}
    for key, shape in REGISTRY[proc].param_shapes.items():
      assert np.shape(node["raw"][key]) == shape
    # physical settings: the processor's controls, named with their units
    node_params = {k: v[index] for k, v in result.params.processors[level][proc].items()}
    shapes = jax.eval_shape(lambda p: REGISTRY[proc].controls(p, sample_rate=SR), node_params)
    assert set(node["params"]) == set(shapes)
    for key, shape in shapes.items():
      assert np.shape(node["params"][key]) == shape.shape, key
    if proc in ("compressor", "noisegate", "imager", "gain_pan"):  # cheap to run eagerly
      for key, value in REGISTRY[proc].controls(node_params, sample_rate=SR).items():
        assert node["params"][key] == pytest.approx(float(value), rel=1e-6, abs=1e-6), key
    # what the node does at its dry/wet: the processor's effective, from the exact parameters
    assert node["effective"] == REGISTRY[proc].effective(
        jax.tree.map(np.asarray, node_params), node["drywet"], sample_rate=SR)
    assert node["effective"]["wet"] == round(node["drywet"], 4)


def test_effective_survives_the_file_and_older_files_get_it_from_raw(tmp_path, graph):
  path = str(tmp_path / "graph.json")
  graph_lib.save_graph(graph, path)
  loaded = graph_lib.load_graph(path)
  assert loaded == json.loads(json.dumps(graph)) and graph_lib.with_effective(loaded) is loaded
  older = edited(graph, lambda g: [n.pop("effective", None) for n in g["nodes"]])
  with open(path, "w") as f:
    json.dump(older, f)
  older = graph_lib.load_graph(path)  # a graph.json written before "effective" still reads
  assert not any("effective" in n for n in older["nodes"])
  filled = graph_lib.with_effective(older)
  assert filled["nodes"] == graph["nodes"] and filled is not older
  assert not any("effective" in n for n in older["nodes"])  # the argument is not changed
  for node in older["nodes"]:
    if node["type"] in PROCESSORS:
      assert graph_lib.node_effective(node, SR) == next(
          n["effective"] for n in graph["nodes"] if n["id"] == node["id"])


def test_edges_follow_the_signal(graph, searched):
  _, result = searched
  successor = {}
  for src, dst in graph["edges"]:
    assert src not in successor, f"{src} has two outputs"
    successor[src] = dst
  alive = {(n["level"], n["owner"], n["type"]) for n in graph["nodes"]}
  for track in graph["tracks"]:
    path, node = [], f"track:{track['name']}:input"
    while node != "output":
      path.append(node)
      node = successor[node]
    expected = ([f"track:{track['name']}:input"]
                + [f"track:{track['name']}:{p}" for p in PROCESSORS
                   if ("track", track["name"], p) in alive]
                + [f"group:{track['group']}:mix"]
                + [f"group:{track['group']}:{p}" for p in PROCESSORS
                   if ("group", track["group"], p) in alive])
    assert path == expected
  assert len(graph["edges"]) == len(graph["nodes"]) - 1  # a tree into the output


# -- the round trip -------------------------------------------------------------


def test_round_trip_renders_the_search_estimate(tmp_path, searched):
  song, result = searched
  path = str(tmp_path / "graph.json")
  written = graph_lib.save_graph(result, path)
  loaded = graph_lib.load_graph(path)
  assert loaded == json.loads(json.dumps(written))
  np.testing.assert_allclose(graph_lib.render_graph(loaded, song), result.render(song),
                             atol=1e-6, rtol=0)
  assert not [f for f in os.listdir(tmp_path) if f != "graph.json"]  # no temp file left


def test_render_matches_tracks_by_name(graph, searched):
  song, result = searched
  shuffled = make_song(order=(2, 0, 1))
  np.testing.assert_allclose(graph_lib.render_graph(graph, shuffled), result.render(song),
                             atol=1e-6, rtol=0)


def test_graph_is_compact_and_indented(tmp_path, searched):
  path = str(tmp_path / "graph.json")
  graph_lib.save_graph(searched[1], path)
  with open(path) as f:
    text = f.read()
  assert text.startswith('{\n  "format": "mixjax.graph",\n  "version": 1,')
  assert '    {"name": "kick", "group": "rhythm"},' in text
  assert len(text.splitlines()) < 30 * len(json.loads(text)["nodes"])  # arrays on one line


# -- bad graphs and mismatched songs ---------------------------------------------


def edited(graph, edit):
  copy = json.loads(json.dumps(graph))
  edit(copy)
  return copy


@pytest.mark.parametrize("edit, match", [
    (lambda g: g.update(format="something.else"),
     r"is not a mixjax graph \(format 'something.else', expected 'mixjax.graph'\)"),
    (lambda g: g.pop("format"), r"is not a mixjax graph \(format None"),
    (lambda g: g.update(version=2), r"version 2, but this mixjax reads version 1"),
    (lambda g: g.pop("edges"), r"the 'edges' entry is missing"),
    (lambda g: g["nodes"][1].update(type="fuzz"), r"has an unknown type"),
    (lambda g: g["nodes"][1]["raw"].popitem(), r"must have 'raw' entries"),
    (lambda g: g["nodes"][1]["raw"].update(drywet_logit=[1.0, 2.0]),
     r"raw 'drywet_logit' must be finite numbers of shape \(\)"),
    (lambda g: g["tracks"][0].update(group="nowhere"), r"needs a 'name' and a 'group'"),
    (lambda g: g["edges"].append(["output", "nowhere"]), r"does not join two nodes"),
    (lambda g: g["nodes"][1].update(effective=[1, 2]), r"'effective' must be an object"),
])
def test_damaged_graphs_are_refused(tmp_path, graph, edit, match):
  path = str(tmp_path / "graph.json")
  with open(path, "w") as f:
    json.dump(edited(graph, edit), f)
  with pytest.raises(ValueError, match=match):
    graph_lib.load_graph(path)


def test_not_json_or_missing(tmp_path):
  path = tmp_path / "graph.json"
  path.write_text("{ not json")
  with pytest.raises(ValueError, match=r"graph.json is not a JSON file"):
    graph_lib.load_graph(str(path))
  with pytest.raises(ValueError, match=r"nope.json: no such file"):
    graph_lib.load_graph(str(tmp_path / "nope.json"))


@pytest.mark.parametrize("song_kwargs, match", [
    (dict(names=("kick", "bass", "vox")),
     r"the song's 3 tracks do not match the graph's 3 \(the song lacks 'lead'; the graph has "
     r"no 'vox'\)"),
    (dict(n_tracks=4), r"the song's 4 tracks do not match the graph's 3 \(the graph has no "
     r"'extra 3'\)"),
    (dict(sample_rate=16000), r"searched at 8000 Hz but the song is at 16000 Hz; load the song "
     r"with sample_rate=8000"),
])
def test_render_refuses_another_song(graph, song_kwargs, match):
  with pytest.raises(ValueError, match=match):
    graph_lib.render_graph(graph, make_song(**song_kwargs))


def test_unique_names_are_required(searched):
  result = dataclasses.replace(searched[1], track_names=["kick", "kick", "lead"])
  with pytest.raises(ValueError, match=r"'kick' appears twice"):
    graph_lib.graph_to_json(result)


# -- pictures ---------------------------------------------------------------------


def test_pictures(tmp_path, graph, searched, monkeypatch):
  song, result = searched
  png, svg, spec = (str(tmp_path / n) for n in ("graph.png", "graph.svg", "spec.png"))
  plots.draw_graph(graph, png, svg)
  titles = []
  set_title = matplotlib.axes.Axes.set_title
  monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                      lambda ax, label, *a, **k: titles.append(label) or set_title(ax, label, *a, **k))
  plots.plot_spectrograms(song.mix, result.render(song), SR, spec)
  assert titles[:3] == ["mix — mid", "estimate — mid", titles[2]]  # the README's word: mix
  assert titles[2].startswith("difference — mid (") and titles[2].endswith(" dB re mix)")
  assert not any("target" in t for t in titles), titles
  for path in (png, spec):
    with open(path, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  root = ElementTree.parse(svg).getroot()
  text = " ".join(t for t in root.itertext())
  for name in ("kick", "bass", "lead", "rhythm", "EQ", "reverb"):
    assert name in text  # labels stay text in the SVG
  assert sorted(os.listdir(tmp_path)) == ["graph.png", "graph.svg", "spec.png"]
  with pytest.raises(ValueError, match=r"must both be \[2, n\]"):
    plots.plot_spectrograms(song.mix, song.mix[:, :100], SR, spec)


def test_processor_curves(tmp_path, graph, monkeypatch):
  path = str(tmp_path / "processors.png")
  assert any(n["type"] in plots.CURVE_TYPES for n in graph["nodes"])
  titles = []
  set_title = matplotlib.axes.Axes.set_title
  monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                      lambda ax, label, *a, **k: titles.append(label) or set_title(ax, label, *a, **k))
  plots.plot_processors(graph, path)
  owners = {validation.owner_label(n["level"], n["owner"]) for n in graph["nodes"]
            if n["type"] in plots.CURVE_TYPES}
  assert {t.split(" — ")[0] for t in titles} == owners, titles  # "group rhythm", "track kick"
  older = edited(graph, lambda g: [n.pop("effective", None) for n in g["nodes"]])
  plots.plot_processors(older, str(tmp_path / "older.png"))  # computed from raw
  bare = edited(graph, lambda g: g.update(nodes=[n for n in g["nodes"]
                                                 if n["type"] not in plots.CURVE_TYPES]))
  plots.plot_processors(bare, str(tmp_path / "none.png"))  # says that none is kept
  for name in ("processors.png", "older.png", "none.png"):
    with open(tmp_path / name, "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert sorted(os.listdir(tmp_path)) == ["none.png", "older.png", "processors.png"]


def test_report_describes_each_node_by_its_effect(graph, searched):
  song, result = searched
  for node in graph["nodes"]:
    if node["type"] in PROCESSORS:
      processor = REGISTRY[node["type"]]
      text = report_text.describe_node(node, SR)
      assert text == (f"{processor.label}: {processor.describe(node['effective'])} "
                      f"({100 * node['drywet']:.0f} % wet)")
      older = {k: v for k, v in node.items() if k != "effective"}
      assert report_text.describe_node(older, SR) == text
  markdown = report_text.report_markdown(result, graph, song_label="tiny", n_samples=N)
  assert "(processors.png)" in markdown and "| processors.png |" in markdown
  kept = [n for n in graph["nodes"] if n["type"] in PROCESSORS]
  assert sum(line.count("% wet)") for line in markdown.splitlines()
             if line.startswith("- **")) == len(kept)
