"""The realistic song set of benchmarks/make_songs.py and synthetic.random_graph.

The music (note lists) and ``random_graph`` are checked in the default run;
rendering a song needs FluidSynth, its SoundFont, pedalboard, music21 and
mido (``bash benchmarks/setup_songs.sh``), so that test is ``slow`` and skips
cleanly when any of them is missing.
"""

import json
import os

import jax
import numpy as np
import pytest

from mixjax import synthetic
from mixjax.console import Console
from mixjax.processors import PROCESSORS

from benchmarks import make_songs
from benchmarks.songs import targets


# ---------------------------------------------------------------------------
# random_graph: synthetic_song's graph on given tracks
# ---------------------------------------------------------------------------


def test_random_graph_is_reproducible_and_renders(rng):
  tracks = (0.1 * rng.standard_normal((3, 2, 8000))).astype(np.float32)
  groups = (0, 0, None)
  truth = synthetic.random_graph(jax.random.key(1), tracks, groups, sample_rate=8000,
                                 density=0.5)
  again = synthetic.random_graph(jax.random.key(1), tracks, groups, sample_rate=8000,
                                 density=0.5)
  assert truth.alive_nodes() == again.alive_nodes()
  assert truth.settings == again.settings
  assert truth.alive_nodes() == {s.node for s in truth.settings}
  assert {level for level, _, _ in truth.alive_nodes()} <= {"track", "group"}
  console = Console.build(groups, sample_rate=8000)
  mix = np.asarray(console.render(truth.params, tracks, truth.alive))
  assert mix.shape == (2, 8000) and np.all(np.isfinite(mix))
  assert not np.allclose(mix, tracks.sum(0), atol=1e-3)


def test_random_graph_at_least_one_processor_and_checks(rng):
  tracks = (0.1 * rng.standard_normal((2, 2, 4000))).astype(np.float32)
  truth = synthetic.random_graph(jax.random.key(0), tracks, (0, 1), sample_rate=8000, density=0.0)
  assert len(truth.alive_nodes()) == 1
  with pytest.raises(ValueError, match="density"):
    synthetic.random_graph(jax.random.key(0), tracks, (0, 1), sample_rate=8000, density=1.5)
  with pytest.raises(ValueError, match="shape"):
    synthetic.random_graph(jax.random.key(0), tracks, (0, 1, 1), sample_rate=8000)


# ---------------------------------------------------------------------------
# The music: note lists, no audio
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["pop", "rock", "funk", "ballad"])
@pytest.mark.parametrize("n_tracks", [4, 7, 16])
def test_generated_scores(style, n_tracks):
  score = make_songs.make_score(3, 2, n_tracks=n_tracks, seconds_range=(8, 30), style=style)
  assert len(score.parts) == n_tracks
  assert 8 <= score.seconds <= 30
  names = [p.name for p in score.parts]
  assert len(set(names)) == n_tracks
  end_beats = score.seconds * score.bpm / 60
  for part in score.parts:
    assert part.notes, part.name
    for start, length, pitch, velocity in part.notes:
      assert 0 <= start < end_beats and length > 0
      assert 0 <= pitch <= 127 and 1 <= velocity <= 127
  groups = {p.group for p in score.parts}
  assert "drums" in groups and "bass" in groups and "lead" in groups
  again = make_songs.make_score(3, 2, n_tracks=n_tracks, seconds_range=(8, 30), style=style)
  assert [p.notes for p in again.parts] == [p.notes for p in score.parts]


def test_chorale_score():
  pytest.importorskip("music21")
  score = make_songs.make_score(0, 4, n_tracks=9, seconds_range=(8, 12), style="chorale")
  assert len(score.parts) == 9
  assert score.description["source"].startswith("music21 corpus: bach/")
  voices = [p for p in score.parts if p.role == "voice"]
  assert len(voices) == 4
  means = [np.mean([n[2] for n in p.notes]) for p in voices]
  assert means == sorted(means, reverse=True)  # soprano above alto above tenor above bass


