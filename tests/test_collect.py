"""``mixjax collect``: a data set searched in batches, resumable, robust to broken songs.

Songs of 3 tracks in 2 groups, 2 s at 8 kHz (their bucket: 3 tracks, 2 groups).
"""

import json
import os
import shutil

import jax
import numpy as np
import optax
import pytest

import mixjax
from mixjax import cli
from mixjax import collect as collect_lib
from mixjax import atomic_files
from mixjax.io.audio import write_wav
from mixjax.graph_search import checkpoint
from mixjax.synthetic import synthetic_tracks

SR = 8000
ARGS = ["--preset", "quick", "--steps", "10", "--finetune-steps", "10", "--rounds", "1",
        "--crop-seconds", "1.5", "--warmup-seconds", "0.5", "--sample-rate", str(SR),
        "--bucket-seconds", "2", "--batch-size", "2", "--no-progress"]


def write_song(folder, seed):
  tracks, names = synthetic_tracks(jax.random.key(seed), n_tracks=3, seconds=2.0, sample_rate=SR)
  for name, track in zip(names, tracks):
    write_wav(os.path.join(folder, "tracks", f"{name}.wav"), track, SR)
  write_wav(os.path.join(folder, "mix.wav"), (tracks * [[[0.5]], [[1.2]], [[0.8]]]).sum(0), SR)
  atomic_files.write_text(os.path.join(folder, "groups.json"),
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
    if saves["n"] == 5:  # batch 1: song0 and song1 (console fit, round 1 each); batch 2: console fit
      raise KeyboardInterrupt

  real_search_batch = collect_lib.search_batch
  monkeypatch.setattr(checkpoint, "save", save_then_die)
  assert cli.main(["collect", dataset, "--out", out, *ARGS]) == 130
  index = read_index(out)
  assert index["song0"]["status"] == "done" and index["song1"]["status"] == "done"
  assert "song2" not in index or index["song2"]["status"] != "done"
  assert index["broken"]["status"] == "error" and "mix.wav" in index["broken"]["error"]
  monkeypatch.setattr(checkpoint, "save", original_save)

  # Another sample rate is another run: no song counts as done, no checkpoint is resumed,
  # and a batch that fails is tried song by song, each failure recorded, none aborting.
  other = str(tmp_path / "other-rate")
  shutil.copytree(out, other)
  calls = []

  def fail(songs, *args, **kwargs):
    calls.append(kwargs["seeds"])
    assert not os.path.exists(os.path.join(kwargs["checkpoint_dir"], checkpoint.FILENAME))
    raise RuntimeError("out of memory\n(details)")

  monkeypatch.setattr(collect_lib, "search_batch", fail)
  assert cli.main(["collect", dataset, "--out", other, *ARGS, "--sample-rate", "9000"]) == 0
  seeds = {f"song{i}": collect_lib.song_seed(0, f"song{i}") for i in range(3)}
  assert calls == [[seeds["song0"], seeds["song1"]], [seeds["song0"]], [seeds["song1"]],
                   [seeds["song2"]]]
  other_index = read_index(other)
  for i in range(3):
    assert other_index[f"song{i}"]["status"] == "error"
    assert other_index[f"song{i}"]["error"] == "RuntimeError: out of memory"

  # Resume: the finished songs are not searched again; song2 continues from its checkpoint.
  searched = []

  def spy(songs, *args, **kwargs):
    searched.append([s.n_tracks for s in songs])
    assert kwargs["resume"] and os.listdir(kwargs["checkpoint_dir"])
    assert kwargs["songs_per_call"] == 1
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
    assert record["device"] == "cpu:0"
  assert "| song0 | done |" in open(os.path.join(out, "summary.md")).read()
  assert not os.listdir(os.path.join(out, collect_lib.CHECKPOINTS))

  # A third run has nothing left to do.
  searched.clear()
  assert cli.main(["collect", dataset, "--out", out, *ARGS]) == 0
  assert searched == []


def test_songs_per_call_reaches_the_search_and_names_its_own_checkpoints(dataset, tmp_path,
                                                                        monkeypatch, capsys):
  calls = []

  def fail(songs, *args, **kwargs):
    calls.append((len(songs), kwargs["songs_per_call"], os.path.basename(kwargs["checkpoint_dir"])))
    raise RuntimeError("out of memory")

  monkeypatch.setattr(collect_lib, "search_batch", fail)
  for n in (1, 2):
    assert cli.main(["collect", dataset, "--out", str(tmp_path / f"o{n}"), *ARGS,
                     "--songs-per-call", str(n)]) == 0
  lockstep = [c for c in calls if c[1] == 2]
  assert lockstep[0][0] == 2 and calls[0][:2] == (2, 1)  # the first batch: song0 and song1
  assert lockstep[0][2] != calls[0][2]  # another search: another checkpoint folder
  assert cli.main(["collect", dataset, "--out", str(tmp_path / "o0"), *ARGS,
                   "--songs-per-call", "0"]) == 2
  assert "--songs-per-call must be at least 1" in capsys.readouterr().err


def test_collect_rejects_a_folder_without_songs(tmp_path, capsys):
  (tmp_path / "empty").mkdir()
  assert cli.main(["collect", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), *ARGS]) == 2
  assert "holds no song folder" in capsys.readouterr().err
  assert not (tmp_path / "o").exists()


