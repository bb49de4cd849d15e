"""Shared test settings: float32 JAX on CPU, small signals."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

import mixjax  # noqa: E402

# Compiled programs are kept on disk between runs (``~/.cache/mixjax/xla`` or
# MIXJAX_CACHE_DIR; "off" disables): a warm cache cuts the suite's time by more
# than half, a cold one costs nothing extra.
mixjax.enable_compilation_cache()
import numpy as np  # noqa: E402
import pytest  # noqa: E402

SAMPLE_RATE = 8000
"""Low sample rate used by most tests (the lowest the processors support)."""


@pytest.fixture
def rng():
  return np.random.default_rng(0)


@pytest.fixture
def key():
  return jax.random.key(0)


@pytest.fixture(scope="session")
def tiny():
  """The quick preset cut down for search tests (tests/graph_search), one set of programs."""
  return mixjax.SearchConfig.quick(console_steps=60, finetune_steps=20, rounds=2, crop_seconds=1.5,
                                   omit_seconds=0.5, eval_hop_seconds=1.0)


@pytest.fixture(scope="session")
def tiny_song():
  """3 tracks, 2 groups, 2 s at 8 kHz: the song the search tests share."""
  song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=SAMPLE_RATE)
  return song


TINY_COLLECT = dict(console_steps=10, finetune_steps=10, rounds=1, crop_seconds=1.5,
                    omit_seconds=0.5, eval_hop_seconds=1.0)
"""The search settings of tests/test_collect.py and tests/test_readme.py (shared programs)."""


def write_plain_song(folder: str, seed: int) -> None:
  """A synthetic song (3 tracks in 2 groups, 2 s at 8 kHz) in the plain layout."""
  song, _ = mixjax.synthetic_song(jax.random.key(seed), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=SAMPLE_RATE)
  mixjax.write_song(song, folder)


def write_medleydb_song(folder: str, seed: int) -> None:
  """The same kind of song in the MedleyDB layout, with instrument labels: stem S01
  "drum set" (raw R01 "kick drum", R02 without a label of its own), S02 "electric bass"."""
  from mixjax import atomic_files
  from mixjax.io.audio import write_wav
  song, _ = mixjax.synthetic_song(jax.random.key(seed), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=SAMPLE_RATE)
  prefix = os.path.basename(folder)
  files = [f"{prefix}_RAW_01_01.wav", f"{prefix}_RAW_01_02.wav", f"{prefix}_RAW_02_01.wav"]
  for name, track in zip(files, song.tracks):
    write_wav(os.path.join(folder, f"{prefix}_RAW", name), track, SAMPLE_RATE)
  write_wav(os.path.join(folder, f"{prefix}_MIX.wav"), song.mix, SAMPLE_RATE)
  atomic_files.write_text(os.path.join(folder, f"{prefix}_METADATA.yaml"), f"""\
stems:
  S01:
    instrument: drum set
    raw:
      R01: {{filename: {files[0]}, instrument: kick drum}}
      R02: {{filename: {files[1]}}}
  S02:
    instrument: electric bass
    raw:
      R01: {{filename: {files[2]}, instrument: electric bass}}
""")


@pytest.fixture(scope="session")
def tiny_collection(tmp_path_factory):
  """``(dataset, out)``: a ``collect`` run (tiny settings) over three songs: ``plain`` (plain
  layout), ``Band_Tune`` (MedleyDB, with instrument labels) and ``broken`` (not audio: fails).

  Made once per session; copy it before changing it.
  """
  from mixjax import collect
  root = tmp_path_factory.mktemp("collection")
  dataset, out = root / "dataset", root / "graphs"
  write_plain_song(str(dataset / "plain"), seed=20)
  write_medleydb_song(str(dataset / "Band_Tune"), seed=21)
  (dataset / "broken" / "tracks").mkdir(parents=True)
  (dataset / "broken" / "tracks" / "a.wav").write_text("not audio")
  (dataset / "broken" / "mix.wav").write_text("not audio either")
  collect.collect(str(dataset), str(out), config=mixjax.SearchConfig.quick(**TINY_COLLECT),
                  batch_size=2, sample_rate=SAMPLE_RATE, bucket_seconds=2.0, progress=False)
  return str(dataset), str(out)


def _sub_jaxprs(value):
  """The jaxprs inside an equation parameter (a jaxpr, a closed jaxpr, or a tuple of them:
  ``cond``'s branches)."""
  if hasattr(value, "eqns"):
    yield value
  elif hasattr(getattr(value, "jaxpr", None), "eqns"):
    yield value.jaxpr
  elif isinstance(value, (tuple, list)):
    for v in value:
      yield from _sub_jaxprs(v)


def primitives(jaxpr, names) -> list:
  """``(path, primitive, scan length)`` of every equation named in ``names``, at any depth
  (inside jit, scan, cond, while, custom_vjp, ...), in program order."""
  jaxpr = jaxpr if hasattr(jaxpr, "eqns") else jaxpr.jaxpr
  found = []

  def walk(jaxpr, path):
    for eqn in jaxpr.eqns:
      name = eqn.primitive.name
      if name in names:
        found.append((path, name, eqn.params.get("length")))
      for value in eqn.params.values():
        for sub in _sub_jaxprs(value):
          walk(sub, f"{path}/{name}")

  walk(jaxpr, "")
  return found
