"""Loading a song from a folder: dry tracks, subgroups and the finished mix (and
``write_song``: a ``Song`` written as a folder that loads back as itself).

Two folder layouts are read:

* **plain**::

    song/
      tracks/        one audio file per dry track (kick.wav, bass.flac, ...)
      mix.wav        the finished stereo mix (any audio extension)
      groups.yaml    optional: subgroup name -> list of track files
                     (or groups.json with the same mapping)

  Track names are the file names without extension. With a groups file, each
  key names a subgroup and lists its tracks (``kick.wav`` or just ``kick``);
  a track listed nowhere forms a group of its own, named after the track.
  With no groups file, every track is its own group.

* **MedleyDB** (Bittner et al., ISMIR 2014)::

    Artist_Title/
      Artist_Title_METADATA.yaml   stems: {S01: {instrument, raw: {R01: {filename}}}}
      Artist_Title_MIX.wav
      Artist_Title_RAW/            the dry tracks named by the metadata
      Artist_Title_STEMS/          (not read: the console makes its own subgroups)

  Each stem is a subgroup named ``"S01 electric bass"`` (stem key and
  instrument); its raw files are its tracks, named by their file names
  without extension and without the repeated ``Artist_Title_`` prefix
  (``RAW_01_01``). The metadata's ``raw_dir`` and ``mix_filename`` are used
  when present.

Every file is read with soundfile (any format and bit depth it knows), made
stereo (mono is copied to both channels), resampled to the search rate with
soxr, and aligned to the mix: shorter tracks are padded with silence at the
end, longer ones cropped (a ``LoadWarning`` when they differ by more than
``LENGTH_WARNING_SECONDS``). Silent tracks are kept (a ``LoadWarning`` says
so; the search will prune their processors), and a mono mix is searched as
one (a ``LoadWarning`` says so: its side channel is silent).

Every problem with the folder raises one ``ValueError`` whose message names
the file and says what to do.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from typing import NamedTuple

import numpy as np
import yaml

from mixjax import atomic_files
from mixjax import validation
from mixjax.data import SILENCE_PEAK, Song, TrackSizes
from mixjax.io import audio as audio_files

DEFAULT_SAMPLE_RATE = 30000
"""The search rate (Hz) of the paper; songs are resampled to it by default."""

LENGTH_WARNING_SECONDS = 1.0
"""A track whose length differs from the mix's by more than this is reported."""

GROUPS_FILES = ("groups.yaml", "groups.yml", "groups.json")
"""Names of the optional groups file of the plain layout."""

METADATA_SUFFIX = "_METADATA.yaml"
"""How a MedleyDB metadata file name ends."""


class LoadWarning(UserWarning):
  """Something about a song worth knowing that does not stop loading it."""


class SongFiles(NamedTuple):
  """The files of a song folder, found and checked before any audio is read.

  Attributes:
    layout: ``"plain"`` or ``"medleydb"``.
    mix: path of the mix (None when the folder has none and none was needed).
    tracks: paths of the dry tracks, in track order.
    track_names: one name per track.
    track_groups: the subgroup index of every track (None: a group of its own),
      as ``Song`` takes it.
    group_names: one name per group, in ``Song``'s group order.
    track_instruments, group_instruments: the instrument label of every track
      and group (MedleyDB metadata's ``instrument``: a raw track's own, else
      its stem's; None where it gives none), or None (the plain layout).
  """
  layout: str
  mix: str
  tracks: tuple
  track_names: tuple
  track_groups: tuple
  group_names: tuple
  track_instruments: tuple | None = None
  group_instruments: tuple | None = None


# ---------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------


def _natural_key(name: str):
  """Sort key putting ``track2`` before ``track10``, ignoring case."""
  return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _visible_entries(folder: str) -> list[str]:
  return sorted((e for e in os.listdir(folder) if not e.startswith(".")), key=_natural_key)


