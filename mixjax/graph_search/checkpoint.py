"""Checkpoints of a search, so an interrupted run continues where it stopped.

A checkpoint is written after the console fit and after every pruning round
(its trials and fine-tune): the fit state (parameters, optimiser state, step
counters), the alive flags, the running L_min, the trial log, the losses so
far and the history. Crops and samplers draw from keys derived from the seed,
the step and the round, so nothing else is needed: a resumed run ends with
exactly the result of an uninterrupted one.

The file is one ``.npz`` archive written atomically, holding arrays only: the
progress's arrays and scalars, plus a JSON document (stored as bytes) that
describes its structure and plain values and carries a fingerprint of the
song, the settings, the seed and the optimiser. Loading uses
``np.load(allow_pickle=False)`` and ``json`` only, so a checkpoint someone
sent you cannot run code; anything else (an old pickle checkpoint included)
is refused with one line. Pytrees other than dicts, lists, tuples and the
trial log's named tuples (the fit state: a Flax dataclass holding an Optax
state) are saved as their leaves and restored into the same pytree of a
fresh run (the ``template``), after checking that structure, shapes and
dtypes agree.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import types
import zipfile

import jax
import numpy as np

from mixjax import atomic_files
from mixjax import nodes as nodes_lib
from mixjax.graph_search import prune as prune_lib

FORMAT = "mixjax.checkpoint"
VERSION = 2
FILENAME = "search.ckpt"
DOCUMENT = "__document__"
"""The archive member holding the JSON document (UTF-8 bytes as ``uint8``)."""

NAMED_TUPLES = {"Trial": prune_lib.Trial, "Node": nodes_lib.Node}
"""The named tuples a checkpoint may hold, restored by name (nothing else is)."""


# -- fingerprints ------------------------------------------------------------
#
# A run has several identities, each hashed with ``digest`` and each answering
# one question, so each hashes only what that answer depends on:
#
# * ``fingerprint_batch`` (here): may this checkpoint be resumed? Everything
#   that changes the search's arithmetic: audio, grouping, sample rate,
#   settings (``SearchConfig.result_settings``: not the execution-only
#   ``skip_dead_types``), seeds, optimizer.
# * ``results_folder.song_fingerprint`` / ``files_fingerprint``: whose song
#   is in this results folder? The song only (track names and mix), not the
#   settings, so a song searched again with other settings reuses its folder;
#   ``files_`` hashes the mix file, so it holds at any sample rate.
# * ``collect.song_identity``: is this data set's song already done? Its name
#   (no audio read to skip it), seed, sample rate, settings and optimizer;
#   ``collect``'s batch checkpoint folder is named after its songs' identities.
# * ``collect.song_seed`` is no identity: it derives a song's seed from its name.
#
# Their values are stored (checkpoints, markers, index.jsonl): changing what
# one hashes makes every stored one stale.


def digest(parts, *, n_hex: int | None = None) -> str:
  """The SHA-256 of ``parts`` fed in order, as hex (its first ``n_hex`` digits).

  Text is fed as UTF-8, ``bytes`` as they are, arrays as their C-order bytes.
  """
  h = hashlib.sha256()
  for part in parts:
    if isinstance(part, str):
      part = part.encode("utf-8")
    elif not isinstance(part, (bytes, bytearray, memoryview)):
      part = np.ascontiguousarray(part).tobytes()
    h.update(part)
  return h.hexdigest()[:n_hex]


def describe(value, _depth: int = 0, _seen: frozenset = frozenset()) -> str:
  """A stable text description of a value, for fingerprints: what an Optax optimizer is.

  Functions are described by module, qualified name, a hash of their byte
  code and, recursively, the values they close over and their defaults (an
  Optax transformation keeps its hyperparameters there: ``adamw(1e-2)`` and
  ``adamw(1e-3)`` differ, two ``adamw(1e-2)`` agree); arrays by dtype, shape
  and a hash of their bytes; containers element by element; any other
  object by its type only (never its ``repr``, which may hold an address).
  """
  if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
    return repr(value)
  if _depth > 24 or id(value) in _seen:
    return "..."
  seen = _seen | {id(value)}

  def rec(v):
    return describe(v, _depth + 1, seen)

  if isinstance(value, (tuple, list)):
    return f"{type(value).__name__}({', '.join(map(rec, value))})"
  if isinstance(value, dict):
    items = sorted(value.items(), key=lambda kv: repr(kv[0]))
    return "{" + ", ".join(f"{rec(k)}: {rec(v)}" for k, v in items) + "}"
  if isinstance(value, functools.partial):
    return f"partial({rec(value.func)}, {rec(value.args)}, {rec(value.keywords)})"
  if isinstance(value, types.FunctionType):
    code = value.__code__
    cells = []
    for name, cell in zip(code.co_freevars, value.__closure__ or ()):
      try:
        cells.append(f"{name}={rec(cell.cell_contents)}")
      except ValueError:  # an empty cell
        cells.append(f"{name}=<empty>")
    code_hash = digest([code.co_code], n_hex=16)
    return (f"{value.__module__}.{value.__qualname__}[{code_hash}]({', '.join(cells)}; "
            f"defaults={rec(value.__defaults__)}, {rec(value.__kwdefaults__)})")
  if isinstance(value, types.MethodType):
    return f"method({rec(value.__func__)}, {rec(value.__self__)})"
  if hasattr(value, "__array__") and hasattr(value, "dtype"):
    array = np.asarray(value)
    return f"array({array.dtype}, {array.shape}, {digest([array], n_hex=16)})"
  if hasattr(value, "__wrapped__"):  # jit-wrapped and decorated functions
    return f"wrapped({rec(value.__wrapped__)})"
  if dataclasses.is_dataclass(value):
    return f"{type(value).__qualname__}({rec(dataclasses.asdict(value))})"
  return f"<{type(value).__module__}.{type(value).__qualname__}>"


def fingerprint_batch(songs, config, seeds, optimizer=None) -> str:
  """A hash of what determines a search: the audio, grouping, settings, seeds and optimizer.

  ``optimizer`` is the Optax transformation the search runs (default: the
  default of ``config``, ``fit.default_optimizer``); see ``describe``.
  """
  from mixjax.graph_search import fit as fit_lib
  optimizer = fit_lib.default_optimizer(config) if optimizer is None else optimizer
  parts = []
  for song in songs:
    parts += [song.tracks, song.mix, repr((tuple(song.resolved_groups()), song.sample_rate))]
  parts += [repr((config.result_settings(), list(seeds))), describe(optimizer)]
  return digest(parts)


# -- encoding: arrays into the archive, everything else into JSON ------------

def _encode(value, arrays: dict):
  """The JSON form of ``value``; its arrays are added to ``arrays``."""
  def store(array) -> str:
    if array.dtype == object:
      raise TypeError(f"checkpoint: cannot store an object array ({array.shape}).")
    key = f"a{len(arrays)}"
    arrays[key] = array
    return key

  if value is None or isinstance(value, (bool, str)):
    return value
  if isinstance(value, (int, float)) and type(value) in (int, float):
    return value
  if isinstance(value, (np.ndarray, jax.Array)):
    return {"__array__": store(np.asarray(value))}
  if isinstance(value, np.generic):
    return {"__scalar__": store(np.asarray(value))}
  if isinstance(value, dict):
    if not all(isinstance(k, str) and not k.startswith("__") for k in value):
      raise TypeError(f"checkpoint: dict keys must be plain strings, got {list(value)!r}.")
    return {k: _encode(v, arrays) for k, v in value.items()}
  if isinstance(value, list):
    return [_encode(v, arrays) for v in value]
  if isinstance(value, tuple) and hasattr(value, "_fields"):
    name = type(value).__name__
    if NAMED_TUPLES.get(name) is type(value):
      return {"__namedtuple__": name, "fields": [_encode(v, arrays) for v in value]}
  elif type(value) is tuple:
    return {"__tuple__": [_encode(v, arrays) for v in value]}
  leaves, treedef = jax.tree_util.tree_flatten(value)
  return {"__pytree__": str(treedef),
          "leaves": [store(np.asarray(leaf)) for leaf in leaves]}


def _decode(doc, arrays, template, where: str):
  """The inverse of ``_encode``; pytrees are restored into ``template``."""
  if isinstance(doc, list):
    return [_decode(d, arrays, None, where) for d in doc]
  if not isinstance(doc, dict):
    return doc
  if "__array__" in doc:
    return arrays[doc["__array__"]]
  if "__scalar__" in doc:
    return arrays[doc["__scalar__"]][()]
  if "__tuple__" in doc:
    return tuple(_decode(d, arrays, None, where) for d in doc["__tuple__"])
  if "__namedtuple__" in doc:
    kind = NAMED_TUPLES.get(doc["__namedtuple__"])
    if kind is None:
      raise ValueError(f"an unknown record type {doc['__namedtuple__']!r}")
    return kind(*(_decode(d, arrays, None, where) for d in doc["fields"]))
  if "__pytree__" in doc:
    return _restore_pytree(doc, arrays, template, where)
  return {k: _decode(v, arrays, template.get(k) if isinstance(template, dict) else None,
                     f"{where}/{k}")
          for k, v in doc.items()}


def _restore_pytree(doc, arrays, template, where: str):
  """The saved leaves in the structure of ``template``, which they must match exactly."""
  if template is None:
    raise ValueError(f"{where} is a pytree with no counterpart in a fresh run")
  fresh, treedef = jax.tree_util.tree_flatten(template)
  if str(treedef) != doc["__pytree__"] or len(fresh) != len(doc["leaves"]):
    raise ValueError(f"{where} has another structure than this search's (another optimizer "
                     f"or console size?)")
  leaves = [arrays[key] for key in doc["leaves"]]
  for i, (saved, want) in enumerate(zip(leaves, fresh)):
    dtype = np.dtype(want.dtype) if hasattr(want, "dtype") else np.asarray(want).dtype
    if saved.shape != np.shape(want) or saved.dtype != dtype:
      raise ValueError(f"{where} leaf {i} is {saved.dtype}{list(saved.shape)}, this search "
                       f"needs {dtype}{list(np.shape(want))}")
  return jax.tree_util.tree_unflatten(treedef, leaves)


# -- files -------------------------------------------------------------------

def save(directory: str, progress: dict, stamp: str) -> None:
  """Writes ``progress`` (a dict of pytrees and plain values) atomically."""
  arrays = {}
  document = {"format": FORMAT, "version": VERSION, "fingerprint": stamp,
              "progress": _encode(progress, arrays)}
  text = json.dumps(document, allow_nan=True)
  arrays[DOCUMENT] = np.frombuffer(text.encode("utf-8"), np.uint8)
  with atomic_files.atomic_path(os.path.join(directory, FILENAME)) as tmp:
    with open(tmp, "wb") as f:
      np.savez(f, **arrays)


def _read(path: str) -> tuple[dict, dict]:
  """``(document, arrays)`` of a checkpoint file; ValueError (one line) for anything else."""
  refuse = (f"{path} is not a mixjax checkpoint of version {VERSION} (an older pickle "
            f"checkpoint, or a damaged or foreign file, is never loaded: it could run code); "
            f"delete it to start over.")
  try:
    with np.load(path, allow_pickle=False) as archive:
      if not isinstance(archive, np.lib.npyio.NpzFile) or DOCUMENT not in archive.files:
        raise ValueError(refuse)
      arrays = {k: archive[k] for k in archive.files}
    document = json.loads(arrays.pop(DOCUMENT).tobytes().decode("utf-8"))
  except (ValueError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
    raise ValueError(refuse) from None
  if not isinstance(document, dict) or document.get("format") != FORMAT or \
      document.get("version") != VERSION:
    raise ValueError(refuse)
  return document, arrays


def check(directory: str, stamp: str) -> bool:
  """True if ``directory`` holds this run's checkpoint, False if it holds none.

  Raises:
    ValueError: the checkpoint is unreadable or belongs to another run.
  """
  path = os.path.join(directory, FILENAME)
  if not os.path.exists(path):
    return False
  document, _ = _read(path)
  if document.get("fingerprint") != stamp:
    raise ValueError(
        f"the checkpoint {path} belongs to another run (a different song, settings, seed or "
        f"optimizer); delete it, or run without --resume to start over.")
  return True


def load(directory: str, stamp: str, template: dict | None = None) -> dict | None:
  """The saved progress, or None when there is no checkpoint.

  Args:
    directory: the checkpoint folder.
    stamp: this run's ``fingerprint_batch``.
    template: the progress of a fresh run; pytrees (the fit state) are
      restored into its structure. Needed when the progress holds any.

  Raises:
    ValueError: the checkpoint is unreadable, belongs to another run, or does
      not fit ``template``.
  """
  if not check(directory, stamp):
    return None
  path = os.path.join(directory, FILENAME)
  document, arrays = _read(path)
  try:
    return _decode(document["progress"], arrays, template, "progress")
  except (ValueError, KeyError, TypeError) as error:
    raise ValueError(f"the checkpoint {path} does not fit this search ({error}); delete it to "
                     f"start over.") from None
