"""Tests of mixjax.data: the Song container and its checks."""

import numpy as np
import pytest

from mixjax import Console
from mixjax.data import Song, resolve_groups

SR = 8000
N = 1000


def make_song(n_tracks=3, track_groups=(0, 1, 0), n=N, seed=0, **kwargs):
  rng = np.random.default_rng(seed)
  tracks = 0.1 * rng.standard_normal((n_tracks, 2, n))
  mix = tracks.sum(0)
  return Song(tracks=tracks, mix=mix, track_groups=track_groups, sample_rate=SR, **kwargs)


# -- a valid song -------------------------------------------------------------


def test_sizes_and_defaults():
  song = make_song(4, (1, None, 0, None), n=2 * SR)
  assert song.n_tracks == 4
  assert song.n_groups == 4  # groups 0, 1 given; the None tracks get 2 and 3
  assert song.n_samples == 2 * SR
  assert song.seconds == pytest.approx(2.0)
  assert song.resolved_groups() == (1, 2, 0, 3)
  assert song.track_groups == (1, None, 0, None)
  assert song.track_names == ("track 1", "track 2", "track 3", "track 4")
  assert song.group_names == ("group 1", "group 2", "group 3", "group 4")


def test_arrays_are_read_only_float32_and_the_callers_stay_writeable():
  tracks = np.random.default_rng(0).standard_normal((2, 2, N)).astype(np.float32)
  mix = tracks.sum(0)
  song = Song(tracks, mix, (0, 0), SR)
  assert song.tracks.dtype == np.float32 and song.mix.dtype == np.float32
  with pytest.raises(ValueError):
    song.tracks[0, 0, 0] = 1.0
  tracks[0, 0, 0] = 1.0  # the caller's array is not frozen
  song64 = make_song()
  assert song64.tracks.dtype == np.float32


def test_numpy_integer_groups_and_custom_names():
  song = make_song(2, np.array([1, 0]), track_names=["kick", "bass"], group_names=("a", "b"))
  assert song.track_groups == (1, 0)
  assert all(type(g) is int for g in song.track_groups)
  assert song.track_names == ("kick", "bass")
  assert song.group_names == ("a", "b")


def test_resolve_groups_numbers_like_console_build():
  for groups in [(0, 1, 0), (None,), (2, None, 0, None), (None, None, 1)]:
    console = Console.build(groups, sample_rate=SR)
    assert resolve_groups(groups) == tuple(np.asarray(console.track_group).tolist())


def test_gaps_in_group_indices_count_as_groups():
  song = make_song(2, (0, 2))
  assert song.n_groups == 3
  np.testing.assert_array_equal(Console.of(song).group_exists, [True, False, True])


def test_repr_is_short_and_informative():
  song = make_song(133, tuple(range(133)), n=N)
  text = repr(song)
  assert "n_tracks=133" in text and "sample_rate=8000" in text and "133 in all" in text
  assert len(text) < 400


def test_frozen():
  song = make_song()
  with pytest.raises(AttributeError):
    song.sample_rate = 16000


# -- every error case ------------------------------------------------------------


def _inputs(n_tracks=2, n=N, seed=0):
  tracks = 0.1 * np.random.default_rng(seed).standard_normal((n_tracks, 2, n))
  return tracks, tracks.sum(0)


