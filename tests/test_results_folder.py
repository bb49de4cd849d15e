"""Tests of mixjax.io.results_folder's rules: whose song a folder holds, and clearing it.

Writing a whole folder is tested through the CLI (tests/test_cli.py), which
also covers ``check_output_dir`` and ``check_checkpoint`` message by message.
"""

import os

import numpy as np

from mixjax.data import Song
from mixjax.io import results_folder


def _song(names=("a", "b")):
  mix = np.linspace(-1, 1, 2 * 800, dtype=np.float32).reshape(2, 800)
  return Song(tracks=np.stack([mix] * len(names)), mix=mix, track_groups=(None,) * len(names),
              sample_rate=8000, track_names=names)


def test_stored_fingerprints_keep_their_values(tmp_path):
  # the markers of earlier results folders hold these: a new value would call them foreign
  assert results_folder.song_fingerprint(_song()) == "song:6ea86509ee7fda4f9f0dd49ca0ffbb1f"
  mix = tmp_path / "mix.wav"
  mix.write_bytes(bytes(range(256)) * 5000)  # over one 1 MiB block
  assert results_folder.files_fingerprint(str(mix), ["a", "b"]) == (
      "files:a014de6da1451f292fa159f71919f9dc")


def test_a_fingerprint_names_the_song_only():
  assert results_folder.song_fingerprint(_song()) != results_folder.song_fingerprint(
      _song(("a", "c")))


def test_prepare_output_clears_another_songs_files_only_with_overwrite(tmp_path):
  out = str(tmp_path)
  results_folder.write_marker(out, fingerprint="song:other", song="other", track_names=["x"],
                              status="complete")
  (tmp_path / "graph.json").write_text("{}")
  (tmp_path / results_folder.CHECKPOINT_DIR).mkdir()
  (tmp_path / "notes.txt").write_text("mine")
  results_folder.prepare_output(out, fingerprint="song:other", overwrite=False)  # its own
  assert (tmp_path / "graph.json").exists()
  results_folder.prepare_output(out, fingerprint="song:this", overwrite=True)
  assert sorted(os.listdir(out)) == [results_folder.MARKER, "notes.txt"]
