"""The results folder of a search: which files it holds, whose song it is, writing it.

``write_results(result, song, out_dir)`` writes, each file atomically:

==================  =========================================================
``graph.json``      the pruned graph (``mixjax.io.graph_json``; re-render it with
                    ``mixjax render``)
``graph.png/.svg``  a drawing of the pruned graph
``processors.png``  each kept EQ's curve and compressor's/gate's static curve,
                    at its dry/wet
``estimate.wav``    the pruned graph's render of the whole song
``console.wav``     the full console's render (every processor, final params)
``spectrogram.png`` mid/side spectrograms of the mix and the estimate, and the
                    difference of their magnitudes in dB
``losses.csv``      every logged optimisation step, then every pruning trial
``report.md``       song, settings, losses, pruning ratios, times, device
``mixjax-run.json`` which song the folder belongs to (so a later run for
                    another song does not mix its files in)
==================  =========================================================

A search run by ``mixjax search`` also checkpoints into ``checkpoint/``
(``CHECKPOINT_DIR``). The rules for reusing a folder: a missing or empty folder,
or one holding this song's results, is written into; another song's results or
foreign files only with ``overwrite``, which first removes that song's result
files and checkpoint (``check_output_dir``, ``prepare_output``); an interrupted
run of the very same search is never silently restarted (``check_checkpoint``).
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import shutil

import jax
import numpy as np

from mixjax import atomic_files
from mixjax.io.audio import write_wav
from mixjax._version import __version__
from mixjax.graph_search import checkpoint as checkpoint_lib
from mixjax.io import graph_json as graph_lib
from mixjax.io import plots
from mixjax.io.report_text import losses_csv, peak_dbfs, report_markdown

RESULT_FILES = ("graph.json", "graph.png", "graph.svg", "processors.png", "estimate.wav",
                "console.wav", "spectrogram.png", "losses.csv", "report.md")
"""The files ``write_results`` writes (besides ``MARKER``)."""

MARKER = "mixjax-run.json"
"""The file naming the song whose results a folder holds."""

MARKER_FORMAT = "mixjax.run"
"""The ``format`` field of the marker."""

CHECKPOINT_DIR = "checkpoint"
"""Sub-folder of a ``mixjax search`` results folder holding the search's checkpoints."""


# ---------------------------------------------------------------------------
# Which song a folder belongs to
# ---------------------------------------------------------------------------


def song_fingerprint(song) -> str:
  """Whose song a folder holds, for a ``Song`` in memory: its track names, rate and mix.

  See ``checkpoint``'s fingerprints for the other identities of a run.
  """
  return "song:" + checkpoint_lib.digest(
      [json.dumps([list(song.track_names), int(song.sample_rate)]),
       np.asarray(song.mix, np.float32)], n_hex=32)


def files_fingerprint(mix_path: str, track_names) -> str:
  """A hash of a song folder: its mix file's bytes and its track names.

  Unlike ``song_fingerprint`` it does not depend on the search's sample rate,
  so re-running a song at another rate reuses its folder.
  """
  with open(mix_path, "rb") as f:
    blocks = iter(lambda: f.read(1 << 20), b"")
    return "files:" + checkpoint_lib.digest(
        itertools.chain([json.dumps(list(track_names))], blocks), n_hex=32)


def read_marker(out_dir: str) -> dict | None:
  """The marker of a results folder, or None when it has none (or an unreadable one)."""
  try:
    with open(os.path.join(out_dir, MARKER), encoding="utf-8") as f:
      marker = json.load(f)
  except (OSError, ValueError):
    return None
  return marker if isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT else None


def check_output_dir(out_dir: str, *, fingerprint: str, overwrite: bool = False) -> bool:
  """Checks that ``out_dir`` may receive this song's results.

  A missing or empty folder, or one holding this song's earlier results, is
  fine. A folder holding another song's results, or other files, is refused
  unless ``overwrite``.

  Returns:
    True when the folder holds another song's results (or foreign files) that
    ``overwrite`` allows replacing.

  Raises:
    ValueError: when the folder cannot be used.
  """
  if not os.path.exists(out_dir):
    return False
  if not os.path.isdir(out_dir):
    raise ValueError(f"{out_dir} is a file; --out must be a folder (new or empty).")
  entries = [e for e in os.listdir(out_dir) if not e.startswith(".")]
  if not entries:
    return False
  marker = read_marker(out_dir)
  if marker is not None and marker.get("fingerprint") == fingerprint:
    return False
  if overwrite:
    return True
  if marker is not None:
    raise ValueError(
        f"{out_dir} holds the results of another song ({marker.get('song', '?')}); choose "
        f"another --out folder, or pass --overwrite to replace them.")
  raise ValueError(
      f"{out_dir} is not empty and holds no mixjax results; choose a new or empty --out "
      f"folder, or pass --overwrite to write into it anyway.")


def write_marker(out_dir: str, *, fingerprint: str, song: str, track_names, status: str,
                 settings: dict | None = None) -> None:
  """Writes ``mixjax-run.json``: which song the folder belongs to, and how far the run got."""
  marker = {
      "format": MARKER_FORMAT,
      "version": 1,
      "song": song,
      "fingerprint": fingerprint,
      "track_names": list(track_names),
      "status": status,
      "updated": datetime.datetime.now().isoformat(timespec="seconds"),
      "mixjax": __version__,
  }
  if settings is not None:
    marker["settings"] = settings
  atomic_files.write_text(os.path.join(out_dir, MARKER), json.dumps(marker, indent=2) + "\n")


