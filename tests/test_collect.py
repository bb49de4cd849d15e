"""``mixjax collect``: a data set searched in batches, resumable, robust to broken songs.

Songs of 3 tracks in 2 groups, 2 s at 8 kHz (padded to the bucket: 4 tracks).
"""

import json
import os

import jax
import numpy as np
import pytest

from mixjax import cli
from mixjax import collect as collect_lib
from mixjax import files
from mixjax.graph_search import checkpoint
from mixjax.synthetic import synthetic_tracks

SR = 8000
ARGS = ["--preset", "quick", "--steps", "10", "--finetune-steps", "10", "--rounds", "1",
        "--crop-seconds", "1.5", "--warmup-seconds", "0.5", "--sample-rate", str(SR),
        "--bucket-seconds", "2", "--batch-size", "2", "--no-progress"]


def write_song(folder, seed):
  tracks, names = synthetic_tracks(jax.random.key(seed), n_tracks=3, seconds=2.0, sample_rate=SR)
  for name, track in zip(names, tracks):
    files.write_wav(os.path.join(folder, "tracks", f"{name}.wav"), track, SR)
  files.write_wav(os.path.join(folder, "mix.wav"), (tracks * [[[0.5]], [[1.2]], [[0.8]]]).sum(0), SR)
  files.write_text(os.path.join(folder, "groups.json"),
                   json.dumps({"rhythm": [f"{names[0]}.wav", f"{names[1]}.wav"]}))


@pytest.fixture
def dataset(tmp_path):
  root = tmp_path / "dataset"
  for i in range(3):
    write_song(str(root / f"song{i}"), seed=i)
  broken = root / "broken"
  (broken / "tracks").mkdir(parents=True)
  (broken / "tracks" / "a.wav").write_text("not audio")
  (broken / "mix.wav").write_text("not audio either")
  return str(root)


def read_index(out):
  with open(os.path.join(out, "index.jsonl")) as f:
    return {r["name"]: r for r in map(json.loads, f)}


def test_collect_resumes_after_a_kill_and_records_broken_songs(dataset, tmp_path, monkeypatch):
  out = str(tmp_path / "out")
  assert collect_lib.find_song_folders(dataset) == sorted(
      os.path.join(dataset, n) for n in ("broken", "song0", "song1", "song2"))
  # Kill the run while the second batch (song2) is being searched.
  original_save = checkpoint.save
  saves = {"n": 0}

  def save_then_die(directory, progress, stamp):
    original_save(directory, progress, stamp)
    saves["n"] += 1
    if saves["n"] == 3:  # batch 1: console fit, round 1; batch 2: console fit
      raise KeyboardInterrupt

  monkeypatch.setattr(checkpoint, "save", save_then_die)
  assert cli.main(["collect", dataset, "--out", out, *ARGS]) == 130
  index = read_index(out)
  assert index["song0"]["status"] == "done" and index["song1"]["status"] == "done"
  assert "song2" not in index or index["song2"]["status"] != "done"
  assert index["broken"]["status"] == "error" and "mix.wav" in index["broken"]["error"]
  monkeypatch.setattr(checkpoint, "save", original_save)

  # Resume: the finished songs are not searched again; song2 continues from its checkpoint.
  searched = []
  real_search_batch = collect_lib.search_batch

  def spy(songs, *args, **kwargs):
    searched.append([s.n_tracks for s in songs])
    assert kwargs["resume"] and os.listdir(kwargs["checkpoint_dir"])
    return real_search_batch(songs, *args, **kwargs)

  monkeypatch.setattr(collect_lib, "search_batch", spy)
  assert cli.main(["collect", dataset, "--out", out, *ARGS]) == 0
  assert searched == [[3]]
  index = read_index(out)
  assert [index[f"song{i}"]["status"] for i in range(3)] == ["done"] * 3
  for i in range(3):
    folder = os.path.join(out, f"song{i}")
    for name in ("graph.json", "estimate.wav", "report.md", "losses.csv"):
      assert os.path.exists(os.path.join(folder, name)), (i, name)
    record = index[f"song{i}"]
    assert np.isfinite([record["loss_sum"], record["loss_console"], record["loss_pruned"]]).all()
  assert "| song0 | done |" in open(os.path.join(out, "summary.md")).read()
  assert not os.listdir(os.path.join(out, collect_lib.CHECKPOINTS))

  # A third run has nothing left to do.
  searched.clear()
  assert cli.main(["collect", dataset, "--out", out, *ARGS]) == 0
  assert searched == []


def test_collect_rejects_a_folder_without_songs(tmp_path, capsys):
  (tmp_path / "empty").mkdir()
  assert cli.main(["collect", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), *ARGS]) == 2
  assert "holds no song folder" in capsys.readouterr().err
  assert not (tmp_path / "o").exists()


def test_buckets_and_batches_are_deterministic():
  entries = [collect_lib.SongEntry(f"s{i}", f"/s{i}", n, g, sec)
             for i, (n, g, sec) in enumerate([(3, 2, 10), (5, 3, 50), (4, 1, 29), (16, 5, 31)])]
  assert collect_lib.bucket_of(entries[0], bucket_seconds=30) == (4, 2, 30)
  assert collect_lib.bucket_of(entries[1], bucket_seconds=30) == (8, 4, 60)
  batches = collect_lib.plan_batches(entries, batch_size=2, bucket_seconds=30)
  assert [[e.name for e in b] for _, b in batches] == [["s0", "s2"], ["s1"], ["s3"]]
