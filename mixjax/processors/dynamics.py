r"""Shared core of the compressor and the noise gate (grafx ``Compressor``/``NoiseGate``).

Both are feed-forward dynamics processors with the same detector, smoother,
parameters and quadratic knee; they differ only in the static gain computer
(``compressor_log_gain`` above the threshold, ``expander_log_gain`` below it).

Let ``x`` be the ``[2, n]`` input and let the parameters be ``log_threshold``,
``log_ratio``, ``log_knee`` and ``z_alpha`` (grafx: ``z_alpha_pre``). Then

.. math::

  e[t]   &= \tfrac{1}{2} (x_L[t]^2 + x_R[t]^2)
            && \text{mean energy over the channels} \\
  e_s[t] &= \max\Big(0, \sum_{k=0}^{N-1} (1-\alpha)\alpha^k e[t-k]\Big)
            && \text{truncated one-pole smoother, ReLU} \\
  G[t]   &= \ln(e_s[t] + 10^{-5})
            && \text{log-energy envelope (nepers of energy)} \\
  y[t]   &= \exp\big(G_y[t] - G[t]\big)\, x[t]
            && \text{the same gain on both channels}

with the physical settings

.. math::

  \alpha = \min(\sigma(z_\alpha), 1 - 10^{-5}), \quad
  T = \mathrm{log\_threshold} - 6, \quad
  R = 1 + e^{\mathrm{log\_ratio}}, \quad
  W = e^{\mathrm{log\_knee}},

and ``N = round(16384 · sample_rate / 30000)`` taps (16384 at the reference's
30 kHz; the same 0.546 s at every rate). ``G_y`` is the static curve: with
the quadratic-knee ramp of half-width ``w = W/2``

.. math::

  \rho_w(u) = \begin{cases}
    0 & u < -w \\
    (u + w)^2 / (4w) & -w \le u \le w \\
    u & u > w,
  \end{cases}

(continuous, with a continuous first derivative), the reference's three-case
curves are exactly

.. math::

  \text{compressor:}\quad G_y &= G + (1/R - 1)\, \rho_w(G - T), \\
  \text{gate (downward expander):}\quad G_y &= G + (1 - R)\, \rho_w(T - G).

For the compressor this is ``G`` below ``T - W/2``, ``T + (G - T)/R`` above
``T + W/2`` and ``G + (1/R - 1)(G - T + W/2)^2 / (2W)`` in between; for the
gate ``T + R(G - T)`` below ``T - W/2``, ``G`` above ``T + W/2`` and
``G + (1 - R)(G - T - W/2)^2 / (2W)`` in between (the middle case includes
both edges, as in grafx).

Initialisation (all parameters ≈ 0): ``T ≈ -6`` nepers (energy
``e^{-6}``, -26.1 dB), ``R ≈ 2``, ``W ≈ 1`` nepers (4.3 dB), ``α ≈ 0.5``.

.. note:: ``α`` is a per-sample coefficient, so the same ``z_alpha`` is a
  shorter time constant at a higher sample rate; ``controls`` reports it in ms
  at the given rate. The smoother is computed as an exact recurrence for the
  truncated FIR (``dsp.one_pole_smooth``) rather than a 16384-tap FFT
  convolution; the log-gain ``G_y - G`` is computed directly as the ramp term,
  without subtracting two nearly equal logs.

References:
  grafx ``processors/dynamics.py`` ``Compressor``, ``NoiseGate``
  (``gain_quad_knee``), ``core/envelope.py`` ``TruncatedOnePoleIIRFilter``;
  Giannoulis, Massberg & Reiss, "Digital dynamic range compressor design —
  a tutorial and analysis", JAES 2012.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixjax import dsp
from mixjax import units
from mixjax.processors import _effective
from mixjax.processors import _init
from mixjax.processors import _settings

PARAM_SHAPES = {
    "log_threshold": (1,),
    "log_ratio": (1,),
    "log_knee": (1,),
    "z_alpha": (1,),
}
"""Name and shape of every parameter (grafx names the last ``z_alpha_pre``)."""

THRESHOLD_OFFSET = -6.0
"""Added to ``log_threshold`` to get ``T`` (nepers of energy).

