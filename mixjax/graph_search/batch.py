"""``BatchSearch``: the padded, stacked arrays of a batch of songs and the search loop over them.

``run.search_batch`` splits a batch into parts of one bucket and runs one
``BatchSearch`` per part. Its phases (``new_run``, ``fit``, ``prune``,
``round_evaluator``, ``run``) are public so that benchmarks can time each
of them on its own; ``precise.PreciseSearch`` overrides the hooks
``sparsity_costs``, ``after_round`` and ``finish``.
"""

from __future__ import annotations

import concurrent.futures
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mixjax import console as console_lib
from mixjax import nodes as nodes_lib
from mixjax.graph_search import buckets as buckets_lib
from mixjax.graph_search import checkpoint as checkpoint_lib
from mixjax.graph_search import devices as devices_lib
from mixjax.graph_search import evaluate as evaluate_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search import incremental as incremental_lib
from mixjax.graph_search import prune as prune_lib
from mixjax.graph_search.config import SearchConfig
from mixjax.graph_search.result import SearchResult
from mixjax.progress import tqdm

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
          "trial_loss": incremental_lib.trial_loss._cache_size(),
          "trial_cache": incremental_lib.cache_render._cache_size(),
          "trial_rebase": incremental_lib.rebase._cache_size()}


def _stop_if_requested() -> None:
  """Stops a search side by side with one that failed or was interrupted (``devices``)."""
  if devices_lib.stop_requested():
    raise KeyboardInterrupt("stopped: a search beside it failed or was interrupted")


def _stack_history(chunks: list, *, n_songs: int) -> dict:
  """The logged steps of every fit dispatch, joined: ``step`` and ``phase`` ``[steps]``,
  the losses ``[n_songs, steps]`` (empty, with these shapes, when no step ran)."""
  if chunks:
    return {k: np.concatenate([h[k] for h in chunks], axis=-1) for k in HISTORY_KEYS}
  return {k: np.zeros(0, np.int64) if k in ("step", "phase") else np.zeros((n_songs, 0), np.float32)
          for k in HISTORY_KEYS}


def _song_mesh(devices: list):
  """A 1-D mesh over the song axis of ``devices``, or None for one device."""
  if len(devices) == 1:
    return None
  return Mesh(np.array(devices), ("songs",))