def prepare_output(out_dir: str, *, fingerprint: str, overwrite: bool) -> None:
  """Checks ``out_dir`` before a search (``check_output_dir``) and clears another song's files.

  When ``overwrite`` lets another song's results be replaced, removes its
  checkpoint and result files (another song's checkpoint must never be
  resumed, nor its results shown next to this song's).

  Raises:
    ValueError: when the folder holds another song's results or foreign files
      (without ``overwrite``).
  """
  if check_output_dir(out_dir, fingerprint=fingerprint, overwrite=overwrite):
    shutil.rmtree(os.path.join(out_dir, CHECKPOINT_DIR), ignore_errors=True)
    for name in RESULT_FILES:
      path = os.path.join(out_dir, name)
      if os.path.isfile(path):
        os.remove(path)


def check_checkpoint(checkpoint_dir: str, song, config, seed: int, *, resume: bool,
                     overwrite: bool) -> None:
  """Refuses a ``--resume`` that cannot continue, and a restart that would lose one.

  Raises:
    ValueError: with ``resume``, when the checkpoint belongs to another run;
      without ``resume`` or ``overwrite``, when the folder holds an
      interrupted run of this very search (same song, settings and seed) that
      ``--resume`` would continue.
  """
  if not os.path.exists(os.path.join(checkpoint_dir, checkpoint_lib.FILENAME)):
    return
  stamp = checkpoint_lib.fingerprint_batch([song], config, [seed])
  if resume:
    checkpoint_lib.check(checkpoint_dir, stamp)  # raises for another run's checkpoint
    return
  marker = read_marker(os.path.dirname(checkpoint_dir))
  if overwrite or marker is None or marker.get("status") != "searching":
    return  # nothing interrupted (a finished run keeps its last checkpoint)
  try:
    resumable = checkpoint_lib.check(checkpoint_dir, stamp)
  except ValueError:
    resumable = False  # another run's: starting over is the only way
  if resumable:
    raise ValueError(
        f"{os.path.dirname(checkpoint_dir)} holds an interrupted run of this very search (same "
        f"song, settings and seed); pass --resume to continue it, or --overwrite to start "
        f"again.")



# ---------------------------------------------------------------------------
# Writing the folder
# ---------------------------------------------------------------------------


def default_device() -> str:
  """``"cpu (cpu)"``, ``"gpu (NVIDIA A100-SXM4-40GB) x 8"``, ...: what JAX runs on (the
  command's banner; report.md names the device a search ran on, ``SearchResult.device``)."""
  devices = jax.devices()
  name = f"{jax.default_backend()} ({devices[0].device_kind})"
  return name + (f" x {len(devices)}" if len(devices) > 1 else "")


def write_results(result, song, out_dir: str, *, fingerprint: str | None = None,
                  song_label: str | None = None, notes: str | None = None,
                  settings: dict | None = None) -> dict:
  """Writes the results folder of a search (module docstring), every file atomically.

  Args:
    result: a ``SearchResult``.
    song: the ``Song`` that was searched.
    out_dir: the folder (created if needed).
    fingerprint: identifies the song in ``mixjax-run.json`` (default:
      ``song_fingerprint(song)``).
    song_label: the song's name in report.md (default: its track count).
    notes: extra markdown appended to report.md.
    settings: extra entries for the marker (e.g. the command line's options).

  Returns:
    ``{file name: path}`` of everything written.

  Raises:
    ValueError: when ``song`` is not the song of ``result``.
  """
  if list(song.track_names) != list(result.track_names) or (
      song.sample_rate != result.sample_rate):
    raise ValueError(
        "write_results: the song is not the one searched (track names or sample rate "
        "differ); pass the Song given to search.")
  fingerprint = song_fingerprint(song) if fingerprint is None else fingerprint
  song_label = f"{song.n_tracks}-track song" if song_label is None else song_label
  os.makedirs(out_dir, exist_ok=True)
  paths = {name: os.path.join(out_dir, name) for name in (*RESULT_FILES, MARKER)}
  write_marker(out_dir, fingerprint=fingerprint, song=song_label,
               track_names=song.track_names, status="writing results", settings=settings)

  graph = graph_lib.save_graph(result, paths["graph.json"])
  plots.draw_graph(graph, paths["graph.png"], paths["graph.svg"])
  plots.plot_processors(graph, paths["processors.png"])
  estimate = result.render(song)
  write_wav(paths["estimate.wav"], estimate, song.sample_rate)
  full = result.console.render_song(result.params, song.padded_tracks(result.console.max_tracks))
  write_wav(paths["console.wav"], full, song.sample_rate)
  panels = plots.plot_spectrograms(song.mix, estimate, song.sample_rate,
                                   paths["spectrogram.png"])
  atomic_files.write_text(paths["losses.csv"], losses_csv(result))
  atomic_files.write_text(paths["report.md"], report_markdown(
      result, graph, song_label=song_label, n_samples=song.n_samples,
      notes=notes, spectrogram={"mean_abs_difference_db": panels.mean_abs_difference_db,
                                "null_db": panels.null_db},
      peaks_dbfs={"estimate.wav": peak_dbfs(estimate), "console.wav": peak_dbfs(full)}))
  write_marker(out_dir, fingerprint=fingerprint, song=song_label,
               track_names=song.track_names, status="complete", settings=settings)
  return paths