def _bad_cases():
  tracks, mix = _inputs()
  nan_tracks = tracks.copy()
  nan_tracks[1, 0, 10] = np.nan
  inf_mix = mix.copy()
  inf_mix[1, 5] = np.inf
  return {
      "tracks without a track axis": (dict(tracks=tracks[0]), "n_tracks, 2, samples"),
      "mono tracks": (dict(tracks=tracks[:, :1]), "mono"),
      "three channels": (dict(tracks=np.concatenate([tracks, tracks[:, :1]], 1)), "stereo"),
      "no tracks": (dict(tracks=tracks[:0], track_groups=()), "at least one track"),
      "mono mix": (dict(mix=mix[:1]), "mono"),
      "mix of another length": (dict(mix=mix[:, :-1]), "same length"),
      "NaN in tracks": (dict(tracks=nan_tracks), "NaN or Inf"),
      "Inf in mix": (dict(mix=inf_mix), "NaN or Inf"),
      "integer tracks": (dict(tracks=(tracks * 1000).astype(np.int16)), "floating-point"),
      "integer mix": (dict(mix=(mix * 1000).astype(np.int32)), "floating-point"),
      "silent mix": (dict(mix=np.zeros_like(mix)), "nothing to match"),
      "too few groups": (dict(track_groups=(0,)), "one group index"),
      "too many groups": (dict(track_groups=(0, 1, 0)), "one group index"),
      "negative group": (dict(track_groups=(0, -1)), "integers >= 0"),
      "float group": (dict(track_groups=(0, 1.0)), "integers >= 0"),
      "bool group": (dict(track_groups=(0, True)), "integers >= 0"),
      "low sample rate": (dict(sample_rate=4000), "too low"),
      "float sample rate": (dict(sample_rate=8000.0), "integer number of Hz"),
      "wrong number of track names": (dict(track_names=("a",)), "track_names has 1 names"),
      "a track name that is no string": (dict(track_names=("a", 3)), "non-empty string"),
      "empty track name": (dict(track_names=("a", "")), "non-empty string"),
      "one string as names": (dict(track_names="ab"), "single string"),
      "wrong number of group names": (dict(group_names=("a", "b", "c")), "group_names has 3"),
  }


@pytest.mark.parametrize("case", sorted(_bad_cases()))
def test_bad_song_raises_a_clear_value_error(case):
  changes, phrase = _bad_cases()[case]
  tracks, mix = _inputs()
  kwargs = dict(tracks=tracks, mix=mix, track_groups=(0, 1), sample_rate=SR)
  kwargs.update(changes)
  with pytest.raises(ValueError, match=phrase):
    Song(**kwargs)


# -- console inputs -----------------------------------------------------------------


def test_console_matches_console_build():
  song = make_song(3, (1, None, 1))
  console = Console.of(song)
  assert console.max_tracks == 3 and console.max_groups == 3 and console.sample_rate == SR
  np.testing.assert_array_equal(console.track_group, [1, 2, 1])
  np.testing.assert_array_equal(console.group_exists, [False, True, True])

  padded = Console.of(song, max_tracks=5, max_groups=4)
  assert padded.max_tracks == 5 and padded.max_groups == 4
  np.testing.assert_array_equal(padded.track_exists, [True, True, True, False, False])
  with pytest.raises(ValueError, match="max_tracks"):
    Console.of(song, max_tracks=2)
  with pytest.raises(ValueError, match="max_groups"):
    Console.of(song, max_groups=2)


def test_padded_tracks_and_dry_sum():
  song = make_song(3)
  padded = song.padded_tracks(5)
  assert padded.shape == (5, 2, N) and padded.dtype == np.float32
  np.testing.assert_array_equal(padded[:3], song.tracks)
  assert not padded[3:].any()
  np.testing.assert_array_equal(song.padded_tracks(), song.tracks)
  with pytest.raises(ValueError, match="max_tracks"):
    song.padded_tracks(2)
  np.testing.assert_allclose(song.dry_sum(), song.tracks.sum(0), rtol=1e-6)
  assert song.dry_sum().shape == (2, N)


def test_crop():
  song = make_song(3, (0, None, 0), track_names=("a", "b", "c"))
  part = song.crop(100, 300)
  assert part.n_samples == 300 and part.n_tracks == 3
  np.testing.assert_array_equal(part.tracks, song.tracks[..., 100:400])
  np.testing.assert_array_equal(part.mix, song.mix[..., 100:400])
  assert part.track_groups == song.track_groups
  assert part.track_names == song.track_names and part.group_names == song.group_names
  assert part.sample_rate == SR
  assert song.crop(0, N).n_samples == N


@pytest.mark.parametrize("start, length", [(-1, 10), (0, 0), (N - 5, 10), (0, N + 1)])
def test_crop_out_of_range(start, length):
  with pytest.raises(ValueError, match="outside the song"):
    make_song().crop(start, length)


def test_crop_to_a_silent_part_of_the_mix():
  tracks, mix = _inputs()
  mix[:, :200] = 0.0
  song = Song(tracks, mix, (0, 1), SR)
  with pytest.raises(ValueError, match="nothing to match"):
    song.crop(0, 200)
  with pytest.raises(ValueError, match="integer"):
    song.crop(0.5, 200)
