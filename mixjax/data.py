"""Songs: the dry tracks, their subgrouping and the finished stereo mix.

A ``Song`` is the input of a search: ``T`` dry stereo tracks ``[T, 2, n]``,
the subgroup of every track, and the target mix ``[2, n]``, all at one sample
rate. It is validated once, when it is made, so everything downstream can
trust its shapes and values; its arrays are float32 NumPy and read-only.

Groups are numbered as ``Console.build`` numbers them: the given indices
first, then one new group per track with no subgroup (``None``), in track
order. So with ``track_groups = (1, None, 0, None)`` the tracks feed groups
``(1, 2, 0, 3)`` and the song has 4 groups. An index skipped by the grouping
(``(0, 2)``) still counts as a group (with a name) that no track feeds; the
console leaves it empty.

Songs are read from folders by ``mixjax.io.song_folder`` and made up by
``mixjax.synthetic``; ``Console.of(song)`` builds the console that renders one.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from mixjax import validation

def resolve_groups(track_groups: Sequence[int | None]) -> tuple[int, ...]:
  """The group index of every track, with ``None`` tracks in groups of their own.

  Tracks with no subgroup get new groups numbered after the largest given
  index, in track order.
  """
  next_group = max([g for g in track_groups if g is not None], default=-1) + 1
  resolved = []
  for g in track_groups:
    if g is None:
      g, next_group = next_group, next_group + 1
    resolved.append(int(g))
  return tuple(resolved)


SILENCE_PEAK = 1e-7
"""A mix whose peak ``max |x|`` is at most this (−140 dBFS) counts as silent."""


def _check_audio_dtype(x, *, what: str) -> np.ndarray:
  """``x`` as a read-only float32 array (no copy when it is float32 already)."""
  try:
    x = np.asarray(x)
  except ValueError as error:  # ragged nested lists
    raise ValueError(
        f"{what} must be one array; got pieces of different shapes (tracks of different "
        f"lengths? trim or zero-pad them to one length): {error}") from None
  if not np.issubdtype(x.dtype, np.floating):
    hint = ""
    if np.issubdtype(x.dtype, np.integer) and not np.issubdtype(x.dtype, np.bool_):
      hint = f" (scale integer PCM to [-1, 1], e.g. x / {float(2**(8 * x.dtype.itemsize - 1)):g})"
    raise ValueError(f"{what} must be floating-point audio, got dtype {x.dtype}{hint}.")
  view = x.astype(np.float32, copy=False).view()
  view.flags.writeable = False  # a view: the caller's own array stays writeable
  return view


def _check_track_groups(track_groups, n_tracks: int) -> tuple[int | None, ...]:
  if isinstance(track_groups, (str, bytes)) or not isinstance(track_groups, Sequence):
    try:
      track_groups = list(track_groups)
    except TypeError:
      raise ValueError(
          f"Song: track_groups must be a sequence with one group index (or None) per "
          f"track, got {track_groups!r}.") from None
  groups = []
  for i, g in enumerate(track_groups):
    if g is None:
      groups.append(None)
      continue
    if isinstance(g, (bool, np.bool_)) or not isinstance(g, (int, np.integer)) or g < 0:
      raise ValueError(
          f"Song: track_groups[{i}] is {g!r}; group indices must be integers >= 0 "
          f"(or None for a track with no subgroup).")
    groups.append(int(g))
  if len(groups) != n_tracks:
    raise ValueError(
        f"Song: track_groups has {len(groups)} entries but the song has {n_tracks} tracks; "
        f"give one group index (or None) per track.")
  return tuple(groups)


class TrackSizes:
  """Sizes read off ``tracks`` (``[T, 2, n]``) and ``sample_rate``, for ``Song`` and
  ``loading.Tracks``."""
  tracks: np.ndarray
  sample_rate: int

  @property
  def n_tracks(self) -> int:
    """Number of dry tracks ``T``."""
    return self.tracks.shape[0]

  @property
  def n_samples(self) -> int:
    """Length ``n`` of the tracks (and of the mix)."""
    return self.tracks.shape[-1]

  @property
  def seconds(self) -> float:
    """Duration ``n / sample_rate`` in seconds."""
    return self.n_samples / self.sample_rate


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Song(TrackSizes):
  """One song: dry tracks, their subgroups and the target mix.

  Attributes:
    tracks: ``float32[T, 2, n]`` dry stereo tracks (read-only).
    mix: ``float32[2, n]`` target stereo mix (read-only).
    track_groups: ``T`` subgroup indices, each an integer ``>= 0`` or None
      (the track then forms a group of its own).
    sample_rate: Hz, at least ``validation.MIN_SAMPLE_RATE``.
    track_names: ``T`` names (default ``"track 1"``, ``"track 2"``, ...).
    group_names: one name per group, in group order (see the module
      docstring; default ``"group 1"``, ...).

  Raises:
    ValueError: when made with arrays of the wrong shape or dtype, mono
      audio, NaN/Inf samples, tracks and mix of different lengths, a bad
      grouping, a sample rate below 8000 Hz, names of the wrong count, or a
      silent mix (there would be nothing to match).
  """
  tracks: np.ndarray
  mix: np.ndarray
  track_groups: tuple
  sample_rate: int
  track_names: tuple | None = None
  group_names: tuple | None = None

  def __post_init__(self):
    sample_rate = validation.check_sample_rate(self.sample_rate, where="Song")
    tracks = _check_audio_dtype(self.tracks, what="Song: tracks")
    if tracks.ndim == 3 and tracks.shape[0] == 0:
      raise ValueError("Song: a song needs at least one track (tracks has shape "
                       f"{tracks.shape}).")
    if tracks.ndim == 2:
      raise ValueError(
          f"Song: tracks must have shape [n_tracks, 2, samples], got {tracks.shape}; "
          f"for a single stereo track use tracks[None], for mono tracks add a channel axis.")
    n_tracks = tracks.shape[0] if tracks.ndim else 0
    validation.check_stereo(tracks, what="Song: tracks", leading=(n_tracks,))
    mix = _check_audio_dtype(self.mix, what="Song: mix")
    validation.check_stereo(mix, what="Song: mix")
    if mix.shape[-1] != tracks.shape[-1]:
      raise ValueError(
          f"Song: the mix has {mix.shape[-1]} samples but the tracks have {tracks.shape[-1]}; "
          f"tracks and mix must be aligned and of the same length (trim or zero-pad them).")
    if float(np.max(np.abs(mix))) <= SILENCE_PEAK:
      raise ValueError(
          f"Song: the mix is silent (peak <= {SILENCE_PEAK:g}), so there is nothing to match; "
          f"check that the right mix file was loaded.")
    track_groups = _check_track_groups(self.track_groups, n_tracks)
    n_groups = max(resolve_groups(track_groups)) + 1
    track_names = validation.check_names(
        self.track_names, what="Song: track_names", count=n_tracks, default_prefix="track")
    group_names = validation.check_names(
        self.group_names, what="Song: group_names", count=n_groups, default_prefix="group")
    for name, value in [("tracks", tracks), ("mix", mix), ("track_groups", track_groups),
                        ("sample_rate", sample_rate), ("track_names", track_names),
                        ("group_names", group_names)]:
      object.__setattr__(self, name, value)

  # -- sizes ---------------------------------------------------------------

  @property
  def n_groups(self) -> int:
    """Number of groups, counting one per track with no subgroup."""
    return len(self.group_names)

  def resolved_groups(self) -> tuple[int, ...]:
    """The group index of every track (None tracks get groups of their own)."""
    return resolve_groups(self.track_groups)

  # -- console inputs ------------------------------------------------------

  def padded_tracks(self, max_tracks: int | None = None) -> np.ndarray:
    """``float32[max_tracks, 2, n]``: the tracks followed by silent padding.

    Args:
      max_tracks: at least ``n_tracks`` (default: ``n_tracks``, no padding).

    Raises:
      ValueError: when ``max_tracks < n_tracks``.
    """
    max_tracks = self.n_tracks if max_tracks is None else max_tracks
    if max_tracks < self.n_tracks:
      raise ValueError(
          f"Song.padded_tracks: the song has {self.n_tracks} tracks, more than "
          f"max_tracks={max_tracks}; raise max_tracks.")
    padded = np.zeros((max_tracks, 2, self.n_samples), np.float32)
    padded[:self.n_tracks] = self.tracks
    return padded

  def dry_sum(self) -> np.ndarray:
    """``float32[2, n]``: the plain sum of the dry tracks (the "no mixing" baseline)."""
    return np.sum(self.tracks, axis=0, dtype=np.float32)

  def crop(self, start_sample: int, n_samples: int) -> "Song":
    """The samples ``[start_sample, start_sample + n_samples)`` of tracks and mix.

    Raises:
      ValueError: for a range outside the song, or when the cropped mix is
        silent.
    """
    for name, value in [("start_sample", start_sample), ("n_samples", n_samples)]:
      if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"Song.crop: {name} must be an integer, got {value!r}.")
    if start_sample < 0 or n_samples < 1 or start_sample + n_samples > self.n_samples:
      raise ValueError(
          f"Song.crop: samples [{start_sample}, {start_sample + n_samples}) are outside the "
          f"song's [0, {self.n_samples}); need 0 <= start_sample and "
          f"start_sample + n_samples <= {self.n_samples}, n_samples >= 1.")
    window = slice(int(start_sample), int(start_sample) + int(n_samples))
    return dataclasses.replace(self, tracks=self.tracks[..., window], mix=self.mix[..., window])

  def __repr__(self) -> str:

    def short(values, limit=8):
      shown = ", ".join(map(repr, values[:limit]))
      return f"({shown}, ... {len(values)} in all)" if len(values) > limit else f"({shown})"

    return (f"Song(n_tracks={self.n_tracks}, n_groups={self.n_groups}, "
            f"n_samples={self.n_samples}, seconds={self.seconds:.2f}, "
            f"sample_rate={self.sample_rate}, track_groups={short(self.track_groups)}, "
            f"track_names={short(self.track_names)}, group_names={short(self.group_names)})")
