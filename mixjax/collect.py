"""Collecting graphs at scale: every song of a data set folder, searched in batches.

``collect(dataset_dir, out_dir)`` finds every song folder (plain or MedleyDB
layout), groups the songs into *shape buckets* (track count, group count and
length rounded up, so that a handful of compiled programs cover a data set),
searches each bucket in batches with ``search_batch`` (the songs of a batch
share compiled programs and, by default, run side by side, one per local
device), and writes one results folder per song
(the files of ``mixjax search``) plus ``index.jsonl`` (one line per song:
name, status, its song folder relative to the output folder, losses, ρ,
seconds) and ``summary.md``; ``mixjax.collection`` reads them back, from any
working folder.

It resumes: a song counts as done when the index records it as finished
under the same identity (its seed, the sample rate, every search setting and
the optimizer), so re-running at another ``--sample-rate`` or with other
settings searches every song again; an interrupted batch continues from its
checkpoint (its folder is named after its songs' identities). A song that
fails to load or to search is recorded with its error while the others go
on: a batch that fails is searched again one song at a time (side by side).

A song's result does not depend on the batch size, the device or the host
count: its seed comes from its name and the base seed, and ``search_batch``
pads it to its own bucket (``graph_search.buckets``); ``songs_per_call > 1``
(lockstep batches) changes its float rounding.

Several hosts: start every host with ``jax.distributed`` set up (see the
README); each takes its own slice of the song list and writes its own
``index-host<i>.jsonl``; every host reads all index files, so a song finished
by any host (with any host count) is not searched again.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import NamedTuple

import jax

from mixjax import atomic_files
from mixjax.graph_search import SearchConfig, search_batch
from mixjax.graph_search import buckets as buckets_lib
from mixjax.graph_search import checkpoint as checkpoint_lib
from mixjax.graph_search import devices as devices_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.io import audio
from mixjax.io import results_folder
from mixjax.io import song_folder
from mixjax.progress import tqdm

INDEX = "index.jsonl"
SUMMARY = "summary.md"
CHECKPOINTS = ".checkpoints"


class SongEntry(NamedTuple):
  """A song folder of the data set and its shape (read from file headers only)."""
  name: str
  path: str
  n_tracks: int
  n_groups: int
  seconds: float


def find_song_folders(dataset_dir: str) -> list[str]:
  """Every song folder under ``dataset_dir`` (itself, or its sub-folders, recursively).

  A folder is a song when ``song_folder.is_song_folder`` says so (it holds
  ``tracks/``, or a MedleyDB ``<Song>_METADATA.yaml``); song folders are not
  searched further.
  """
  if not os.path.isdir(dataset_dir):
    raise ValueError(f"{dataset_dir}: no such folder; give the folder that holds the songs.")
  found = []
  for root, dirs, _ in os.walk(dataset_dir):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    if song_folder.is_song_folder(root):
      found.append(root)
      dirs[:] = []
  return sorted(found)


def _song_name(dataset_dir: str, path: str) -> str:
  rel = os.path.relpath(path, dataset_dir)
  return os.path.basename(os.path.abspath(dataset_dir)) if rel == "." else rel.replace(os.sep, "__")


def scan(dataset_dir: str) -> tuple[list[SongEntry], list[dict]]:
  """The songs of a data set and their shapes; folders that fail are returned as errors."""
  entries, errors = [], []
  for path in find_song_folders(dataset_dir):
    name = _song_name(dataset_dir, path)
    try:
      song_files = song_folder.find_song_files(path)
      seconds = audio.duration_seconds(song_files.mix)
    except ValueError as error:
      errors.append({"name": name, "path": path, "status": "error", "error": str(error)})
      continue
    n_groups = len(song_files.group_names)
    entries.append(SongEntry(name, path, len(song_files.tracks), n_groups, seconds))
  return entries, errors


def bucket_of(entry: SongEntry, *, bucket_seconds: float) -> tuple[int, int, float]:
  """The padded shape of a song: its track and group bucket (``buckets.padded_count``) and
  its length up to a multiple of ``bucket_seconds``."""
  return (buckets_lib.padded_count(entry.n_tracks), buckets_lib.padded_count(entry.n_groups),
          math.ceil(entry.seconds / bucket_seconds) * bucket_seconds)


def plan_batches(entries: list[SongEntry], *, batch_size: int, bucket_seconds: float) -> list[tuple]:
  """``[(bucket, [entries])]``: deterministic batches of at most ``batch_size`` songs per bucket."""
  buckets: dict = {}
  for entry in entries:
    buckets.setdefault(bucket_of(entry, bucket_seconds=bucket_seconds), []).append(entry)
  batches = []
  for bucket in sorted(buckets):
    songs = buckets[bucket]
    for i in range(0, len(songs), batch_size):
      batches.append((bucket, songs[i:i + batch_size]))
  return batches


def index_name() -> str:
  """``index.jsonl``; with several hosts each writes its own ``index-host<i>.jsonl``."""
  if jax.process_count() > 1:
    return f"index-host{jax.process_index()}.jsonl"
  return INDEX


def _read_records(path: str) -> dict:
  records = {}
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      line = line.strip()
      if line:
        try:
          record = json.loads(line)
          records[record["name"]] = record
        except (ValueError, TypeError, KeyError):
          raise ValueError(
              f"{path}, line {number}: not an index record (a JSON object with a 'name'); "
              f"the file is damaged: remove that line.") from None
  return records


def index_files(out_dir: str) -> list[str]:
  """The index files of an output folder: ``index.jsonl`` and every ``index-host<i>.jsonl``."""
  if not os.path.isdir(out_dir):
    return []
  return [os.path.join(out_dir, name) for name in sorted(os.listdir(out_dir))
          if name == INDEX or (name.startswith("index-host") and name.endswith(".jsonl"))]


def read_index(out_dir: str) -> dict:
  """``{name: record}`` from the existing index files (last record per song wins).

  This host's index comes first; the other hosts' (``index.jsonl`` and
  ``index-host<i>.jsonl``) add the songs it does not list, so a song finished
  by another host, or with another host count, is known here.

  Raises:
    ValueError: for an index line that is not a record.
  """
  own = os.path.join(out_dir, index_name())
  index = _read_records(own) if os.path.exists(own) else {}
  for path in index_files(out_dir):
    if path != own:
      for song, record in _read_records(path).items():
        index.setdefault(song, record)
  return index


def index_path(out_dir: str, song_dir: str) -> str:
  """A song folder as the index records it: relative to the output folder."""
  return os.path.relpath(song_dir, out_dir)


def song_dir(out_dir: str, record: dict) -> str | None:
  """The song folder of an index record, or None when it is not there (any more).

  The ``path`` is relative to the output folder (``index_path``); an index
  written before that holds it relative to the folder ``collect`` ran in,
  which is tried second.
  """
  path = record.get("path")
  if not isinstance(path, str):
    return None
  for candidate in (os.path.join(out_dir, path), path):
    if os.path.isdir(candidate):
      return os.path.normpath(candidate)
  return None


def write_index(out_dir: str, index: dict) -> None:
  atomic_files.write_text(os.path.join(out_dir, index_name()),
                          "".join(json.dumps(r, sort_keys=True) + "\n" for r in index.values()))


def summary_markdown(index: dict) -> str:
  """A table of every song: status, losses, ρ, seconds."""
  lines = ["| song | status | loss sum | loss console | loss pruned | ρ | seconds |",
           "|---|---|---|---|---|---|---|"]
  for record in index.values():
    if record["status"] == "done":
      lines.append(f"| {record['name']} | done | {record['loss_sum']:.3f} | "
                   f"{record['loss_console']:.3f} | {record['loss_pruned']:.3f} | "
                   f"{record['pruning_ratio']:.2f} | {record['seconds']:.0f} |")
    else:
      lines.append(f"| {record['name']} | {record['status']} | {record.get('error', '')} | | | | |")
  done = [r for r in index.values() if r["status"] == "done"]
  if done:
    mean = lambda k: sum(r[k] for r in done) / len(done)
    lines.append(f"| **mean of {len(done)}** | | {mean('loss_sum'):.3f} | {mean('loss_console'):.3f} "
                 f"| {mean('loss_pruned'):.3f} | {mean('pruning_ratio'):.2f} | {mean('seconds'):.0f} |")
  return "\n".join(lines) + "\n"


def song_seed(seed: int, name: str) -> int:
  """The seed of song ``name``: a hash of the base seed and the name (31 bits).

  It depends on nothing else (not the batch, the host count or the other
  songs of the data set).
  """
  return int(checkpoint_lib.digest([f"{int(seed)}:{name}"], n_hex=8), 16) & 0x7FFFFFFF


def song_identity(name: str, *, seed: int, sample_rate: int, config: SearchConfig,
                  optimizer) -> str:
  """A hash of everything that changes a song's result: its name and seed, the sample
  rate, every search setting and the optimizer (``checkpoint.describe``).

  It decides whether a song is done (see ``checkpoint``'s fingerprints for the
  other identities of a run): by name, so finished songs are skipped without
  reading their audio.
  """
  text = repr((name, seed, sample_rate, config.result_settings(),
               checkpoint_lib.describe(optimizer)))
  return checkpoint_lib.digest([text], n_hex=16)


def _batch_id(identities: list[str], songs_per_call: int = 1) -> str:
  """The checkpoint folder name of a batch: a hash of its songs' identities (and of
  ``songs_per_call`` when above 1: its parts are other searches)."""
  if songs_per_call > 1:
    identities = [*identities, f"songs_per_call={songs_per_call}"]
  return checkpoint_lib.digest([repr(identities)], n_hex=16)


def _error_line(error: Exception) -> str:
  lines = str(error).strip().splitlines()
  return f"{type(error).__name__}: {lines[0] if lines else ''}"


def collect(dataset_dir: str, out_dir: str, *, config: SearchConfig | None = None,
            batch_size: int = 8, sample_rate: int = song_folder.DEFAULT_SAMPLE_RATE, seed: int = 0,
            bucket_seconds: float = 30.0, progress: bool = True, optimizer=None,
            songs_per_call: int = 1) -> dict:
  """Searches every song of ``dataset_dir``; see the module docstring.

  Args:
    dataset_dir: folder holding song folders.
    out_dir: results folder (one sub-folder per song, ``index.jsonl``,
      ``summary.md``).
    config: search settings (default: the paper's).
    batch_size: songs loaded and searched per ``search_batch`` call (they
      share compiled programs; the result of a song does not depend on it).
      The songs of a batch run side by side, one per local device: a
      multiple of the device count keeps every device busy.
    sample_rate: search rate; every file is resampled to it.
    seed: the base seed; a song's seed is ``song_seed(seed, its name)``.
    bucket_seconds: lengths are padded up to a multiple of this (to share
      compiled programs; it changes no result).
    progress: show progress bars.
    optimizer: an Optax transformation (default: ``search``'s).
    songs_per_call: ``search_batch``'s: 1 (default) searches each song alone
      on one device, side by side; N > 1 searches N songs of one bucket in
      lockstep in one program sharded over the local devices.

  Returns:
    ``{name: record}`` as written to ``index.jsonl``.
  """
  config = SearchConfig() if config is None else config
  optimizer = fit_lib.default_optimizer(config) if optimizer is None else optimizer
  os.makedirs(out_dir, exist_ok=True)
  entries, errors = scan(dataset_dir)
  if jax.process_count() > 1:  # multi-host: each host takes its own slice
    entries = entries[jax.process_index()::jax.process_count()]
  index = read_index(out_dir)
  for record in errors:
    index[record["name"]] = dict(record, path=index_path(out_dir, record["path"]))
  seeds = {e.name: song_seed(seed, e.name) for e in entries}
  identity = {e.name: song_identity(e.name, seed=seeds[e.name], sample_rate=sample_rate,
                                    config=config, optimizer=optimizer) for e in entries}

  def is_done(entry):
    record = index.get(entry.name, {})
    return record.get("status") == "done" and record.get("identity") == identity[entry.name]

  batches = plan_batches(entries, batch_size=batch_size, bucket_seconds=bucket_seconds)
  todo = [(b, [e for e in es if not is_done(e)]) for b, es in batches]
  todo = [(b, es) for b, es in todo if es]
  n_done = sum(1 for e in entries if is_done(e))
  bar = tqdm(total=len(entries), initial=n_done, unit="song", desc="collect", disable=not progress)
  t_start, finished = time.perf_counter(), 0

  def record_error(entry, error):
    index[entry.name] = {"name": entry.name, "path": index_path(out_dir, entry.path),
                         "status": "error", "error": _error_line(error),
                         "seed": seeds[entry.name], "identity": identity[entry.name]}

  def batch_dir(group):
    return os.path.join(out_dir, CHECKPOINTS,
                        _batch_id([identity[e.name] for e in group], songs_per_call))

  def search(group, songs, pad_samples, devices=None, show_progress=progress):
    """Searches ``songs`` (of the entries ``group``) in one batch, checkpointed."""
    checkpoint_dir = batch_dir(group)
    t0 = time.perf_counter()
    results = search_batch(songs, config, seeds=[seeds[e.name] for e in group],
                           optimizer=optimizer, checkpoint_dir=checkpoint_dir, resume=True,
                           pad_samples=pad_samples, songs_per_call=songs_per_call,
                           devices=devices, progress=show_progress)
    return results, (time.perf_counter() - t0) / len(songs), checkpoint_dir

  def search_alone(job, device):
    """One song of a failed batch on ``device`` (beside the others): its runs, or its error."""
    entry, song, pad_samples = job
    try:
      return [([entry], [song], search([entry], [song], pad_samples, devices=[device],
                                       show_progress=progress and len(local) == 1))]
    except Exception as error:  # pylint: disable=broad-except
      return error

  local = jax.local_devices()

  for bucket, batch in todo:
    songs, loaded = [], []
    for entry in batch:
      try:
        songs.append(song_folder.load_song(entry.path, sample_rate=sample_rate))
        loaded.append(entry)
      except ValueError as error:
        record_error(entry, error)
    write_index(out_dir, index)
    if songs:
      pad_samples = int(round(bucket[2] * sample_rate))
      try:
        runs = [(loaded, songs, search(loaded, songs, pad_samples))]
      except Exception as error:  # pylint: disable=broad-except
        atomic_files.remove_tree(batch_dir(loaded))
        runs = []
        if len(loaded) == 1:
          record_error(loaded[0], error)
        else:  # one song's failure must not stop the others: search them one at a time
          # (a song's result does not depend on its batch), side by side on the devices
          jobs = [(entry, song, pad_samples) for entry, song in zip(loaded, songs)]
          alone = devices_lib.map_on_devices(search_alone, jobs, local)
          for entry, outcome in zip(loaded, alone):
            if isinstance(outcome, Exception):
              record_error(entry, outcome)
            else:
              runs += outcome
          write_index(out_dir, index)
      for group, group_songs, (results, per_song, checkpoint_dir) in runs:
        for entry, song, result in zip(group, group_songs, results):
          try:
            results_folder.write_results(result, song, os.path.join(out_dir, entry.name),
                                         song_label=entry.name)
          except Exception as error:  # pylint: disable=broad-except
            record_error(entry, error)
            continue
          index[entry.name] = {
              "name": entry.name, "path": index_path(out_dir, entry.path), "status": "done",
              "loss_sum": result.loss_sum, "loss_console": result.loss_console,
              "loss_pruned": result.loss_pruned, "pruning_ratio": result.pruning_ratio,
              "pruning_ratio_per_type": result.pruning_ratio_per_type, "seconds": per_song,
              "tracks": song.n_tracks, "groups": song.n_groups, "seed": seeds[entry.name],
              "sample_rate": sample_rate, "identity": identity[entry.name],
              "device": result.device,
          }
        write_index(out_dir, index)
        atomic_files.remove_tree(checkpoint_dir)
    finished += len(batch)
    bar.update(len(batch))
    rate = finished / (time.perf_counter() - t_start) * 3600
    bar.set_postfix(songs_per_hour=f"{rate:.1f}")
  bar.close()
  write_index(out_dir, index)
  summary = SUMMARY if jax.process_count() == 1 else f"summary-host{jax.process_index()}.md"
  atomic_files.write_text(os.path.join(out_dir, summary), summary_markdown(index))
  return index
