"""Search settings: every default is the paper's (grafx-prune ``configs/base.yaml``)."""

from __future__ import annotations

import dataclasses

import jax

from mixjax.processors import PROCESSORS

SAMPLERS = ("hybrid", "drywet", "brute")
"""Pruning samplers (DAFx-24 §3.2): hybrid is dry/wet with brute force every 4th round."""

METHODS = ("paper", "precise")
"""Search methods: the paper's Algorithm 1 as the reference runs it, or mixjax's
sparser variant (``graph_search.precise``)."""

EXECUTION_SETTINGS = ("skip_dead_types",)
"""``SearchConfig`` settings that choose how the programs run, not what they compute
(the same losses and gradients either way): a checkpoint written with one value
resumes with another."""


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """How to search for a mixing graph.

  Attributes:
    console_steps: optimisation steps of the full console before pruning
      (6000; a console-only run, ``rounds=0``, uses 12000 in the paper).
    finetune_steps: steps after each pruning round (500).
    rounds: pruning rounds (12); 0 fits the console only.
    sampler: ``"hybrid"`` (dry/wet, brute force in every ``brute_every``-th
      round), ``"drywet"`` or ``"brute"``.
    brute_every: hybrid period (4: rounds 4, 8, 12 are brute force).
    tolerance: τ; a trial is accepted iff its loss ≤ L_min + τ (0.01).
    learning_rate: AdamW learning rate (1e-2; weight decay 0).
    reset_every: the optimiser state is re-initialised every this many
      steps (500), as the reference re-creates AdamW every epoch.
    crop_seconds: training crop (3.8 s; the same offset for all tracks).
    omit_seconds: warm-up cut from prediction and target before the loss (1 s).
    eval_hop_seconds: whole-song loss chunk hop (2.8 s; chunks are
      ``crop_seconds`` long, each scored on its last ``crop - omit`` seconds).
    fft_sizes: loss resolutions (512, 1024, 4096; hop ¼).
    gain_staging_weight, radii_weight: regulariser weights (1e-3, 0.5).
    sparsity_weight, sparsity_ramp_steps: ``weight · c · Σ w`` with c ramped
      from 0 to 1 over this many steps from the first pruning round
      (1e-4, 2000).
    steps_per_dispatch: optimisation steps per compiled call (``lax.scan``).
    trial_batch: candidate masks evaluated at once (speculatively; the
      decisions equal the sequential algorithm's). 1 = one trial at a time.
      None (default): 1 on CPU, where speculation only adds work to a busy
      processor (measured in ``benchmarks/RESULTS.md``), 4 on GPU and TPU;
      see ``trials_per_call``; resolved once per search (``resolved``).
    incremental_trials: evaluate trials against cached per-chunk track and
      group outputs, re-rendering only the tracks and groups a candidate
      changes (``graph_search.incremental``; exact up to float rounding,
      and it holds every chunk's node outputs in memory). False renders
      the whole console for every trial.
    max_tracks, max_groups: console padding, the same for every song
      (default: each song's own bucket, ``buckets.padded_count`` of its
      track and group counts, so a song's result never depends on the
      songs it is batched with).
    processors: the processor types in the console (default all seven, in
      chain order); the others are bypassed everywhere (the paper's Table 1
      ablation uses subsets).
    method: ``"paper"`` (default: DAFx-24 Algorithm 1 exactly as the
      reference runs it) or ``"precise"`` (``graph_search.precise``: sparsity
      with per-type costs during the console fit, removed processors may
      return, one-track subgroups in canonical form; sparser graphs, with
      lower recall: ``benchmarks/RESULTS.md``).
    skip_dead_types: how the compiled programs treat a processor type that
      is dead on every node of a level: True skips it at run time (a
      ``lax.cond`` per type and level: 14 per render), False runs every type
      on every node and lets the alive masks choose (no conditional). The
      losses and gradients are the same either way; only the speed differs.
      None (default): ``skips_dead_types()`` of the backend.
  """
  console_steps: int = 6000
  finetune_steps: int = 500
  rounds: int = 12
  sampler: str = "hybrid"
  brute_every: int = 4
  tolerance: float = 0.01
  learning_rate: float = 1e-2
  reset_every: int = 500
  crop_seconds: float = 3.8
  omit_seconds: float = 1.0
  eval_hop_seconds: float = 2.8
  fft_sizes: tuple[int, ...] = (512, 1024, 4096)
  gain_staging_weight: float = 1e-3
  radii_weight: float = 0.5
  sparsity_weight: float = 1e-4
  sparsity_ramp_steps: int = 2000
  steps_per_dispatch: int = 50
  trial_batch: int | None = None
  incremental_trials: bool = True
  max_tracks: int | None = None
  max_groups: int | None = None
  processors: tuple[str, ...] = PROCESSORS
  method: str = "paper"
  skip_dead_types: bool | None = None

  def __post_init__(self):
    if self.skip_dead_types not in (None, True, False):
      raise ValueError(
          f"SearchConfig: skip_dead_types must be True, False or None, got "
          f"{self.skip_dead_types!r}.")
    if self.method not in METHODS:
      raise ValueError(
          f"SearchConfig: method must be one of {', '.join(METHODS)}, got {self.method!r}.")
    unknown = [p for p in self.processors if p not in PROCESSORS]
    if unknown or not self.processors:
      raise ValueError(
          f"SearchConfig: processors must be a non-empty subset of {PROCESSORS}, got "
          f"{self.processors!r}.")
    object.__setattr__(self, "processors", tuple(p for p in PROCESSORS if p in self.processors))
    if self.sampler not in SAMPLERS:
      raise ValueError(f"SearchConfig: sampler must be one of {SAMPLERS}, got {self.sampler!r}.")
    for name in ("console_steps", "finetune_steps", "rounds", "reset_every",
                 "steps_per_dispatch", "trial_batch", "brute_every", "sparsity_ramp_steps"):
      value = getattr(self, name)
      if name == "trial_batch" and value is None:
        continue
      if not isinstance(value, int) or value < (0 if name in ("console_steps", "finetune_steps", "rounds") else 1):
        raise ValueError(f"SearchConfig: {name} must be a {'non-negative' if name in ('console_steps', 'finetune_steps', 'rounds') else 'positive'} integer, got {value!r}.")
    if not 0 < self.omit_seconds < self.crop_seconds:
      raise ValueError(
          f"SearchConfig: omit_seconds ({self.omit_seconds}) must be positive and shorter "
          f"than crop_seconds ({self.crop_seconds}).")
    if not 0 < self.eval_hop_seconds <= self.crop_seconds:
      raise ValueError(
          f"SearchConfig: eval_hop_seconds ({self.eval_hop_seconds}) must be in (0, crop_seconds].")
    if self.tolerance < 0:
      raise ValueError(f"SearchConfig: tolerance must be >= 0, got {self.tolerance}.")

  @classmethod
  def paper(cls, **overrides) -> "SearchConfig":
    """The paper's settings (the defaults), with ``overrides`` (e.g. ``method="precise"``)."""
    return cls(**overrides)

  @classmethod
  def quick(cls, **overrides) -> "SearchConfig":
    """A small CPU setting: a 4-track song in a few minutes.

    Fewer steps and rounds than the paper, otherwise the same loss, crop and
    samplers (so losses and τ keep their meaning).
    """
    settings = dict(console_steps=400, finetune_steps=50, rounds=4, reset_every=100,
                    sparsity_ramp_steps=100, steps_per_dispatch=50)
    settings.update(overrides)
    return cls(**settings)

  def trials_per_call(self, backend: str | None = None) -> int:
    """``trial_batch``, or its default for ``backend`` (default: JAX's): 1 on CPU, else 4."""
    if self.trial_batch is not None:
      return self.trial_batch
    return 1 if (backend or jax.default_backend()) == "cpu" else 4

  def skips_dead_types(self, backend: str | None = None) -> bool:
    """``skip_dead_types``, or its default for ``backend`` (default: JAX's): True on CPU,
    False on GPU and TPU.

    On the CPU skipping pays (a pruned console skips whole processor types;
    during the console fit every type is alive, and a conditional costs
    next to nothing: ``benchmarks/RESULTS.md``). On an accelerator a
    conditional may read its predicate on the host, a synchronisation each,
    so the default there is the form without conditionals; no GPU or TPU
    measurement exists yet: ``benchmarks/accelerator.sh`` times both forms.
    """
    if self.skip_dead_types is not None:
      return self.skip_dead_types
    return (backend or jax.default_backend()) == "cpu"

  def result_settings(self) -> list:
    """Sorted ``(name, value)`` pairs of the settings that can change a search's result:
    all but ``EXECUTION_SETTINGS``. What the identities of a run hash
    (``checkpoint.fingerprint_batch``, ``collect.song_identity``)."""
    return sorted((k, v) for k, v in dataclasses.asdict(self).items()
                  if k not in EXECUTION_SETTINGS)

  def resolved(self, backend: str | None = None) -> dict:
    """The settings whose default depends on the backend, resolved for ``backend``.

    A search resolves them once, when it starts, and records them
    (``SearchResult.resolved``, graph.json's ``metrics.resolved``, its
    checkpoint), so that a search resumed on another backend keeps them.
    """
    return {"trial_batch": self.trials_per_call(backend),
            "skip_dead_types": self.skips_dead_types(backend)}

  def replace(self, **changes) -> "SearchConfig":
    """A copy with some settings changed."""
    return dataclasses.replace(self, **changes)

  def crop_samples(self, sample_rate: int) -> int:
    return int(round(self.crop_seconds * sample_rate))

  def omit_samples(self, sample_rate: int) -> int:
    return int(round(self.omit_seconds * sample_rate))

  def eval_hop_samples(self, sample_rate: int) -> int:
    return int(round(self.eval_hop_seconds * sample_rate))
