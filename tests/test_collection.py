"""``mixjax.collection`` and ``mixjax stats``: a collected data set loaded, stacked, counted.

One ``collect`` run per session (``conftest.tiny_collection``): a plain song, a MedleyDB
song with instrument labels, and a song that fails. Tests that damage it work on a copy.
"""

import json
import os
import shutil

import jax
import numpy as np
import pytest
import soundfile as sf

from mixjax import cli
from mixjax import collect as collect_lib
from mixjax import console as console_lib
from mixjax.collection import load_collection
from mixjax.io import collection_stats
from mixjax.processors import PROCESSORS

from conftest import SAMPLE_RATE


@pytest.fixture
def copied(tiny_collection, tmp_path):
  """A copy of the session's collection (data set and output folder side by side)."""
  dataset, out = tiny_collection
  shutil.copytree(dataset, tmp_path / "dataset")
  shutil.copytree(out, tmp_path / "graphs")
  return str(tmp_path / "dataset"), str(tmp_path / "graphs")


def test_load_collection_reads_every_finished_song_from_any_folder(tiny_collection, tmp_path,
                                                                    monkeypatch):
  dataset, out = tiny_collection
  monkeypatch.chdir(tmp_path)  # not where collect ran
  collection = load_collection(out)
  assert collection.names == ["Band_Tune", "plain"]
  assert [(r["name"], r["status"]) for r in collection.failed] == [("broken", "error")]
  assert "mix.wav" in collection.failed[0]["error"] and collection.broken == ()
  records = collect_lib.read_index(out)
  assert all(not os.path.isabs(r["path"]) for r in records.values())  # relative to the output

  medley, plain = collection["Band_Tune"], collection[1]
  assert medley.song_dir == os.path.join(dataset, "Band_Tune")
  assert medley.track_names == ["RAW_01_01", "RAW_01_02", "RAW_02_01"]
  assert medley.group_names == ["S01 drum set", "S02 electric bass"]
  assert medley.track_groups == ["S01 drum set", "S01 drum set", "S02 electric bass"]
  # A raw track's own label, else its stem's; none in the plain layout.
  assert medley.instruments == {"track": ["kick drum", "drum set", "electric bass"],
                                "group": ["drum set", "electric bass"]}
  assert set(plain.instruments["track"]) == {None}
  for song in collection:
    record = records[song.name]
    assert song.losses == {k: pytest.approx(record[k]) for k in song.losses}
    assert song.pruning_ratio == pytest.approx(record["pruning_ratio"])
    assert list(song.pruning_ratio_per_type) == list(PROCESSORS)
    assert song.console_processors == 7 * (3 + 2)
    assert len(song.processors) == round(song.console_processors * (1 - song.pruning_ratio))


