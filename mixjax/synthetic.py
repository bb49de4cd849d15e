r"""Synthetic songs with a known mixing graph, to test and measure the search.

``synthetic_song(key)`` makes the dry tracks of a short procedural song,
groups them, draws a sparse random mixing graph on the console (which
processors are alive on which node, with which settings), renders the mix
with ``Console.render`` and returns both the ``Song`` and its
``GroundTruth``. Everything is deterministic from ``key``; nothing is
downloaded.

**The music.** One tempo, key, scale and chord progression (one chord per
bar) per song. Instruments are cycled over the tracks in ``INSTRUMENTS``
order: ``drums`` (kick, snare and hats on a 16th-note groove, like overhead
microphones), ``bass`` (8th notes on the chord roots, a mellow saw),
``chords`` (detuned oscillators, one voice per chord tone, the two detuned
copies on opposite sides), ``lead`` (a melody with delayed vibrato), then
close ``kick``, ``snare`` and ``hat`` tracks. Every track has its own pan,
per-bar dynamics (0 to -6 dB), a muted half-bar now and then, a hiss floor
(about -60 dB below its peak) and a peak level around -12 dBFS, so that
gates and compressors have something to act on.

**The graph.** Each (node, processor) pair is alive with probability
``density`` (at least one per song). An alive processor gets physical
settings in clearly audible ranges and a dry/wet weight
``w ~ U[0.6, 0.95]`` (logit ``ln(w / (1 - w))``); dead ones keep their
initial-like parameters (N(0, 0.01²), as ``Console.init`` draws them) and
logit 0:

=============  ==============================================================
processor      settings
=============  ==============================================================
eq             1–3 bands (peak, low or high shelf) of ±4–9 dB, a smooth curve
compressor     threshold 6–15 dB below the RMS level of the node's input,
               ratio 3–8, knee 1–2 nepers (4.3–8.7 dB), time constant 5–30 ms
noisegate      threshold between the quiet and loud parts of the node's input
               envelope, ratio 2–4, knee and time constant as above
imager         side gain ±(6–12) dB
gain_pan       -9…+6 dB per channel (at least 3 dB off unity or between sides)
delay          1–2 taps per channel at 100–600 ms, the other taps silenced
reverb         T60 0.4–2 s at low frequencies, shorter towards Nyquist
=============  ==============================================================

Compressor and gate thresholds are set from the node's actual input (the
track or group signal after the upstream alive processors), measured with
partial renders of the console. ``random_graph(key, tracks, track_groups,
sample_rate=...)`` draws such a graph for dry tracks of your own (the
realistic benchmark songs use it).

The mix is exactly ``Console.render`` of the ground truth and is not
normalised: with boosts on both levels its peak can exceed 0 dBFS (write it
as float audio).

The physical -> raw conversions (``eq_params``, ``dynamics_params``, ...)
are the inverses of the processors' ``controls``: ``controls(raw)`` returns
the settings they were given.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import signal as sps

from mixjax import nodes
from mixjax import units
from mixjax import validation
from mixjax.console import LEVELS, Console, ConsoleParams
from mixjax.data import Song
from mixjax.processors import PROCESSORS, REGISTRY, delay, dynamics, eq, reverb
from mixjax.processors._init import INIT_STD

# ---------------------------------------------------------------------------
# Ground truth containers
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NodeSettings:
  """The settings of one alive processor of the ground-truth graph.

  Attributes:
    level: ``"track"`` or ``"group"``.
    index: the track or group index.
    processor: a name in ``PROCESSORS``.
    settings: the physical settings (see the module docstring; keys as
      the processor's ``controls`` names them where they coincide).
    drywet: the wet weight ``w`` in ``[0, 1]``.
  """
  level: str
  index: int
  processor: str
  settings: Mapping[str, Any]
  drywet: float

  @property
  def node(self) -> tuple[str, int, str]:
    """``(level, index, processor)``."""
    return (self.level, self.index, self.processor)


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
  """The mixing graph that rendered a synthetic song's mix.

  Attributes:
    params: the console parameters of every node (alive or not).
    alive: ``{"track": {name: bool[T]}, "group": {name: bool[G]}}``.
    settings: one ``NodeSettings`` per alive processor, in console order
      (level, processor, index).
  """
  params: ConsoleParams
  alive: dict
  settings: tuple[NodeSettings, ...]

  def alive_nodes(self) -> set[nodes.Node]:
    """The ``nodes.Node(level, index, processor)`` of every alive processor."""
    return nodes.alive_set(self.alive)


def recovery_scores(truth_nodes: set, found_nodes: set) -> dict:
  """Precision, recall and F1 of a found set of nodes against the true set.

  With ``tp = |truth ∩ found|``, ``fp = |found - truth|``, ``fn = |truth - found|``:

  .. math::
    P = \frac{tp}{tp + fp}, \quad R = \frac{tp}{tp + fn}, \quad
    F_1 = \frac{2PR}{P + R}.

  A ratio with a zero denominator is 0, except that two empty sets match
  perfectly (all scores 1).

  Args:
    truth_nodes: e.g. ``GroundTruth.alive_nodes()``.
    found_nodes: nodes of the same form kept by a search.

  Returns:
    ``{"precision", "recall", "f1"}`` floats and ``{"tp", "fp", "fn"}`` ints.
  """
  truth_nodes, found_nodes = set(truth_nodes), set(found_nodes)
  tp = len(truth_nodes & found_nodes)
  fp = len(found_nodes - truth_nodes)
  fn = len(truth_nodes - found_nodes)
  if not truth_nodes and not found_nodes:
    return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 0, "fp": 0, "fn": 0}
  precision = tp / (tp + fp) if tp + fp else 0.0
  recall = tp / (tp + fn) if tp + fn else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


# ---------------------------------------------------------------------------
# Physical settings -> raw parameters (inverses of the processors' controls)
# ---------------------------------------------------------------------------


def drywet_logit(drywet: float) -> float:
  """``z = ln(w / (1 - w))``, so that ``sigmoid(z) = w``; ``w`` in ``(0, 1)``."""
  return math.log(drywet) - math.log1p(-drywet)


def eq_gain_db(bands: Sequence[Mapping[str, Any]], frequency_hz) -> np.ndarray:
  r"""The EQ curve in dB: the sum of smooth bands on a log-frequency axis.

  With ``u = log2(f / f_c)`` (``f`` floored at 1 Hz), gain ``g`` (dB) and
  bandwidth ``b`` (octaves) of each band:

  .. math::
    \text{peak: } g\, e^{-u^2 / (2σ^2)},\ σ = \frac{b}{2\sqrt{2\ln 2}}
    \qquad \text{low shelf: } g\, σ(-4u/b) \qquad
    \text{high shelf: } g\, σ(4u/b),

  so a peak is ``b`` octaves wide at half its gain, and a shelf moves from
  2 % to 98 % of its gain over ``b`` octaves around ``f_c``.

  Args:
    bands: dicts with ``kind`` (``"peak"``, ``"low_shelf"``, ``"high_shelf"``),
      ``frequency_hz``, ``gain_db`` and ``bandwidth_octaves``.
    frequency_hz: ``[k]`` frequencies.

  Returns:
    ``float64[k]`` gains in dB.
  """
  f = np.maximum(np.asarray(frequency_hz, np.float64), 1.0)
  curve = np.zeros_like(f)
  for band in bands:
    u = np.log2(f / band["frequency_hz"])
    width = band["bandwidth_octaves"]
    if band["kind"] == "peak":
      sigma = width / (2 * math.sqrt(2 * math.log(2)))
      shape = np.exp(-0.5 * (u / sigma)**2)
    elif band["kind"] == "low_shelf":
      shape = 1 / (1 + np.exp(4 * u / width))
    elif band["kind"] == "high_shelf":
      shape = 1 / (1 + np.exp(-4 * u / width))
    else:
      raise ValueError(f"eq_gain_db: unknown band kind {band['kind']!r}; "
                       f"use 'peak', 'low_shelf' or 'high_shelf'.")
    curve += band["gain_db"] * shape
  return curve


def eq_params(bands: Sequence[Mapping[str, Any]], *, sample_rate: int) -> dict:
  """EQ parameters whose ``controls(...)["gain_db"]`` is ``eq_gain_db(bands, f_k)``.

  Args:
    bands: see ``eq_gain_db``.
    sample_rate: Hz; the bins sit at ``f_k = k · sample_rate / 2047``.

  Returns:
    ``{"log_magnitude": float32[1024]}``.
  """
  gain_db = eq_gain_db(bands, np.asarray(eq.bin_frequencies_hz(sample_rate)))
  return {"log_magnitude": np.asarray(units.db_to_log_gain(gain_db), np.float32)}


def dynamics_params(*, threshold_db: float, ratio: float, knee_db: float,
                    time_constant_ms: float, sample_rate: int) -> dict:
  """Compressor or gate parameters from the settings ``dynamics.controls`` reports.

  Inverts ``T = log_threshold - 6`` (``threshold_db = 10 log10 e^T``),
  ``R = 1 + e^{log_ratio}``, ``W = e^{log_knee}`` (``knee_db = 10 log10 e^W``)
  and ``α = σ(z_α)`` with ``α = exp(-1 / (sample_rate · τ))``.

  Args:
    threshold_db: energy level of the threshold (dB).
    ratio: ``> 1``.
    knee_db: knee width ``> 0`` (energy dB).
    time_constant_ms: smoother time constant ``> 0``; ``α`` must stay below
      ``dynamics.MAX_POLE`` (``τ`` below 100000 samples).
    sample_rate: Hz.

  Returns:
    ``{"log_threshold", "log_ratio", "log_knee", "z_alpha"}``, each ``float32[1]``.
  """
  if ratio <= 1 or knee_db <= 0 or time_constant_ms <= 0:
    raise ValueError(f"dynamics_params: need ratio > 1, knee_db > 0 and time_constant_ms > 0, "
                     f"got {ratio}, {knee_db}, {time_constant_ms}.")
  alpha = math.exp(-1000.0 / (sample_rate * time_constant_ms))
  if alpha > dynamics.MAX_POLE:
    raise ValueError(f"dynamics_params: time_constant_ms={time_constant_ms} is too long for "
                     f"the smoother (pole {alpha} > {dynamics.MAX_POLE}).")
  raw = {
      "log_threshold": units.db_to_log_energy(threshold_db) - dynamics.THRESHOLD_OFFSET,
      "log_ratio": math.log(ratio - 1),
      "log_knee": math.log(units.db_to_log_energy(knee_db)),
      "z_alpha": math.log(alpha) - math.log1p(-alpha),
  }
  return {name: np.array([value], np.float32) for name, value in raw.items()}


def imager_params(*, side_gain_db: float) -> dict:
  """``{"log_gain": float32[1]}`` with ``20 log10 e^g = side_gain_db``."""
  return {"log_gain": np.array([units.db_to_log_gain(side_gain_db)], np.float32)}


def gain_pan_params(*, left_gain_db: float, right_gain_db: float) -> dict:
  """``{"log_gain": float32[2]}`` with the given channel gains in dB."""
  return {"log_gain": np.array([units.db_to_log_gain(left_gain_db),
                                units.db_to_log_gain(right_gain_db)], np.float32)}


DELAY_SILENT_LOG_MAGNITUDE = -12.0
"""Colour log-magnitude of a silenced delay tap (``e^{-12}``: -104 dB)."""

DELAY_TAP_RADIUS = 4.0
"""``|z̃|`` of an audible delay tap: ``tanh 4 = 0.9993``, a sharp surrogate."""


def delay_params(taps: Sequence[Mapping[str, Any]], *, sample_rate: int,
                 init_params: Mapping[str, Any] | None = None) -> dict:
  r"""Delay parameters with the given taps audible and every other tap silenced.

  A tap at ``delay_samples = mN + d`` (segment ``m``, ``N = round(0.1 ·
  sample_rate)``) gets ``z̃ = 4 e^{-j 2π d / N}``, whose surrogate peaks at
  ``d``, and a flat colour ``ln a`` with amplitude ``a``; the tap levels are
  normalised so that ``mean_c Σ_m a²`` = 1, which is how ``controls`` reports
  them after the IR's energy normalisation. Silenced taps get colour
  ``DELAY_SILENT_LOG_MAGNITUDE``.

  Args:
    taps: dicts with ``channel`` (0 left, 1 right), ``delay_samples`` and
      ``gain_db`` (relative levels; at most one tap per segment and channel).
    sample_rate: Hz.
    init_params: the ``delay_z`` of the silenced taps are taken from here
      (default: zeros).

  Returns:
    ``{"delay_z": float32[40, 2], "log_fir_magnitude": float32[40, 20]}``.
  """
  n = delay.segment_length(sample_rate)
  delay_z = (np.zeros(delay.PARAM_SHAPES["delay_z"], np.float64) if init_params is None
             else np.array(init_params["delay_z"], np.float64))
  log_fir = np.full(delay.PARAM_SHAPES["log_fir_magnitude"], DELAY_SILENT_LOG_MAGNITUDE)
  gains_db = np.array([tap["gain_db"] for tap in taps], np.float64)
  # Normalise the levels as the IR's energy normalisation will: mean over channels of Σ a².
  gains_db -= units.log_energy_to_db(math.log(np.sum(10**(gains_db / 10)) / delay.NUM_CHANNELS))
  used = set()
  for tap, gain_db in zip(taps, gains_db):
    segment, within = divmod(int(tap["delay_samples"]), n)
    if not 0 <= segment < delay.NUM_SEGMENTS:
      raise ValueError(f"delay_params: delay of {tap['delay_samples']} samples is beyond the "
                       f"{delay.NUM_SEGMENTS} segments of {n} samples.")
    index = tap["channel"] * delay.NUM_SEGMENTS + segment
    if index in used:
      raise ValueError(f"delay_params: two taps in segment {segment} of channel {tap['channel']}.")
    used.add(index)
    phase = -2 * math.pi * within / n
    delay_z[index] = DELAY_TAP_RADIUS * np.array([math.cos(phase), math.sin(phase)])
    log_fir[index] = units.db_to_log_gain(gain_db)
  return {"delay_z": delay_z.astype(np.float32), "log_fir_magnitude": log_fir.astype(np.float32)}


def delay_tap_gains_db(taps: Sequence[Mapping[str, Any]]) -> np.ndarray:
  """The normalised tap levels (dB) that ``delay_params`` gives ``taps``, in order."""
  gains_db = np.array([tap["gain_db"] for tap in taps], np.float64)
  return gains_db - units.log_energy_to_db(
      math.log(np.sum(10**(gains_db / 10)) / delay.NUM_CHANNELS))


def reverb_t60_ms(settings: Mapping[str, Any], frequency_hz, *, sample_rate: int) -> np.ndarray:
  """T60 per frequency: ``t60_ms · (1 + (high_t60_ratio - 1) · f / (sample_rate / 2))``."""
  f = np.asarray(frequency_hz, np.float64)
  return settings["t60_ms"] * (1 + (settings["high_t60_ratio"] - 1) * f / (sample_rate / 2))


def reverb_params(*, t60_ms: float, high_t60_ratio: float, side_level_db: float,
                  sample_rate: int) -> dict:
  r"""Reverb parameters with a frequency-dependent T60 and a side level.

  The decay per frame is ``softplus(Δ) / 8`` nepers, so a T60 of ``τ`` ms
  needs ``softplus(Δ) = 8 ln(1000) · HOP / (sample_rate · τ / 1000)``, and
  ``Δ = ln(e^s - 1)``. The mid starts at 0 dB and the side at
  ``side_level_db`` (``H0 = 8 · ln 10^{side_level_db / 20}``).

  Args:
    t60_ms: T60 at 0 Hz.
    high_t60_ratio: T60 at Nyquist over T60 at 0 Hz (linear in between,
      see ``reverb_t60_ms``).
    side_level_db: initial level of the side response relative to the mid.
    sample_rate: Hz.

  Returns:
    ``{"init_log_magnitude": float32[2, 193], "delta_log_magnitude": float32[2, 193]}``.
  """
  frequency_hz = np.arange(reverb.NUM_BINS) * sample_rate / reverb.N_FFT
  settings = {"t60_ms": t60_ms, "high_t60_ratio": high_t60_ratio}
  t60_s = reverb_t60_ms(settings, frequency_hz, sample_rate=sample_rate) / 1000.0
  softplus = reverb.MASK_SCALE * reverb.LN_60_DB * reverb.HOP / (sample_rate * t60_s)
  delta = np.log(np.expm1(softplus))  # the inverse of softplus
  side_h0 = reverb.MASK_SCALE * units.db_to_log_gain(side_level_db)
  init_level = np.stack([np.zeros(reverb.NUM_BINS), np.full(reverb.NUM_BINS, side_h0)])
  return {"init_log_magnitude": init_level.astype(np.float32),
          "delta_log_magnitude": np.stack([delta, delta]).astype(np.float32)}


def processor_params(processor: str, settings: Mapping[str, Any], *, sample_rate: int,
                     init_params: Mapping[str, Any] | None = None) -> dict:
  """Raw parameters of one node from its physical ``settings`` (as stored in ``NodeSettings``)."""
  if processor == "eq":
    return eq_params(settings["bands"], sample_rate=sample_rate)
  if processor in ("compressor", "noisegate"):
    return dynamics_params(sample_rate=sample_rate, **settings)
  if processor == "imager":
    return imager_params(**settings)
  if processor == "gain_pan":
    return gain_pan_params(**settings)
  if processor == "delay":
    return delay_params(settings["taps"], sample_rate=sample_rate, init_params=init_params)
  if processor == "reverb":
    return reverb_params(sample_rate=sample_rate, **settings)
  raise ValueError(
      f"processor_params: unknown processor {processor!r}; expected one of {PROCESSORS}.")


# ---------------------------------------------------------------------------
# Random physical settings
# ---------------------------------------------------------------------------


def _sample_eq(rng, *, sample_rate: int) -> dict:
  top_hz = min(8000.0, 0.35 * sample_rate)
  bands = []
  for _ in range(rng.integers(1, 4)):
    kind = rng.choice(["peak", "peak", "low_shelf", "high_shelf"])
    if kind == "peak":
      frequency_hz = math.exp(rng.uniform(math.log(80.0), math.log(top_hz)))
      width = rng.uniform(0.7, 2.0)
    elif kind == "low_shelf":
      frequency_hz, width = rng.uniform(80.0, 400.0), rng.uniform(1.0, 2.0)
    else:
      frequency_hz = rng.uniform(min(2000.0, 0.2 * sample_rate), top_hz)
      width = rng.uniform(1.0, 2.0)
    gain_db = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 9.0)
    bands.append({"kind": str(kind), "frequency_hz": float(frequency_hz),
                  "gain_db": float(gain_db), "bandwidth_octaves": float(width)})
  return {"bands": tuple(bands)}


def _sample_dynamics_shape(rng, *, ratio_range) -> dict:
  return {
      "ratio": float(rng.uniform(*ratio_range)),
      "knee_db": float(units.log_energy_to_db(rng.uniform(1.0, 2.0))),
      "time_constant_ms": float(rng.uniform(5.0, 30.0)),
  }


def _sample_compressor(rng, x, *, sample_rate: int) -> dict:
  """Threshold 6–15 dB below the energy level (RMS) of the node input ``x: [2, n]``."""
  del sample_rate
  level_db = 10 * math.log10(float(np.mean(np.square(x, dtype=np.float64))) + 1e-12)
  settings = _sample_dynamics_shape(rng, ratio_range=(3.0, 8.0))
  return {"threshold_db": level_db - rng.uniform(6.0, 15.0), **settings}


def _sample_noisegate(rng, x, *, sample_rate: int) -> dict:
  """Threshold between the quiet (10th percentile) and loud (95th) envelope levels of ``x``."""
  settings = _sample_dynamics_shape(rng, ratio_range=(2.0, 4.0))
  alpha = math.exp(-1000.0 / (sample_rate * settings["time_constant_ms"]))
  energy = np.mean(np.square(x, dtype=np.float64), axis=0)
  smoothed = np.maximum(sps.lfilter([1 - alpha], [1, -alpha], energy), 0.0)
  envelope_db = 10 * np.log10(smoothed + dynamics.ENERGY_FLOOR)
  quiet_db, loud_db = np.percentile(envelope_db, [10, 95])
  threshold_db = quiet_db + rng.uniform(0.4, 0.7) * (loud_db - quiet_db)
  return {"threshold_db": float(threshold_db), **settings}


def _sample_imager(rng) -> dict:
  return {"side_gain_db": float(rng.choice([-1.0, 1.0]) * rng.uniform(6.0, 12.0))}


def _sample_gain_pan(rng) -> dict:
  while True:  # redraw settings too close to unity to be heard
    left_db, right_db = rng.uniform(-9.0, 6.0, size=2)
    if max(abs(left_db), abs(right_db), abs(left_db - right_db)) >= 3.0:
      return {"left_gain_db": float(left_db), "right_gain_db": float(right_db)}


def _sample_delay(rng, *, sample_rate: int) -> dict:
  n = delay.segment_length(sample_rate)
  taps = []
  for channel in range(delay.NUM_CHANNELS):
    segments = rng.choice(np.arange(1, 6), size=rng.integers(1, 3), replace=False)  # 100–600 ms
    offset_db = rng.uniform(-3.0, 3.0)
    for k, segment in enumerate(sorted(segments)):
      delay_samples = int(segment * n + rng.integers(0, n))
      taps.append({
          "channel": channel,
          "delay_samples": delay_samples,
          "delay_ms": float(units.samples_to_ms(delay_samples, sample_rate)),
          "gain_db": offset_db - (rng.uniform(1.0, 6.0) if k else 0.0),
      })
  for tap, gain_db in zip(taps, delay_tap_gains_db(taps)):
    tap["gain_db"] = float(gain_db)  # the levels controls() reports
  return {"taps": tuple(taps)}


def _sample_reverb(rng) -> dict:
  return {
      "t60_ms": float(rng.uniform(400.0, 2000.0)),
      "high_t60_ratio": float(rng.uniform(0.3, 0.8)),
      "side_level_db": float(rng.uniform(-6.0, 0.0)),
  }


# ---------------------------------------------------------------------------
# Dry tracks
# ---------------------------------------------------------------------------

INSTRUMENTS = ("drums", "bass", "chords", "lead", "kick", "snare", "hat")
"""Instrument of track ``i``: ``INSTRUMENTS[i % 7]``."""

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PROGRESSIONS = ((0, 5, 3, 4), (0, 4, 5, 3), (5, 3, 0, 4), (0, 3, 4, 3), (0, 5, 1, 4))
"""Scale degrees of the chord roots, one chord per bar."""

_MAX_PAN = {"drums": 0.3, "bass": 0.15, "chords": 0.6, "lead": 0.5, "kick": 0.1, "snare": 0.35,
            "hat": 0.7}


@dataclasses.dataclass(frozen=True)
class _Score:
  """What every instrument of a song shares."""
  sample_rate: int
  n_samples: int
  beat_s: float
  root_midi: int  # the key's root in octave 2 (bass register)
  scale: tuple
  progression: tuple

  @property
  def step_s(self) -> float:  # a 16th note
    return self.beat_s / 4

  @property
  def n_steps(self) -> int:
    return int(math.ceil(self.n_samples / self.sample_rate / self.step_s))

  def chord(self, step: int) -> int:
    """Scale degree of the chord root at 16th step ``step``."""
    return self.progression[(step // 16) % len(self.progression)]

  def midi(self, degree: int, octave: int = 0) -> int:
    """MIDI note of a scale degree (any integer), ``octave`` octaves above the bass root."""
    return self.root_midi + 12 * (octave + degree // 7) + self.scale[degree % 7]


def _midi_hz(midi):
  return 440.0 * 2.0**((np.asarray(midi, np.float64) - 69) / 12)


def _placed(template, onsets_s, velocities, n: int, sample_rate: int):
  """Overlap-add ``template [2, L]`` at every onset, scaled by its velocity: ``[2, n]``."""
  impulses = np.zeros(n)
  index = np.round(np.asarray(onsets_s) * sample_rate).astype(int)
  keep = index < n
  np.add.at(impulses, index[keep], np.asarray(velocities)[keep])
  return sps.fftconvolve(impulses[None], template, axes=-1)[:, :n]


def _filtered_noise(rng, shape, low_hz, high_hz, sample_rate: int):
  nyquist = sample_rate / 2
  high_hz = min(high_hz, 0.9 * nyquist)
  low_hz = min(low_hz, 0.5 * high_hz)
  sos = sps.butter(2, [low_hz, high_hz], btype="bandpass", fs=sample_rate, output="sos")
  return sps.sosfilt(sos, rng.standard_normal(shape), axis=-1)


def _stereo_noise(rng, n: int, low_hz, high_hz, sample_rate: int, width: float):
  """Band-limited noise ``[2, n]``, a fraction ``width`` independent per channel."""
  common = _filtered_noise(rng, (1, n), low_hz, high_hz, sample_rate)
  own = _filtered_noise(rng, (2, n), low_hz, high_hz, sample_rate)
  return (1 - width) * common + width * own


def _kick_template(rng, sample_rate: int):
  t = np.arange(int(0.4 * sample_rate)) / sample_rate
  start_hz, end_hz = rng.uniform(120, 180), rng.uniform(42, 60)
  sweep_s, decay_s = rng.uniform(0.02, 0.05), rng.uniform(0.12, 0.25)
  phase = 2 * np.pi * (end_hz * t + (start_hz - end_hz) * sweep_s * (1 - np.exp(-t / sweep_s)))
  body = np.sin(phase) * np.exp(-t / decay_s) * np.minimum(t / 0.002, 1)
  click = _filtered_noise(rng, (t.size,), 1500, 5000, sample_rate) * np.exp(-t / 0.004)
  mono = body + 0.3 * click / (np.max(np.abs(click)) + 1e-12)
  return np.stack([mono, mono])


def _snare_template(rng, sample_rate: int):
  t = np.arange(int(0.3 * sample_rate)) / sample_rate
  noise = _stereo_noise(rng, t.size, 1000, 7000, sample_rate, width=0.3)
  noise *= np.exp(-t / rng.uniform(0.05, 0.12)) / (np.std(noise) * 4 + 1e-12)
  tone = np.sin(2 * np.pi * rng.uniform(160, 220) * t) * np.exp(-t / 0.04)
  return noise + 0.6 * tone


def _hat_template(rng, sample_rate: int, decay_s: float):
  t = np.arange(int(5 * decay_s * sample_rate)) / sample_rate
  noise = _stereo_noise(rng, t.size, 6000, 14000, sample_rate, width=0.5)
  return noise * np.exp(-t / decay_s) / (np.std(noise) * 4 + 1e-12)


def _groove(rng, score: _Score, part: str):
  """Onsets (s) and velocities of one drum part on the 16th grid."""
  steps = np.arange(score.n_steps)
  in_bar = steps % 16
  if part == "kick":
    extra = np.isin(in_bar, (3, 6, 10, 11, 14)) & (rng.random(steps.size) < 0.3)
    hit = np.isin(in_bar, (0, 8)) | extra
    velocity = np.where(np.isin(in_bar, (0, 8)), 1.0, 0.7)
  elif part == "snare":
    hit = np.isin(in_bar, (4, 12)) | (rng.random(steps.size) < 0.08)
    velocity = np.where(np.isin(in_bar, (4, 12)), 1.0, 0.25)  # ghost notes
  else:
    hit = (in_bar % 2 == 0) | (rng.random(steps.size) < 0.25)
    velocity = np.where(in_bar % 4 == 0, 1.0, np.where(in_bar % 2 == 0, 0.6, 0.4))
  velocity = velocity * rng.uniform(0.85, 1.0, steps.size)
  return steps[hit] * score.step_s, velocity[hit]


def _drum(rng, score: _Score, parts: Sequence[str]):
  sr, n = score.sample_rate, score.n_samples
  out = np.zeros((2, n))
  weights = {"kick": 1.0, "snare": 0.8, "hat": 0.35}
  for part in parts:
    if part == "kick":
      template = _kick_template(rng, sr)
    elif part == "snare":
      template = _snare_template(rng, sr)
    else:
      template = _hat_template(rng, sr, rng.uniform(0.015, 0.04))
    if len(parts) > 1 and part == "hat":  # overheads: the hats sit off-centre
      side = rng.uniform(0.3, 0.6) * rng.choice([-1, 1])
      template = template * np.array([[1 - side], [1 + side]])
    onsets, velocities = _groove(rng, score, part)
    out += (weights[part] if len(parts) > 1 else 1.0) * _placed(template, onsets, velocities, n, sr)
  return out


def _note_times(rng, score: _Score, starts: np.ndarray, lengths: np.ndarray, keep_prob: float):
  """Onsets and (gapped) durations in seconds of the kept notes, and their start steps."""
  keep = rng.random(starts.size) < keep_prob
  keep[:1] = True  # never an empty part
  starts, lengths = starts[keep], lengths[keep]
  onsets = starts * score.step_s
  durations = np.maximum(lengths * score.step_s * rng.uniform(0.55, 0.9, starts.size)
                         - 0.04, 0.03)  # ends >= 40 ms before the next grid note
  return onsets, durations, starts


def _voice(score: _Score, onsets, durations, freqs_hz, harmonics, *, attack_s, decay_s,
           sustain, vibrato=None, detune_cents=0.0):
  """A monophonic line ``[n]``: one oscillator with an envelope per note.

  Each sample belongs to the latest note onset before it; the envelope is
  ``min(t/attack, 1) · (sustain + (1 - sustain) e^{-t/decay})`` during the
  note and falls with an 8 ms release after it (notes end before the next
  onset, so nothing clicks). ``harmonics[h - 1]`` is the amplitude of
  harmonic ``h`` (each dropped above 0.45 · sample_rate).
  """
  sr, n = score.sample_rate, score.n_samples
  t = np.arange(n) / sr
  out = np.zeros(n)
  if len(onsets) == 0:
    return out
  index = np.searchsorted(onsets, t, side="right") - 1
  valid = index >= 0
  index = np.maximum(index, 0)
  t_rel = np.where(valid, t - onsets[index], 1e3)
  envelope = np.minimum(t_rel / attack_s, 1) * (sustain + (1 - sustain) * np.exp(-t_rel / decay_s))
  envelope *= np.where(t_rel < durations[index], 1.0,
                       np.exp(-np.maximum(t_rel - durations[index], 0) / 0.008))
  envelope *= valid
  f = freqs_hz[index] * 2**(detune_cents / 1200)
  if vibrato is not None:
    rate_hz, depth_cents, onset_s = vibrato
    depth = depth_cents * np.clip((t_rel - onset_s) / 0.15, 0, 1)
    f = f * 2**(depth * np.sin(2 * np.pi * rate_hz * t) / 1200)
  phase = 2 * np.pi * np.cumsum(f) / sr
  # sin(hφ) by the recurrence sin((h+1)φ) = 2 cos φ sin(hφ) - sin((h-1)φ): one sin, one cos.
  sin_prev, sin_h, two_cos = np.zeros(n), np.sin(phase), 2 * np.cos(phase)
  for h, amplitude in enumerate(harmonics, start=1):
    if amplitude:
      out += amplitude * np.where(h * f < 0.45 * sr, sin_h, 0.0)
    sin_prev, sin_h = sin_h, two_cos * sin_h - sin_prev
  return out * envelope


def _bass(rng, score: _Score):
  steps = np.arange(0, score.n_steps, 2)
  onsets, durations, starts = _note_times(rng, score, steps, np.full(steps.size, 2), 0.75)
  octave_up = rng.random(starts.size) < 0.2
  fifth = rng.random(starts.size) < 0.15
  midi = [score.midi(score.chord(s) + 4 * f, int(o)) for s, f, o in zip(starts, fifth, octave_up)]
  harmonics = 1.0 / np.arange(1, 13)**1.6
  mono = _voice(score, onsets, durations, _midi_hz(midi), harmonics,
                attack_s=0.005, decay_s=0.25, sustain=0.5)
  mono += 0.5 * _voice(score, onsets, durations, _midi_hz(midi), [1.0],
                       attack_s=0.005, decay_s=0.25, sustain=0.5)
  return np.stack([mono, mono])


def _chords(rng, score: _Score):
  rhythms = ((0,), (0, 4, 8, 12), (0, 3, 6, 10, 12), (0, 6, 8, 14))
  starts, lengths = [], []
  for bar_start in range(0, score.n_steps, 16):
    rhythm = np.array(rhythms[rng.integers(len(rhythms))] + (16,))
    starts.extend(bar_start + rhythm[:-1])
    lengths.extend(np.diff(rhythm))
  onsets, durations, starts = _note_times(rng, score, np.array(starts), np.array(lengths), 0.85)
  detune = rng.uniform(5.0, 12.0)
  harmonics = [1.0, 0.25, 1 / 9, 0.06, 1 / 25, 0.03, 1 / 49]
  out = np.zeros((2, score.n_samples))
  for tone in range(3):  # root, third, fifth
    midi = [score.midi(score.chord(s) + 2 * tone, 2) for s in starts]
    for sign, weights in [(1, (0.7, 0.3)), (-1, (0.3, 0.7))]:
      line = _voice(score, onsets, durations, _midi_hz(midi), harmonics, attack_s=0.02,
                    decay_s=0.6, sustain=0.6, detune_cents=sign * detune)
      out += np.array(weights)[:, None] * line
  return out


def _lead(rng, score: _Score):
  step_lengths = rng.choice([2, 4], size=score.n_steps)
  starts = np.cumsum(np.concatenate([[0], step_lengths]))[:-1]
  starts = starts[starts < score.n_steps]
  lengths = step_lengths[:starts.size]
  onsets, durations, starts = _note_times(rng, score, starts, lengths, 0.7)
  degree = np.cumsum(rng.choice([-2, -1, 0, 1, 2], size=starts.size))
  degree = np.clip(degree, -3, 7)
  midi = [score.midi(score.chord(s) + d, 3) for s, d in zip(starts, degree)]
  harmonics = [1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7]  # hollow, square-like
  vibrato = (rng.uniform(5.0, 6.5), rng.uniform(15.0, 30.0), 0.12)
  mono = _voice(score, onsets, durations, _midi_hz(midi), harmonics, attack_s=0.01,
                decay_s=0.4, sustain=0.7, vibrato=vibrato)
  return np.stack([mono, mono])


def _dynamics_gain(rng, score: _Score):
  """``[n]`` per-bar level (0 to -6 dB) with some muted half-bars, ramped over 20 ms."""
  n_halves = int(math.ceil(score.n_steps / 8))
  level_db = np.repeat(rng.uniform(-6.0, 0.0, size=(n_halves + 1) // 2), 2)[:n_halves]
  gain = 10**(level_db / 20)
  muted = rng.random(n_halves) < 0.15
  if muted.mean() <= 0.5:
    gain = np.where(muted, 0.0, gain)
  half_s = 8 * score.step_s
  half_index = np.minimum(
      (np.arange(score.n_samples) / score.sample_rate / half_s).astype(int), n_halves - 1)
  alpha = math.exp(-1.0 / (0.02 * score.sample_rate))
  return sps.lfilter([1 - alpha], [1, -alpha], gain[half_index], zi=[alpha * gain[0]])[0]


def _instrument(rng, score: _Score, kind: str):
  if kind == "drums":
    return _drum(rng, score, ("kick", "snare", "hat"))
  if kind in ("kick", "snare", "hat"):
    return _drum(rng, score, (kind,))
  return {"bass": _bass, "chords": _chords, "lead": _lead}[kind](rng, score)


def synthetic_tracks(key, *, n_tracks: int = 4, seconds: float = 4.0,
                     sample_rate: int = 30000) -> tuple[np.ndarray, tuple[str, ...]]:
  """Dry stereo tracks of a procedural song (see the module docstring).

  Args:
    key: a ``jax.random`` key; the same key gives the same tracks.
    n_tracks: number of tracks; instruments cycle through ``INSTRUMENTS``.
    seconds: duration.
    sample_rate: Hz.

  Returns:
    ``(float32[n_tracks, 2, n], names)`` with peaks around -12 dBFS and
    names like ``"drums"``, ``"bass"``, ..., ``"drums 2"`` for repeats.
  """
  sample_rate = validation.check_sample_rate(sample_rate, where="synthetic_tracks")
  n = int(round(seconds * sample_rate))
  if n_tracks < 1 or n < 1:
    raise ValueError(f"synthetic_tracks: need n_tracks >= 1 and seconds > 0, got "
                     f"n_tracks={n_tracks}, seconds={seconds}.")
  rng = _numpy_rng(key)
  minor = rng.random() < 0.5
  score = _Score(
      sample_rate=sample_rate, n_samples=n, beat_s=60.0 / rng.uniform(90.0, 140.0),
      root_midi=int(rng.integers(33, 45)), scale=_MINOR if minor else _MAJOR,
      progression=_PROGRESSIONS[rng.integers(len(_PROGRESSIONS))])
  tracks, names = [], []
  for i in range(n_tracks):
    kind = INSTRUMENTS[i % len(INSTRUMENTS)]
    repeat = i // len(INSTRUMENTS)
    names.append(kind if repeat == 0 else f"{kind} {repeat + 1}")
    x = _instrument(rng, score, kind) * _dynamics_gain(rng, score)
    pan = rng.uniform(0.05, _MAX_PAN[kind]) * rng.choice([-1, 1])
    angle = (pan + 1) * np.pi / 4  # constant-power pan
    x = x * np.array([[math.cos(angle)], [math.sin(angle)]])
    peak = 10**(rng.uniform(-14.0, -10.0) / 20)
    x *= peak / max(np.max(np.abs(x)), 1e-30)
    hiss = peak * 10**(rng.uniform(-66, -54) / 20) / 3  # its peaks ~60 dB below the track's
    tracks.append(x + hiss * rng.standard_normal(x.shape))
  return np.stack(tracks).astype(np.float32), tuple(names)


# ---------------------------------------------------------------------------
# The song and its graph
# ---------------------------------------------------------------------------


def _numpy_rng(key, stream: int = 0) -> np.random.Generator:
  """A NumPy generator seeded by a ``jax.random`` key (typed or raw ``uint32``).

  Different ``stream`` numbers give independent generators from one key
  (without ``jax.random.split``, which would compile for every new shape).
  """
  key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  return np.random.default_rng([stream, *np.asarray(key, np.uint32).ravel().tolist()])


def _random_groups(rng, n_tracks: int, n_groups: int) -> tuple[int, ...]:
  """A random grouping in which every group has at least one track."""
  groups = np.empty(n_tracks, int)
  order = rng.permutation(n_tracks)
  groups[order[:n_groups]] = np.arange(n_groups)
  groups[order[n_groups:]] = rng.integers(0, n_groups, size=n_tracks - n_groups)
  return tuple(int(g) for g in groups)


def _node_inputs(console: Console, params: ConsoleParams, tracks, alive, level: str,
                 processor: str):
  """``[nodes, 2, n]`` input of ``processor`` on every node of ``level``.

  A render with that processor and everything after it (on that level and,
  for tracks, on the groups) bypassed.
  """
  position = PROCESSORS.index(processor)
  probe = {lv: dict(masks) for lv, masks in alive.items()}
  for lv in LEVELS[LEVELS.index(level):]:
    for name in PROCESSORS[position if lv == level else 0:]:
      probe[lv][name] = jax.device_put(np.zeros(np.shape(alive[lv][name]), bool))
  details = console.render_details(params, tracks, probe)
  return np.asarray(details.track_outputs if level == "track" else details.group_outputs)


def _init_like_params(rng, sizes: Mapping[str, int]) -> dict:
  """``{level: {name: {param: float64[nodes, ...]}}}`` drawn i.i.d. N(0, 0.01²).

  The same distribution as ``Console.init`` (shapes from each processor's
  ``init`` via ``jax.eval_shape``), drawn with NumPy: no compilation.
  """
  shapes = {name: jax.eval_shape(lambda init=REGISTRY[name].init: init(jax.random.key(0)))
            for name in PROCESSORS}
  return {
      level: {
          name: {param: rng.normal(0.0, INIT_STD, (size, *leaf.shape))
                 for param, leaf in shapes[name].items()}
          for name in PROCESSORS
      }
      for level, size in sizes.items()
  }


def _console_params(processors_np: dict, logits_np: dict) -> ConsoleParams:
  # Cast on the host and device_put: jnp.asarray would compile a small program per shape.
  to_f32 = lambda leaf: jax.device_put(np.asarray(leaf, np.float32))
  return ConsoleParams(processors=jax.tree.map(to_f32, processors_np),
                       drywet_logits=jax.tree.map(to_f32, logits_np))


def synthetic_song(key, *, n_tracks: int = 4, n_groups: int = 2, seconds: float = 4.0,
                   sample_rate: int = 30000, density: float = 0.35) -> tuple[Song, GroundTruth]:
  """A procedural song mixed by a sparse random graph, and that graph.

  Args:
    key: a ``jax.random`` key; the same key gives the same song and graph.
    n_tracks: number of dry tracks (>= 1).
    n_groups: number of subgroups, ``1 <= n_groups <= n_tracks``; every
      group gets at least one track.
    seconds: duration.
    sample_rate: Hz (>= 8000).
    density: probability that each (node, processor) is alive, in ``[0, 1]``;
      at least one processor is alive in every song.

  Returns:
    ``(song, truth)``: the ``Song`` whose mix is
    ``Console.of(song).render(truth.params, song.tracks, truth.alive)``, and
    the ``GroundTruth``.

  Raises:
    ValueError: for ``n_groups`` outside ``[1, n_tracks]`` or ``density``
      outside ``[0, 1]`` (and the ``Song`` checks).
  """
  if n_tracks < 1 or not 1 <= n_groups <= n_tracks:
    raise ValueError(f"synthetic_song: need 1 <= n_groups <= n_tracks (every group gets a track), "
                     f"got n_tracks={n_tracks}, n_groups={n_groups}.")
  if not 0.0 <= density <= 1.0:
    raise ValueError(f"synthetic_song: density is a probability in [0, 1], got {density}.")
  sample_rate = validation.check_sample_rate(sample_rate, where="synthetic_song")
  tracks, names = synthetic_tracks(key, n_tracks=n_tracks, seconds=seconds,
                                   sample_rate=sample_rate)
  rng = _numpy_rng(key, stream=1)
  dry = Song(tracks=tracks, mix=np.sum(tracks, axis=0),
             track_groups=_random_groups(rng, n_tracks, n_groups),
             sample_rate=sample_rate, track_names=names)
  console = Console.of(dry)
  truth = _draw_graph(rng, _numpy_rng(key, stream=2), console, dry.tracks, density=density)
  mix = np.asarray(console.render(truth.params, dry.padded_tracks(), truth.alive))
  return dataclasses.replace(dry, mix=mix), truth


# ---------------------------------------------------------------------------
# A random graph for given dry tracks
# ---------------------------------------------------------------------------


def random_graph(key, tracks, track_groups: Sequence[int | None], *, sample_rate: int,
                 density: float = 0.35) -> GroundTruth:
  """A sparse random mixing graph for given dry tracks (``synthetic_song``'s graph).

  The graph is drawn exactly as ``synthetic_song`` draws it (see the module
  docstring), on the console of ``track_groups``; compressor and gate
  thresholds are set from the given tracks. Render the mix with
  ``Console.build(track_groups, sample_rate=sample_rate).render(truth.params,
  tracks, truth.alive)``.

  Args:
    key: a ``jax.random`` key; the same key and tracks give the same graph.
    tracks: ``[T, 2, n]`` dry stereo tracks.
    track_groups: the subgroup of every track, as ``Console.build`` takes it.
    sample_rate: Hz (>= 8000).
    density: probability that each (node, processor) is alive, in ``[0, 1]``;
      at least one processor is alive.

  Returns:
    The ``GroundTruth``: parameters, alive masks and physical settings.

  Raises:
    ValueError: for tracks of the wrong shape or with NaN/Inf samples, a
      grouping of another length, ``density`` outside ``[0, 1]``, or the
      ``Console.build`` checks.
  """
  if not 0.0 <= density <= 1.0:
    raise ValueError(f"random_graph: density is a probability in [0, 1], got {density}.")
  tracks = np.asarray(tracks, np.float32)
  validation.check_stereo(tracks, what="random_graph: tracks", leading=(len(track_groups),))
  console = Console.build(track_groups, sample_rate=sample_rate)
  return _draw_graph(_numpy_rng(key, stream=1), _numpy_rng(key, stream=2), console, tracks,
                     density=density)


def _draw_graph(rng, params_rng, console: Console, tracks, *, density: float) -> GroundTruth:
  """The graph of ``random_graph``, drawn with ``rng`` (masks, settings) and ``params_rng``."""
  sample_rate = console.sample_rate
  sizes = console.level_sizes()

  alive_np = {lv: {name: rng.random(size) < density for name in PROCESSORS}
              for lv, size in sizes.items()}
  if not any(mask.any() for masks in alive_np.values() for mask in masks.values()):
    level = LEVELS[rng.integers(len(LEVELS))]
    alive_np[level][PROCESSORS[rng.integers(len(PROCESSORS))]][rng.integers(sizes[level])] = True
  alive = jax.device_put(alive_np)

  processors_np = _init_like_params(params_rng, sizes)
  logits_np = {lv: {name: np.zeros(size) for name in PROCESSORS} for lv, size in sizes.items()}
  settings = []
  for level in LEVELS:
    for name in PROCESSORS:
      nodes = np.flatnonzero(alive_np[level][name])
      if nodes.size == 0:
        continue
      if name in ("compressor", "noisegate"):  # set from the node's actual input
        inputs = _node_inputs(console, _console_params(processors_np, logits_np), tracks,
                              alive, level, name)
      for index in nodes:
        if name == "eq":
          physical = _sample_eq(rng, sample_rate=sample_rate)
        elif name == "compressor":
          physical = _sample_compressor(rng, inputs[index], sample_rate=sample_rate)
        elif name == "noisegate":
          physical = _sample_noisegate(rng, inputs[index], sample_rate=sample_rate)
        elif name == "imager":
          physical = _sample_imager(rng)
        elif name == "gain_pan":
          physical = _sample_gain_pan(rng)
        elif name == "delay":
          physical = _sample_delay(rng, sample_rate=sample_rate)
        else:
          physical = _sample_reverb(rng)
        node = processors_np[level][name]
        raw = processor_params(name, physical, sample_rate=sample_rate,
                               init_params={param: leaf[index] for param, leaf in node.items()})
        for param, leaf in node.items():
          leaf[index] = raw[param]
        drywet = float(rng.uniform(0.6, 0.95))
        logits_np[level][name][index] = drywet_logit(drywet)
        settings.append(NodeSettings(level=level, index=int(index), processor=name,
                                     settings=physical, drywet=drywet))

  params = _console_params(processors_np, logits_np)
  return GroundTruth(params=params, alive=alive, settings=tuple(settings))