grafx hard-codes ``log_threshold - 6`` and gives no reason. Its effect is to put
the threshold at initialisation (``log_threshold ≈ 0``) at energy ``e^{-6}``
≈ -26 dB, inside the range of real tracks, instead of at 0 dB (energy 1,
above any normalised signal, where the processor would do nothing and get no
gradient).
"""

MAX_POLE = 1.0 - 1e-5
"""Upper clamp on ``α``: keeps ``1 - α > 0`` (time constant ≤ 100000 samples)."""

ENERGY_FLOOR = 1e-5
"""Added to the smoothed energy before the log (-50 dB): bounds ``G`` below in silence."""

REFERENCE_SAMPLE_RATE = 30_000
"""Sample rate (Hz) at which grafx's smoother length is defined."""

REFERENCE_SMOOTHER_TAPS = 16_384
"""grafx ``iir_len``: smoother taps at ``REFERENCE_SAMPLE_RATE`` (0.546 s)."""

_MIN_HALF_KNEE = 1e-6
"""Floor (nepers) on the divisor ``w`` of the knee term ``(u + w)² / 4w``.

The gradient of that term has ``1 / w²``, which overflows float32 for
``w ≲ 5e-20`` (and ``w`` itself underflows to 0 for ``log_knee < -88``), giving
``0 · inf = NaN`` even where the branch is not selected. Below 1e-6 nepers the
knee is already narrower than float32's resolution of ``G`` (≈ 1e-6 at
``|G| ≈ 10``), so the floor changes ``G_y`` by at most 1e-6 nepers.
"""

LogGainFn = Callable[..., jax.Array]
"""``(G, threshold, ratio, knee_width) -> G_y - G``: a static gain computer."""


# ---------------------------------------------------------------------------
# Parameters -> physical settings
# ---------------------------------------------------------------------------


def init(key) -> dict:
  """Parameters drawn i.i.d. N(0, 0.01²) (see the module docstring for the settings)."""
  return _init.normal_params(key, PARAM_SHAPES)


