"""Tests of mixjax.io.song_folder: song folders in both layouts, and every bad input."""

import json
import os
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf
import yaml

from mixjax.io import audio as audio_files
from mixjax.io import song_folder
from mixjax.io.song_folder import LoadWarning, load_song

SR = 8000
SECONDS = 2.0


def sine(freq_hz, seconds, sample_rate, *, channels=1, amplitude=0.5):
  """``[n, channels]`` sine (right channel at half amplitude when stereo)."""
  t = np.arange(int(round(seconds * sample_rate))) / sample_rate
  x = amplitude * np.sin(2 * np.pi * freq_hz * t)
  return np.stack([x, 0.5 * x][:channels], axis=1)


def write(path, audio, sample_rate=SR, subtype="PCM_16"):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sf.write(path, audio, sample_rate, subtype=subtype)
  return path


def plain_song(root, tracks=("kick", "bass", "lead"), *, groups=None, groups_name="groups.yaml"):
  """A plain-layout folder: one sine per track, their sum as the mix."""
  for i, name in enumerate(tracks):
    write(os.path.join(root, "tracks", f"{name}.wav"), sine(110 * (i + 1), SECONDS, SR))
  write(os.path.join(root, "mix.wav"), sine(220, SECONDS, SR, channels=2))
  if groups is not None:
    with open(os.path.join(root, groups_name), "w") as f:
      f.write(json.dumps(groups) if groups_name.endswith(".json") else yaml.safe_dump(groups))
  return str(root)


def medleydb_song(root, name="Artist_Song", stems=None, *, write_raw=True, extra_raw=()):
  """A MedleyDB-layout folder with ``stems = {stem key: (instrument, [raw files])}``."""
  stems = stems or {"S01": ("drum set", ["01_01", "01_02"]), "S02": ("electric bass", ["02_01"])}
  meta = {"title": "Song", "mix_filename": f"{name}_MIX.wav", "raw_dir": f"{name}_RAW",
          "stem_dir": f"{name}_STEMS", "stems": {}}
  for k, (key, (instrument, raws)) in enumerate(stems.items()):
    meta["stems"][key] = {"instrument": instrument, "filename": f"{name}_STEM_{k + 1:02d}.wav",
                          "raw": {f"R{j + 1:02d}": {"filename": f"{name}_RAW_{raw}.wav",
                                                    "instrument": instrument}
                                  for j, raw in enumerate(raws)}}
    if write_raw:
      for j, raw in enumerate(raws):
        write(os.path.join(root, f"{name}_RAW", f"{name}_RAW_{raw}.wav"),
              sine(100 * (k + 1) + 30 * j, SECONDS, SR))
  for raw in extra_raw:
    write(os.path.join(root, f"{name}_RAW", f"{name}_RAW_{raw}.wav"), sine(300, SECONDS, SR))
  os.makedirs(os.path.join(root, f"{name}_STEMS"), exist_ok=True)
  write(os.path.join(root, f"{name}_MIX.wav"), sine(220, SECONDS, SR, channels=2))
  with open(os.path.join(root, f"{name}_METADATA.yaml"), "w") as f:
    yaml.safe_dump(meta, f, sort_keys=False)
  return str(root)


# -- reading one file ---------------------------------------------------------


@pytest.mark.parametrize("file_rate", [8000, 16000, 44100])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
@pytest.mark.parametrize("channels", [1, 2])
def test_read_audio_any_rate_depth_and_channels(tmp_path, file_rate, subtype, channels):
  path = write(str(tmp_path / "x.wav"), sine(440, 1.0, file_rate, channels=channels),
               file_rate, subtype)
  audio = audio_files.read_audio(path, sample_rate=SR)
  assert audio.dtype == np.float32 and audio.shape[0] == 2
  assert abs(audio.shape[1] - SR) <= 1
  expected = sine(440, 1.0, SR, channels=2).T
  if channels == 1:
    expected[1] = expected[0]  # mono is copied to both channels
  middle = slice(200, SR - 200)  # away from the resampler's edges
  tolerance = 1e-3 if file_rate != SR else (1e-4 if subtype == "PCM_16" else 1e-6)
  np.testing.assert_allclose(audio[:, middle], expected[:, middle], atol=tolerance)


