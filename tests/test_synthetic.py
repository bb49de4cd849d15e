"""Tests of mixjax.synthetic: procedural songs with a known mixing graph.

Every song here has the same shape (3 tracks, 2 groups, 1.5 s at 8 kHz), so
the console's render compiles once for the whole file.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax import synthetic
from mixjax import units
from mixjax.processors import PROCESSORS, REGISTRY, eq, reverb
from mixjax.console import LEVELS, Console
from mixjax.data import Song

SR = 8000
SHAPE = dict(n_tracks=3, n_groups=2, seconds=1.5, sample_rate=SR)


@functools.lru_cache(maxsize=None)
def song_of(seed: int, density: float = 0.35):
  return synthetic.synthetic_song(jax.random.key(seed), density=density, **SHAPE)


@functools.lru_cache(maxsize=None)
def _jitted_controls(name):
  # One compiled program per processor instead of many eagerly compiled ops.
  return jax.jit(functools.partial(REGISTRY[name].controls, sample_rate=SR))


def controls_of(name, params):
  return jax.tree.map(np.asarray, _jitted_controls(name)(jax.tree.map(jnp.asarray, params)))


def node_params(truth, level, name, index):
  return jax.tree.map(lambda leaf: np.asarray(leaf[index]), truth.params.processors[level][name])


# -- the song -----------------------------------------------------------------------


def test_same_key_same_song():
  song, truth = song_of(0)
  again, truth_again = synthetic.synthetic_song(jax.random.key(0), **SHAPE)
  np.testing.assert_array_equal(song.tracks, again.tracks)
  np.testing.assert_array_equal(song.mix, again.mix)
  assert song.track_groups == again.track_groups and song.track_names == again.track_names
  jax.tree.map(np.testing.assert_array_equal, truth.params, truth_again.params)
  jax.tree.map(np.testing.assert_array_equal, truth.alive, truth_again.alive)
  assert truth.settings == truth_again.settings


def test_different_keys_different_songs():
  (a, truth_a), (b, truth_b) = song_of(0), song_of(1)
  assert not np.allclose(a.tracks, b.tracks)
  assert not np.allclose(a.mix, b.mix)
  assert truth_a.alive_nodes() != truth_b.alive_nodes()


def test_shapes_values_and_grouping():
  song, truth = song_of(0)
  n = int(1.5 * SR)
  assert isinstance(song, Song)
  assert song.tracks.shape == (3, 2, n) and song.mix.shape == (2, n)
  assert song.sample_rate == SR and song.n_groups == 2
  assert sorted(set(song.track_groups)) == [0, 1]  # every group has a track
  assert song.track_names == ("drums", "bass", "chords")
  assert np.isfinite(song.tracks).all() and np.isfinite(song.mix).all()
  assert np.max(np.abs(song.mix)) > 1e-3
  for level, size in [("track", 3), ("group", 2)]:
    assert set(truth.alive[level]) == set(PROCESSORS)
    for name in PROCESSORS:
      assert truth.alive[level][name].shape == (size,)
      assert truth.params.drywet_logits[level][name].shape == (size,)


def test_the_mix_is_the_render_of_the_truth():
  song, truth = song_of(0)
  mix = Console.of(song).render(truth.params, song.tracks, truth.alive)
  np.testing.assert_allclose(mix, song.mix, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_mix_differs_audibly_from_the_dry_sum(seed):
  song, _ = song_of(seed)
  dry = song.dry_sum()
  assert np.linalg.norm(song.mix - dry) / np.linalg.norm(dry) > 0.05


def test_settings_match_the_alive_masks():
  for seed in (0, 1, 2):
    _, truth = song_of(seed)
    nodes = truth.alive_nodes()
    assert nodes and len(nodes) == len(truth.settings)
    assert {s.node for s in truth.settings} == nodes
    for s in truth.settings:
      assert 0.6 <= s.drywet <= 0.95
      logit = float(truth.params.drywet_logits[s.level][s.processor][s.index])
      assert jax.nn.sigmoid(logit) == pytest.approx(s.drywet, rel=1e-5)
    for level in LEVELS:
      for name in PROCESSORS:
        dead = ~np.asarray(truth.alive[level][name])
        logits = np.asarray(truth.params.drywet_logits[level][name])
        np.testing.assert_array_equal(logits[dead], 0.0)
        for leaf in jax.tree.leaves(truth.params.processors[level][name]):
          assert np.all(np.abs(np.asarray(leaf)[dead]) < 0.1)  # init-like N(0, 0.01²)


def test_density_extremes_still_give_at_least_one_processor():
  _, truth = song_of(3, density=0.0)
  assert len(truth.alive_nodes()) == 1
  _, full = song_of(3, density=1.0)
  assert len(full.alive_nodes()) == (3 + 2) * len(PROCESSORS)


def test_truth_params_give_back_their_settings():
  """``controls`` of every alive node of real songs returns its physical settings."""
  seen = set()
  for seed in (0, 1, 2):
    _, truth = song_of(seed)
    _, full = song_of(3, density=1.0)
    for t in (truth, full):
      for s in t.settings:
        params = node_params(t, s.level, s.processor, s.index)
        rebuilt = REGISTRY[s.processor].params_from_settings(s.settings, sample_rate=SR,
                                                             init_params=params)
        jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-6, atol=1e-6),
                     rebuilt, params)
        _check_controls(s.processor, s.settings, controls_of(s.processor, params))
        seen.add(s.processor)
  assert seen == set(PROCESSORS)


def _check_controls(name, settings, got):
  if name == "eq":
    want = eq.settings_gain_db(settings["bands"], got["frequency_hz"])
    np.testing.assert_allclose(got["gain_db"], want, atol=1e-3)
  elif name in ("compressor", "noisegate"):
    for key in ("threshold_db", "ratio", "knee_db", "time_constant_ms"):
      assert float(got[key]) == pytest.approx(settings[key], rel=1e-3, abs=1e-3), key
  elif name in ("imager", "gain_pan"):
    for key, value in settings.items():
      assert float(got[key]) == pytest.approx(value, abs=1e-4), key
  elif name == "delay":
    audible = np.zeros((2, 20), bool)
    for tap in settings["taps"]:
      channel, segment = tap["channel"], tap["delay_samples"] // (SR // 10)
      audible[channel, segment] = True
      assert int(got["delay_samples"][channel, segment]) == tap["delay_samples"]
      assert float(got["delay_ms"][channel, segment]) == pytest.approx(tap["delay_ms"], abs=1e-3)
      assert float(got["tap_gain_db"][channel, segment]) == pytest.approx(tap["gain_db"], abs=0.01)
      assert 100 <= tap["delay_ms"] < 600
    assert np.all(got["tap_gain_db"][~audible] < -80)
  elif name == "reverb":
    want = reverb.settings_t60_ms(settings, got["frequency_hz"], sample_rate=SR)
    np.testing.assert_allclose(got["t60_ms"], np.stack([want, want]), rtol=1e-3)
    side_db = got["initial_level_db"][1] - got["initial_level_db"][0]
    np.testing.assert_allclose(side_db, settings["side_level_db"], atol=1e-3)
    assert 400 <= settings["t60_ms"] <= 2000
  else:
    raise AssertionError(name)


def test_drywet_logit():
  for w in (0.6, 0.75, 0.95):
    assert float(jax.nn.sigmoid(units.logit(w))) == pytest.approx(w)


# -- the dry tracks -------------------------------------------------------------------


def test_dry_tracks_levels_stereo_and_dynamics():
  tracks, names = synthetic.synthetic_tracks(jax.random.key(5), n_tracks=8, seconds=2.0,
                                             sample_rate=SR)
  assert tracks.shape == (8, 2, 2 * SR) and tracks.dtype == np.float32
  assert names == ("drums", "bass", "chords", "lead", "kick", "snare", "hat", "drums 2")
  hop = SR // 20  # 50 ms frames
  for x, name in zip(tracks, names):
    peak_db = 20 * np.log10(np.max(np.abs(x)))
    assert -14.05 <= peak_db <= -9.95, name
    side = np.linalg.norm(x[0] - x[1]) / np.linalg.norm(x[0] + x[1])
    assert side > 0.01, name  # some stereo image for the imager
    frames = x[:, :x.shape[1] // hop * hop].reshape(2, -1, hop)
    frame_db = 10 * np.log10(np.mean(frames**2, axis=(0, 2)) + 1e-20)
    assert frame_db.max() - frame_db.min() > 20, name  # quiet parts for the gate


def test_raw_and_typed_keys_give_the_same_tracks():
  a, _ = synthetic.synthetic_tracks(jax.random.key(7), n_tracks=2, seconds=0.5, sample_rate=SR)
  b, _ = synthetic.synthetic_tracks(jax.random.PRNGKey(7), n_tracks=2, seconds=0.5, sample_rate=SR)
  np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, phrase", [
    (dict(n_tracks=2, n_groups=3), "n_groups <= n_tracks"),
    (dict(n_tracks=2, n_groups=0), "n_groups <= n_tracks"),
    (dict(density=1.5), "density"),
])
def test_bad_arguments(kwargs, phrase):
  with pytest.raises(ValueError, match=phrase):
    synthetic.synthetic_song(jax.random.key(0), **kwargs)


# -- recovery scores ---------------------------------------------------------------------


def test_recovery_scores():
  truth = {("track", 0, "eq"), ("track", 1, "compressor"), ("group", 0, "reverb"),
           ("group", 1, "delay")}
  found = {("track", 0, "eq"), ("group", 0, "reverb"), ("track", 2, "imager")}
  scores = synthetic.recovery_scores(truth, found)
  assert (scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 2)
  assert scores["precision"] == pytest.approx(2 / 3)
  assert scores["recall"] == pytest.approx(1 / 2)
  assert scores["f1"] == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))

  perfect = synthetic.recovery_scores(truth, set(truth))
  assert perfect["precision"] == perfect["recall"] == perfect["f1"] == 1.0
  nothing = synthetic.recovery_scores(truth, set())
  assert nothing == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 4}
  assert synthetic.recovery_scores(set(), set())["f1"] == 1.0
  wrong = synthetic.recovery_scores(truth, {("group", 1, "eq")})
  assert wrong["precision"] == wrong["recall"] == wrong["f1"] == 0.0


def test_alive_nodes_form():
  _, truth = song_of(0)
  for level, index, name in truth.alive_nodes():
    assert level in LEVELS and name in PROCESSORS and isinstance(index, int)
    assert bool(truth.alive[level][name][index])


def test_truth_says_what_each_processor_does_at_its_dry_wet():
  _, truth = song_of(3, density=1.0)  # every processor on every node
  assert truth.sample_rate == SR
  effective = truth.effective()
  assert set(effective) == truth.alive_nodes()
  for s in truth.settings:
    want = REGISTRY[s.processor].effective(node_params(truth, s.level, s.processor, s.index),
                                           s.drywet, sample_rate=SR)
    assert effective[s.node] == want
    assert effective[s.node]["wet"] == pytest.approx(s.drywet, abs=1e-4)
  # The truth against itself: no error; a node found nowhere has none.
  node = next(iter(effective))
  errors = synthetic.settings_errors(effective, {node: effective[node]})
  assert set(errors) == {node}
  assert all(v == (1.0 if k.endswith("_factor") else 0) for k, v in errors[node].items())
