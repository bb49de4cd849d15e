"""Collecting graphs at scale: every song of a data set folder, searched in batches.

``collect(dataset_dir, out_dir)`` finds every song folder (plain or MedleyDB
layout), groups the songs into *shape buckets* (track count, group count and
length rounded up, so that a handful of compiled programs cover a data set),
searches each bucket in batches with ``search_batch`` (``vmap`` over songs,
sharded over the local devices), and writes one results folder per song
(the files of ``mixjax search``) plus ``index.jsonl`` (one line per song:
name, status, losses, ρ, seconds) and ``summary.md``.

It resumes: finished songs are skipped, an interrupted batch continues from
its checkpoint, and a song that fails to load is recorded with its error
while the others go on.

Several hosts: start every host with ``jax.distributed`` set up (see the
README); each takes its own slice of the song list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from typing import NamedTuple

import jax
import soundfile as sf
from tqdm.auto import tqdm

from mixjax import files
from mixjax import loading
from mixjax import report
from mixjax.graph_search import SearchConfig, search_batch

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

  A folder is a song when it holds a plain-layout song (``tracks/`` and a mix)
  or a MedleyDB song (``<Song>_METADATA.yaml``); song folders are not searched
  further.
  """
  if not os.path.isdir(dataset_dir):
    raise ValueError(f"{dataset_dir}: no such folder; give the folder that holds the songs.")
  found = []

  def is_song(path):
    entries = os.listdir(path)
    return ("tracks" in entries or any(e.endswith(loading.METADATA_SUFFIX) for e in entries))

  for root, dirs, _ in os.walk(dataset_dir):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    if is_song(root):
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
      song_files = loading.find_song_files(path)
      try:
        seconds = sf.info(song_files.mix).duration
      except (RuntimeError, sf.LibsndfileError) as error:
        raise ValueError(f"{song_files.mix}: cannot read the mix as audio ({error}).") from None
    except ValueError as error:
      errors.append({"name": name, "path": path, "status": "error", "error": str(error)})
      continue
    n_groups = len(song_files.group_names)
    entries.append(SongEntry(name, path, len(song_files.tracks), n_groups, seconds))
  return entries, errors


def bucket_of(entry: SongEntry, *, bucket_seconds: float) -> tuple[int, int, float]:
  """The padded shape of a song: tracks and groups up to a power of two, length up to a multiple."""
  def up2(n, least):
    return max(least, 1 << (max(n, 1) - 1).bit_length())

  return (up2(entry.n_tracks, 4), up2(entry.n_groups, 2),
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


def read_index(out_dir: str) -> dict:
  """``{name: record}`` from an existing index (last record per song wins)."""
  path = os.path.join(out_dir, index_name())
  index = {}
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      for line in f:
        line = line.strip()
        if line:
          record = json.loads(line)
          index[record["name"]] = record
  return index


def write_index(out_dir: str, index: dict) -> None:
  files.write_text(os.path.join(out_dir, index_name()),
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


def _batch_id(bucket, entries, config: SearchConfig, seed: int) -> str:
  text = repr((bucket, [e.name for e in entries], sorted(dataclasses.asdict(config).items()), seed))
  return hashlib.sha1(text.encode()).hexdigest()[:16]


def collect(dataset_dir: str, out_dir: str, *, config: SearchConfig | None = None,
            batch_size: int = 8, sample_rate: int = 30000, seed: int = 0,
            bucket_seconds: float = 30.0, progress: bool = True) -> dict:
  """Searches every song of ``dataset_dir``; see the module docstring.

  Args:
    dataset_dir: folder holding song folders.
    out_dir: results folder (one sub-folder per song, ``index.jsonl``,
      ``summary.md``).
    config: search settings (default: the paper's).
    batch_size: songs searched at once (rounded up to the device count).
    sample_rate: search rate; every file is resampled to it.
    seed: song ``i`` of a batch uses ``seed + its index in the data set``.
    bucket_seconds: lengths are padded up to a multiple of this.
    progress: show progress bars.

  Returns:
    ``{name: record}`` as written to ``index.jsonl``.
  """
  config = SearchConfig() if config is None else config
  os.makedirs(out_dir, exist_ok=True)
  entries, errors = scan(dataset_dir)
  if jax.process_count() > 1:  # multi-host: each host takes its own slice
    entries = entries[jax.process_index()::jax.process_count()]
  index = read_index(out_dir)
  for record in errors:
    index[record["name"]] = record
  order = {e.name: i for i, e in enumerate(entries)}
  batches = plan_batches(entries, batch_size=batch_size, bucket_seconds=bucket_seconds)
  todo = [(b, es) for b, es in batches if any(index.get(e.name, {}).get("status") != "done" for e in es)]
  n_done = sum(1 for e in entries if index.get(e.name, {}).get("status") == "done")
  bar = tqdm(total=len(entries), initial=n_done, unit="song", desc="collect", disable=not progress)
  t_start, finished = time.perf_counter(), 0
  for bucket, batch in todo:
    songs, loaded = [], []
    for entry in batch:
      try:
        songs.append(loading.load_song(entry.path, sample_rate=sample_rate))
        loaded.append(entry)
      except ValueError as error:
        index[entry.name] = {"name": entry.name, "path": entry.path, "status": "error",
                             "error": str(error)}
    write_index(out_dir, index)
    if songs:
      tracks, groups, seconds = bucket
      batch_config = config.replace(max_tracks=max(tracks, config.max_tracks or 0),
                                    max_groups=max(groups, config.max_groups or 0))
      seeds = [seed + order[e.name] for e in loaded]
      checkpoint_dir = os.path.join(out_dir, CHECKPOINTS, _batch_id(bucket, loaded, batch_config, seed))
      t0 = time.perf_counter()
      results = search_batch(songs, batch_config, seeds=seeds, progress=progress,
                             checkpoint_dir=checkpoint_dir, resume=True,
                             pad_samples=int(round(seconds * sample_rate)))
      per_song = (time.perf_counter() - t0) / len(songs)
      for entry, song, result in zip(loaded, songs, results):
        report.write_results(result, song, os.path.join(out_dir, entry.name), song_label=entry.name)
        index[entry.name] = {
            "name": entry.name, "path": entry.path, "status": "done",
            "loss_sum": result.loss_sum, "loss_console": result.loss_console,
            "loss_pruned": result.loss_pruned, "pruning_ratio": result.pruning_ratio,
            "pruning_ratio_per_type": result.pruning_ratio_per_type, "seconds": per_song,
            "tracks": song.n_tracks, "groups": song.n_groups,
        }
      write_index(out_dir, index)
      files.remove_tree(checkpoint_dir)
    finished += len(batch)
    bar.update(len(batch))
    rate = finished / (time.perf_counter() - t_start) * 3600
    bar.set_postfix(songs_per_hour=f"{rate:.1f}")
  bar.close()
  write_index(out_dir, index)
  summary = SUMMARY if jax.process_count() == 1 else f"summary-host{jax.process_index()}.md"
  files.write_text(os.path.join(out_dir, summary), summary_markdown(index))
  return index
