"""Checkpoints of a search, so an interrupted run continues where it stopped.

A checkpoint is written after the console fit and after every pruning round
(its trials and fine-tune): the fit state (parameters, optimiser state, step
counters), the alive flags, the running L_min, the trial log, the losses so
far and the history. Crops and samplers draw from keys derived from the seed,
the step and the round, so nothing else is needed: a resumed run ends with
exactly the result of an uninterrupted one.

The file is a pickle of NumPy arrays and plain Python values, written
atomically, stamped with a fingerprint of the song, the settings and the seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle

import jax
import numpy as np

from mixjax import files

FORMAT = "mixjax.checkpoint"
VERSION = 1
FILENAME = "search.ckpt"


def fingerprint_batch(songs, config, seeds) -> str:
  """A hash of what determines a search: the audio, grouping, settings and seeds."""
  h = hashlib.sha256()
  for song in songs:
    h.update(np.ascontiguousarray(song.tracks).tobytes())
    h.update(np.ascontiguousarray(song.mix).tobytes())
    h.update(repr((tuple(song.resolved_groups()), song.sample_rate)).encode())
  h.update(repr((sorted(dataclasses.asdict(config).items()), list(seeds))).encode())
  return h.hexdigest()


def save(directory: str, progress: dict, stamp: str) -> None:
  """Writes ``progress`` (a dict of pytrees and plain values) atomically."""
  payload = {"format": FORMAT, "version": VERSION, "fingerprint": stamp,
             "progress": jax.device_get(progress)}
  with files.atomic_path(os.path.join(directory, FILENAME)) as tmp:
    with open(tmp, "wb") as f:
      pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)


def load(directory: str, stamp: str) -> dict | None:
  """The saved progress, or None when there is no checkpoint.

  Raises:
    ValueError: the checkpoint is unreadable or belongs to another run.
  """
  path = os.path.join(directory, FILENAME)
  if not os.path.exists(path):
    return None
  try:
    with open(path, "rb") as f:
      payload = pickle.load(f)
  except Exception as error:  # a foreign or damaged file
    raise ValueError(f"cannot read the checkpoint {path} ({error}); delete it to start over.") from None
  if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("version") != VERSION:
    raise ValueError(f"{path} is not a mixjax checkpoint of version {VERSION}; delete it to start over.")
  if payload["fingerprint"] != stamp:
    raise ValueError(
        f"the checkpoint {path} belongs to another run (a different song, settings or seed); "
        f"delete it, or run without --resume to start over.")
  return payload["progress"]
