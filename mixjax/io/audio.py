"""Audio files on disk: writing a WAV, a file's length.

The core never imports this module (nor soundfile): a search runs where no
audio library is installed. ``song_folder.read_audio`` reads audio.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf

from mixjax import atomic_files


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
