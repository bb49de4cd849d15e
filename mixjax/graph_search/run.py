"""The whole search, for one song or a batch of songs at once.

For every song (REFERENCE §5, §7):

1. ``console_steps`` steps of the full console (every processor on every
   track and subgroup);
2. ``rounds`` times: one pruning round (trials with the sampler of that
   round), then ``finetune_steps`` steps of the surviving graph.

Every song is padded to its own bucket of track and group counts
(``buckets``), a function of that song alone. A batch is split into parts of
one bucket (by default one song each, ``songs_per_call``). Single songs run
side by side, one per local device (``devices.map_on_devices``), each
through the program it runs alone on its device. A part of several songs is
searched in lockstep: each fit dispatch and each trial evaluation is one
compiled call over the part's songs (``vmap``ped, and sharded over the local
devices along the song axis), while each song keeps its own masks,
``L_min``, sampler and PRNG streams. Padding changes nothing but float
rounding: padded tracks and groups render exact zeros, a node's initial
parameters do not depend on the padding, and each song crops and chunks
within its own length. With one song per call, a song's padded sizes and its
program do not depend on the batch, so its result is the same, bit for bit,
alone, in any batch and on any device (``tests/graph_search/test_batch.py``).
At other padded sizes, in a ``vmap``ped or sharded call, it differs by float
rounding in the first steps, which Adam then amplifies (it turns near-zero
gradients into full-size steps, as it does in the reference).
``search(song)`` is ``search_batch([song])[0]``.

Settings whose default depends on the backend (``SearchConfig.resolved``)
are resolved once, when a search starts, and kept in its checkpoint, so a
search resumed on another backend takes the same decisions. A search traces
float32 programs even under ``jax_enable_x64`` (``devices.scope``).

Nothing recompiles during a search: one program fits (any phase, any mask),
one evaluates batches of masks; ``SearchResult.compilations`` reports it.
"""

from __future__ import annotations

import os
from typing import Sequence

import jax
import optax

from mixjax.graph_search import batch as batch_lib
from mixjax.graph_search import buckets as buckets_lib
from mixjax.graph_search import devices as devices_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search import precise as precise_lib
from mixjax.graph_search.config import SearchConfig
from mixjax.graph_search.result import SearchResult
from mixjax.progress import tqdm


def _check_songs(songs, config: SearchConfig) -> None:
  if not songs:
    raise ValueError("search_batch needs at least one song.")
  rates = {song.sample_rate for song in songs}
  if len(rates) > 1:
    raise ValueError(
        f"songs of one batch must share a sample rate, got {sorted(rates)} Hz; "
        f"resample them (load_song(..., sample_rate=...)) or batch them separately.")
  for i, song in enumerate(songs):
    check_song_length(song, config, name=f"song {i}" if len(songs) > 1 else "the song")
  check_loss_window(config, songs[0].sample_rate)


def check_song_length(song, config: SearchConfig, *, name: str = "the song",
                      fix: str = "a shorter crop_seconds") -> None:
  """Raises a one-line ValueError if ``song`` is shorter than one training crop.

  ``name`` says which song (e.g. its folder) and ``fix`` which setting to
  change (the CLI names its flag).
  """
  if song.n_samples < config.crop_samples(song.sample_rate):
    raise ValueError(
        f"{name} is {song.seconds:.2f} s long, shorter than one training crop "
        f"({config.crop_seconds:g} s); use a longer song or {fix}.")


def check_loss_window(config: SearchConfig, sample_rate: int, *,
                      fix: str = "a longer crop_seconds or a shorter omit_seconds") -> None:
  """Raises a one-line ValueError if a crop leaves too few scored samples for the loss.

  A crop is scored on its last ``crop − omit`` samples, which must hold one
  frame of the largest FFT (``max(fft_sizes) // 2 + 1`` samples, as the loss
  checks). ``fix`` says which setting to change (the CLI names its flags).
  """
  kept = config.crop_samples(sample_rate) - config.omit_samples(sample_rate)
  fft = max(config.fft_sizes)
  needed = fft // 2 + 1
  if kept < needed:
    raise ValueError(
        f"a {config.crop_seconds:g} s crop less its {config.omit_seconds:g} s warm-up leaves "
        f"{kept} samples at {sample_rate} Hz to score, but the loss's largest FFT ({fft}) needs "
        f"at least {needed} ({needed / sample_rate:.3f} s); use {fix}.")


def search(song, config: SearchConfig | None = None, *, seed: int = 0,
           optimizer: optax.GradientTransformation | None = None,
           progress: bool = True, checkpoint_dir: str | None = None,
           resume: bool = False) -> SearchResult:
  """Searches for the mixing graph of ``song``.

  Args:
    song: a ``mixjax.Song``.
    config: the settings (default: the paper's, ``SearchConfig()``).
    seed: makes the run reproducible (parameters, crops, samplers).
    optimizer: any Optax transformation (default AdamW, lr from ``config``,
      weight decay 0). Its state is reset at the start of every phase and
      every ``config.reset_every`` steps.
    progress: show progress bars.
    checkpoint_dir: where to checkpoint after the console fit and after
      every pruning round (None: no checkpoints).
    resume: continue from the checkpoint in ``checkpoint_dir`` if there is
      one (else start from the beginning); the result equals that of an
      uninterrupted run.

  Returns:
    A ``SearchResult``.

  Raises:
    ValueError: the song is shorter than one crop, a crop leaves too few
      samples for the loss, or the checkpoint belongs to another run.
    SearchInterrupted: (a ``KeyboardInterrupt``) on Ctrl-C; it says what the
      checkpoint holds.
  """
  return search_batch([song], config, seeds=[seed], optimizer=optimizer, progress=progress,
                      checkpoint_dir=checkpoint_dir, resume=resume)[0]


