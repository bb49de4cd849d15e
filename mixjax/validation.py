"""Input checks that run before tracing and raise one clear ``ValueError``.

Each message says what is wrong, what was expected and what to do.
"""

from __future__ import annotations

import jax
import numpy as np

MIN_SAMPLE_RATE = 8000
"""Lowest sample rate the processors support (Hz)."""


def is_concrete(x) -> bool:
  """True for host or device arrays whose values can be read (not tracers)."""
  return not isinstance(x, jax.core.Tracer)


def check_sample_rate(sample_rate, *, where: str = "") -> int:
  """An integer sample rate of at least ``MIN_SAMPLE_RATE`` Hz."""
  prefix = f"{where}: " if where else ""
  if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
    raise ValueError(f"{prefix}sample_rate must be an integer number of Hz, got {sample_rate!r}.")
  if sample_rate < MIN_SAMPLE_RATE:
    raise ValueError(
        f"{prefix}sample_rate {sample_rate} Hz is too low for the processors "
        f"(minimum {MIN_SAMPLE_RATE} Hz); resample the audio to a higher rate.")
  return int(sample_rate)


def check_stereo(x, *, what: str, leading: tuple[int, ...] = ()) -> None:
  """``x`` has shape ``[*leading, 2, samples]`` with finite samples.

  Args:
    x: the array to check.
    what: a name for the message (``"tracks"``, ``"mix"``, a file name).
    leading: the expected leading axes (e.g. ``(max_tracks,)``).
  """
  shape = tuple(np.shape(x))
  expected = "[" + ", ".join([*map(str, leading), "2", "samples"]) + "]"
  if len(shape) != len(leading) + 2:
    raise ValueError(f"{what} must have shape {expected}, got {shape}.")
  if shape[:len(leading)] != tuple(leading):
    raise ValueError(f"{what} must have shape {expected}, got {shape}.")
  channels = shape[len(leading)]
  if channels == 1:
    raise ValueError(
        f"{what} is mono (shape {shape}) where stereo is required: repeat the "
        f"channel, e.g. np.repeat(x, 2, axis={len(leading)}).")
  if channels != 2:
    raise ValueError(f"{what} must be stereo ({expected}), got {channels} channels in shape {shape}.")
  if shape[-1] < 1:
    raise ValueError(f"{what} has no samples (shape {shape}).")
  if is_concrete(x):
    finite = np.isfinite(np.asarray(x))
    if not finite.all():
      where = np.argwhere(~finite)[0]
      raise ValueError(
          f"{what} contains NaN or Inf samples (first at index {tuple(int(i) for i in where)}); "
          f"clean the audio before mixing.")


def check_names(names, *, what: str, count: int, default_prefix: str) -> tuple[str, ...]:
  """``count`` non-empty strings, or ``"<default_prefix> 1"``, ... when None.

  Args:
    names: a sequence of strings, or None for the defaults.
    what: a name for the message (``"track_names"``).
    count: how many names are expected.
    default_prefix: the defaults are ``f"{default_prefix} {i + 1}"``.

  Returns:
    The names as a tuple.
  """
  if names is None:
    return tuple(f"{default_prefix} {i + 1}" for i in range(count))
  if isinstance(names, str):
    raise ValueError(
        f"{what} must be a sequence of {count} strings, got the single string {names!r}.")
  names = tuple(names)
  if len(names) != count:
    raise ValueError(
        f"{what} has {len(names)} names but {count} are needed (one per {default_prefix}).")
  for i, name in enumerate(names):
    if not isinstance(name, str) or not name:
      raise ValueError(f"{what}[{i}] must be a non-empty string, got {name!r}.")
  return names


def owner_label(level: str, name: str) -> str:
  """How a track or group is named in text: ``"group drums"``, ``"track kick"``, and a
  default name as it is (``"group 1"``, not ``"group group 1"``)."""
  return name if name.startswith(f"{level} ") else f"{level} {name}"
