"""Audio files on disk: reading one (any format, resampled), writing a WAV, a file's length.

The one module that calls soundfile and soxr. The core never imports it: a
search runs where no audio library is installed.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf
import soxr

from mixjax import atomic_files

RESAMPLE_QUALITY = "HQ"
"""soxr quality preset (20-bit precision, a steep anti-aliasing filter)."""


def read_audio(path: str, *, sample_rate: int) -> np.ndarray:
  """Reads one audio file as ``float32[2, n]`` at ``sample_rate``.

  Args:
    path: any file soundfile reads (WAV, FLAC, AIFF, OGG, MP3, ...; any bit
      depth).
    sample_rate: the rate to resample to (Hz).

  Returns:
    Stereo float32 audio; a mono file is copied to both channels.

  Raises:
    ValueError: for a file that is not audio or cannot be read, has no
      samples or more than two channels, or holds NaN or Inf samples.
  """
  try:
    audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
  except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
    detail = " ".join(str(error).split())
    raise ValueError(
        f"{path} is not an audio file soundfile can read ({detail}); convert it to WAV or "
        f"FLAC, or remove it from the song folder.") from None
  n_frames, channels = audio.shape
  if n_frames == 0:
    raise ValueError(f"{path} has no samples; remove it or replace it with the real audio.")
  if channels > 2:
    raise ValueError(
        f"{path} has {channels} channels; mixjax reads mono or stereo files: downmix it or "
        f"split it into stereo files.")
  if not np.isfinite(audio).all():
    first = int(np.argwhere(~np.isfinite(audio))[0, 0])
    raise ValueError(
        f"{path} contains NaN or Inf samples (first at {first / file_rate:.3f} s); "
        f"re-export it from the source.")
  if channels == 1:
    audio = np.repeat(audio, 2, axis=1)
  if file_rate != sample_rate:
    audio = soxr.resample(audio, file_rate, sample_rate, quality=RESAMPLE_QUALITY)
  return np.ascontiguousarray(audio.T, dtype=np.float32)


def write_wav(path: str, audio, sample_rate: int) -> None:
  """Writes ``[2, n]`` (or ``[n]``) audio as a 32-bit float WAV, atomically.

  Float WAV keeps levels above 0 dBFS (a mix with boosts) instead of clipping.
  """
  audio = np.asarray(audio, np.float32)
  with atomic_files.atomic_path(path, suffix=".wav") as tmp:
    sf.write(tmp, audio.T, sample_rate, subtype="FLOAT", format="WAV")


def duration_seconds(path: str) -> float:
  """The length of an audio file in seconds, read from its header.

  Raises:
    ValueError: when soundfile cannot read the file as audio (the message names it).
  """
  try:
    return sf.info(path).duration
  except (RuntimeError, sf.LibsndfileError) as error:
    raise ValueError(f"{path}: cannot read it as audio ({error}).") from None
