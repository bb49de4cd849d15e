"""Tests of mixjax.io.graph_json (graph.json) and mixjax.io.plots, on one tiny search.

The song shape (3 tracks in 2 groups, 2 s at 8 kHz) and the search settings
are the ones tests/test_cli.py uses, so both files share compiled programs.
"""

import dataclasses
import json
import os
import re
import xml.etree.ElementTree as ElementTree

import jax
import matplotlib.axes
import matplotlib.figure
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
  assert metrics["device"] == "cpu:0" and metrics["resolved"] == {"trial_batch": 1, "skip_dead_types": True}
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
  texts = []
  figure_text = matplotlib.figure.Figure.text
  monkeypatch.setattr(matplotlib.figure.Figure, "text",
                      lambda fig, x, y, s, *a, **k: texts.append(s) or figure_text(fig, x, y, s,
                                                                                   *a, **k))
  panels = plots.plot_spectrograms(song.mix, result.render(song), SR, spec)
  assert titles[:3] == ["mix — mid", "estimate — mid", titles[2]]  # the README's word: mix
  for row, title in (("mid", titles[2]), ("side", titles[5])):
    # The difference panels show the magnitudes' difference, with both numbers.
    assert title == (f"estimate \u2212 mix, magnitude \u2014 {row}\nmean |\u0394| "
                     f"{panels.mean_abs_difference_db[row]:.1f} dB; waveform null "
                     f"{panels.null_db[row]:+.1f} dB re mix").replace("-", "\u2212"), title
  assert " ".join(texts).replace("\n", " ") == report_text.NULL_NOTE  # why it does not null
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


def test_spectrogram_difference_is_of_magnitudes_and_the_null_is_of_waveforms():
  """Against signals whose answer is known: a polarity flip has the same magnitudes (a
  difference of 0 dB) but a waveform difference twice the mix (+6.02 dB); half the mix is
  -6.02 dB in both (float64 sums)."""
  mix = make_song().mix
  flipped = plots.spectrogram_panels(mix, -mix, SR)
  for row in ("mid", "side"):
    assert np.abs(flipped.difference_db[row]).max() < 1e-6
    assert flipped.mean_abs_difference_db[row] < 1e-6
    assert flipped.null_db[row] == pytest.approx(10 * np.log10(4), abs=1e-3)
  half = plots.spectrogram_panels(mix, 0.5 * mix, SR)
  for row, f in (("mid", lambda x: x[0] + x[1]), ("side", lambda x: x[0] - x[1])):
    m = half.magnitude_db[row]["mix"]
    loud = m > half.floor_db + 7  # the estimate's copy stays above the floor
    np.testing.assert_allclose(half.difference_db[row][loud], -20 * np.log10(2), atol=1e-4)
    np.testing.assert_allclose(half.magnitude_db[row]["estimate"][loud],
                               m[loud] - 20 * np.log10(2), atol=1e-4)
    quiet = np.maximum(m, half.magnitude_db[row]["estimate"]) <= half.floor_db
    assert np.all(half.difference_db[row][quiet] == 0)  # silence matches silence
    reference = f(np.asarray(mix, np.float64))
    assert half.null_db[row] == pytest.approx(
        10 * np.log10(np.sum((0.5 * reference) ** 2) / np.sum(reference ** 2)), abs=1e-4)
  assert half.magnitude_db["mid"]["mix"].shape == (plots.LOG_FREQUENCY_ROWS,
                                                   half.difference_db["mid"].shape[1])
  assert half.frequency_hz[-1] == pytest.approx(SR / 2)


def test_processor_curves(tmp_path, graph, monkeypatch):
  path = str(tmp_path / "processors.png")
  assert any(n["type"] in plots.CURVE_TYPES for n in graph["nodes"])
  titles = []
  set_title = matplotlib.axes.Axes.set_title
  monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                      lambda ax, label, *a, **k: titles.append(label) or set_title(ax, label, *a, **k))
  notes = []
  axes_text = matplotlib.axes.Axes.text
  monkeypatch.setattr(matplotlib.axes.Axes, "text",
                      lambda ax, x, y, s, *a, **k: notes.append(s) or axes_text(ax, x, y, s,
                                                                                *a, **k))
  plots.plot_processors(graph, path)
  owners = {validation.owner_label(n["level"], n["owner"]) for n in graph["nodes"]
            if n["type"] in plots.CURVE_TYPES}
  assert {t.split(" — ")[0] for t in titles} == owners, titles  # "group rhythm", "track kick"
  dynamics_nodes = [n for n in graph["nodes"] if n["type"] in ("compressor", "noisegate")]
  assert dynamics_nodes
  for node in dynamics_nodes:  # the nominal settings, then what they do at the dry/wet
    e = node["effective"]
    note = next(s for s in notes if s.startswith(
        f"settings: threshold {e['threshold_db']:.1f} dB RMS (dotted),\nratio "
        f"{e['ratio']:.2f} (".replace("-", "\u2212")))
    assert f"\nat {100 * e['wet']:.0f} % wet: ≈" in note and note.endswith("dB (dashed)"), note
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
      head, wet = re.fullmatch(r"(.*) \((\d+) % wet\)", text).groups()
      assert head == f"{processor.label}: {processor.describe(node['effective'])}"
      # The percentage is the node's dry/wet rounded twice (to 4 digits in ``effective``,
      # then to a whole percent), so it may differ from round(100 * drywet) by one when
      # drywet sits at a half percent: compare it with the value to within the rounding.
      assert abs(int(wet) - 100 * node["drywet"]) <= 0.5 + 0.01, (text, node["drywet"])
      older = {k: v for k, v in node.items() if k != "effective"}
      assert report_text.describe_node(older, SR) == text
  markdown = report_text.report_markdown(result, graph, song_label="tiny", n_samples=N)
  assert "(processors.png)" in markdown and "| processors.png |" in markdown
  kept = [n for n in graph["nodes"] if n["type"] in PROCESSORS]
  assert sum(line.count("% wet)") for line in markdown.splitlines()
             if line.startswith("- **")) == len(kept)


