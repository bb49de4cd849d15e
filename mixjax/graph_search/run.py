"""The whole search: fit the full console, then prune and fine-tune.

``search(song)`` runs (REFERENCE §5, §7):

1. ``console_steps`` steps of the full console (every processor on every
   track and subgroup);
2. ``rounds`` times: one pruning round (trials with the sampler of that
   round), then ``finetune_steps`` steps of the surviving graph.

Nothing recompiles during a search: one program fits (any phase, any mask),
one evaluates batches of masks; ``SearchResult.compilations`` reports it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from mixjax import console as console_lib
from mixjax.processors import PROCESSORS, REGISTRY
from mixjax.graph_search import evaluate as evaluate_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search import prune as prune_lib
from mixjax.graph_search.config import SearchConfig


@dataclasses.dataclass
class SearchResult:
  """What a search found.

  Attributes:
    params: the fitted ``ConsoleParams``.
    alive: the pruned graph's alive pytree (numpy bool leaves).
    console: the (padded) console searched.
    loss_sum: whole-song loss of the plain sum of the dry tracks.
    loss_console: whole-song loss of the full console after the console fit.
    loss_pruned: whole-song loss of the pruned, fine-tuned graph.
    pruning_ratio: ρ, pruned processors / processors in the console.
    pruning_ratio_per_type: ρ per processor type.
    history: per optimisation step: ``step``, ``phase`` (0 console fit,
      r ≥ 1 the fine-tune after round r), ``loss``, ``regularizer``,
      ``sparsity``, ``total`` (numpy arrays).
    trials: every pruning trial (``prune.Trial``: round, candidates, loss,
      L_min, accepted).
    round_losses: whole-song loss of the graph at the start of each round.
    seconds: wall time per phase (``console_fit``, ``trials``, ``finetune``,
      ``total``).
    compilations: programs compiled by this search per jitted function (at
      most 1 each; 0 when an earlier search compiled them).
    track_names, group_names, track_groups: the song's, for reading.
    config, seed: what ran.
  """
  params: Any
  alive: dict
  console: console_lib.Console
  loss_sum: float
  loss_console: float
  loss_pruned: float
  pruning_ratio: float
  pruning_ratio_per_type: dict
  history: dict
  trials: list
  round_losses: list
  seconds: dict
  compilations: dict
  track_names: list
  group_names: list
  track_groups: list
  config: SearchConfig
  seed: int

  @property
  def sample_rate(self) -> int:
    return self.console.sample_rate

  def alive_nodes(self) -> set:
    """``(level, index, processor)`` of every surviving processor."""
    return {
        (level, int(i), name)
        for level in console_lib.LEVELS for name in PROCESSORS
        for i in np.flatnonzero(np.asarray(self.alive[level][name])
                                & np.asarray(self.console.level_exists()[level]))
    }

  def render(self, song):
    """The pruned graph's ``[2, n]`` render of the whole song."""
    return np.asarray(self.console.render(
        self.params, song.padded_tracks(self.console.max_tracks),
        jax.tree.map(jnp.asarray, self.alive)))

  def processor_counts(self) -> dict:
    """Alive processors per type in the pruned graph."""
    return console_lib.count_alive(self.console, self.alive)

  def graph(self) -> dict:
    """The surviving processors per track and group, in physical units.

    Returns:
      ``{"tracks": [...], "groups": [...]}``; each entry has ``name``,
      ``index`` (and ``group`` for tracks) and ``processors``: a list, in
      chain order, of ``{"type", "drywet", "controls"}`` with controls from
      each processor's ``controls`` (numpy values).
    """
    sr = self.sample_rate
    out = {"tracks": [], "groups": []}
    for level, names, key in (("track", self.track_names, "tracks"),
                              ("group", self.group_names, "groups")):
      for index, name in enumerate(names):
        chain = []
        for proc in PROCESSORS:
          if not bool(np.asarray(self.alive[level][proc])[index]):
            continue
          node_params = jax.tree.map(lambda p: p[index], self.params.processors[level][proc])
          controls = REGISTRY[proc].controls(node_params, sample_rate=sr)
          chain.append({
              "type": proc,
              "drywet": float(jax.nn.sigmoid(self.params.drywet_logits[level][proc][index])),
              "controls": jax.tree.map(np.asarray, controls),
          })
        entry = {"name": name, "index": index, "processors": chain}
        if level == "track":
          entry["group"] = self.group_names[self.track_groups[index]]
        out[key].append(entry)
    return out

  def summary(self) -> str:
    """A short human-readable report."""
    counts = self.processor_counts()
    lines = [
        f"loss  sum of dry tracks {self.loss_sum:.4f} | full console {self.loss_console:.4f} "
        f"| pruned graph {self.loss_pruned:.4f}",
        f"pruning ratio {self.pruning_ratio:.2f}  ("
        + ", ".join(f"{t} {r:.2f}" for t, r in self.pruning_ratio_per_type.items()) + ")",
        f"processors left {sum(counts.values())}  ("
        + ", ".join(f"{t} {n}" for t, n in counts.items()) + ")",
        "time  " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()),
    ]
    graph = self.graph()
    for level in ("groups", "tracks"):
      for entry in graph[level]:
        chain = " -> ".join(f"{p['type']}({p['drywet']:.2f})" for p in entry["processors"])
        lines.append(f"  {level[:-1]} {entry['name']}: {chain or '(dry)'}")
    return "\n".join(lines)