class BatchSearch:
  """The padded, stacked arrays of a song batch and the search loop over them.

  ``bucket`` is ``(max_tracks, max_groups)`` (default: the largest of the
  songs' own buckets, ``buckets.song_bucket``). Several songs are sharded
  along the song axis over the first ``len(songs)`` of ``devices`` (default:
  the local devices); one song runs on the calling thread's default device
  (``search_batch``'s workers set it: ``devices.scope``).
  """

  def __init__(self, songs, config: SearchConfig, seeds, optimizer, progress: bool, *,
               bucket: tuple[int, int] | None = None, pad_samples: int | None = None,
               devices=None):
    self.songs, self.config, self.seeds = songs, config, seeds
    self.optimizer, self.progress = optimizer, progress
    sr = songs[0].sample_rate
    devices = list(jax.local_devices() if devices is None else devices)[:len(songs)]
    mesh = _song_mesh(devices)
    n_devices = len(devices)
    # Pad the batch to a multiple of the device count with copies of the first song.
    self.n_real = len(songs)
    padded_songs = songs + [songs[0]] * (-len(songs) % n_devices)
    padded_seeds = seeds + [seeds[0]] * (-len(seeds) % n_devices)
    if bucket is None:  # the largest of the songs' own buckets
      sizes = [buckets_lib.song_bucket(s.n_tracks, s.n_groups, config) for s in songs]
      bucket = (max(t for t, _ in sizes), max(g for _, g in sizes))
    max_tracks, max_groups = bucket
    n = max([s.n_samples for s in songs] + [pad_samples or 0])
    consoles = [console_lib.Console.of(s, max_tracks=max_tracks, max_groups=max_groups) for s in padded_songs]
    self.tables = [nodes_lib.NodeTable.of(c) for c in consoles]
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
    # Settings resolved for the backend once (a resumed search keeps its checkpoint's).
    self.resolved = config.resolved(next(iter(self.starts.devices())).platform)
    self.sparsity = fit_lib.sparsity_schedule(config)

  @property
  def settings(self) -> fit_lib.StepSettings:
    """The step's static settings (``resolved``: ``SearchConfig.skips_dead_types``)."""
    return fit_lib.step_settings(self.config, self.songs[0].sample_rate,
                                 skip_dead_types=self.resolved["skip_dead_types"])

  @property
  def trial_batch(self) -> int:
    """Candidate masks per trial evaluation (``resolved``: ``SearchConfig.trials_per_call``)."""
    return self.resolved["trial_batch"]

  def put(self, tree):
    """Places a stacked pytree on the devices, split along the song axis."""
    if self.sharding is None:
      return jax.device_put(tree)  # uncommitted, on the default device
    return jax.device_put(tree, self.sharding)

  # -- the two compiled calls ------------------------------------------------

  def loss_settings(self) -> dict:
    """The static settings of the whole-song loss programs (evaluation and trials)."""
    return dict(chunk_len=self.config.crop_samples(self.songs[0].sample_rate),
                omit_seconds=self.config.omit_seconds, fft_sizes=tuple(self.config.fft_sizes),
                skip_dead_types=self.resolved["skip_dead_types"])

  def _alive(self, flags):
    """The alive pytrees of every song's flags, stacked and on the devices."""
    return self.put(nodes_lib.stack([t.to_alive(f) for t, f in zip(self.tables, flags)]))

  def _step_args(self, state, alive, flags) -> tuple:
    a = self.arrays
    return (self.put(state), a["console"], a["crop_key"], a["tracks"], a["mix"], alive,
            a["n_samples"], self.sparsity, self.sparsity_costs(state, flags))

  def _evaluate_args(self, params, requests: list) -> tuple:
    batch = self.trial_batch
    masks = []
    for s, request in enumerate(requests):
      flags = list(request) or [np.zeros(len(self.tables[s].nodes), bool)]
      flags += [flags[-1]] * (batch - len(flags))
      masks.append(nodes_lib.stack([self.tables[s].to_alive(f) for f in flags]))
    a = self.arrays
    return (self.put(params), a["console"], a["tracks"], a["mix"],
            self.put(nodes_lib.stack(masks)), self.starts, a["n_chunks"])

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

  def evaluation_programs(self, params, flags) -> dict:
    """The whole-song evaluation ``song_loss`` and, with incremental trials, a round's
    programs (``RoundEvaluator.programs``), with their arguments for ``params`` and
    ``flags``: ``{name: (jitted function, args, static keyword arguments)}``."""
    programs = {"song_loss": (evaluate_lib.song_loss,
                              self._evaluate_args(params, [[f] for f in flags]),
                              self.loss_settings())}
    if self.config.rounds and self.config.incremental_trials:
      programs.update(self.round_evaluator(params, flags).programs())
    return programs

  def programs(self, run) -> dict:
    """Every device program of the search, with its arguments at ``run``'s progress:
    the training step ``fit`` and ``evaluation_programs`` (named as
    ``SearchResult.compilations``). ``fn.lower(*args, **kwargs)`` compiles one,
    ``fn.trace(*args, **kwargs).jaxpr`` shows it."""
    state, flags = run["state"], run["flags"]
    step = (fit_lib.run_steps, self._step_args(state, self._alive(flags), flags),
            dict(settings=self.settings, optimizer=self.optimizer))
    return {"fit": step, **self.evaluation_programs(state.params, flags)}

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
    # The caller's default device and x64 flag are thread-local and key JAX's caches:
    # the thread compiles under the same ones, so that the search's calls find its programs.
    device, x64 = jax.config.jax_default_device, jax.config.jax_enable_x64

    def compile_all():
      with jax.default_device(device), jax.enable_x64(x64):
        for fn, args, kwargs in self.evaluation_programs(params, flags).values():
          fn.lower(*args, **kwargs).compile()

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
    alive = self._alive(run["flags"])
    bar = tqdm(total=n_steps, desc=label, disable=not self.progress, leave=False)
    for _ in range(n_steps // per_call):
      _stop_if_requested()
      first = int(state.step[0])
      state, metrics = fit_lib.run_steps(*self._step_args(state, alive, run["flags"]),
                                         settings=self.settings, optimizer=self.optimizer)
      metrics = jax.device_get(metrics)
      run["history"].append({"step": np.arange(first, first + per_call),
                             "phase": np.full(per_call, phase), **metrics})
      # The loss of the last step's training crop; the summary's losses are whole-song.
      bar.set_postfix({"crop loss": f"{float(np.mean(metrics['loss'][:, -1])):.4f}",
                       "alive": int(sum(f.sum() for f in run["flags"][:self.n_real]))},
                      refresh=False)
      bar.update(per_call)
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
        "flags": [t.of_types(self.config.processors) for t in self.tables],  # every existing node
        "l_min": [float("inf")] * n, "trials": [[] for _ in range(n)],
        "round_losses": [[] for _ in range(n)], "history": [],
        "seconds": {"console_fit": 0.0, "trials": 0.0, "finetune": 0.0, "total": 0.0},
        "loss_sum": [float("nan")] * n, "loss_console": [float("nan")] * n,
        "resolved": dict(self.resolved),
    }

  def prune(self, run, r: int) -> None:
    """Pruning round ``r`` (from 0) for every song, trials batched across songs."""
    logits = jax.device_get(run["state"].params.drywet_logits)
    steps, requests = [], []
    for s, table in enumerate(self.tables):
      drywet = table.values(jax.tree.map(lambda x: x[s], logits))
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
      _stop_if_requested()
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
      rounds.set_postfix(alive=int(sum(f.sum() for f in run["flags"][:self.n_real])),
                         refresh=False)
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
      # The checkpoint's resolved settings, but for those set explicitly (and those an older
      # mixjax did not record): a resumed search keeps the backend defaults it started with.
      explicit = {k: v for k, v in self.resolved.items() if getattr(self.config, k) is not None}
      self.resolved = run["resolved"] = {**self.resolved, **run.get("resolved", {}), **explicit}
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
    where = devices_lib.song_devices(jax.tree.leaves(run["state"].params)[0], len(self.tables))
    state = jax.device_get(run["state"])
    return [self.result(s, run, state, history, loss_pruned[s], seconds, compilations,
                        device=where[s]) for s in range(self.n_real)]

  def result(self, s, run, state, history, loss_pruned, seconds, compilations, *,
             device: str) -> SearchResult:
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
        device=device,
        resolved=dict(self.resolved),
    )
