"""Every ```python block of README.md runs as written, at tiny sizes, so the README stays true.

The blocks run in order, each in a fresh namespace, in a folder holding the song
folders they name (``my-song``, ``my-other-song``: synthetic, 3 tracks in 2
groups, 2 s). Only sizes change, to keep the test fast and to share compiled
programs with tests/test_cli.py: ``30000`` (Hz) reads ``8000``, the batch
example searches a batch of one song (a batch of two compiles its own programs:
minutes on a CPU), the ``SearchConfig`` presets are the tiny settings of
tests/test_cli.py, and ``synthetic_song`` makes that song shape. The test checks
that each substitution applies.
"""

import json
import os
import pathlib
import re

import jax
import pytest

import mixjax
from mixjax import atomic_files
from mixjax.io.audio import write_wav

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SR = 8000
TINY = mixjax.SearchConfig.quick(console_steps=10, finetune_steps=10, rounds=1,
                                 crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
TINY_SONG = dict(n_tracks=3, n_groups=2, seconds=2.0, sample_rate=SR)
SUBSTITUTIONS = (("30000", str(SR)), ('("my-song", "my-other-song")', '("my-song",)'))
"""Text replaced in the blocks: sizes only."""


def python_blocks() -> list[str]:
  return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def write_song_folder(folder: str, seed: int) -> None:
  """A synthetic song in the plain layout: tracks/*.wav, mix.wav, groups.json."""
  song, _ = mixjax.synthetic_song(jax.random.key(seed), **TINY_SONG)
  for name, track in zip(song.track_names, song.tracks):
    write_wav(os.path.join(folder, "tracks", f"{name}.wav"), track, song.sample_rate)
  write_wav(os.path.join(folder, "mix.wav"), song.mix, song.sample_rate)
  groups = {}
  for name, g in zip(song.track_names, song.resolved_groups()):
    groups.setdefault(song.group_names[g], []).append(f"{name}.wav")
  atomic_files.write_text(os.path.join(folder, "groups.json"), json.dumps(groups))


class _TinyConfigs:
  """``SearchConfig`` whose constructor and presets give ``TINY`` (with any changes)."""

  def __call__(self, **changes):
    return TINY.replace(**changes)

  quick = paper = __call__


def tiny(block: str) -> str:
  for old, new in SUBSTITUTIONS:
    block = block.replace(old, new)
  return block


def test_readme_has_python_blocks_and_the_substitutions_apply():
  text = "".join(python_blocks())
  assert len(python_blocks()) >= 4
  for old, _ in SUBSTITUTIONS:
    assert old in text, old


def test_readme_python_blocks_run(tmp_path, monkeypatch):
  write_song_folder(str(tmp_path / "my-song"), seed=10)
  write_song_folder(str(tmp_path / "my-other-song"), seed=11)
  monkeypatch.chdir(tmp_path)
  real_synthetic_song = mixjax.synthetic_song
  monkeypatch.setattr(mixjax, "SearchConfig", _TinyConfigs())
  monkeypatch.setattr(mixjax, "synthetic_song",
                      lambda key, **kwargs: real_synthetic_song(key, **{**kwargs, **TINY_SONG}))
  for i, block in enumerate(python_blocks()):
    code = tiny(block)
    namespace = {"__name__": "__main__"}
    try:
      exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)  # noqa: S102
    except Exception as error:
      pytest.fail(f"README.md python block {i + 1} fails: {error!r}\n{block}")
  assert (tmp_path / "my-song-results" / "graph.json").exists()