def test_report_lists_the_tracks_of_each_subgroup_shortened_for_many(graph, searched):
  _, result = searched
  table = lambda g: next(line for line in report_text.report_markdown(
      result, g, song_label="tiny", n_samples=N).splitlines()
      if line.startswith("| subgroups |"))
  members = {g: [t["name"] for t in graph["tracks"] if t["group"] == g] for g in graph["groups"]}
  assert table(graph) == "| subgroups | {}: {} |".format(len(members), ", ".join(
      f"{g} ({', '.join(names)})" for g, names in members.items()))
  tracks = ([{"name": f"drum{i}", "group": "drums"} for i in range(20)]
            + [{"name": f"solo{i}", "group": f"solo{i}"} for i in range(99)])
  many = edited(graph, lambda g: g.update(tracks=tracks, groups=["drums"] + [
      f"solo{i}" for i in range(99)]))
  shown = report_text.MAX_GROUPS_LISTED
  assert table(many) == "| subgroups | 100: drums ({}, +{} more), {}, +{} more |".format(
      ", ".join(f"drum{i}" for i in range(report_text.MAX_NAMES_PER_GROUP)),
      20 - report_text.MAX_NAMES_PER_GROUP,
      ", ".join(f"solo{i} (solo{i})" for i in range(shown - 1)), 100 - shown)


def test_report_gives_the_spectrograms_numbers_and_the_wavs_peaks(graph, searched):
  song, result = searched
  markdown = report_text.report_markdown(
      result, graph, song_label="tiny", n_samples=N,
      spectrogram={"mean_abs_difference_db": {"mid": 2.14, "side": 3.36},
                   "null_db": {"mid": 3.21, "side": -4.66}},
      peaks_dbfs={"estimate.wav": 3.3, "console.wav": -1.25})
  assert ("the estimate's magnitude spectrogram minus the mix's, in dB" in markdown
          and "mean absolute difference, over the cells within the picture's colour range: "
          "mid 2.1 dB, side 3.4 dB." in markdown)
  assert ("Waveform null (the energy of mix \u2212 estimate re the mix's): mid +3.2 dB, side "
          "\u22124.7 dB. " + report_text.NULL_NOTE) in markdown
  assert "| estimate.wav | the pruned graph's render of the whole song (peak +3.3 dBFS) |" in (
      markdown)
  assert "(every processor, final parameters) (peak \u22121.2 dBFS) |" in markdown
  assert "a peak above 0 dBFS is stored as it is" in markdown
  assert report_text.peak_dbfs(np.array([[0.5, -2.0], [1.0, 0.0]])) == pytest.approx(
      20 * np.log10(2))
  bare = report_text.report_markdown(result, graph, song_label="tiny", n_samples=N)
  assert "Waveform null" not in bare and "dBFS" not in bare


def test_truth_and_found_side_by_side_in_the_same_words():
  song, truth = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                      sample_rate=SR, density=0.5)
  true_effect = truth.effective()
  nodes = sorted(true_effect)
  kept, lost = nodes[0], nodes[-1]
  extra = next(mixjax.nodes.Node("track", i, p) for i in range(3) for p in PROCESSORS
               if ("track", i, p) not in true_effect)
  extra_effect = REGISTRY[extra.processor].effective(
      jax.tree.map(np.asarray, REGISTRY[extra.processor].init(jax.random.key(0))), 0.5,
      sample_rate=SR)
  found = {n: e for n, e in true_effect.items() if n != lost} | {extra: extra_effect}
  printed, markdown = report_text.comparison_text(song, true_effect, found)

  def owner(node):
    names = song.track_names if node.level == "track" else song.group_names
    return validation.owner_label(node.level, names[node.index])

  row = (f"| {owner(kept)} | {REGISTRY[kept.processor].label} | "
         f"{report_text.effect_text(kept.processor, true_effect[kept])} | "
         f"{report_text.effect_text(kept.processor, true_effect[kept])} | ")
  assert row in markdown  # the same words on both sides, by names
  errors = REGISTRY[kept.processor].compare(true_effect[kept], true_effect[kept])
  from mixjax.processors import _effective
  assert row + _effective.error_words(errors) + " |" in markdown
  assert (f"| {owner(lost)} | {REGISTRY[lost.processor].label} | "
          f"{report_text.effect_text(lost.processor, true_effect[lost])} | not kept | \u2013 |"
          ) in markdown
  assert (f"| {owner(extra)} | {REGISTRY[extra.processor].label} | not in the truth | "
          f"{report_text.effect_text(extra.processor, extra_effect)} | \u2013 |") in markdown
  assert "| node | processor | truth | found | settings error |" in markdown
  assert f"recovery: precision {(len(nodes) - 1) / len(nodes):.2f}" in markdown
  assert "`target.wav` is the synthetic mix (peak " in markdown and " dBFS)" in markdown
  assert f"  {owner(kept)}, {REGISTRY[kept.processor].label}\n    truth: " in printed
  assert "    found: not kept" in printed and "truth: not in the truth" in printed
  assert "track 0" not in printed + markdown and "group 0" not in printed + markdown
  assert truth.describe(song).splitlines()[0].startswith(
      f"  {owner(min(nodes, key=lambda n: (n.level != 'group', n.index)))}: ")
