"""The whole search, for one song or a batch of songs at once.

For every song (REFERENCE §5, §7):

1. ``console_steps`` steps of the full console (every processor on every
   track and subgroup);
2. ``rounds`` times: one pruning round (trials with the sampler of that
   round), then ``finetune_steps`` steps of the surviving graph.

Every song is padded to its own bucket of track and group counts
(``buckets``), a function of that song alone. A batch is split into parts of
one bucket (by default one song each, ``songs_per_call``), each part
searched in lockstep: each fit dispatch and each trial evaluation is one
compiled call over the part's songs (``vmap``ped, and sharded over the local
devices along the song axis), while each song keeps its own masks,
``L_min``, sampler and PRNG streams. Padding changes nothing but float
rounding: padded tracks and groups render exact zeros, a node's initial
parameters do not depend on the padding, and each song crops and chunks
within its own length. With one song per call, a song's padded sizes and its
program do not depend on the batch, so its result is the same, bit for bit,
alone, in any batch and on any number of devices
(``tests/graph_search/test_batch.py``). At other padded sizes, in a
``vmap``ped or sharded call, it differs by float rounding in the first
steps, which Adam then amplifies (it turns near-zero gradients into
full-size steps, as it does in the reference). ``search(song)`` is
``search_batch([song])[0]``.

Nothing recompiles during a search: one program fits (any phase, any mask),
one evaluates batches of masks; ``SearchResult.compilations`` reports it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm.auto import tqdm

from mixjax import console as console_lib
from mixjax.graph_search import buckets as buckets_lib
from mixjax.graph_search import checkpoint as checkpoint_lib
from mixjax.graph_search import evaluate as evaluate_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search import incremental as incremental_lib
from mixjax.graph_search import prune as prune_lib
from mixjax.graph_search.config import SearchConfig
from mixjax.graph_search.result import SearchResult
from mixjax.processors import PROCESSORS

HISTORY_KEYS = ("step", "phase", "loss", "regularizer", "sparsity", "total")


class SearchInterrupted(KeyboardInterrupt):
  """A search stopped by Ctrl-C; ``saved`` says in words what its checkpoint holds.

  Attributes:
    checkpoint_dir: the search's checkpoint folder (None: it had none).
    saved_round: the progress the checkpoint holds: None nothing, 0 the console
      fit, r the console fit and r pruning rounds.
    rounds: the pruning rounds of the whole search.
  """

  def __init__(self, checkpoint_dir: str | None, saved_round: int | None, rounds: int):
    self.checkpoint_dir, self.saved_round, self.rounds = checkpoint_dir, saved_round, rounds
    super().__init__(self.saved)

  @property
  def saved(self) -> str:
    if self.checkpoint_dir is None:
      return "nothing was saved (the search had no checkpoint_dir)"
    if self.saved_round is None:
      return (f"nothing was saved yet ({self.checkpoint_dir} is written when the console fit "
              f"ends)")
    done = "the console fit" + (
        f" and {self.saved_round} of {self.rounds} pruning rounds" if self.rounds else "")
    return f"{self.checkpoint_dir} holds {done}"


def _compile_counts() -> dict:
  """Programs compiled so far by the jitted functions of a search."""
  return {"fit": fit_lib.run_steps._cache_size(),
          "song_loss": evaluate_lib.song_loss._cache_size(),
          "trial_loss": incremental_lib.song_loss._cache_size(),
          "trial_cache": incremental_lib.cache_render._cache_size(),
          "trial_rebase": incremental_lib.rebase._cache_size()}


def _stack_history(chunks: list, *, n_songs: int) -> dict:
  """The logged steps of every fit dispatch, joined: ``step`` and ``phase`` ``[steps]``,
  the losses ``[n_songs, steps]`` (empty, with these shapes, when no step ran)."""
  if chunks:
    return {k: np.concatenate([h[k] for h in chunks], axis=-1) for k in HISTORY_KEYS}
  return {k: np.zeros(0, np.int64) if k in ("step", "phase") else np.zeros((n_songs, 0), np.float32)
          for k in HISTORY_KEYS}


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


def _song_mesh(n_songs: int):
  """A 1-D mesh over the song axis of the first ``n_songs`` local devices (at most
  all of them), or None for one device."""
  devices = jax.local_devices()[:n_songs]
  if len(devices) == 1:
    return None
  return Mesh(np.array(devices), ("songs",))


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
                 songs_per_call: int = 1) -> list[SearchResult]:
  """Searches a batch of songs at once (sharded over the local devices).

  Each song is padded to its own bucket (``buckets.song_bucket``: track and
  group counts up a ladder, or ``config.max_tracks`` / ``max_groups``), so
  its result does not depend on the other songs of the batch. Songs must
  share a sample rate. The batch is split into parts: at most
  ``songs_per_call`` songs of one bucket, searched in lockstep (one compiled
  call for all songs of a part, ``vmap``ped and sharded over the local
  devices); the parts run one after the other and share their compiled
  programs.

  With ``songs_per_call=1`` (the default) every song runs alone through the
  same single-device program whatever the batch, the bucket mates or the
  device count, so its result equals ``search`` of that song alone, bit for
  bit. Larger parts can fill an accelerator (or several) better, but XLA
  rounds a ``vmap``ped or sharded program differently (measured on CPU:
  gradients ~2e-5 apart at batch 2 and 4; a song sharded over 3 devices ends
  with other parameters than alone), and Adam turns that into other
  decisions; on a CPU batching gains nothing (``benchmarks/RESULTS.md``:
  0.91-1.01x songs per hour).

  Args:
    songs: ``mixjax.Song`` objects.
    config: the settings (default: the paper's).
    seeds: one seed per song (default ``0, 1, 2, ...``).
    optimizer, progress, resume: as for ``search``.
    checkpoint_dir: as for ``search``; when the batch splits into several
      parts, part ``k`` checkpoints into its sub-folder ``part<k>``.
    pad_samples: pad every song to at least this many samples, so parts of
      one shape bucket share one compiled program (default: the longest of
      the part). Lengths change no result.
    songs_per_call: songs per compiled call (see above).

  Returns:
    One ``SearchResult`` per song, in order.
  """
  config = SearchConfig() if config is None else config
  songs = list(songs)
  seeds = list(range(len(songs))) if seeds is None else [int(s) for s in seeds]
  if len(seeds) != len(songs):
    raise ValueError(f"search_batch: {len(songs)} songs but {len(seeds)} seeds.")
  if not isinstance(songs_per_call, int) or songs_per_call < 1:
    raise ValueError(f"search_batch: songs_per_call must be a positive integer, got "
                     f"{songs_per_call!r}.")
  _check_songs(songs, config)
  optimizer = fit_lib.default_optimizer(config) if optimizer is None else optimizer
  search_class = _BatchSearch
  if config.method == "precise":
    from mixjax.graph_search import precise  # it builds on this module
    search_class = precise.PreciseSearch
  parts = plan_parts(songs, config, songs_per_call=songs_per_call)
  results = [None] * len(songs)
  for k, (bucket, members) in enumerate(parts):
    part_dir = checkpoint_dir
    if checkpoint_dir and len(parts) > 1:
      part_dir = os.path.join(checkpoint_dir, f"part{k}")
    search_ = search_class([songs[i] for i in members], config, [seeds[i] for i in members],
                           optimizer, progress, bucket=bucket, pad_samples=pad_samples)
    for i, result in zip(members, search_.run(part_dir, resume)):
      results[i] = result
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


class _BatchSearch:
  """The padded, stacked arrays of a song batch and the search loop over them.

  ``bucket`` is ``(max_tracks, max_groups)`` (default: the largest of the
  songs' own buckets, ``buckets.song_bucket``).
  """

  def __init__(self, songs, config: SearchConfig, seeds, optimizer, progress: bool, *,
               bucket: tuple[int, int] | None = None, pad_samples: int | None = None):
    self.songs, self.config, self.seeds = songs, config, seeds
    self.optimizer, self.progress = optimizer, progress
    sr = songs[0].sample_rate
    mesh = _song_mesh(len(songs))
    n_devices = 1 if mesh is None else mesh.devices.size
    # Pad the batch to a multiple of the device count with copies of the first song.
    self.n_real = len(songs)
    padded_songs = songs + [songs[0]] * (-len(songs) % n_devices)
    padded_seeds = seeds + [seeds[0]] * (-len(seeds) % n_devices)
    if bucket is None:  # the largest of the songs' own buckets
      sizes = [buckets_lib.song_bucket(s.n_tracks, s.n_groups, config) for s in songs]
      bucket = (max(t for t, _ in sizes), max(g for _, g in sizes))
    max_tracks, max_groups = bucket
    n = max([s.n_samples for s in songs] + [pad_samples or 0])
    consoles = [s.console(max_tracks=max_tracks, max_groups=max_groups) for s in padded_songs]
    self.tables = [prune_lib.NodeTable.of(c) for c in consoles]
    self.consoles = consoles
    chunk_len = config.crop_samples(sr)
    starts = evaluate_lib.chunk_starts(n, sample_rate=sr, config=config)
    n_chunks = [len(evaluate_lib.chunk_starts(s.n_samples, sample_rate=sr, config=config))
                for s in padded_songs]
    length = max(n, int(starts[-1]) + chunk_len)

    def pad_to(x):
      return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - x.shape[-1])])

    stacked = {
        "console": jax.tree.map(lambda *a: np.stack(a), *consoles),
        "tracks": np.stack([pad_to(s.padded_tracks(max_tracks)) for s in padded_songs]),
        "mix": np.stack([pad_to(s.mix) for s in padded_songs]),
        "n_samples": np.array([s.n_samples for s in padded_songs], np.int32),
        "n_chunks": np.array(n_chunks, np.int32),
    }
    keys = [jax.random.split(jax.random.key(seed)) for seed in padded_seeds]
    self.init_keys = [k[0] for k in keys]
    stacked["crop_key"] = jnp.stack([k[1] for k in keys])
    self.sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec("songs"))
    self.arrays = {k: self.put(v) for k, v in stacked.items()}
    self.starts = jnp.asarray(starts, jnp.int32)
    self.settings = fit_lib.step_settings(config, sr)
    self.sparsity = fit_lib.sparsity_schedule(config)

  @property
  def trial_batch(self) -> int:
    """Candidate masks per trial evaluation (``SearchConfig.trials_per_call``)."""
    return self.config.trials_per_call()

  def put(self, tree):
    """Places a stacked pytree on the devices, split along the song axis."""
    if self.sharding is None:
      return jax.device_put(tree)
    return jax.device_put(tree, self.sharding)

  # -- the two compiled calls ------------------------------------------------

  def loss_settings(self) -> dict:
    """The static settings of the whole-song loss."""
    return dict(chunk_len=self.config.crop_samples(self.songs[0].sample_rate),
                omit_seconds=self.config.omit_seconds, fft_sizes=tuple(self.config.fft_sizes))

  def _evaluate_args(self, params, requests: list) -> tuple:
    batch = self.trial_batch
    masks = []
    for s, request in enumerate(requests):
      flags = list(request) or [np.zeros(len(self.tables[s].nodes), bool)]
      flags += [flags[-1]] * (batch - len(flags))
      masks.append(evaluate_lib.stack_masks([self.tables[s].to_alive(f) for f in flags]))
    a = self.arrays
    return (self.put(params), a["console"], a["tracks"], a["mix"],
            self.put(evaluate_lib.stack_masks(masks)), self.starts, a["n_chunks"])

  def evaluate(self, params, requests: list) -> list:
    """Whole-song losses: ``requests[s]`` is a list of masks for song s (or [])."""
    losses = evaluate_lib.song_loss(*self._evaluate_args(params, requests), **self.loss_settings())
    losses = np.asarray(losses)
    return [losses[s, :len(r)] for s, r in enumerate(requests)]

  def round_evaluator(self, params, flags):
    """The trial evaluator of one pruning round (incremental or full renders)."""
    if not self.config.incremental_trials:
      return functools.partial(self.evaluate, params)
    return incremental_lib.RoundEvaluator(
        self.put(params), self.arrays, self.consoles, self.tables, flags, starts=self.starts,
        put=self.put, batch=self.trial_batch, **self.loss_settings())

  def compile_ahead(self, run) -> concurrent.futures.Future | None:
    """Starts compiling the evaluation and trial programs in a thread (one device only).

    Called before the console fit: the compiler then works beside the fit
    (on an accelerator the host is idle during the fit; on a CPU it takes a
    core the fit does not fill), and the programs are ready when the fit
    ends. The search waits for the future after the fit (re-raising its error).
    """
    if self.sharding is not None:
      return None
    params, flags = run["state"].params, run["flags"]

    def compile_all():
      evaluate_lib.song_loss.lower(*self._evaluate_args(params, [[f] for f in flags]),
                                   **self.loss_settings()).compile()
      if self.config.rounds and self.config.incremental_trials:
        self.round_evaluator(params, flags).compile()

    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mixjax-compile")
    future = pool.submit(compile_all)
    pool.shutdown(wait=False)  # the task runs on; the search waits on the future
    return future

  def fit(self, run, n_steps: int, phase: int, label: str) -> None:
    """``n_steps`` optimisation steps of every song, from a fresh optimiser state."""
    per_call = fit_lib.dispatch_size(self.config)
    # Every compiled call sees the same input shardings (else it would compile again).
    state = self.put(jax.vmap(functools.partial(fit_lib.start_phase, optimizer=self.optimizer))(
        run["state"]))
    alive = self.put(evaluate_lib.stack_masks(
        [t.to_alive(f) for t, f in zip(self.tables, run["flags"])]))
    a = self.arrays
    bar = tqdm(total=n_steps, desc=label, disable=not self.progress, leave=False)
    for _ in range(n_steps // per_call):
      first = int(state.step[0])
      costs = self.sparsity_costs(state, run["flags"])
      state, metrics = fit_lib.run_steps(self.put(state), a["console"], a["crop_key"], a["tracks"], a["mix"],
                                         alive, a["n_samples"], self.sparsity, costs,
                                         settings=self.settings, optimizer=self.optimizer)
      metrics = jax.device_get(metrics)
      run["history"].append({"step": np.arange(first, first + per_call),
                             "phase": np.full(per_call, phase), **metrics})
      bar.update(per_call)
      bar.set_postfix(loss=f"{float(np.mean(metrics['loss'][:, -1])):.4f}",
                      alive=int(sum(f.sum() for f in run["flags"][:self.n_real])))
    bar.close()
    run["state"] = jax.block_until_ready(state)

  # -- hooks of other search methods (``graph_search.precise``) ---------------

  def sparsity_costs(self, state, flags):
    """Per-node sparsity costs for the next dispatch (None: the paper's plain sum)."""
    return None

  def after_round(self, run, r: int) -> None:
    """Called after pruning round ``r``'s trials, before its fine-tuning."""

  def finish(self, run) -> None:
    """Called after the last fine-tuning, before the pruned graph is scored."""

  # -- the search loop -------------------------------------------------------

  def new_run(self) -> dict:
    """The resumable progress of a fresh search: everything a checkpoint holds."""
    params = jax.tree.map(lambda *a: np.stack(a), *[
        console_lib.init_params(c, k) for c, k in zip(self.consoles, self.init_keys)])
    state = self.put(jax.vmap(functools.partial(fit_lib.init_state, optimizer=self.optimizer))(params))
    n = len(self.tables)
    return {
        "state": state, "next_round": -1,
        "flags": [t.from_alive(c.all_alive()) & t.of_types(self.config.processors)
                  for t, c in zip(self.tables, self.consoles)],
        "l_min": [float("inf")] * n, "trials": [[] for _ in range(n)],
        "round_losses": [[] for _ in range(n)], "history": [],
        "seconds": {"console_fit": 0.0, "trials": 0.0, "finetune": 0.0, "total": 0.0},
        "loss_sum": [float("nan")] * n, "loss_console": [float("nan")] * n,
    }

  def prune(self, run, r: int) -> None:
    """Pruning round ``r`` (from 0) for every song, trials batched across songs."""
    logits = jax.device_get(run["state"].params.drywet_logits)
    steps, requests = [], []
    for s, table in enumerate(self.tables):
      drywet = np.array([logits[n.level][n.processor][s, n.index] for n in table.nodes])
      sampler = prune_lib.make_sampler(
          self.config.sampler, r, table, run["flags"][s], 1 / (1 + np.exp(-drywet)),
          np.random.default_rng([self.seeds_padded(s), r]), brute_every=self.config.brute_every)
      gen = prune_lib.prune_round_steps(
          sampler, run["flags"][s], run["l_min"][s], tolerance=self.config.tolerance,
          batch=self.trial_batch, round_index=r + 1, table=table)
      steps.append(gen)
      requests.append(next(gen))
    done = [None] * len(steps)
    evaluate = self.round_evaluator(run["state"].params, run["flags"])
    while any(d is None for d in done):
      losses = evaluate([q if d is None else [] for q, d in zip(requests, done)])
      for s, gen in enumerate(steps):
        if done[s] is not None:
          continue
        try:
          requests[s] = gen.send(losses[s])
        except StopIteration as stop:
          done[s] = stop.value
    for s, (flags, l_min, trials, start_loss) in enumerate(done):
      run["flags"][s], run["l_min"][s] = flags, l_min
      run["trials"][s] += trials
      run["round_losses"][s].append(start_loss)

  def seeds_padded(self, s: int) -> int:
    return self.seeds[s] if s < len(self.seeds) else self.seeds[0]

  def fit_and_prune(self, run: dict, save) -> None:
    """The console fit (unless ``run`` is past it), then the remaining pruning rounds;
    ``save()`` after the fit and after every round."""
    config = self.config
    if run["next_round"] < 0:
      compiling = self.compile_ahead(run)
      t0 = time.perf_counter()
      self.fit(run, config.console_steps, 0, "console fit")
      run["seconds"]["console_fit"] = time.perf_counter() - t0
      if compiling is not None:
        compiling.result()
      params = run["state"].params
      # The plain sum: no processor alive, so the (fitted) parameters play no part.
      none = [np.zeros_like(f) for f in run["flags"]]
      run["loss_sum"] = [float(v[0]) for v in self.evaluate(params, [[f] for f in none])]
      run["loss_console"] = [float(v[0]) for v in self.evaluate(params, [[f] for f in run["flags"]])]
      run["next_round"] = 0
      save()

    rounds = tqdm(range(run["next_round"], config.rounds), desc="pruning", initial=run["next_round"],
                  total=config.rounds, disable=not self.progress, leave=False)
    for r in rounds:
      t0 = time.perf_counter()
      self.prune(run, r)
      self.after_round(run, r)
      run["seconds"]["trials"] += time.perf_counter() - t0
      rounds.set_postfix(alive=int(sum(f.sum() for f in run["flags"][:self.n_real])))
      t0 = time.perf_counter()
      self.fit(run, config.finetune_steps, r + 1, f"fine-tune {r + 1}/{config.rounds}")
      run["seconds"]["finetune"] += time.perf_counter() - t0
      run["next_round"] = r + 1
      save()
    rounds.close()

  def run(self, checkpoint_dir: str | None, resume: bool) -> list[SearchResult]:
    config = self.config
    compiled_before = _compile_counts()
    stamp = None
    if checkpoint_dir:
      stamp = checkpoint_lib.fingerprint_batch(self.songs, config, self.seeds, self.optimizer)
    t_start = time.perf_counter()
    run = None
    if checkpoint_dir and resume and checkpoint_lib.check(checkpoint_dir, stamp):
      run = checkpoint_lib.load(checkpoint_dir, stamp, template=self.new_run())
    if run is None:
      run = self.new_run()
      saved_round = None  # what the checkpoint on disk holds (None: nothing of this run)
    else:
      run["state"] = self.put(run["state"])
      saved_round = run["next_round"]
    # Seconds of the earlier (interrupted) runs, up to their last checkpoint.
    earlier_seconds = float(run["seconds"].get("total", 0.0))

    def elapsed() -> float:
      return earlier_seconds + time.perf_counter() - t_start

    def save():
      nonlocal saved_round
      if checkpoint_dir:
        run["seconds"]["total"] = elapsed()
        checkpoint_lib.save(checkpoint_dir, run, stamp)
        saved_round = run["next_round"]

    try:
      self.fit_and_prune(run, save)
    except KeyboardInterrupt as interrupt:
      raise SearchInterrupted(checkpoint_dir, saved_round, config.rounds) from interrupt

    self.finish(run)
    if config.rounds:
      params = run["state"].params
      loss_pruned = [float(v[0]) for v in self.evaluate(params, [[f] for f in run["flags"]])]
    else:
      loss_pruned = run["loss_console"]
    seconds = dict(run["seconds"], total=elapsed())
    compilations = {k: v - compiled_before[k] for k, v in _compile_counts().items()}
    history = _stack_history(run["history"], n_songs=len(self.tables))
    state = jax.device_get(run["state"])
    return [self.result(s, run, state, history, loss_pruned[s], seconds, compilations)
            for s in range(self.n_real)]

  def result(self, s, run, state, history, loss_pruned, seconds, compilations) -> SearchResult:
    """The ``SearchResult`` of song ``s``."""
    song, table, flags = self.songs[s], self.tables[s], run["flags"][s]
    ratio_per_type = {}
    for t in self.config.processors:
      of_type = table.of_type(t)
      ratio_per_type[t] = float(1 - flags[of_type].sum() / max(of_type.sum(), 1))
    in_console = table.of_types(self.config.processors)
    per_song = {k: (v if k in ("step", "phase") else v[s]) for k, v in history.items()}
    return SearchResult(
        params=jax.tree.map(lambda x: x[s], state.params),
        alive=table.to_alive(flags),
        console=self.consoles[s],
        loss_sum=run["loss_sum"][s],
        loss_console=run["loss_console"][s],
        loss_pruned=loss_pruned,
        pruning_ratio=float(1 - flags.sum() / max(in_console.sum(), 1)),
        pruning_ratio_per_type=ratio_per_type,
        history=per_song,
        trials=run["trials"][s],
        round_losses=run["round_losses"][s],
        seconds=seconds,
        compilations=compilations,
        track_names=list(song.track_names),
        group_names=list(song.group_names),
        track_groups=list(song.resolved_groups()),
        config=self.config,
        seed=self.seeds[s],
    )
