"""Fitting the console: one jitted training step, many per dispatch.

The training objective of one step (REFERENCE §4, §5)::

    L = La(render(crop), mix_crop) + λ_g · Σ gain_staging + λ_r · Σ radii
        + λ_s · c(step) · Σ_alive sigmoid(z)

on one random ``crop_seconds`` crop (the same offset for every track and the
mix), with the first ``omit_seconds`` cut from both before ``La``.
The optimiser state is re-initialised at the start of every phase (console
fit, each fine-tune) and every ``reset_every`` steps within it, as the
reference re-creates AdamW every 500-step epoch.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mixjax import batching
from mixjax import console as console_lib
from mixjax import loss as loss_lib
from mixjax.graph_search.config import SearchConfig
from mixjax.processors import PENALTY_NAMES


@struct.dataclass
class FitState:
  """Everything that changes during fitting (a pytree).

  Attributes:
    params: the console parameters.
    opt_state: the optimiser state.
    step: global step count (drives the crop key and the sparsity ramp).
    phase_step: steps since the current phase started (drives the resets).
  """
  params: console_lib.ConsoleParams
  opt_state: Any
  step: jax.Array
  phase_step: jax.Array


def sparsity_sum(console: console_lib.Console, params: console_lib.ConsoleParams, alive,
                 costs=None) -> jax.Array:
  """``Σ c_i · sigmoid(z_i)`` over the alive processor nodes.

  ``costs``: per-node weights ``c_i`` (a pytree shaped like the dry/wet
  logits; the precise method's type priors and reweighting), or None for
  the paper's plain sum (``c_i = 1``).
  """
  exists = console.level_exists()
  total = jnp.zeros(())
  for level, logits in params.drywet_logits.items():
    for name, z in logits.items():
      on = jnp.logical_and(alive[level][name], exists[level])
      w = jax.nn.sigmoid(z)
      if costs is not None:
        w = costs[level][name] * w
      total = total + jnp.sum(jnp.where(on, w, 0.0))
  return total


class StepSettings(NamedTuple):
  """The settings a compiled training step depends on (static, hashable).

  Everything else (step counts, rounds, the sparsity schedule) is traced or
  host-side, so changing it does not recompile.
  """
  crop_len: int
  omit_seconds: float
  fft_sizes: tuple
  penalty_weights: tuple  # ((term, λ), ...) in PENALTY_NAMES order
  reset_every: int
  steps_per_call: int
  skip_dead_types: bool  # SearchConfig.skips_dead_types(): lax.cond per type, or masks only


def step_settings(config: SearchConfig, sample_rate: int, *,
                  skip_dead_types: bool | None = None) -> StepSettings:
  """The static step settings of ``config`` (``skip_dead_types``: as resolved by the search,
  default ``config.skips_dead_types()`` of JAX's backend)."""
  return StepSettings(
      crop_len=config.crop_samples(sample_rate), omit_seconds=config.omit_seconds,
      fft_sizes=tuple(config.fft_sizes),
      penalty_weights=tuple((term, getattr(config, f"{term}_weight")) for term in PENALTY_NAMES),
      reset_every=config.reset_every,
      steps_per_call=dispatch_size(config),
      skip_dead_types=(config.skips_dead_types() if skip_dead_types is None
                       else skip_dead_types))


def sparsity_schedule(config: SearchConfig) -> jax.Array:
  """``f32[3]``: (start step, ramp steps, weight) of the sparsity term (traced).

  The term exists only in pruning runs: weight 0 when ``config.rounds == 0``.
  """
  weight = config.sparsity_weight if config.rounds else 0.0
  return jnp.array([config.console_steps, config.sparsity_ramp_steps, weight], jnp.float32)


def objective(params, console, tracks, mix, alive, step, sparsity, *, settings: StepSettings,
              active=None, costs=None):
  """The training loss of one crop and its parts (a dict) as auxiliary output."""
  pred, penalties = console_lib.render(console, params, tracks, alive, active)
  la = loss_lib.mrstft_loss(pred, mix, sample_rate=console.sample_rate,
                            omit_seconds=settings.omit_seconds, fft_sizes=settings.fft_sizes)
  regularizer = loss_lib.regularization(penalties, settings.penalty_weights)
  coefficient = loss_lib.sparsity_weight(step, start_step=sparsity[0], ramp_steps=sparsity[1],
                                         weight=sparsity[2])
  sparsity_term = coefficient * sparsity_sum(console, params, alive, costs)
  total = la + regularizer + sparsity_term
  return total, {"loss": la, "regularizer": regularizer, "sparsity": sparsity_term, "total": total}


def crop(x, start, length: int):
  """``x[..., start:start + length]`` for a traced ``start``."""
  starts = (0,) * (x.ndim - 1) + (start,)
  return jax.lax.dynamic_slice(x, starts, x.shape[:-1] + (length,))


def dispatch_size(config: SearchConfig) -> int:
  """Steps per compiled call: divides every phase length, so one program serves all."""
  size = config.steps_per_dispatch
  for n in (config.console_steps, config.finetune_steps):
    if n > 0:
      size = math.gcd(size, n)
  return size


def default_optimizer(config: SearchConfig) -> optax.GradientTransformation:
  """AdamW as the reference runs it: lr from ``config`` (1e-2), weight decay 0, eps 1e-8."""
  return _adamw(config.learning_rate)


@functools.lru_cache(maxsize=None)
def _adamw(learning_rate: float) -> optax.GradientTransformation:
  # One object per learning rate: the optimizer is a static argument of the
  # compiled step, so searches with other step counts reuse the program.
  return optax.adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0)


def _run_steps_one_song(state: FitState, console: console_lib.Console, key, tracks, mix, alive,
                        n_samples, sparsity, active, costs=None, *, settings: StepSettings,
                        optimizer: optax.GradientTransformation):
  """``settings.steps_per_call`` training steps of one song, with ``lax.scan``."""
  crop_len = settings.crop_len

  def step_fn(state, _):
    start = jax.random.randint(jax.random.fold_in(key, state.step), (), 0,
                               jnp.maximum(n_samples - crop_len, 1))
    grad_fn = jax.value_and_grad(objective, has_aux=True)
    (_, parts), grads = grad_fn(state.params, console, crop(tracks, start, crop_len),
                                crop(mix, start, crop_len), alive, state.step, sparsity,
                                settings=settings, active=active, costs=costs)
    reset = jnp.logical_and(state.phase_step % settings.reset_every == 0, state.phase_step > 0)
    fresh = optimizer.init(state.params)
    opt_state = jax.tree.map(lambda f, s: jnp.where(reset, f, s), fresh, state.opt_state)
    updates, opt_state = optimizer.update(grads, opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return FitState(params=params, opt_state=opt_state, step=state.step + 1,
                    phase_step=state.phase_step + 1), parts

  return jax.lax.scan(step_fn, state, None, length=settings.steps_per_call)


@functools.partial(jax.jit, static_argnames=("settings", "optimizer"))
def run_steps(state: FitState, console: console_lib.Console, key, tracks, mix, alive, n_samples,
              sparsity, costs=None, *, settings: StepSettings,
              optimizer: optax.GradientTransformation):
  """``settings.steps_per_call`` training steps for a batch of songs at once.

  Every array argument but ``sparsity`` has a leading song axis ``S`` (``vmap``).

  Args:
    state: the fit states.
    console: the consoles (routing arrays are traced: no recompiles).
    key: crop keys; step ``s`` of a song crops at
      ``randint(fold_in(key, s), 0, max(n_samples - crop, 1))``.
    tracks: ``[S, T, 2, n]`` whole songs, zero-padded to a shared ``n``.
    mix: ``[S, 2, n]``.
    alive: alive pytrees (traced: pruning does not recompile).
    n_samples: ``int32[S]``, each song's true length.
    sparsity: ``sparsity_schedule(config)``, shared.
    costs: per-node sparsity costs (pytrees like the dry/wet logits, song
      axis first; traced, so changing them does not recompile), or None for
      the paper's unweighted sum (a separate program).
    settings: ``step_settings(config, sample_rate)`` (static);
      optimizer: a static Optax transformation.

  Returns:
    ``(state, metrics)``; ``metrics[k]`` is ``[S, steps]`` for each loss part.
  """
  one_song = functools.partial(_run_steps_one_song, settings=settings, optimizer=optimizer)
  # Over all songs: the types dead in every song are skipped (or None: masks only).
  active = console_lib.active_types(alive) if settings.skip_dead_types else None
  if costs is None:
    return batching.vmap(one_song, in_axes=(0, 0, 0, 0, 0, 0, 0, None, None))(
        state, console, key, tracks, mix, alive, n_samples, sparsity, active)
  return batching.vmap(one_song, in_axes=(0, 0, 0, 0, 0, 0, 0, None, None, 0))(
      state, console, key, tracks, mix, alive, n_samples, sparsity, active, costs)


def start_phase(state: FitState, optimizer: optax.GradientTransformation) -> FitState:
  """A fresh optimiser state for a new phase (console fit or a fine-tune)."""
  return state.replace(opt_state=optimizer.init(state.params),
                       phase_step=jnp.zeros((), jnp.int32))


def init_state(params, optimizer) -> FitState:
  """The state before the first step."""
  return FitState(params=params, opt_state=optimizer.init(params),
                  step=jnp.zeros((), jnp.int32), phase_step=jnp.zeros((), jnp.int32))