def _compile_counts() -> dict:
  """Programs compiled so far by the two jitted functions of a search."""
  return {"fit": fit_lib.run_steps._cache_size(),
          "song_loss": evaluate_lib.song_loss._cache_size()}


def _check_song_length(song, config: SearchConfig) -> None:
  crop = config.crop_samples(song.sample_rate)
  if song.n_samples < crop:
    raise ValueError(
        f"the song is {song.n_samples / song.sample_rate:.2f} s long, shorter than one "
        f"training crop ({config.crop_seconds} s); use a longer song or a shorter crop_seconds.")


def search(song, config: SearchConfig | None = None, *, seed: int = 0,
           optimizer: optax.GradientTransformation | None = None,
           progress: bool = True) -> SearchResult:
  """Searches for the mixing graph of ``song``.

  Args:
    song: a ``mixjax.Song``.
    config: the settings (default: the paper's, ``SearchConfig()``).
    seed: makes the run reproducible (parameters, crops, samplers).
    optimizer: any Optax transformation (default AdamW, lr from ``config``,
      weight decay 0). Its state is reset at the start of every phase and
      every ``config.reset_every`` steps.
    progress: show progress bars.

  Returns:
    A ``SearchResult``.
  """
  config = SearchConfig() if config is None else config
  _check_song_length(song, config)
  optimizer = fit_lib.default_optimizer(config) if optimizer is None else optimizer
  console = song.console(max_tracks=config.max_tracks, max_groups=config.max_groups)
  sr = console.sample_rate
  table = prune_lib.NodeTable.of(console)
  tracks = jnp.asarray(song.padded_tracks(console.max_tracks))
  mix = jnp.asarray(song.mix)
  starts = evaluate_lib.chunk_starts(song.n_samples, sample_rate=sr, config=config)
  chunk_len = config.crop_samples(sr)
  eval_tracks = evaluate_lib.pad_for_chunks(tracks, starts, chunk_len)
  eval_mix = evaluate_lib.pad_for_chunks(mix, starts, chunk_len)

  key = jax.random.key(seed)
  init_key, crop_key = jax.random.split(key)
  state = fit_lib.init_state(console.init(init_key), optimizer)
  starts = jnp.asarray(starts, jnp.int32)
  batch = config.trial_batch
  compiled_before = _compile_counts()

  def evaluate(flag_list) -> np.ndarray:
    masks = [jax.tree.map(jnp.asarray, table.to_alive(f)) for f in flag_list]
    masks += [masks[-1]] * (batch - len(masks))
    losses = evaluate_lib.song_loss(state.params, console, eval_tracks, eval_mix,
                                    evaluate_lib.stack_masks(masks), starts, config=config)
    return np.asarray(losses)[:len(flag_list)]

  history = {k: [] for k in ("step", "phase", "loss", "regularizer", "sparsity", "total")}
  seconds = {"console_fit": 0.0, "trials": 0.0, "finetune": 0.0}

  def run_phase(state, n_steps, alive, phase, label):
    state = fit_lib.start_phase(state, optimizer)
    per_call = fit_lib.dispatch_size(config)
    alive_device = jax.tree.map(jnp.asarray, alive)
    bar = tqdm(total=n_steps, desc=label, disable=not progress, leave=False)
    for _ in range(n_steps // per_call):
      first = int(state.step)
      state, metrics = fit_lib.run_steps(state, console, crop_key, tracks, mix, alive_device,
                                         config=config, optimizer=optimizer)
      metrics = jax.device_get(metrics)
      history["step"].append(np.arange(first, first + per_call))
      history["phase"].append(np.full(per_call, phase))
      for k in ("loss", "regularizer", "sparsity", "total"):
        history[k].append(np.asarray(metrics[k]))
      bar.update(per_call)
      bar.set_postfix(loss=f"{float(metrics['loss'][-1]):.4f}")
    bar.close()
    return state

  t_start = time.perf_counter()
  flags = table.from_alive(console.all_alive())
  loss_sum = float(evaluate([np.zeros_like(flags)])[0])

  t0 = time.perf_counter()
  state = run_phase(state, config.console_steps, table.to_alive(flags), 0, "console fit")
  jax.block_until_ready(state.params)
  seconds["console_fit"] = time.perf_counter() - t0
  loss_console = float(evaluate([flags])[0])

  trials, round_losses, l_min = [], [], float("inf")
  rounds = tqdm(range(config.rounds), desc="pruning", disable=not progress, leave=False)
  for r in rounds:
    t0 = time.perf_counter()
    logits = jax.device_get(state.params.drywet_logits)
    drywet = np.array([logits[n.level][n.processor][n.index] for n in table.nodes])
    drywet = 1 / (1 + np.exp(-drywet))
    sampler = prune_lib.make_sampler(
        config.sampler, r, table, flags, drywet, np.random.default_rng([seed, r]),
        brute_every=config.brute_every)
    flags, l_min, round_trials, start_loss = prune_lib.prune_round(
        sampler, flags, l_min, evaluate=evaluate, tolerance=config.tolerance, batch=batch,
        round_index=r + 1, table=table)
    trials += round_trials
    round_losses.append(start_loss)
    seconds["trials"] += time.perf_counter() - t0
    rounds.set_postfix(alive=int(flags.sum()), l_min=f"{l_min:.4f}")
    t0 = time.perf_counter()
    state = run_phase(state, config.finetune_steps, table.to_alive(flags), r + 1,
                      f"fine-tune {r + 1}/{config.rounds}")
    jax.block_until_ready(state.params)
    seconds["finetune"] += time.perf_counter() - t0
  loss_pruned = float(evaluate([flags])[0]) if config.rounds else loss_console
  seconds["total"] = time.perf_counter() - t_start

  total = table.from_alive(console.all_alive())
  ratio_per_type = {}
  for t in PROCESSORS:
    of_type = table.of_type(t)
    ratio_per_type[t] = float(1 - flags[of_type].sum() / max(of_type.sum(), 1))
  return SearchResult(
      params=state.params,
      alive=table.to_alive(flags),
      console=console,
      loss_sum=loss_sum,
      loss_console=loss_console,
      loss_pruned=loss_pruned,
      pruning_ratio=float(1 - flags.sum() / total.sum()),
      pruning_ratio_per_type=ratio_per_type,
      history={k: (np.concatenate(v) if v else np.zeros(0)) for k, v in history.items()},
      trials=trials,
      round_losses=round_losses,
      seconds=seconds,
      compilations={k: v - compiled_before[k] for k, v in _compile_counts().items()},
      track_names=list(song.track_names),
      group_names=list(song.group_names),
      track_groups=list(song.resolved_groups()),
      config=config,
      seed=seed,
  )