def test_buckets_and_batches_are_deterministic():
  entries = [collect_lib.SongEntry(f"s{i}", f"/s{i}", n, g, sec)
             for i, (n, g, sec) in enumerate([(3, 2, 10), (5, 3, 50), (3, 2, 29), (16, 5, 31)])]
  assert collect_lib.bucket_of(entries[0], bucket_seconds=30) == (3, 2, 30)
  assert collect_lib.bucket_of(entries[1], bucket_seconds=30) == (6, 3, 60)
  assert collect_lib.bucket_of(entries[3], bucket_seconds=30) == (16, 6, 60)
  batches = collect_lib.plan_batches(entries, batch_size=2, bucket_seconds=30)
  assert [[e.name for e in b] for _, b in batches] == [["s0", "s2"], ["s1"], ["s3"]]


def test_a_songs_seed_and_identity_depend_on_the_song_and_the_settings_only():
  assert collect_lib.song_seed(0, "a") == collect_lib.song_seed(0, "a")
  assert len({collect_lib.song_seed(s, n) for s in (0, 1) for n in ("a", "b")}) == 4
  config = mixjax.SearchConfig.quick()
  adam = optax.adamw(1e-2, weight_decay=0.0)
  base = dict(seed=1, sample_rate=8000, config=config, optimizer=adam)
  same = collect_lib.song_identity("a", **base)
  assert same == collect_lib.song_identity("a", **dict(base, optimizer=optax.adamw(1e-2, weight_decay=0.0)))
  changes = [dict(seed=2), dict(sample_rate=9000), dict(config=config.replace(rounds=1)),
             dict(optimizer=optax.adamw(1e-3, weight_decay=0.0))]
  assert len({collect_lib.song_identity("a", **dict(base, **c)) for c in changes} | {same}) == 5


def test_stored_seeds_and_batch_ids_keep_their_values():
  # index.jsonl and the batch checkpoint folders of earlier runs hold these
  assert collect_lib.song_seed(0, "song") == 1935025337
  assert collect_lib._batch_id(["x", "y"]) == "22d40f550601001d"


HOST_SCRIPT = r"""
import json, sys, jax
jax.config.update("jax_platforms", "cpu")
dataset, out, n_hosts = sys.argv[1], sys.argv[2], int(sys.argv[3])
if n_hosts > 1:
  jax.distributed.initialize(coordinator_address=sys.argv[4], num_processes=n_hosts,
                             process_id=int(sys.argv[5]))
import mixjax
from mixjax import collect
config = mixjax.SearchConfig.quick(console_steps=10, finetune_steps=10, rounds=1,
                                   crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
searched = []
real = collect.search_batch
def spy(songs, *args, **kwargs):
  searched.extend(kwargs["seeds"])
  return real(songs, *args, **kwargs)
collect.search_batch = spy
index = collect.collect(dataset, out, config=config, batch_size=2, sample_rate=8000,
                        progress=False)
print("RESULT " + json.dumps({"searched": searched, "index": index}))
if n_hosts > 1:
  jax.distributed.shutdown()
"""


def _free_port() -> int:
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.slow  # three processes, each compiling the search: 297-653 s on 2 busy cores
def test_two_hosts_search_every_song_once_with_the_results_of_one(dataset, tmp_path):
  import subprocess
  import sys

  def start(out, *host):
    return subprocess.Popen([sys.executable, "-c", HOST_SCRIPT, dataset, out, *host],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, JAX_PLATFORMS="cpu"))

  def finish(process):
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    line = [l for l in stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])

  address = f"127.0.0.1:{_free_port()}"
  hosts = [start(str(tmp_path / "two"), "2", address, str(i)) for i in range(2)]
  alone = finish(start(str(tmp_path / "one"), "1"))
  two = [finish(h) for h in hosts]
  names = [f"song{i}" for i in range(3)]
  seed_of = {collect_lib.song_seed(0, n): n for n in names}
  assert sorted(seed_of[s] for s in alone["searched"]) == names
  searched = [sorted(seed_of[s] for s in host["searched"]) for host in two]
  assert searched == [["song0", "song2"], ["song1"]]  # every song once, by its host
  assert sorted(os.listdir(tmp_path / "two")) == sorted(
      ["index-host0.jsonl", "index-host1.jsonl", "summary-host0.md", "summary-host1.md",
       collect_lib.CHECKPOINTS, *names])
  for host, mine in zip(two, searched):
    for name in mine:
      record, reference = host["index"][name], alone["index"][name]
      assert record["status"] == "done" and record["seed"] == collect_lib.song_seed(0, name)
      for key in ("loss_sum", "loss_console", "loss_pruned", "pruning_ratio",
                  "pruning_ratio_per_type", "seed", "identity"):
        assert record[key] == reference[key], (name, key)
      graphs = []
      for run in ("two", "one"):
        with open(tmp_path / run / name / "graph.json") as f:
          graphs.append(json.load(f))
          del graphs[-1]["metrics"]["seconds"]  # wall times
      assert graphs[0] == graphs[1]  # every parameter of the pruned graph
