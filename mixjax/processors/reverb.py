r"""Mid/side noise reverb shaped by a decaying STFT mask (grafx ``STFTMaskedNoiseReverb``).

Two fixed uniform noises ``v_M, v_S ~ U[-1, 1)`` of ``IR_SECONDS`` = 2 s
(``L = round(2 · sample_rate)`` samples) are drawn once from
``np.random.RandomState(0)`` and shared by every node. Their STFTs
``V_x[k, m]`` (``N_FFT`` = 384, ``HOP`` = 192 samples, periodic Hann, centred
with reflect padding; ``K = 193`` bins, ``M = 1 + L // 192`` frames) are
multiplied by a mask that starts at a learnt level and decays exponentially
at a learnt per-bin rate,

.. math::
  \mathcal M_x[k, m] = \exp\Big(\frac{H^0_x[k] - \mathrm{softplus}(Δ_x[k])\,m}{8}\Big),
  \qquad x ∈ \{M, S\}, \; m = 0..M-1,

with ``H^0 = init_log_magnitude`` and ``Δ = delta_log_magnitude``; the
whole log-mask is divided by ``MASK_SCALE`` = 8 and the decay is always
negative. The inverse STFT gives the mid and side responses, which become
left/right without any ½,

.. math::
  h_M, h_S = \mathrm{istft}(V ⊙ \mathcal M), \qquad h_L = h_M + h_S, \; h_R = h_M - h_S;

the stereo IR is energy-normalised (``mean_c Σ_t h_c² = 1``) and convolved
causally with each channel (left with left, right with right).

Parameters (``init`` draws each i.i.d. N(0, 0.01²)):

* ``init_log_magnitude``: ``[2, 193]`` ``H^0`` for (mid, side), bin ``k`` at
  ``k · sample_rate / 384`` Hz.
* ``delta_log_magnitude``: ``[2, 193]`` ``Δ``, the unconstrained decay.

The mask amplitude falls by ``softplus(Δ)/8`` nepers per frame (``HOP /
sample_rate`` s), so 60 dB (``ln 1000`` nepers) take
``T60 = 8 ln(1000) / softplus(Δ) · HOP / sample_rate``. At init
(``softplus(0) = ln 2``) that is 79.7 frames: 510 ms at 30 kHz, 1.9 s at 8 kHz
(the STFT sizes are fixed in samples, as in the reference).

References:
  Lee et al., "Searching for Music Mixing Graphs: A Pruning Approach",
  DAFx 2024. grafx ``processors/reverb.py`` ``STFTMaskedNoiseReverb``
  (``processor_channel="pseudo_midside"``, ``fixed_noise=True``, no gain
  envelope).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from mixjax import dsp
from mixjax import units
from mixjax.processors import _effective
from mixjax.processors import _fir
from mixjax.processors import _init
from mixjax.processors import _settings
from mixjax.processors import base

IR_SECONDS = 2.0
"""Length of the impulse response (s)."""

N_FFT = 384
"""STFT size of the noise and mask (samples, fixed for every sample rate)."""

HOP = 192
"""STFT hop (samples, fixed for every sample rate)."""

NUM_BINS = N_FFT // 2 + 1
"""Frequency bins of the mask (193)."""

MASK_SCALE = 8.0
"""The log-mask is divided by this before ``exp`` (grafx's hard-coded ``/ 8``)."""

NOISE_SEED = 0
"""Seed of the ``np.random.RandomState`` that draws the shared noise."""

LN_60_DB = math.log(1000.0)
"""60 dB of amplitude in nepers (``ln 1000``)."""

PARAM_SHAPES = {
    "init_log_magnitude": (2, NUM_BINS),
    "delta_log_magnitude": (2, NUM_BINS),
}
"""Name -> shape of every parameter of one node."""


def ir_length(sample_rate: int) -> int:
  """Samples in the impulse response, ``L = round(2 · sample_rate)``."""
  return dsp.seconds_to_samples(IR_SECONDS, sample_rate)


def num_frames(sample_rate: int) -> int:
  """STFT frames of the IR, ``1 + L // HOP``."""
  return 1 + ir_length(sample_rate) // HOP


def init(key):
  """Initial parameters ``{"init_log_magnitude": [2, 193], "delta_log_magnitude": [2, 193]}``."""
  return _init.normal_params(key, PARAM_SHAPES)


# ---------------------------------------------------------------------------
# The fixed noise (NumPy constants, built once per sample rate)
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _noise(sample_rate: int) -> np.ndarray:
  """The shared (mid, side) noise ``[2, L]``: ``RandomState(0).uniform · 2 − 1`` in float32."""
  draw = np.random.RandomState(NOISE_SEED).uniform(size=(2, ir_length(sample_rate)))
  noise = (draw * 2 - 1).astype(np.float32)
  noise.setflags(write=False)
  return noise


@functools.lru_cache(maxsize=None)
def _noise_stft(sample_rate: int) -> np.ndarray:
  """STFT of ``_noise`` ``[2, 193, M]`` (complex64), computed in float64.

  ``dsp.stft`` (``torch.stft``'s convention) of the float64 noise: ``M =
  1 + L // HOP = num_frames`` frames.
  """
  noise = _noise(sample_rate).astype(np.float64)
  spec = dsp.stft(noise, n_fft=N_FFT, hop=HOP).astype(np.complex64)
  spec.setflags(write=False)
  return spec


# ---------------------------------------------------------------------------
# Processor functions
# ---------------------------------------------------------------------------


def decay_mask(init_log_magnitude, delta_log_magnitude, *, n_frames: int):
  """``exp((H0[c, k] − softplus(Δ[c, k]) · m) / 8)`` for ``m = 0..n_frames − 1``.

  Args:
    init_log_magnitude: ``[..., K]`` ``H0``.
    delta_log_magnitude: ``[..., K]`` ``Δ``.
    n_frames: number of STFT frames.

  Returns:
    ``[..., K, n_frames]`` positive mask.
  """
  frame = jnp.arange(n_frames, dtype=init_log_magnitude.dtype)
  decay = jax.nn.softplus(delta_log_magnitude)
  log_mask = init_log_magnitude[..., None] - decay[..., None] * frame
  return jnp.exp(log_mask / MASK_SCALE)


def impulse_response(params, *, sample_rate: int):
  """The energy-normalised (left, right) impulse response ``[2, L]``."""
  mask = decay_mask(params["init_log_magnitude"], params["delta_log_magnitude"],
                    n_frames=num_frames(sample_rate))
  mid, side = dsp.istft(_noise_stft(sample_rate) * mask, n_fft=N_FFT, hop=HOP,
                        length=ir_length(sample_rate))
  return dsp.energy_normalize(jnp.stack([mid + side, mid - side]))


apply, prepare, apply_prepared = _fir.causal_filter(impulse_response, ir_length, what="Reverberates")


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(L - 1, 0)``: a causal FIR as long as the impulse response."""
  return (ir_length(sample_rate) - 1, 0)


def controls(params, *, sample_rate: int):
  """The reverb settings in physical units.

  Returns:
    A dict of arrays; ``[2, 193]`` entries are indexed by (mid/side, bin):

    * ``frequency_hz`` ``[193]``: bin centres ``k · sample_rate / 384``.
    * ``initial_level_db``: the mask's level at frame 0, ``20 log10 e^{H0/8}``
      (relative: the IR is energy-normalised afterwards).
    * ``decay_db_per_s``: how fast the mask falls, ``20 log10 e · softplus(Δ)/8``
      per frame of ``HOP / sample_rate`` s.
    * ``t60_ms``: time for the mask to fall by 60 dB,
      ``8 ln(1000) / softplus(Δ) · HOP / sample_rate``.
    * ``t60_mid_ms``, ``t60_side_ms``: medians of ``t60_ms`` over the bins.
  """
  frame_s = HOP / sample_rate
  decay_per_frame = jax.nn.softplus(params["delta_log_magnitude"]) / MASK_SCALE  # nepers
  t60_ms = 1000.0 * frame_s * LN_60_DB / decay_per_frame
  return {
      "frequency_hz": jnp.asarray(np.arange(NUM_BINS) * sample_rate / N_FFT, jnp.float32),
      "initial_level_db": units.log_gain_to_db(params["init_log_magnitude"] / MASK_SCALE),
      "decay_db_per_s": units.log_gain_to_db(decay_per_frame) / frame_s,
      "t60_ms": t60_ms,
      "t60_mid_ms": jnp.median(t60_ms[0]),
      "t60_side_ms": jnp.median(t60_ms[1]),
  }


def penalties(params, x, y, *, sample_rate: int):
  """Gain staging ``|ln(mean x² + ε) − ln(mean y² + ε)|`` (``dsp.gain_staging``)."""
  del params, sample_rate
  return {"gain_staging": dsp.gain_staging(x, y)}


# ---------------------------------------------------------------------------
# Effective action at a dry/wet weight
# ---------------------------------------------------------------------------

T60_FIT_DB = (-5.0, -25.0)
"""The stretch of the Schroeder curve that ``schroeder_t60_ms`` fits (a T20)."""


def schroeder_t60_ms(energy, sample_rate: int) -> float:
  r"""Reverberation time from an impulse response's energy ``e[t]`` (Schroeder 1965).

  The backward-integrated energy ``S(t) = Σ_{τ ≥ t} e[τ]`` in dB re ``S(0)``
  is fitted by a line (least squares) where it lies between -5 and -25 dB,
  and ``T60 = -60 / slope``. A response cut short of its decay (here 2 s)
  bends ``S`` down at the end, so a T60 much longer than the response reads
  short.

  Args:
    energy: ``[n]`` squared impulse response (e.g. averaged over channels).
    sample_rate: Hz.

  Returns:
    T60 in ms.
  """
  energy = np.asarray(energy, np.float64)
  tail = np.cumsum(energy[::-1])[::-1]
  decay_db = 10.0 * np.log10(np.maximum(tail / tail[0], 1e-300))
  upper, lower = T60_FIT_DB
  fit = (decay_db <= upper) & (decay_db >= lower)
  if fit.sum() < 2:
    fit = decay_db >= lower
  seconds = np.arange(len(energy))[fit] / sample_rate
  slope = np.polyfit(seconds, decay_db[fit], 1)[0]
  return 1000.0 * -60.0 / min(slope, -1e-9)


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """The reverb's decay and level at dry/wet ``w``.

  Returns:
    A JSON-ready dict: ``t60_ms`` (``schroeder_t60_ms`` of the rendered
    response averaged over left and right), ``t60_mid_ms``/``t60_side_ms``
    (of its mid and side), ``wet_level_db`` ``20 log10 w`` (the response has
    unit energy, so this is the reverb's level re the input for white noise),
    ``dry_level_db`` ``20 log10(1 - w)``, ``side_to_mid_db`` (the response's
    side energy re its mid energy: its width), and ``wet``.
  """
  ir = np.asarray(_effective.jitted(impulse_response, sample_rate)(
      _effective.numpy_params(params)), np.float64)
  mid, side = (ir[0] + ir[1]) / 2, (ir[0] - ir[1]) / 2
  return {
      "wet": _effective.number(wet, 4),
      "t60_ms": _effective.number(schroeder_t60_ms(np.mean(ir**2, axis=0), sample_rate), 1),
      "t60_mid_ms": _effective.number(schroeder_t60_ms(mid**2, sample_rate), 1),
      "t60_side_ms": _effective.number(schroeder_t60_ms(side**2, sample_rate), 1),
      "wet_level_db": _effective.number(_effective.gain_db(wet)),
      "dry_level_db": _effective.number(_effective.gain_db(1.0 - wet)),
      "side_to_mid_db": _effective.number(
          _effective.gain_db(np.sqrt(np.sum(side**2) / max(np.sum(mid**2), 1e-300)))),
  }


def describe(effective_dict: dict) -> str:
  """``"T60 1.2 s, wet −6.0 dB, dry −6.0 dB"``."""
  e = effective_dict
  t60 = e["t60_ms"]
  t60_text = f"{t60:.0f} ms" if t60 < 1000 else f"{t60 / 1000:.1f} s"
  return (f"T60 {t60_text}, wet {_effective.db(e['wet_level_db'])}, "
          f"dry {_effective.db(e['dry_level_db'])}")


def compare(truth_effective: dict, found_effective: dict) -> dict:
  """A found node against the true one: ``t60_ms`` and ``wet_level_db``, found − true."""
  return _effective.differences(truth_effective, found_effective, ("t60_ms", "wet_level_db"))


# ---------------------------------------------------------------------------
# Physical settings (the synthetic songs' prior) and their raw parameters
# ---------------------------------------------------------------------------


def settings_t60_ms(settings, frequency_hz, *, sample_rate: int) -> np.ndarray:
  """T60 per frequency: ``t60_ms · (1 + (high_t60_ratio - 1) · f / (sample_rate / 2))``."""
  f = _settings.floats(_settings.namespace(settings), frequency_hz)
  return settings["t60_ms"] * (1 + (settings["high_t60_ratio"] - 1) * f / (sample_rate / 2))


def params_from_settings(settings, *, sample_rate: int, init_params=None) -> dict:
  r"""Parameters with a frequency-dependent T60 and a side level.

  The decay per frame is ``softplus(Δ) / 8`` nepers, so a T60 of ``τ`` ms
  needs ``softplus(Δ) = 8 ln(1000) · HOP / (sample_rate · τ / 1000)``, and
  ``Δ = ln(e^s - 1)``. The mid starts at 0 dB and the side at
  ``side_level_db`` (``H0 = 8 · ln 10^{side_level_db / 20}``).

  Args:
    settings: ``t60_ms`` (T60 at 0 Hz), ``high_t60_ratio`` (T60 at Nyquist
      over T60 at 0 Hz, linear in between: ``settings_t60_ms``) and
      ``side_level_db`` (initial level of the side response relative to the mid).
    sample_rate: Hz.
    init_params: unused.

  Runs under ``jit``, ``grad`` and ``vmap`` (``_settings``).

  Returns:
    ``{"init_log_magnitude": float32[2, 193], "delta_log_magnitude": float32[2, 193]}``.
  """
  del init_params
  xp = _settings.namespace(settings)
  frequency_hz = np.arange(NUM_BINS) * sample_rate / N_FFT
  t60_s = settings_t60_ms(settings, frequency_hz, sample_rate=sample_rate) / 1000.0
  softplus = MASK_SCALE * LN_60_DB * HOP / (sample_rate * t60_s)
  delta = xp.log(xp.expm1(softplus))  # the inverse of softplus
  side_h0 = MASK_SCALE * units.db_to_log_gain(_settings.floats(xp, settings["side_level_db"]))
  init_level = xp.stack([xp.zeros(NUM_BINS), xp.full(NUM_BINS, side_h0)])
  return {"init_log_magnitude": _settings.param(xp, init_level),
          "delta_log_magnitude": _settings.param(xp, xp.stack([delta, delta]))}


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """T60 0.4–2 s at 0 Hz, 0.3–0.8 of it at Nyquist; side level -6…0 dB."""
  del x, sample_rate
  return {
      "t60_ms": float(rng.uniform(400.0, 2000.0)),
      "high_t60_ratio": float(rng.uniform(0.3, 0.8)),
      "side_level_db": float(rng.uniform(-6.0, 0.0)),
  }


PROCESSOR = base.Processor(
    name="reverb", label="reverb", short_label="reverb", colour="#9c755f",
    param_shapes=PARAM_SHAPES, penalty_names=("gain_staging",), init=init, apply=apply,
    prepare=prepare, apply_prepared=apply_prepared,
    controls=controls, penalties=penalties, context_samples=context_samples,
    effective=effective, describe=describe, compare=compare,
    params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form="per_channel", sparsity_cost=1.0)