def test_read_audio_flac(tmp_path):
  path = write(str(tmp_path / "x.flac"), sine(440, 0.5, 16000, channels=2), 16000, "PCM_24")
  assert audio_files.read_audio(path, sample_rate=SR).shape == (2, SR // 2)


# -- plain layout -------------------------------------------------------------


def test_plain_layout_mixed_files(tmp_path):
  root = tmp_path / "song"
  write(str(root / "tracks" / "kick.wav"), sine(60, SECONDS, 16000), 16000, "PCM_16")
  write(str(root / "tracks" / "bass.wav"), sine(110, SECONDS, 44100, channels=2), 44100,
        "PCM_24")
  write(str(root / "tracks" / "pad.flac"), sine(330, SECONDS, SR), SR, "PCM_24")
  write(str(root / "tracks" / "lead.wav"), sine(440, SECONDS, SR, channels=2), SR, "FLOAT")
  write(str(root / "mix.wav"), sine(220, SECONDS, 44100, channels=2), 44100, "PCM_16")
  (root / "tracks" / ".DS_Store").write_bytes(b"\0junk")  # hidden files are ignored
  song = load_song(str(root), sample_rate=SR)
  assert song.tracks.shape == (4, 2, int(SECONDS * SR))
  assert song.tracks.dtype == np.float32 and song.mix.dtype == np.float32
  assert song.sample_rate == SR
  assert song.track_names == ("bass", "kick", "lead", "pad")
  assert song.group_names == song.track_names  # no groups file: a group per track
  assert song.resolved_groups() == (0, 1, 2, 3)
  np.testing.assert_array_equal(song.tracks[1, 0], song.tracks[1, 1])  # mono -> stereo
  assert not np.allclose(song.tracks[0, 0], song.tracks[0, 1])  # stereo kept


@pytest.mark.parametrize("sample_rate", [16000, 30000])
def test_resamples_to_the_search_rate(tmp_path, sample_rate):
  song = load_song(plain_song(tmp_path), sample_rate=sample_rate)
  assert song.sample_rate == sample_rate
  assert song.n_samples == int(SECONDS * sample_rate)


def test_default_rate_is_the_papers(tmp_path):
  assert load_song(plain_song(tmp_path)).sample_rate == 30000


def test_tracks_in_natural_order(tmp_path):
  song = load_song(plain_song(tmp_path, ("track10", "track2", "Track1")), sample_rate=SR)
  assert song.track_names == ("Track1", "track2", "track10")


@pytest.mark.parametrize("groups_name", ["groups.yaml", "groups.yml", "groups.json"])
def test_groups_file(tmp_path, groups_name):
  groups = {"drums": ["kick.wav", "snare"], "keys": ["piano.wav"]}
  root = plain_song(tmp_path, ("bass", "kick", "piano", "snare", "vox"), groups=groups,
                    groups_name=groups_name)
  song = load_song(root, sample_rate=SR)
  assert song.track_names == ("bass", "kick", "piano", "snare", "vox")
  # the file's groups first, then one group per unlisted track, named after it
  assert song.group_names == ("drums", "keys", "bass", "vox")
  names = [song.group_names[g] for g in song.resolved_groups()]
  assert names == ["bass", "drums", "keys", "drums", "vox"]


def test_groups_file_single_string_member(tmp_path):
  song = load_song(plain_song(tmp_path, groups={"low": "bass"}), sample_rate=SR)
  assert song.group_names == ("low", "kick", "lead")


def test_mix_in_another_format(tmp_path):
  root = plain_song(tmp_path)
  os.remove(os.path.join(root, "mix.wav"))
  write(os.path.join(root, "mix.flac"), sine(220, SECONDS, 16000, channels=2), 16000, "PCM_24")
  assert load_song(root, sample_rate=SR).n_samples == int(SECONDS * SR)


def test_lengths_are_aligned_to_the_mix(tmp_path):
  root = tmp_path / "song"
  write(str(root / "tracks" / "a_short.wav"), sine(110, SECONDS - 0.5, SR))  # < 1 s: quiet
  write(str(root / "tracks" / "b_shorter.wav"), sine(110, SECONDS - 1.5, SR))
  write(str(root / "tracks" / "c_longer.wav"), sine(110, SECONDS + 1.5, SR))
  write(str(root / "mix.wav"), sine(220, SECONDS, SR, channels=2))
  with pytest.warns(LoadWarning) as record:
    song = load_song(str(root), sample_rate=SR)
  messages = [str(w.message) for w in record]
  assert len(messages) == 2
  assert any("b_shorter.wav is 1.5 s shorter" in m and "padded" in m for m in messages)
  assert any("c_longer.wav is 1.5 s longer" in m and "cropped" in m for m in messages)
  n = int(SECONDS * SR)
  assert song.n_samples == n
  assert np.all(song.tracks[0, :, n - SR // 2:] == 0)  # padded with silence
  assert np.all(song.tracks[1, :, int(0.5 * SR):] == 0)
  np.testing.assert_allclose(song.tracks[2, 0], sine(110, SECONDS, SR)[:, 0], atol=1e-4)


def test_load_tracks_needs_no_mix(tmp_path):
  root = plain_song(tmp_path / "song")
  song = load_song(root, sample_rate=SR)
  write(os.path.join(root, "mix.wav"), np.zeros((int(SECONDS * SR), 2)))  # silent mix
  tracks = song_folder.load_tracks(root, sample_rate=SR)
  assert tracks.track_names == song.track_names and tracks.sample_rate == SR
  np.testing.assert_array_equal(tracks.tracks, song.tracks)
  os.remove(os.path.join(root, "mix.wav"))  # no mix: aligned to the longest track
  write(os.path.join(root, "tracks", "lead.wav"), sine(330, SECONDS + 1.5, SR))
  with pytest.warns(LoadWarning) as record:
    tracks = song_folder.load_tracks(root, sample_rate=SR)
  messages = sorted(str(w.message) for w in record)
  assert len(messages) == 2 and all(
      f"{name}.wav is 1.5 s shorter than the longest track; padded with silence" in m
      for name, m in zip(("bass", "kick"), messages)), messages
  assert tracks.n_samples == int((SECONDS + 1.5) * SR) and tracks.n_tracks == 3
  assert song_folder.find_song_files(root, need_mix=False).mix is None
  with pytest.raises(ValueError, match="has no mix file"):
    load_song(root, sample_rate=SR)


def test_silent_track_is_kept_and_reported(tmp_path):
  root = plain_song(tmp_path)
  write(os.path.join(root, "tracks", "silence.wav"), np.zeros((int(SECONDS * SR), 2)))
  with pytest.warns(LoadWarning, match=r"silence\.wav is silent"):
    song = load_song(root, sample_rate=SR)
  assert "silence" in song.track_names
  assert not song.tracks[song.track_names.index("silence")].any()


@pytest.mark.parametrize("mix", ["one channel", "two equal channels", "stereo"])
def test_a_mono_mix_is_noted(tmp_path, mix):
  root = plain_song(tmp_path)
  left = sine(220, SECONDS, SR)
  write(os.path.join(root, "mix.wav"), {"one channel": left, "two equal channels": np.repeat(
      left, 2, axis=1), "stereo": sine(220, SECONDS, SR, channels=2)}[mix])
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    song = load_song(root, sample_rate=SR)
  notes = [str(w.message) for w in caught if issubclass(w.category, LoadWarning)]
  if mix == "stereo":
    assert notes == []
  else:
    assert notes == [f"{root}/mix.wav is mono (its side channel, left minus right, is silent); "
                     f"the search fits a mono mix: centred pans, no stereo width. Use the "
                     f"stereo mix if there is one."]
    np.testing.assert_array_equal(song.mix[0], song.mix[1])


# -- writing a song folder -------------------------------------------------------


def test_write_song_loads_back_as_the_same_song(tmp_path):
  import jax

  import mixjax
  song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=1.0,
                                  sample_rate=SR)
  root = str(tmp_path / "song")
  mixjax.write_song(song, root)
  assert sorted(os.listdir(root)) == ["groups.json", "mix.wav", "tracks"]
  loaded = load_song(root, sample_rate=SR)
  order = [song.track_names.index(n) for n in loaded.track_names]  # file-name order
  assert sorted(loaded.track_names) == sorted(song.track_names)
  np.testing.assert_array_equal(loaded.tracks, np.asarray(song.tracks)[order])
  np.testing.assert_array_equal(loaded.mix, song.mix)
  groups = lambda s: {n: s.group_names[g] for n, g in zip(s.track_names, s.resolved_groups())}
  assert groups(loaded) == groups(song)
  with pytest.raises(ValueError, match=r"song exists and is not an empty folder"):
    mixjax.write_song(song, root)
  assert sorted(os.listdir(root)) == ["groups.json", "mix.wav", "tracks"]


# -- MedleyDB layout -----------------------------------------------------------


def test_medleydb_layout(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song")
  song = load_song(root, sample_rate=SR)
  assert song.track_names == ("RAW_01_01", "RAW_01_02", "RAW_02_01")
  assert song.group_names == ("S01 drum set", "S02 electric bass")
  assert song.resolved_groups() == (0, 0, 1)
  assert song.n_samples == int(SECONDS * SR)
  assert song_folder.find_song_files(root).layout == "medleydb"


def test_medleydb_without_dir_and_mix_entries_uses_the_defaults(tmp_path):
  root = medleydb_song(tmp_path / "A_B", name="A_B")
  path = os.path.join(root, "A_B_METADATA.yaml")
  with open(path) as f:
    meta = yaml.safe_load(f)
  del meta["raw_dir"], meta["mix_filename"]
  with open(path, "w") as f:
    yaml.safe_dump(meta, f)
  shutil.rmtree(os.path.join(root, "A_B_STEMS"))  # stems are not read
  assert load_song(root, sample_rate=SR).n_tracks == 3


# -- bad input: one clear ValueError each ---------------------------------------


def expect_error(path, *, match, sample_rate=SR):
  with pytest.raises(ValueError, match=match) as info:
    load_song(path, sample_rate=sample_rate)
  message = str(info.value)
  assert "\n" not in message
  return message


def test_is_song_folder_in_both_layouts_and_none_else(tmp_path):
  assert song_folder.is_song_folder(plain_song(tmp_path / "plain"))
  assert song_folder.is_song_folder(medleydb_song(tmp_path / "medleydb"))
  (tmp_path / "other").mkdir()
  (tmp_path / "other" / "notes.txt").write_text("hi")
  (tmp_path / "other" / ".hidden_METADATA.yaml").write_text("stems: {}")  # hidden: not read
  write(str(tmp_path / "other" / "mix.wav"), sine(220, 1.0, SR))  # a mix alone is no song
  assert not song_folder.is_song_folder(str(tmp_path / "other"))
  assert not song_folder.is_song_folder(str(tmp_path / "other" / "mix.wav"))
  assert not song_folder.is_song_folder(str(tmp_path / "nope"))


def test_missing_folder(tmp_path):
  expect_error(str(tmp_path / "nope"), match=r"nope: no such folder")


def test_a_file_instead_of_a_folder(tmp_path):
  path = write(str(tmp_path / "mix.wav"), sine(220, 1.0, SR))
  expect_error(path, match=r"is a file; give the song's folder")


def test_folder_in_neither_layout(tmp_path):
  (tmp_path / "notes.txt").write_text("hi")
  expect_error(str(tmp_path), match=r"neither a tracks/ folder .* nor a <Song>_METADATA")


def test_missing_mix(tmp_path):
  root = plain_song(tmp_path)
  os.remove(os.path.join(root, "mix.wav"))
  expect_error(root, match=r"has no mix file; put the finished stereo mix")


def test_two_mixes(tmp_path):
  root = plain_song(tmp_path)
  write(os.path.join(root, "mix.flac"), sine(220, SECONDS, SR))
  expect_error(root, match=r"2 mix files \(mix.flac, mix.wav\); keep exactly one")


def test_missing_tracks_folder(tmp_path):
  write(str(tmp_path / "mix.wav"), sine(220, SECONDS, SR))
  expect_error(str(tmp_path), match=r"has no tracks/ folder")


def test_no_tracks(tmp_path):
  write(str(tmp_path / "mix.wav"), sine(220, SECONDS, SR))
  (tmp_path / "tracks").mkdir()
  expect_error(str(tmp_path), match=r"tracks holds no tracks")


def test_folder_inside_tracks(tmp_path):
  root = plain_song(tmp_path)
  os.mkdir(os.path.join(root, "tracks", "drums"))
  expect_error(root, match=r"drums is a folder; put the audio files directly into tracks/")


def test_not_audio(tmp_path):
  root = plain_song(tmp_path)
  with open(os.path.join(root, "tracks", "notes.txt"), "w") as f:
    f.write("not audio")
  message = expect_error(root, match=r"notes.txt is not an audio file soundfile can read")
  assert "convert it to WAV or FLAC, or remove it" in message


def test_mix_not_audio(tmp_path):
  root = plain_song(tmp_path)
  os.remove(os.path.join(root, "mix.wav"))
  with open(os.path.join(root, "mix.mp3"), "wb") as f:
    f.write(b"garbage" * 100)
  expect_error(root, match=r"mix.mp3 is not an audio file")


def test_empty_audio_file(tmp_path):
  root = plain_song(tmp_path)
  write(os.path.join(root, "tracks", "empty.wav"), np.zeros((0, 1)))
  expect_error(root, match=r"empty.wav has no samples")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_samples(tmp_path, bad):
  root = plain_song(tmp_path)
  audio = sine(110, SECONDS, SR)
  audio[SR // 2] = bad
  write(os.path.join(root, "tracks", "broken.wav"), audio, SR, "FLOAT")
  expect_error(root, match=r"broken.wav contains NaN or Inf samples \(first at 0.500 s\)")


def test_more_than_two_channels(tmp_path):
  root = plain_song(tmp_path)
  write(os.path.join(root, "tracks", "surround.wav"), np.zeros((SR, 6)) + 0.1)
  expect_error(root, match=r"surround.wav has 6 channels; mixjax reads mono or stereo")


def test_silent_mix(tmp_path):
  root = plain_song(tmp_path)
  write(os.path.join(root, "mix.wav"), np.zeros((int(SECONDS * SR), 2)))
  expect_error(root, match=r"mix.wav is silent, so there is nothing to match")


def test_two_files_with_one_name(tmp_path):
  root = plain_song(tmp_path)
  write(os.path.join(root, "tracks", "kick.flac"), sine(60, SECONDS, SR))
  expect_error(root, match=r"kick.flac and kick.wav, which give the same track name")


def test_sample_rate_too_low(tmp_path):
  expect_error(plain_song(tmp_path), match=r"sample_rate 4000 Hz is too low", sample_rate=4000)


def test_groups_file_naming_a_missing_track(tmp_path):
  root = plain_song(tmp_path, groups={"drums": ["kick.wav", "snare.wav"]})
  message = expect_error(root, match=r"groups.yaml: subgroup 'drums' names 'snare.wav', "
                         r"which is not in tracks/")
  assert "bass.wav, kick.wav, lead.wav" in message


@pytest.mark.parametrize("text, match", [
    ("drums: [kick.wav\n", r"groups.yaml is not valid YAML"),
    ("- kick.wav\n- bass.wav\n", r"must map each subgroup name to a list of track files"),
    ("", r"got an empty file"),
    ("drums: []\n", r"subgroup 'drums' must list one or more track files"),
    ("drums: [1, 2]\n", r"subgroup 'drums' must list one or more track files"),
    ("a: [kick]\nb: [kick.wav]\n", r"kick.wav is in both 'a' and 'b'"),
    ("bass: [kick]\n", r"bass.wav is in no subgroup, so it forms a group of its own named "
                       r"'bass', which is also a subgroup"),
])
def test_malformed_groups_file(tmp_path, text, match):
  root = plain_song(tmp_path)
  with open(os.path.join(root, "groups.yaml"), "w") as f:
    f.write(text)
  expect_error(root, match=match)


def test_malformed_groups_json(tmp_path):
  root = plain_song(tmp_path)
  with open(os.path.join(root, "groups.json"), "w") as f:
    f.write("{'drums': ['kick']}")
  expect_error(root, match=r"groups.json is not valid JSON")


def test_two_groups_files(tmp_path):
  root = plain_song(tmp_path, groups={"drums": ["kick"]})
  with open(os.path.join(root, "groups.json"), "w") as f:
    json.dump({"drums": ["kick"]}, f)
  expect_error(root, match=r"has groups.json and groups.yaml; keep one groups file")


def test_medleydb_metadata_lists_a_missing_raw_file(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song")
  os.remove(os.path.join(root, "Artist_Song_RAW", "Artist_Song_RAW_01_02.wav"))
  expect_error(root, match=r"Artist_Song_METADATA.yaml does not match Artist_Song_RAW/: it "
               r"lists Artist_Song_RAW_01_02.wav, which is not in the folder")


def test_medleydb_folder_has_an_unlisted_raw_file(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song", extra_raw=["09_01"])
  expect_error(root, match=r"the folder has Artist_Song_RAW_09_01.wav, which the metadata "
               r"does not list")


def test_medleydb_missing_mix(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song")
  os.remove(os.path.join(root, "Artist_Song_MIX.wav"))
  expect_error(root, match=r"Artist_Song_MIX.wav is missing: the MedleyDB metadata")


def test_medleydb_missing_raw_folder(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song", write_raw=False)
  expect_error(root, match=r"Artist_Song_RAW/ is missing")


@pytest.mark.parametrize("edit, match", [
    (lambda meta: meta.pop("stems"), r"has no 'stems' mapping"),
    (lambda meta: meta["stems"]["S01"].pop("raw"), r"stem S01 lists no raw files"),
    (lambda meta: meta["stems"]["S02"]["raw"]["R01"].pop("filename"),
     r"stem S02, raw R01 has no filename"),
    (lambda meta: meta["stems"]["S02"]["raw"].update(
        R02={"filename": "Artist_Song_RAW_01_01.wav"}),
     r"Artist_Song_RAW_01_01.wav is listed twice"),
])
def test_medleydb_malformed_metadata(tmp_path, edit, match):
  root = medleydb_song(tmp_path / "Artist_Song")
  path = os.path.join(root, "Artist_Song_METADATA.yaml")
  with open(path) as f:
    meta = yaml.safe_load(f)
  edit(meta)
  with open(path, "w") as f:
    yaml.safe_dump(meta, f)
  expect_error(root, match=match)


def test_medleydb_metadata_not_yaml(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song")
  with open(os.path.join(root, "Artist_Song_METADATA.yaml"), "w") as f:
    f.write("stems: {S01: [\n")
  expect_error(root, match=r"Artist_Song_METADATA.yaml cannot be read as YAML")


def test_medleydb_without_metadata(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song")
  os.remove(os.path.join(root, "Artist_Song_METADATA.yaml"))
  expect_error(root, match=r"looks like a MedleyDB song \(Artist_Song_RAW/\) but has no "
               r"Artist_Song_METADATA.yaml")


def test_two_medleydb_metadata_files(tmp_path):
  root = medleydb_song(tmp_path / "Artist_Song")
  with open(os.path.join(root, "Other_METADATA.yaml"), "w") as f:
    f.write("stems: {}\n")
  expect_error(root, match=r"holds 2 MedleyDB metadata files")


def test_no_warnings_for_a_clean_song(tmp_path):
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    load_song(medleydb_song(tmp_path / "Artist_Song"), sample_rate=SR)