def test_an_index_written_before_relative_paths_still_loads(copied, monkeypatch):
  """Old indexes hold the song folder relative to where collect ran: found from there."""
  dataset, out = copied
  index = collect_lib.read_index(out)
  for record in index.values():  # as mixjax wrote it before: "dataset/<song>"
    record["path"] = os.path.join("dataset", os.path.basename(record["path"]))
  with open(os.path.join(out, collect_lib.INDEX), "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in index.values()))
  monkeypatch.chdir(os.path.dirname(dataset))
  song = load_collection("graphs")["Band_Tune"]
  assert os.path.samefile(song.song_dir, os.path.join(dataset, "Band_Tune"))
  assert song.instruments["group"] == ["drum set", "electric bass"]
  monkeypatch.chdir(dataset)  # from elsewhere: the songs still load, without their folder
  song = load_collection(os.path.join(os.path.dirname(dataset), "graphs"))["Band_Tune"]
  assert song.song_dir is None and song.instruments["track"] == [None] * 3
  with pytest.raises(ValueError, match="song folder .* is not found"):
    song.load_tracks()


def test_nodes_are_flat_records_of_every_kept_processor(tiny_collection):
  collection = load_collection(tiny_collection[1])
  nodes = collection.nodes()
  assert len(nodes) == sum(len(song.processors) for song in collection)
  assert json.loads(json.dumps(nodes)) == nodes  # plain data: a DataFrame takes it as it is
  first = nodes[0]
  assert set(first) == {"song", "level", "owner", "instrument", "type", "position", "drywet",
                        "settings", "effective", "description"}
  kick = [n for n in nodes if n["song"] == "Band_Tune" and n["owner"] == "RAW_01_01"]
  assert {n["instrument"] for n in kick} == {"kick drum"}
  assert [n["position"] for n in kick] == list(range(len(kick)))  # chain order
  assert [n["type"] for n in kick] == [p for p in PROCESSORS if p in {n["type"] for n in kick}]
  for node in nodes:
    assert 0 < node["drywet"] < 1 and node["description"]
    assert node["effective"]["wet"] == pytest.approx(node["drywet"], abs=1e-4)


def test_to_arrays_stacks_the_songs_and_renders_their_estimates(tiny_collection):
  """Song s of the batch, rendered under vmap, is its estimate.wav (float32 rounding)."""
  collection = load_collection(tiny_collection[1])
  arrays = collection.to_arrays()  # the sizes of the README's example: one compiled render
  assert collection.sizes() == (3, 2) and arrays.console.track_exists.shape == (2, 3)
  for s, song in enumerate(collection):
    assert sum(int(arrays.alive[level][p][s].sum()) for level in arrays.alive
               for p in PROCESSORS) == len(song.processors)
  tracks = collection.load_tracks()
  assert tracks.shape == (2, 3, 2, 2 * SAMPLE_RATE)
  mixes = jax.vmap(lambda a, x: console_lib.render(a.console, a.params, x, a.alive)[0])(
      arrays, tracks)
  for s, song in enumerate(collection):
    estimate, rate = sf.read(os.path.join(song.results_dir, "estimate.wav"), dtype="float32")
    assert rate == SAMPLE_RATE
    np.testing.assert_allclose(np.asarray(mixes[s]), estimate.T, rtol=0,
                               atol=1e-5 * np.abs(estimate).max())

  # Padded to larger sizes: the same songs, then dead, silent, zero slots.
  padded = collection.to_arrays(max_tracks=4, max_groups=3)
  assert padded.params.processors["track"]["eq"]["log_magnitude"].shape == (2, 4, 1024)
  np.testing.assert_array_equal(padded.console.track_exists, [[1, 1, 1, 0]] * 2)
  np.testing.assert_array_equal(padded.console.group_exists, [[1, 1, 0]] * 2)
  jax.tree.map(lambda big, small: np.testing.assert_array_equal(big[:, :small.shape[1]], small),
               (padded.params, padded.alive), (arrays.params, arrays.alive))
  jax.tree.map(lambda big, small: np.testing.assert_array_equal(big[:, small.shape[1]:], 0),
               (padded.params, padded.alive), (arrays.params, arrays.alive))
  assert not collection.load_tracks(max_tracks=4)[:, 3].any()
  with pytest.raises(ValueError, match="Band_Tune: .*max_tracks=2"):
    collection.to_arrays(max_tracks=2)


def test_broken_songs_are_skipped_and_listed(copied):
  _, out = copied
  with open(os.path.join(out, "plain", "graph.json"), "w") as f:
    f.write('{"format": "mixjax.graph", "version": 1, "nodes": [')  # cut short
  with open(os.path.join(out, collect_lib.INDEX), "a") as f:
    f.write(json.dumps({"name": "gone", "status": "done", "path": "../dataset/gone"}) + "\n")
  collection = load_collection(out)
  assert collection.names == ["Band_Tune"]
  errors = {r["name"]: r["error"] for r in collection.broken}
  assert set(errors) == {"gone", "plain"}
  assert "no such results folder" in errors["gone"]
  assert "graph.json is not a JSON file" in errors["plain"]
  assert all("\n" not in e for e in errors.values())


def test_a_folder_that_is_not_a_collection_is_refused_in_one_line(tmp_path):
  with pytest.raises(ValueError, match="no such folder"):
    load_collection(str(tmp_path / "missing"))
  with pytest.raises(ValueError, match="is not a collection: it holds no index.jsonl"):
    load_collection(str(tmp_path))
  (tmp_path / "index.jsonl").write_text('{"name": "a", "status": "done"}\nnot json\n')
  with pytest.raises(ValueError, match=r"index.jsonl, line 2: not an index record"):
    load_collection(str(tmp_path))


def test_stats_writes_the_papers_statistics(tiny_collection, tmp_path, capsys):
  out = str(tmp_path / "stats")
  assert cli.main(["stats", tiny_collection[1], "--out", out, "--no-progress"]) == 0
  assert "2 songs read (1 failed" in capsys.readouterr().out
  assert sorted(os.listdir(out)) == ["pruning.png", "settings.png", "stats.json", "stats.md",
                                     "survival.png"]
  stats = json.load(open(os.path.join(out, "stats.json")))
  collection = load_collection(tiny_collection[1])
  assert stats["songs"] == 2 and [r["name"] for r in stats["failed"]] == ["broken"]
  # Table 3's columns g s e r c n d: gain/pan, imager, EQ, reverb, compressor, gate, delay.
  assert list(stats["pruning_ratio_per_type"]) == list(collection_stats.TABLE3_TYPES)
  for proc in PROCESSORS:
    ratios = [song.pruning_ratio_per_type[proc] for song in collection]
    assert stats["pruning_ratio_per_type"][proc]["mean"] == pytest.approx(np.mean(ratios))
  assert stats["pruning_ratio"]["mean"] == pytest.approx(
      np.mean([song.pruning_ratio for song in collection]))
  kept = [len(song.processors) for song in collection]
  assert stats["processors_per_song"]["pruned"]["mean"] == pytest.approx(np.mean(kept))
  assert stats["processors_per_song"]["console"]["mean"] == 35
  assert stats["pruning_ratio"]["pooled"] == pytest.approx(1 - sum(kept) / 70)
  # Survival per instrument label (the plain song's tracks by name).
  assert stats["survival"]["labels"] == "instrument"
  kick = stats["survival"]["track"]["kick drum"]
  types = {n["type"] for n in collection.nodes() if n["owner"] == "RAW_01_01"}
  assert kick == {"count": 1, "kept": {p: float(p in types) for p in PROCESSORS}}
  assert set(stats["survival"]["track"]) >= set(collection["plain"].track_names)
  # The kept settings: every kept reverb's T60, every compressor's threshold.
  nodes = collection.nodes()
  t60 = sorted(n["effective"]["t60_ms"] for n in nodes if n["type"] == "reverb")
  assert stats["settings"]["reverb"]["t60_ms"]["count"] == len(t60)
  assert stats["settings"]["reverb"]["t60_ms"]["median"] == pytest.approx(np.median(t60))
  assert sum(stats["settings"]["reverb"]["t60_ms"]["histogram"]["counts"]) == len(t60)
  text = open(os.path.join(out, "stats.md")).read()
  assert "| songs | n | L sum | L console | L pruned | ρ | g | s | e | r | c | n | d |" in text
  assert "*paper: all 1129 songs*" in text and "| kick drum | 1 |" in text
  assert "- broken: error:" in text and "![" in text


def test_stats_fails_only_when_nothing_can_be_read(copied, tmp_path, capsys):
  _, out = copied
  shutil.rmtree(os.path.join(out, "plain"))  # one song unreadable: still counted
  assert cli.main(["stats", out, "--out", str(tmp_path / "some"), "--no-progress"]) == 0
  assert "plain left out" in capsys.readouterr().err
  shutil.rmtree(os.path.join(out, "Band_Tune"))  # none left: exit 2, one line, nothing written
  assert cli.main(["stats", out, "--out", str(tmp_path / "none"), "--no-progress"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert err[-1].startswith("mixjax stats: error:") and "no song could be read" in err[-1]
  assert not (tmp_path / "none").exists()
  assert cli.main(["stats", str(tmp_path), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
  assert "is not a collection" in capsys.readouterr().err


def test_the_docs_example_trains_a_flax_model_on_the_collection(tiny_collection, capsys):
  """docs/collection_example.py: the downstream loop, run as the docs show it."""
  import runpy
  path = os.path.join(os.path.dirname(__file__), "..", "docs", "collection_example.py")
  example = runpy.run_path(path)
  result = example["main"]([tiny_collection[1], "--steps", "60"])
  assert result["tracks"] == 6 and result["last_loss"] < result["first_loss"]
  assert set(result["accuracy"]) == set(PROCESSORS)
  assert "2 songs, 6 tracks: loss" in capsys.readouterr().out


def test_the_load_benchmark_runs_at_a_tiny_size(monkeypatch, capsys):
  """benchmarks/collection_load.py end to end on 6 generated songs: a table, one JSON line last."""
  from benchmarks import collection_load
  monkeypatch.setattr("sys.argv", ["collection_load.py", "--songs", "6", "--templates", "2"])
  collection_load.main()
  last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
  assert last["songs"] == 6 and last["finished"] == 6 and last["seconds"]["load_collection"] > 0