def _stem(filename: str) -> str:
  return os.path.splitext(filename)[0]


def _layout(entries: list[str]) -> str | None:
  """``"plain"``, ``"medleydb"`` or None: the layout a folder's entry names announce."""
  if "tracks" in entries:
    return "plain"
  if any(e.endswith(METADATA_SUFFIX) for e in entries):
    return "medleydb"
  return None


def is_song_folder(path: str) -> bool:
  """Whether ``path`` is a song folder: it holds ``tracks/`` (plain layout) or a
  ``<Song>_METADATA.yaml`` (MedleyDB). Reads names only; ``find_song_files``
  checks the files."""
  return os.path.isdir(path) and _layout(_visible_entries(path)) is not None


def find_song_files(path: str, *, need_mix: bool = True) -> SongFiles:
  """Finds the mix, the tracks and the grouping of a song folder (no audio read).

  Args:
    path: a song folder in the plain or the MedleyDB layout (module docstring).
    need_mix: refuse a folder without a mix (False: ``mix`` is None then).

  Returns:
    A ``SongFiles``.

  Raises:
    ValueError: for a missing folder, mix or tracks, a malformed groups file
      or MedleyDB metadata, or metadata that does not match the folders.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise ValueError(f"{path}: no such folder; give the folder that holds the song.")
  if not os.path.isdir(path):
    raise ValueError(
        f"{path} is a file; give the song's folder (with tracks/ and mix.wav, or a "
        f"MedleyDB song folder), not a single file.")
  entries = _visible_entries(path)
  layout = _layout(entries)
  if layout == "medleydb":
    metadata = [e for e in entries if e.endswith(METADATA_SUFFIX)]
    if len(metadata) > 1:
      raise ValueError(
          f"{path} holds {len(metadata)} MedleyDB metadata files ({', '.join(metadata)}); "
          f"keep one song per folder.")
    return _medleydb_files(path, metadata[0], need_mix)
  if layout == "plain" or any(_stem(e) == "mix" for e in entries):  # mix only: say what's missing
    return _plain_files(path, entries, need_mix)
  raw_dirs = [e for e in entries if e.endswith("_RAW") and os.path.isdir(os.path.join(path, e))]
  if raw_dirs:
    prefix = raw_dirs[0][:-len("_RAW")]
    raise ValueError(
        f"{path} looks like a MedleyDB song ({raw_dirs[0]}/) but has no "
        f"{prefix}{METADATA_SUFFIX}; add the song's metadata file (it maps the raw tracks "
        f"to their stems).")
  raise ValueError(
      f"{path} holds neither a tracks/ folder and a mix file (plain layout) nor a "
      f"<Song>{METADATA_SUFFIX} (MedleyDB layout); see 'Your own song' in the README.")


def _plain_files(path: str, entries: list[str], need_mix: bool) -> SongFiles:
  mixes = [e for e in entries
           if _stem(e) == "mix" and os.path.splitext(e)[1] and
           os.path.isfile(os.path.join(path, e))]
  if not mixes and need_mix:
    raise ValueError(
        f"{path} has no mix file; put the finished stereo mix next to tracks/ as "
        f"mix.wav (or mix.flac, ...).")
  if len(mixes) > 1:
    raise ValueError(
        f"{path} has {len(mixes)} mix files ({', '.join(mixes)}); keep exactly one.")
  tracks_dir = os.path.join(path, "tracks")
  if not os.path.isdir(tracks_dir):
    raise ValueError(
        f"{path} has no tracks/ folder; put one audio file per dry track into "
        f"{tracks_dir}{os.sep}.")
  files = []
  for entry in _visible_entries(tracks_dir):
    full = os.path.join(tracks_dir, entry)
    if os.path.isdir(full):
      raise ValueError(
          f"{full} is a folder; put the audio files directly into tracks/ and describe "
          f"subgroups in groups.yaml.")
    files.append(entry)
  if not files:
    raise ValueError(f"{tracks_dir} holds no tracks; put one audio file per dry track there.")
  names = [_stem(f) for f in files]
  _check_unique_names(names, files, tracks_dir)

  groups_files = [e for e in entries if e in GROUPS_FILES]
  if len(groups_files) > 1:
    raise ValueError(
        f"{path} has {' and '.join(groups_files)}; keep one groups file.")
  if groups_files:
    groups_path = os.path.join(path, groups_files[0])
    mapping = _read_groups_file(groups_path)
    track_groups, group_names = _groups_from_mapping(mapping, files, groups_path)
  else:
    track_groups, group_names = (None,) * len(files), tuple(names)
  return SongFiles(
      layout="plain", mix=os.path.join(path, mixes[0]) if mixes else None,
      tracks=tuple(os.path.join(tracks_dir, f) for f in files), track_names=tuple(names),
      track_groups=track_groups, group_names=group_names)


def _check_unique_names(names, files, folder) -> None:
  seen = {}
  for name, file in zip(names, files):
    if name in seen:
      raise ValueError(
          f"{folder} has {seen[name]} and {file}, which give the same track name "
          f"{name!r}; rename one of them.")
    seen[name] = file


def _read_groups_file(groups_path: str):
  try:
    with open(groups_path, encoding="utf-8") as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as error:
    raise ValueError(f"{groups_path} cannot be read ({error}).") from None
  try:
    if groups_path.endswith(".json"):
      return json.loads(text)
    return yaml.safe_load(text)
  except (json.JSONDecodeError, yaml.YAMLError) as error:
    kind = "JSON" if groups_path.endswith(".json") else "YAML"
    detail = " ".join(str(error).split())
    raise ValueError(
        f"{groups_path} is not valid {kind} ({detail}); it must map each subgroup name "
        f"to a list of track files, e.g. drums: [kick.wav, snare.wav].") from None


def _groups_from_mapping(mapping, files: list[str], groups_path: str):
  """``(track_groups, group_names)`` for ``Song`` from a groups-file mapping."""
  example = "e.g. drums: [kick.wav, snare.wav]"
  if not isinstance(mapping, dict) or not mapping:
    raise ValueError(
        f"{groups_path} must map each subgroup name to a list of track files ({example}); "
        f"got {type(mapping).__name__ if mapping is not None else 'an empty file'}.")
  by_file = {f: i for i, f in enumerate(files)}
  by_name = {_stem(f): i for i, f in enumerate(files)}
  track_groups = [None] * len(files)
  group_names = []
  for g, (group, members) in enumerate(mapping.items()):
    if not isinstance(group, str) or not group.strip():
      raise ValueError(
          f"{groups_path}: subgroup names must be non-empty text, got {group!r}.")
    if isinstance(members, str):
      members = [members]
    if not isinstance(members, list) or not members or not all(
        isinstance(m, str) for m in members):
      raise ValueError(
          f"{groups_path}: subgroup {group!r} must list one or more track files "
          f"({example}); got {members!r}.")
    for member in members:
      index = by_file.get(member, by_name.get(member))
      if index is None:
        raise ValueError(
            f"{groups_path}: subgroup {group!r} names {member!r}, which is not in tracks/ "
            f"(tracks: {', '.join(files)}); fix the name or add the file.")
      if track_groups[index] is not None:
        raise ValueError(
            f"{groups_path}: {files[index]} is in both {group_names[track_groups[index]]!r} "
            f"and {group!r}; a track feeds one subgroup.")
      track_groups[index] = g
    group_names.append(group)
  for i, f in enumerate(files):
    if track_groups[i] is None:
      if _stem(f) in group_names:
        raise ValueError(
            f"{groups_path}: {f} is in no subgroup, so it forms a group of its own named "
            f"{_stem(f)!r}, which is also a subgroup in the file; add {f} to a subgroup or "
            f"rename that subgroup.")
      group_names.append(_stem(f))
  return tuple(track_groups), tuple(group_names)


def _medleydb_files(path: str, metadata_name: str, need_mix: bool) -> SongFiles:
  prefix = metadata_name[:-len(METADATA_SUFFIX)]
  metadata_path = os.path.join(path, metadata_name)
  try:
    with open(metadata_path, encoding="utf-8") as f:
      meta = yaml.safe_load(f)
  except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
    detail = " ".join(str(error).split())
    raise ValueError(f"{metadata_path} cannot be read as YAML ({detail}).") from None
  stems = meta.get("stems") if isinstance(meta, dict) else None
  if not isinstance(stems, dict) or not stems:
    raise ValueError(
        f"{metadata_path} has no 'stems' mapping; a MedleyDB metadata file lists "
        f"stems: {{S01: {{instrument: ..., raw: {{R01: {{filename: ...}}}}}}}}.")
  raw_dir_name = meta.get("raw_dir") or f"{prefix}_RAW"
  mix_name = meta.get("mix_filename") or f"{prefix}_MIX.wav"
  raw_dir = os.path.join(path, str(raw_dir_name))
  mix = os.path.join(path, str(mix_name))
  if not os.path.isfile(mix) and need_mix:
    raise ValueError(
        f"{mix} is missing: the MedleyDB metadata {metadata_name} names it as the mix; "
        f"add the mix file.")
  if not os.path.isdir(raw_dir):
    raise ValueError(
        f"{raw_dir}{os.sep} is missing: the MedleyDB metadata {metadata_name} expects the "
        f"raw tracks there; add the folder.")

  files, track_groups, group_names, track_instruments, group_instruments = [], [], [], [], []
  for g, stem_key in enumerate(sorted(stems, key=lambda k: _natural_key(str(k)))):
    stem = stems[stem_key]
    raw = stem.get("raw") if isinstance(stem, dict) else None
    if not isinstance(raw, dict) or not raw:
      raise ValueError(
          f"{metadata_path}: stem {stem_key} lists no raw files (expected raw: "
          f"{{R01: {{filename: ...}}}}); fix the metadata.")
    instrument = stem.get("instrument")
    group_names.append(f"{stem_key} {instrument}" if instrument else str(stem_key))
    group_instruments.append(_instrument(instrument))
    for raw_key in sorted(raw, key=lambda k: _natural_key(str(k))):
      entry = raw[raw_key]
      filename = entry.get("filename") if isinstance(entry, dict) else None
      if not isinstance(filename, str) or not filename:
        raise ValueError(
            f"{metadata_path}: stem {stem_key}, raw {raw_key} has no filename; fix the "
            f"metadata.")
      if filename in files:
        raise ValueError(
            f"{metadata_path}: {filename} is listed twice; each raw file belongs to one stem.")
      files.append(filename)
      track_groups.append(g)
      track_instruments.append(_instrument(entry.get("instrument")) or group_instruments[-1])

  present = {e for e in _visible_entries(raw_dir) if os.path.isfile(os.path.join(raw_dir, e))}
  missing = [f for f in files if f not in present]
  if missing:
    raise ValueError(
        f"{metadata_name} does not match {raw_dir_name}/: it lists {', '.join(missing[:3])}"
        f"{' ...' if len(missing) > 3 else ''}, which "
        f"{'is' if len(missing) == 1 else 'are'} not in the folder; add the files or fix "
        f"the metadata.")
  extra = sorted(present - set(files), key=_natural_key)
  if extra:
    raise ValueError(
        f"{metadata_name} does not match {raw_dir_name}/: the folder has "
        f"{', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}, which the metadata does "
        f"not list; add {'it' if len(extra) == 1 else 'them'} to a stem or remove "
        f"{'it' if len(extra) == 1 else 'them'}.")
  names = [_stem(f) for f in files]
  names = [n[len(prefix) + 1:] if n.startswith(prefix + "_") and len(n) > len(prefix) + 1
           else n for n in names]
  _check_unique_names(names, files, raw_dir)
  return SongFiles(
      layout="medleydb", mix=mix if os.path.isfile(mix) else None, tracks=tuple(os.path.join(raw_dir, f) for f in files),
      track_names=tuple(names), track_groups=tuple(track_groups),
      group_names=tuple(group_names), track_instruments=tuple(track_instruments),
      group_instruments=tuple(group_instruments))


def _instrument(label) -> str | None:
  """A MedleyDB ``instrument`` entry as one label (a list is joined with "/"), or None."""
  if isinstance(label, (list, tuple)):
    label = "/".join(str(x) for x in label if x)
  return str(label) if label else None


# ---------------------------------------------------------------------------
# Aligning the tracks to the mix
# ---------------------------------------------------------------------------


def _aligned(audio: np.ndarray, n_samples: int, *, path: str, sample_rate: int,
             reference: str = "the mix") -> np.ndarray:
  """``audio`` padded with silence or cropped to ``n_samples`` (a warning if > 1 s off)."""
  difference_s = (audio.shape[-1] - n_samples) / sample_rate
  if abs(difference_s) > LENGTH_WARNING_SECONDS:
    action = f"cropped to {reference}" if difference_s > 0 else "padded with silence at the end"
    warnings.warn(
        f"{path} is {abs(difference_s):.1f} s {'longer' if difference_s > 0 else 'shorter'} "
        f"than {reference}; {action}.", LoadWarning, stacklevel=4)
  if audio.shape[-1] >= n_samples:
    return audio[:, :n_samples]
  return np.pad(audio, [(0, 0), (0, n_samples - audio.shape[-1])])


def load_song(path: str, *, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Song:
  """Loads a song folder (plain or MedleyDB layout) as a ``Song``.

  Args:
    path: the song's folder (see the module docstring for both layouts).
    sample_rate: the rate every file is resampled to (Hz, at least 8000;
      the paper searches at 30000).

  Returns:
    A ``Song`` with ``track_names``, ``group_names`` and the grouping from the
    folder, every file stereo float32 at ``sample_rate`` and as long as the mix.

  Raises:
    ValueError: for a missing folder or mix, no tracks, a file that is not
      audio, cannot be read, has more than two channels or NaN/Inf samples,
      a silent mix, a malformed groups file or one naming a missing track,
      MedleyDB metadata that does not match its folders, or a sample rate
      below 8000 Hz. The message names the file and says what to do.

  Warns:
    LoadWarning: for a mono mix (one channel, or two identical ones), every
      silent track (kept) and every track whose length differs from the mix's
      by more than ``LENGTH_WARNING_SECONDS``.
  """
  sample_rate = validation.check_sample_rate(sample_rate, where="load_song")
  found = find_song_files(path)
  mix = audio_files.read_audio(found.mix, sample_rate=sample_rate)
  if float(np.max(np.abs(mix))) <= SILENCE_PEAK:
    raise ValueError(
        f"{found.mix} is silent, so there is nothing to match; check that it is the "
        f"finished mix.")
  if float(np.max(np.abs(mix[0] - mix[1]))) <= SILENCE_PEAK:
    warnings.warn(
        f"{found.mix} is mono (its side channel, left minus right, is silent); the search "
        f"fits a mono mix: centred pans, no stereo width. Use the stereo mix if there is one.",
        LoadWarning, stacklevel=2)
  tracks = _read_tracks(found.tracks, mix.shape[-1], sample_rate=sample_rate,
                        reference="the mix", silent_note="the search will prune its processors")
  return Song(tracks=tracks, mix=mix, track_groups=found.track_groups,
              sample_rate=sample_rate, track_names=found.track_names,
              group_names=found.group_names)


def _read_tracks(paths, n_samples: int | None, *, sample_rate: int, reference: str,
                 silent_note: str) -> np.ndarray:
  """``float32[T, 2, n]``: every track read and aligned to ``n_samples`` (None: the longest)."""
  audio = [audio_files.read_audio(p, sample_rate=sample_rate) for p in paths]
  if n_samples is None:
    n_samples = max(a.shape[-1] for a in audio)
  tracks = np.zeros((len(paths), 2, n_samples), np.float32)
  for i, (track_path, x) in enumerate(zip(paths, audio)):
    tracks[i] = _aligned(x, n_samples, path=track_path, sample_rate=sample_rate,
                         reference=reference)
    if float(np.max(np.abs(tracks[i]))) <= SILENCE_PEAK:
      warnings.warn(f"{track_path} is silent; it stays in the song ({silent_note}).",
                    LoadWarning, stacklevel=3)
  return tracks


@dataclasses.dataclass(frozen=True)
class Tracks(TrackSizes):
  """A song folder's dry tracks without its mix: all that rendering a graph needs.

  Attributes:
    tracks: ``float32[n_tracks, 2, n]`` at ``sample_rate``.
    track_names: one name per track.
    sample_rate: Hz.
  """
  tracks: np.ndarray
  track_names: tuple
  sample_rate: int


def load_tracks(path: str, *, sample_rate: int = DEFAULT_SAMPLE_RATE) -> Tracks:
  """Loads the dry tracks of a song folder; its mix may be missing or silent.

  For rendering a saved graph on a song's tracks (``graph_json.render_graph``), e.g.
  on other takes of the same tracks. The tracks are aligned as ``load_song``
  aligns them: to the mix's length when the folder has a mix file (whatever it
  holds), else to the longest track.

  Raises:
    ValueError: as ``load_song``, except for a missing or silent mix.

  Warns:
    LoadWarning: for every silent track and every track whose length differs
      from the mix's (or the longest track's) by more than ``LENGTH_WARNING_SECONDS``.
  """
  sample_rate = validation.check_sample_rate(sample_rate, where="load_tracks")
  found = find_song_files(path, need_mix=False)
  n_samples = None if found.mix is None else audio_files.read_audio(
      found.mix, sample_rate=sample_rate).shape[-1]
  tracks = _read_tracks(found.tracks, n_samples, sample_rate=sample_rate,
                        reference="the longest track" if n_samples is None else "the mix",
                        silent_note="it renders silence")
  return Tracks(tracks=tracks, track_names=tuple(found.track_names), sample_rate=sample_rate)


# ---------------------------------------------------------------------------
# Writing a song folder
# ---------------------------------------------------------------------------


def write_song(song: Song, path: str) -> None:
  """Writes a ``Song`` as a plain-layout song folder, the one ``load_song`` reads back.

  ``path/tracks/<track name>.wav`` per track, ``path/mix.wav`` and
  ``path/groups.json`` (every subgroup with its tracks), each WAV 32-bit float
  at the song's rate, every file written atomically. ``load_song(path)`` at
  that rate gives the same audio, names and grouping (tracks in file-name order).

  Raises:
    ValueError: for a ``path`` that holds files already, or a track name that
      cannot be a file name.
  """
  path = os.fspath(path)
  if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
    raise ValueError(f"write_song: {path} exists and is not an empty folder; give a new one.")
  for name in song.track_names:
    if name.startswith(".") or os.sep in name or (os.altsep and os.altsep in name):
      raise ValueError(f"write_song: track name {name!r} cannot be a file name; rename it.")
  groups = {}
  for name, track, g in zip(song.track_names, song.tracks, song.resolved_groups()):
    audio_files.write_wav(os.path.join(path, "tracks", f"{name}.wav"), track, song.sample_rate)
    groups.setdefault(song.group_names[g], []).append(f"{name}.wav")
  audio_files.write_wav(os.path.join(path, "mix.wav"), song.mix, song.sample_rate)
  atomic_files.write_text(os.path.join(path, "groups.json"), json.dumps(groups, indent=2))