def smoother_taps(sample_rate: int) -> int:
  """Smoother length: 16384 taps at 30 kHz, scaled to keep the same duration."""
  return int(round(REFERENCE_SMOOTHER_TAPS * sample_rate / REFERENCE_SAMPLE_RATE))


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(smoother_taps - 1, 0)``: the gain at a sample depends on the input energy
  of the ``smoother_taps`` samples ending there (a causal, truncated smoother)."""
  return (smoother_taps(sample_rate) - 1, 0)


class Settings(NamedTuple):
  """The physical settings of a compressor or gate (scalars)."""
  alpha: jax.Array
  """Smoother pole ``α = min(σ(z_α), 1 - 1e-5)``."""
  threshold: jax.Array
  """``T = log_threshold - 6``, nepers of energy."""
  ratio: jax.Array
  """``R = 1 + exp(log_ratio) > 1``."""
  knee_width: jax.Array
  """``W = exp(log_knee) > 0``, nepers of energy (full width)."""


def settings(params) -> Settings:
  """Map the unconstrained parameters to ``Settings``."""
  return Settings(
      alpha=jnp.minimum(jax.nn.sigmoid(params["z_alpha"][0]), MAX_POLE),
      threshold=params["log_threshold"][0] + THRESHOLD_OFFSET,
      ratio=1.0 + jnp.exp(params["log_ratio"][0]),
      knee_width=jnp.exp(params["log_knee"][0]),
  )


def controls(params, *, sample_rate: int) -> dict:
  """The settings in physical units (scalars).

  Returns:
    ``threshold_db``: ``T`` as an energy level, ``10 log10 e^T`` (a sine of
    peak amplitude ``A`` on both channels has energy ``A²/2``, i.e. its
    dBFS level minus 3.01 dB); ``ratio``: ``R``; ``knee_db``: ``W`` in energy
    dB; ``time_constant_ms``: ``-1 / (sample_rate · ln α)`` in ms.
  """
  s = settings(params)
  return {
      "threshold_db": units.log_energy_to_db(s.threshold),
      "ratio": s.ratio,
      "knee_db": units.log_energy_to_db(s.knee_width),
      "time_constant_ms": units.pole_to_time_constant_ms(s.alpha, sample_rate),
  }


def penalties(params, x, y, *, sample_rate: int) -> dict:
  """No regulariser."""
  del params, x, y, sample_rate
  return {}


# ---------------------------------------------------------------------------
# Detector
# ---------------------------------------------------------------------------


def smooth_energy(energy, alpha, *, n_taps: int):
  """``max(0, energy * h)`` with ``h[k] = (1-α)α^k``, ``k < n_taps`` (causal).

  Args:
    energy: ``[n]`` signal to smooth.
    alpha: scalar pole in ``[0, 1)``.
    n_taps: smoother length.

  Returns:
    ``[n]`` smoothed, rectified signal (grafx applies the ReLU because its
    FFT convolution can return tiny negative values).
  """
  return jax.nn.relu(dsp.one_pole_smooth(energy, alpha, n_taps=n_taps))


def log_envelope(x, alpha, *, sample_rate: int):
  """``G = ln(max(0, mean_c x² * h) + 1e-5)``, the ``[n]`` log-energy envelope of ``x: [2, n]``."""
  energy = jnp.mean(x**2, axis=0)
  smoothed = smooth_energy(energy, alpha, n_taps=smoother_taps(sample_rate))
  return jnp.log(smoothed + ENERGY_FLOOR)


# ---------------------------------------------------------------------------
# Static gain computers
# ---------------------------------------------------------------------------


def knee_ramp(u, half_width):
  """The quadratic-knee ramp ``ρ_w(u)``: 0, then ``(u + w)² / 4w``, then ``u``.

  The knee branch is evaluated on ``u + w`` replaced by 0 outside the knee
  (and ``w`` floored), so no branch can overflow or divide 0 by 0 and
  ``jnp.where`` passes finite gradients everywhere, also at ``u = ±w``
  (where the knee branch is the one selected, as in grafx).

  Args:
    u: distance to the threshold in nepers (any shape).
    half_width: ``w = W / 2 > 0``.

  Returns:
    ``ρ_w(u)``, same shape as ``u``.
  """
  in_knee = jnp.abs(u) <= half_width
  offset = jnp.where(in_knee, u + half_width, 0.0)  # in [0, 2w] where used
  knee = offset**2 / (4 * jnp.maximum(half_width, _MIN_HALF_KNEE))
  return jnp.where(u > half_width, u, jnp.where(u < -half_width, 0.0, knee))


def compressor_log_gain(log_energy, threshold, ratio, knee_width):
  """Compressor: ``G_y - G = (1/R - 1) ρ_{W/2}(G - T)`` (reduces gain above ``T``).

  Args:
    log_energy: ``G``, ``[n]`` nepers of energy.
    threshold: ``T`` (nepers); ratio: ``R > 1``; knee_width: ``W > 0`` (nepers).

  Returns:
    ``[n]`` log amplitude gain ``≤ 0``.
  """
  return (1.0 / ratio - 1.0) * knee_ramp(log_energy - threshold, knee_width / 2)


def expander_log_gain(log_energy, threshold, ratio, knee_width):
  """Gate (downward expander): ``G_y - G = (1 - R) ρ_{W/2}(T - G)`` (reduces gain below ``T``).

  Args:
    log_energy: ``G``, ``[n]`` nepers of energy.
    threshold: ``T`` (nepers); ratio: ``R > 1`` (the expansion slope below
      ``T``); knee_width: ``W > 0`` (nepers).

  Returns:
    ``[n]`` log amplitude gain ``≤ 0``.
  """
  return (1.0 - ratio) * knee_ramp(threshold - log_energy, knee_width / 2)


# ---------------------------------------------------------------------------
# The processor
# ---------------------------------------------------------------------------


def process(params, x, log_gain_fn: LogGainFn, *, sample_rate: int):
  """Run the detector and ``log_gain_fn``, and apply the gain to both channels.

  Args:
    params: ``{"log_threshold", "log_ratio", "log_knee", "z_alpha"}``, each ``[1]``.
    x: ``[2, n]`` float32 stereo signal.
    log_gain_fn: ``compressor_log_gain`` or ``expander_log_gain``.
    sample_rate: in Hz; sets the smoother length.

  Returns:
    ``[2, n]`` ``exp(G_y - G) · x``.
  """
  s = settings(params)
  log_energy = log_envelope(x, s.alpha, sample_rate=sample_rate)
  log_gain = log_gain_fn(log_energy, s.threshold, s.ratio, s.knee_width)
  return jnp.exp(log_gain) * x


# ---------------------------------------------------------------------------
# Effective action at a dry/wet weight
# ---------------------------------------------------------------------------

INPUT_LEVELS_DB = np.arange(-80.0, 0.5, 1.0)
"""Input RMS levels of the static curve in ``effective`` (dB)."""

PROBE_OFFSETS_DB = (6.0, 12.0, 24.0)
"""How far past the threshold (above it for the compressor, below it for the gate)
``effective`` reports the gain."""

SLOPE_SPAN_DB = 12.0
"""``effective`` measures the static curve's slope from the threshold to this far past it
(the stretch of the first two probes, which ``describe`` names)."""


def full_wet_slope(ratio: float, *, gate: bool) -> float:
  r"""Output dB per input dB past the knee, fully wet: ``2/R - 1`` (compressor), ``2R - 1`` (gate).

  The gain computer divides (or multiplies) the distance to the threshold of
  the *energy* envelope ``G`` by ``R``, but its gain ``e^{G_y - G}`` scales the
  *amplitude*, so the level moves twice as far as the energy would: a
  compressor with ``ratio`` 1.6 acts as 4:1 on the level when fully wet, one
  with ``ratio`` ≥ 2 lowers the output as the input rises (the grafx
  convention; the -50 dB detector floor bends the curve near it).
  """
  return 2.0 * ratio - 1.0 if gate else 2.0 / ratio - 1.0


def static_gain_db(params, wet: float, input_rms_db, log_gain_fn: LogGainFn, *,
                   sample_rate: int) -> np.ndarray:
  r"""Steady-state gain (dB) of the node at dry/wet ``w`` for steady inputs.

  A steady input of RMS level ``L`` dB (``e = mean_c x² = 10^{L/10}``, e.g.
  ``L = A cos``, ``R = A sin`` with ``e = A²/2``) settles the detector at
  ``G = ln((1 - α^N) e + 10^{-5})`` (the truncated smoother's DC gain is
  ``1 - α^N``), and the node's output is

  .. math::  y = \big(w\, e^{G_y - G} + 1 - w\big)\, x .

  Note that ``G`` is a log *energy* but ``e^{G_y - G}`` scales the
  *amplitude*: past the knee the output level rises by ``2/R - 1`` dB per dB
  for the compressor (and ``2R - 1`` below the gate's knee) at ``w = 1``
  (``full_wet_slope``).

  Args:
    params: the node's parameters.
    wet: its dry/wet weight ``w``.
    input_rms_db: input levels ``L`` (any shape).
    log_gain_fn: ``compressor_log_gain`` or ``expander_log_gain``.
    sample_rate: Hz (sets ``N``).

  Returns:
    float64 gains in dB, the shape of ``input_rms_db``.
  """
  s = jax.device_get(settings(_effective.numpy_params(params)))
  energy = 10.0 ** (np.asarray(input_rms_db, np.float64) / 10.0)
  smoother_gain = 1.0 - float(s.alpha) ** smoother_taps(sample_rate)
  log_energy = np.log(smoother_gain * energy + ENERGY_FLOOR)
  log_gain = np.asarray(log_gain_fn(log_energy, s.threshold, s.ratio, s.knee_width), np.float64)
  return _effective.gain_db(wet * np.exp(log_gain) + (1.0 - wet))


def effective(params, wet: float, log_gain_fn: LogGainFn, *, sample_rate: int) -> dict:
  """The static curve of a compressor or gate at dry/wet ``w`` (``static_gain_db``).

  Returns:
    A JSON-ready dict: ``input_rms_db`` ``[81]`` (-80 to 0 dB) and
    ``gain_db`` ``[81]``, the static curve; ``threshold_db``, ``knee_db``,
    ``ratio`` (the nominal settings, as ``controls``: ``ratio`` is grafx's
    ``R``, see ``full_wet_slope``); ``time_constant_ms`` (the detector's one
    time constant: attack = release); ``probe_input_rms_db`` and
    ``probe_gain_db`` ``[3]``: the gain at 6, 12 and 24 dB past the threshold
    (above it for the compressor, below it for the gate); ``slope``: output
    dB per input dB from the threshold to 12 dB past it, at this dry/wet
    (1: no action; below 1 compresses; above 1 expands); ``max_reduction_db``:
    ``20 log10(1 - w)``, the most the node can lower the level (its dry path
    stays); ``wet``: ``w``.
  """
  c = jax.device_get(_effective.jitted(controls, sample_rate)(_effective.numpy_params(params)))
  threshold_db, knee_db = float(c["threshold_db"]), float(c["knee_db"])
  direction = 1.0 if log_gain_fn is compressor_log_gain else -1.0

  def gain(levels):
    return static_gain_db(params, wet, np.asarray(levels, np.float64), log_gain_fn,
                          sample_rate=sample_rate)

  probes = threshold_db + direction * np.asarray(PROBE_OFFSETS_DB)
  g_threshold, g_span = gain([threshold_db, threshold_db + direction * SLOPE_SPAN_DB])
  return {
      "wet": _effective.number(wet, 4),
      "input_rms_db": _effective.numbers(INPUT_LEVELS_DB, 1),
      "gain_db": _effective.numbers(gain(INPUT_LEVELS_DB)),
      "threshold_db": _effective.number(threshold_db),
      "knee_db": _effective.number(knee_db),
      "ratio": _effective.number(c["ratio"], 3),
      "time_constant_ms": _effective.number(c["time_constant_ms"], 3),
      "probe_input_rms_db": _effective.numbers(probes),
      "probe_gain_db": _effective.numbers(gain(probes)),
      "slope": _effective.number(1.0 + (g_span - g_threshold) / (direction * SLOPE_SPAN_DB), 3),
      "max_reduction_db": _effective.number(_effective.gain_db(1.0 - wet)),
  }


def _is_gate(effective_dict: dict) -> bool:
  return effective_dict["probe_input_rms_db"][0] < effective_dict["threshold_db"]


def _ratio_words(slope: float, *, gate: bool) -> str:
  """A level slope as an engineer's ratio: ``"4.0:1"``, ``"1:2.0"``, ``"∞:1"``."""
  if gate:
    return f"1:{slope:.1f}"
  if abs(slope) < 0.005:
    return "∞:1"
  if slope < 0:
    return f"output falls as input rises (slope {slope:.2f})".replace("-", "\u2212")
  return f"{1 / slope:.1f}:1"


def settings_words(effective_dict: dict) -> list[str]:
  """The nominal settings: ``["threshold −29.3 dB RMS", "ratio 1.60 (4.0:1 fully wet)",
  "knee 29.3 dB", "attack = release 0.1 ms"]``."""
  e = effective_dict
  slope = full_wet_slope(e["ratio"], gate=_is_gate(e))
  full_wet = ("fully wet, the output falls as the input rises" if slope <= -0.005 else
              f"{_ratio_words(slope, gate=_is_gate(e))} fully wet")
  return [f"threshold {_effective.db(e['threshold_db'], '.1f')} RMS",
          f"ratio {e['ratio']:.2f} ({full_wet})",
          f"knee {e['knee_db']:.1f} dB",
          f"attack = release {e['time_constant_ms']:.2g} ms"]


def effect_words(effective_dict: dict) -> list[str]:
  """What the node does at its dry/wet: ``["≈1.1:1 over the 12 dB above the threshold",
  "−0.5 dB at 6 dB over", "−1.0 dB at 12 dB over", "never below −3.0 dB"]``."""
  e = effective_dict
  gate = _is_gate(e)
  where = "under" if gate else "over"
  span = f"over the {SLOPE_SPAN_DB:.0f} dB {'below' if gate else 'above'} the threshold"
  ratio = _ratio_words(e["slope"], gate=gate)
  words = [("" if ratio.startswith("output") else "≈") + f"{ratio} {span}"]
  words += [f"{_effective.db(gain)} at {abs(level - e['threshold_db']):.0f} dB {where}"
            for level, gain in list(zip(e["probe_input_rms_db"], e["probe_gain_db"]))[:2]]
  return words + [f"never below {_effective.db(e['max_reduction_db'])}"]


def describe(effective_dict: dict) -> str:
  """The nominal settings, then what they do at the node's dry/wet: ``"settings threshold
  −29.3 dB RMS, ratio 1.60 (4.0:1 fully wet), knee 29.3 dB, attack = release 0.1 ms; at its
  dry/wet ≈1.1:1 over the 12 dB above the threshold: −0.5 dB at 6 dB over, −1.0 dB at
  12 dB over, never below −3.0 dB"``."""
  effect = effect_words(effective_dict)
  return (f"settings {', '.join(settings_words(effective_dict))}; at its dry/wet "
          f"{effect[0]}: {', '.join(effect[1:])}")


def compare(truth_effective: dict, found_effective: dict) -> dict:
  """A found compressor or gate against the true one: ``threshold_db`` (found − true),
  ``ratio_factor`` and ``time_constant_factor`` (found / true) and ``curve_rms_db``, the
  RMS difference of their static curves at their dry/wets over -80…0 dB RMS."""
  t, f = truth_effective, found_effective
  return {"threshold_db": _effective.number(f["threshold_db"] - t["threshold_db"]),
          "ratio_factor": _effective.number(f["ratio"] / t["ratio"], 3),
          "time_constant_factor": _effective.number(
              f["time_constant_ms"] / t["time_constant_ms"], 3),
          "curve_rms_db": _effective.rms_difference_db(t["gain_db"], f["gain_db"])}


# ---------------------------------------------------------------------------
# Physical settings (the synthetic songs' prior) and their raw parameters
# ---------------------------------------------------------------------------


def params_from_settings(settings, *, sample_rate: int, init_params=None) -> dict:
  """Compressor or gate parameters from the settings ``controls`` reports.

  Inverts ``T = log_threshold - 6`` (``threshold_db = 10 log10 e^T``),
  ``R = 1 + e^{log_ratio}``, ``W = e^{log_knee}`` (``knee_db = 10 log10 e^W``)
  and ``α = σ(z_α)`` with ``α = exp(-1 / (sample_rate · τ))``.

  Runs under ``jit``, ``grad`` and ``vmap`` (``_settings``), where settings
  out of range are not checked but give NaN.

  Args:
    settings: ``threshold_db`` (energy level, dB), ``ratio`` (> 1),
      ``knee_db`` (knee width > 0, energy dB) and ``time_constant_ms``
      (> 0; ``α`` must stay below ``MAX_POLE``: ``τ`` below 100000 samples).
    sample_rate: Hz.
    init_params: unused.

  Returns:
    ``{"log_threshold", "log_ratio", "log_knee", "z_alpha"}``, each ``float32[1]``.
  """
  del init_params
  xp = _settings.namespace(settings)
  ratio, knee_db = settings["ratio"], settings["knee_db"]
  time_constant_ms = settings["time_constant_ms"]
  if xp is np and (ratio <= 1 or knee_db <= 0 or time_constant_ms <= 0):
    raise ValueError(f"dynamics.params_from_settings: need ratio > 1, knee_db > 0 and "
                     f"time_constant_ms > 0, got {ratio}, {knee_db}, {time_constant_ms}.")
  alpha = xp.exp(-1000.0 / (sample_rate * _settings.floats(xp, time_constant_ms)))
  if xp is np and alpha > MAX_POLE:
    raise ValueError(f"dynamics.params_from_settings: time_constant_ms={time_constant_ms} is "
                     f"too long for the smoother (pole {alpha} > {MAX_POLE}).")
  raw = {
      "log_threshold": units.db_to_log_energy(settings["threshold_db"]) - THRESHOLD_OFFSET,
      "log_ratio": xp.log(_settings.floats(xp, ratio) - 1),
      "log_knee": xp.log(units.db_to_log_energy(_settings.floats(xp, knee_db))),
      "z_alpha": xp.log(alpha) - xp.log1p(-alpha),  # the logit of α
  }
  return {name: _settings.param(xp, value, (1,)) for name, value in raw.items()}


def sample_shape(rng, *, ratio_range) -> dict:
  """Random ``ratio`` in ``ratio_range``, knee 1–2 nepers (4.3–8.7 dB), time constant 5–30 ms."""
  return {
      "ratio": float(rng.uniform(*ratio_range)),
      "knee_db": float(units.log_energy_to_db(rng.uniform(1.0, 2.0))),
      "time_constant_ms": float(rng.uniform(5.0, 30.0)),
  }