def search_batch(songs: Sequence, config: SearchConfig | None = None, *,
                 seeds: Sequence[int] | None = None,
                 optimizer: optax.GradientTransformation | None = None,
                 progress: bool = True, checkpoint_dir: str | None = None,
                 resume: bool = False, pad_samples: int | None = None,
                 songs_per_call: int = 1, devices: Sequence | None = None) -> list[SearchResult]:
  """Searches a batch of songs at once, every local device busy.

  Each song is padded to its own bucket (``buckets.song_bucket``: track and
  group counts up a ladder, or ``config.max_tracks`` / ``max_groups``), so
  its result does not depend on the other songs of the batch. Songs must
  share a sample rate. The batch is split into parts: at most
  ``songs_per_call`` songs of one bucket, searched in lockstep.

  With ``songs_per_call=1`` (the default) the parts are single songs, run
  side by side, one per device (``devices.map_on_devices``: a worker thread
  per device takes the next song), each through the same single-device
  program as alone: a song's result equals ``search`` of it alone, bit for
  bit, whatever the batch, its bucket mates, the device count or the device
  it ran on (``SearchResult.device``). Each device compiles its own programs
  (once per bucket). With ``songs_per_call=N`` the parts, N songs each, run
  one after the other, each one compiled call for all its songs (``vmap``ped
  and sharded along the song axis over the devices); XLA rounds that program
  differently (measured on CPU: gradients ~2e-5 apart at batch 2 and 4; a
  song sharded over 3 devices ends with other parameters than alone), and
  Adam turns that into other decisions; on a CPU batching gains nothing
  (``benchmarks/RESULTS.md``: 0.91-1.01x songs per hour).

  Args:
    songs: ``mixjax.Song`` objects.
    config: the settings (default: the paper's).
    seeds: one seed per song (default ``0, 1, 2, ...``).
    optimizer, progress, resume: as for ``search``. Side by side, one bar
      counts the finished songs (the per-song bars are hidden).
    checkpoint_dir: as for ``search``; when the batch splits into several
      parts, part ``k`` checkpoints into its sub-folder ``part<k>`` (so an
      interrupted batch resumes every part from its own checkpoint).
    pad_samples: pad every song to at least this many samples, so parts of
      one shape bucket share one compiled program (default: the longest of
      the part). Lengths change no result.
    songs_per_call: songs per compiled call (see above).
    devices: the devices to search on (default: ``jax.local_devices()``).

  Returns:
    One ``SearchResult`` per song, in order.

  Raises:
    the first error of a song (the others stop at their next dispatch), or
    ``SearchInterrupted`` on Ctrl-C, after every search has stopped.
  """
  config = SearchConfig() if config is None else config
  songs = list(songs)
  seeds = list(range(len(songs))) if seeds is None else [int(s) for s in seeds]
  if len(seeds) != len(songs):
    raise ValueError(f"search_batch: {len(songs)} songs but {len(seeds)} seeds.")
  if not isinstance(songs_per_call, int) or songs_per_call < 1:
    raise ValueError(f"search_batch: songs_per_call must be a positive integer, got "
                     f"{songs_per_call!r}.")
  devices = list(jax.local_devices() if devices is None else devices)
  if not devices:
    raise ValueError("search_batch: devices is empty; give at least one device.")
  _check_songs(songs, config)
  optimizer = fit_lib.default_optimizer(config) if optimizer is None else optimizer
  search_class = precise_lib.PreciseSearch if config.method == "precise" else batch_lib.BatchSearch
  parts = plan_parts(songs, config, songs_per_call=songs_per_call)
  # One song per device side by side, or lockstep parts one after the other over all devices.
  workers = devices if songs_per_call == 1 else devices[:1]
  side_by_side = min(len(workers), len(parts)) > 1
  bar = tqdm(total=len(songs), desc="songs", unit="song", disable=not (progress and side_by_side))

  def search_part(k: int, device) -> list[SearchResult]:
    bucket, members = parts[k]
    part_dir = checkpoint_dir
    if checkpoint_dir and len(parts) > 1:
      part_dir = os.path.join(checkpoint_dir, f"part{k}")
    search_ = search_class([songs[i] for i in members], config, [seeds[i] for i in members],
                           optimizer, progress and not side_by_side, bucket=bucket,
                           pad_samples=pad_samples,
                           devices=None if songs_per_call == 1 else devices)
    part_results = search_.run(part_dir, resume)
    bar.update(len(members))
    return part_results

  compiled_before = batch_lib._compile_counts()
  try:
    part_results = devices_lib.map_on_devices(search_part, range(len(parts)), workers)
  finally:
    bar.close()
  results = [None] * len(songs)
  for (_, members), found in zip(parts, part_results):
    for i, result in zip(members, found):
      results[i] = result
  if side_by_side:  # the workers compiled at the same time: count the batch's programs
    compiled = {k: v - compiled_before[k] for k, v in batch_lib._compile_counts().items()}
    for result in results:
      result.compilations = dict(compiled)
  return results


def plan_parts(songs: Sequence, config: SearchConfig, *, songs_per_call: int) -> list[tuple]:
  """``[((max_tracks, max_groups), [song indices])]``: the parts of a batch, in a fixed order.

  Songs of one bucket (in batch order), at most ``songs_per_call`` per part.
  """
  by_bucket: dict = {}
  for i, song in enumerate(songs):
    by_bucket.setdefault(buckets_lib.song_bucket(song.n_tracks, song.n_groups, config), []).append(i)
  return [(bucket, members[j:j + songs_per_call])
          for bucket, members in sorted(by_bucket.items())
          for j in range(0, len(members), songs_per_call)]