def test_song_plan_is_fixed_by_the_seed():
  plan = make_songs.song_plan(0, 7, styles=make_songs.STYLES, tracks_range=(4, 16))
  assert plan == make_songs.song_plan(0, 7, styles=make_songs.STYLES, tracks_range=(4, 16))
  assert plan[:3] == make_songs.song_plan(0, 3, styles=make_songs.STYLES, tracks_range=(4, 16))
  assert {style for _, style, _ in plan[:5]} == set(make_songs.STYLES)
  assert all(4 <= n <= 16 for _, _, n in plan)


def test_pan_and_width_are_exact():
  x = np.ones((2, 10), np.float32)
  left = targets.apply_effect("Pan", {"pan": -1.0}, x, sample_rate=8000)
  assert np.allclose(left[0], np.sqrt(2)) and np.allclose(left[1], 0, atol=1e-7)
  centre = targets.apply_effect("Pan", {"pan": 0.0}, x, sample_rate=8000)
  assert np.allclose(centre, x)
  y = np.stack([np.ones(10), -np.ones(10)]).astype(np.float32)  # all side
  wide = targets.apply_effect("StereoWidth", {"side_gain_db": 6.0206}, y, sample_rate=8000)
  assert np.allclose(wide, 2 * y, atol=1e-4)


# ---------------------------------------------------------------------------
# One tiny song, rendered twice
# ---------------------------------------------------------------------------


def _render(out, seed=0):
  argv = ["--out", str(out), "--seed", str(seed), "--count", "1", "--sample-rate", "16000",
          "--seconds-range", "8", "8", "--tracks-range", "4", "4"]
  assert make_songs.main(argv) == 0
  return json.loads((out / "songs.json").read_text())


@pytest.mark.slow
def test_one_tiny_song(tmp_path):
  if make_songs.check_tools():
    pytest.skip("missing: " + "; ".join(make_songs.check_tools()))
  import soundfile as sf

  from mixjax.io.song_folder import load_song

  manifest = _render(tmp_path / "a")
  (entry,) = manifest["songs"]
  name = entry["name"]
  song_dir = tmp_path / "a" / "songs" / name
  groups = json.loads((song_dir / "groups.json").read_text())
  track_files = sorted(os.listdir(song_dir / "tracks"))
  assert sorted(f for members in groups.values() for f in members) == track_files
  assert len(track_files) == 4

  tracks = []
  for f in track_files:
    x, rate = sf.read(song_dir / "tracks" / f, always_2d=True)
    assert rate == 16000 and x.shape == (8 * 16000, 2)
    peak_db = 20 * np.log10(np.max(np.abs(x)))
    assert -12.5 <= peak_db <= -3.5, (f, peak_db)
    assert 10 * np.log10(np.mean(x**2)) > -60, f  # not silent
    tracks.append(x)
  for i in range(len(tracks)):
    for j in range(i + 1, len(tracks)):
      assert abs(np.corrcoef(tracks[i].ravel(), tracks[j].ravel())[0, 1]) < 0.9

  for target in ("console", "pedalboard"):
    truth = json.loads((song_dir / f"truth_{target}.json").read_text())
    assert truth["format"] == "mixjax.truth" and truth["target"] == target
    assert truth["nodes"], target
    song = load_song(str(tmp_path / "a" / target / name), sample_rate=16000)
    assert list(song.track_names) == [t["name"] for t in truth["tracks"]]
    assert list(song.group_names) == truth["groups"]
    assert np.max(np.abs(song.mix - song.dry_sum())) > 1e-3  # a real mix, not the dry sum
  effects = json.loads((song_dir / "truth_pedalboard.json").read_text())["effects"]
  assert all(e["mixjax_type"] in PROCESSORS for e in effects)

  # The console target is exactly the console's render of the recorded ground truth.
  song = load_song(str(tmp_path / "a" / "console" / name), sample_rate=16000)
  params, alive = targets.read_console_truth(str(tmp_path / "a" / "console" / name /
                                                    "truth.json"))
  mix = np.asarray(Console.of(song).render(params, song.tracks, alive))
  np.testing.assert_allclose(mix, song.mix, atol=1e-5)

  again = _render(tmp_path / "b")
  assert again["sha256"] == manifest["sha256"]
