r"""Stereo multitap delay with learnable integer delays (grafx ``MultitapDelay``).

Each channel has ``NUM_SEGMENTS`` = 20 segments of ``SEGMENT_SECONDS`` = 0.1 s
(``N = round(0.1 · sample_rate)`` samples, 3000 at 30 kHz) and one tap per
segment, so a node holds ``NUM_TAPS`` = 40 taps, channel-major (taps 0–19 are
the left channel's segments 0–19, taps 20–39 the right channel's).

Tap ``i`` is driven by an unconstrained complex number
``z̃_i = delay_z[i, 0] + j·delay_z[i, 1]``, mapped into the unit disk

.. math::
  z_i = \tilde z_i \, \frac{\tanh |\tilde z_i|}{|\tilde z_i| + ε},

whose damped complex sinusoid gives a *soft* (surrogate) delay line of ``N``
samples,

.. math::
  \tilde h_i = \mathrm{irfft}_N\big((z_i + ε)^k\big)_{k = 0..N/2},
  \qquad \tilde h_i[n] ≈ \frac1N \sum_k r^{|k|} e^{jk(θ_i + 2πn/N)},

a periodic peak at ``d_i = -θ_i N / 2π mod N`` (``θ_i = arg z_i``) that
sharpens as ``r = tanh|z̃_i| → 1``. The forward pass uses the *hard* delay, a
unit impulse at ``d_i = argmax_n h̃_i[n]``; gradients flow through ``h̃_i``
(straight-through estimator), and the gradient reaching ``z̃_i`` through this
path is normalised to unit length per tap.

Each tap is coloured by a 39-tap zero-phase FIR ``c_i`` (20 natural-log
magnitudes, see ``dsp.zero_phase_fir``), cropped back to its segment, and the
segments are concatenated into the stereo IR

.. math::
  h_c[mN + n] = (c_{i} ⋆ δ_{d_i})[n], \quad i = 20c + m, \; 0 ≤ n < N,

which is energy-normalised (``mean_c Σ_t h_c² = 1``) and convolved causally
with each channel (left with left, right with right).

Parameters (``init`` draws each i.i.d. N(0, 0.01²)):

* ``delay_z``: ``[40, 2]`` real and imaginary parts of ``z̃``.
* ``log_fir_magnitude``: ``[40, 20]`` colour magnitudes (natural log) at the
  frequencies ``k · sample_rate / 39``, ``k = 0..19``.

At init ``|z̃| ≈ 0.014``: the surrogate is almost flat, so each hard delay is
set by the random phase of ``z̃`` (uniform in its segment) and, within a few
samples, by float32 rounding; the colour FIRs are ≈ a unit impulse.

References:
  Lee, Martínez-Ramírez, Liao, Uhlich, Fabbro, Lee, Mitsufuji, "Searching for
  Music Mixing Graphs: A Pruning Approach", DAFx 2024.
  grafx ``processors/delay.py`` ``MultitapDelay`` and
  ``processors/core/delay.py`` ``SurrogateDelay`` (defaults: straight-through,
  gradient normalisation, radii loss).

.. note::
  grafx's surrogate calls ``irfft`` without a length, i.e. ``n = 2·(N//2)``,
  one sample short of ``N`` when ``N`` is odd (e.g. 2205 at 22.05 kHz), so
  its segments would then be ``N - 1`` long. mixjax always uses ``n = N``;
  at the reference's 30 kHz (``N = 3000``) both agree.
"""

from __future__ import annotations

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

SEGMENT_SECONDS = 0.1
"""Length of one delay segment (s): each tap's delay lies in its own segment."""

NUM_SEGMENTS = 20
"""Segments (= taps) per channel: delays up to 2 s."""

NUM_CHANNELS = 2
"""Independent left and right delay lines."""

NUM_TAPS = NUM_CHANNELS * NUM_SEGMENTS
"""Taps per node (40), channel-major."""

NUM_COLOUR_BINS = 20
"""Log-magnitudes per colour filter."""

NUM_COLOUR_TAPS = 2 * NUM_COLOUR_BINS - 1
"""Length of each tap's zero-phase colour FIR (39)."""

DISK_EPS = 1e-7
"""ε in ``z = z̃ tanh|z̃| / (|z̃| + ε)``."""

POWER_EPS = 1e-7
"""Real offset added to ``z`` before ``z^k = exp(k log z)`` (keeps the log finite)."""

GRADIENT_EPS = 1e-7
"""ε in the per-tap gradient normalisation ``g / (ε + |g|)``."""

PARAM_SHAPES = {
    "delay_z": (NUM_TAPS, 2),
    "log_fir_magnitude": (NUM_TAPS, NUM_COLOUR_BINS),
}
"""Name -> shape of every parameter of one node."""


def segment_length(sample_rate: int) -> int:
  """Samples per segment, ``N = round(0.1 · sample_rate)``."""
  return dsp.seconds_to_samples(SEGMENT_SECONDS, sample_rate)


def ir_length(sample_rate: int) -> int:
  """Samples in the stereo impulse response, ``20 · N``."""
  return NUM_SEGMENTS * segment_length(sample_rate)


def init(key):
  """Initial parameters ``{"delay_z": [40, 2], "log_fir_magnitude": [40, 20]}``."""
  return _init.normal_params(key, PARAM_SHAPES)


# ---------------------------------------------------------------------------
# Surrogate delay lines
# ---------------------------------------------------------------------------


@jax.custom_vjp
def _normalized_gradient(delay_z):
  """Identity whose backward pass scales each tap's gradient to unit length.

  For ``g = ∂L/∂(Re z̃, Im z̃)`` of one tap, the backward pass returns
  ``g / (ε + |g|)`` (grafx ``NormalizedGradient`` on the complex ``z̃``).
  """
  return delay_z


def _normalized_gradient_fwd(delay_z):
  return delay_z, None


def _normalized_gradient_bwd(_, g):
  norm = jnp.sqrt(jnp.sum(g**2, axis=-1, keepdims=True))
  return (g / (GRADIENT_EPS + norm),)


_normalized_gradient.defvjp(_normalized_gradient_fwd, _normalized_gradient_bwd)


def _magnitude(delay_z):
  """``|z̃|`` of ``[..., 2]`` (re, im) pairs, with a zero (not NaN) gradient at 0."""
  squared = jnp.sum(delay_z**2, axis=-1)
  positive = squared > 0
  # Replace the argument before the sqrt so that its gradient stays finite.
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def _radius(delay_z):
  """``|z| = tanh|z̃|`` in ``[0, 1)``: 1 is a sharp delay, 0 a flat surrogate."""
  return jnp.tanh(_magnitude(delay_z))


def _surrogate_irs(delay_z, n: int):
  """Soft delay lines ``irfft_n((z + ε)^k), k = 0..n//2``.

  Args:
    delay_z: ``[..., 2]`` real and imaginary parts of ``z̃``.
    n: delay-line length (samples).

  Returns:
    ``[..., n]`` real surrogate impulse responses.
  """
  magnitude = _magnitude(delay_z)
  scale = jnp.tanh(magnitude) / (magnitude + DISK_EPS)
  z = jax.lax.complex(delay_z[..., 0] * scale + POWER_EPS, delay_z[..., 1] * scale)
  k = jnp.arange(n // 2 + 1, dtype=delay_z.dtype)
  powers = jnp.exp(k * jnp.log(z)[..., None])
  return jnp.fft.irfft(powers, n=n, axis=-1)


def _straight_through(soft):
  """Forward: a unit impulse at ``argmax soft``; backward: the gradient of ``soft``."""
  hard = jax.nn.one_hot(jnp.argmax(soft, axis=-1), soft.shape[-1], dtype=soft.dtype)
  return soft + jax.lax.stop_gradient(hard - soft)


def _colour_firs(log_fir_magnitude):
  """``[..., 20]`` log-magnitudes -> ``[..., 39]`` centred, Hann-windowed FIRs."""
  return dsp.zero_phase_fir(log_fir_magnitude, n_taps=NUM_COLOUR_TAPS)


def _coloured_taps(params, *, sample_rate: int):
  """Each tap's coloured delay line, before energy normalisation.

  Returns:
    ``[2, 20, N]``: channel, segment, sample within the segment.
  """
  n = segment_length(sample_rate)
  delay_z = _normalized_gradient(params["delay_z"])
  taps = _straight_through(_surrogate_irs(delay_z, n))
  taps = dsp.zero_phase_convolve(taps, _colour_firs(params["log_fir_magnitude"]))
  return taps.reshape(NUM_CHANNELS, NUM_SEGMENTS, n)


# ---------------------------------------------------------------------------
# Processor functions
# ---------------------------------------------------------------------------


def impulse_response(params, *, sample_rate: int):
  """The energy-normalised stereo impulse response ``[2, 20 · N]``.

  Segment ``m`` of channel ``c`` occupies samples ``[mN, (m+1)N)`` and holds
  tap ``20c + m``; the whole IR is divided by ``sqrt(mean_c Σ_t h_c² + 1e-12)``.
  The value is the forward (hard-delay) one.
  """
  taps = _coloured_taps(params, sample_rate=sample_rate)
  return dsp.energy_normalize(taps.reshape(NUM_CHANNELS, -1))


apply, prepare, apply_prepared = _fir.causal_filter(impulse_response, ir_length, what="Delays")


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(20 · N - 1, 0)``: a causal FIR as long as the impulse response."""
  return (ir_length(sample_rate) - 1, 0)


def controls(params, *, sample_rate: int):
  """The delay settings in physical units.

  Returns:
    A dict of arrays, ``[2, 20]`` entries indexed by (channel, segment):

    * ``delay_samples`` (int32) and ``delay_ms``: the hard delay of each tap,
      ``mN + argmax_n h̃[n]``.
    * ``tap_gain_db``: level of each coloured tap in the energy-normalised IR,
      ``10 log10 Σ_t h_c[mN + t]²`` (so ``mean_c Σ_m 10^(gain/10) = 1``).
    * ``radius``: ``tanh|z̃|`` in ``[0, 1)``, the sharpness of the surrogate
      (the radii penalty pushes it to 1).
    * ``colour_gain_db`` ``[2, 20, 20]``: each colour FIR's designed gain at
      ``colour_frequency_hz`` (before its Hann window smooths it).
    * ``colour_frequency_hz`` ``[20]``: ``k · sample_rate / 39``.

  At init the surrogate is nearly flat and its argmax is decided partly by
  float32 rounding, so ``delay_samples`` can differ by a few samples between
  separately compiled programs; for ``tanh|z̃| ≳ 0.5`` it is exact.
  """
  n = segment_length(sample_rate)
  delay_z = params["delay_z"]
  within = jnp.argmax(_surrogate_irs(delay_z, n), axis=-1).reshape(NUM_CHANNELS, NUM_SEGMENTS)
  delay_samples = (within + n * jnp.arange(NUM_SEGMENTS)).astype(jnp.int32)

  energy = jnp.sum(_coloured_taps(params, sample_rate=sample_rate)**2, axis=-1)
  normalised = energy / (jnp.mean(jnp.sum(energy, axis=-1)) + 1e-12)

  return {
      "delay_samples": delay_samples,
      "delay_ms": units.samples_to_ms(delay_samples.astype(jnp.float32), sample_rate),
      "tap_gain_db": units.gain_to_db(jnp.sqrt(normalised)),
      "radius": _radius(delay_z).reshape(NUM_CHANNELS, NUM_SEGMENTS),
      "colour_gain_db": units.log_gain_to_db(params["log_fir_magnitude"]).reshape(
          NUM_CHANNELS, NUM_SEGMENTS, NUM_COLOUR_BINS),
      "colour_frequency_hz": jnp.asarray(
          np.arange(NUM_COLOUR_BINS) * sample_rate / NUM_COLOUR_TAPS, jnp.float32),
  }


def penalties(params, x, y, *, sample_rate: int):
  """The radii penalty ``Σ_taps (1 − tanh|z̃|)²`` (a sum over the 40 taps).

  It pulls every ``z`` onto the unit circle, where the soft and hard delays
  agree. grafx returns it as ``radii_reg``; the training loss weights it by
  0.5 (the loss applies that weight, not this function). Its gradient is not
  normalised.
  """
  del x, y, sample_rate
  return {"radii": jnp.sum((1.0 - _radius(params["delay_z"]))**2)}


# ---------------------------------------------------------------------------
# Effective action at a dry/wet weight
# ---------------------------------------------------------------------------

MIN_TAP_DB = -40.0
"""``effective`` drops taps quieter than this (dB re the input)."""

CHANNEL_NAMES = ("left", "right")
"""Keys of the per-channel tap lists in ``effective``."""


def effective(params, wet: float, *, sample_rate: int) -> dict:
  r"""The audible taps of the node at dry/wet ``w``, per channel.

  The node's impulse response per channel is ``(1 - w) δ + w h_c``. Each tap
  is reported with its delay and its broadband gain ``20 log10 (w ‖r‖₂)``
  (``r`` its coloured response: for white noise, the tap's level re the
  input); the dry path is the tap at 0 ms, gain ``20 log10(1 - w)``, merged
  with a wet tap at 0 samples (``‖(1 - w) δ + w r‖₂``).

  Returns:
    A JSON-ready dict: ``left``, ``right``: each ``{delay_ms: [...],
    gain_db: [...]}``, the taps at or above ``min_tap_db`` = -40 dB in order of
    delay;
    ``min_tap_db``; ``wet``.
  """
  params = _effective.numpy_params(params)
  c = jax.device_get(_effective.jitted(controls, sample_rate)(params))
  ir = np.asarray(_effective.jitted(impulse_response, sample_rate)(params), np.float64)
  n = segment_length(sample_rate)
  result = {"wet": _effective.number(wet, 4), "min_tap_db": MIN_TAP_DB}
  for channel, name in enumerate(CHANNEL_NAMES):
    segments = ir[channel].reshape(NUM_SEGMENTS, n)
    delays = np.asarray(c["delay_samples"][channel])
    amplitudes = wet * np.sqrt(np.sum(segments**2, axis=-1))
    direct = np.zeros(n)
    direct[0] = 1.0 - wet
    if delays[0] == 0:
      direct = direct + wet * segments[0]
      amplitudes[0] = 0.0
    taps = [(0, float(np.sqrt(np.sum(direct**2))))]
    taps += [(int(d), float(a)) for d, a in zip(delays, amplitudes) if a > 0]
    audible = [(d, a) for d, a in sorted(taps) if _effective.gain_db(a) >= MIN_TAP_DB]
    result[name] = {
        "delay_ms": _effective.numbers([1000.0 * d / sample_rate for d, _ in audible]),
        "gain_db": _effective.numbers([_effective.gain_db(a) for _, a in audible])}
  return result


def describe(effective_dict: dict, *, max_taps: int = 4) -> str:
  """``"dry −6.7 dB; 120 ms −9.1 dB (L+R), 340 ms −15.0 dB (L); 2 more taps"``."""
  taps = {}
  for name, short in zip(CHANNEL_NAMES, "LR"):
    channel = effective_dict[name]
    for delay_ms, gain_db in zip(channel["delay_ms"], channel["gain_db"]):
      taps.setdefault((delay_ms, gain_db), []).append(short)
  direct = [(k, v) for k, v in taps.items() if k[0] == 0]
  echoes = sorted(((k, v) for k, v in taps.items() if k[0] > 0), key=lambda kv: -kv[0][1])
  words = []
  for (_, gain), sides in direct:
    words.append(f"direct {_effective.db(gain)}" + ("" if len(sides) == 2 else f" ({sides[0]})"))
  shown = sorted(echoes[:max_taps], key=lambda kv: kv[0][0])
  echo_words = [f"{delay:.0f} ms {_effective.db(gain)} ({'+'.join(sides)})"
                for (delay, gain), sides in shown]
  if len(echoes) > max_taps:
    echo_words.append(f"{len(echoes) - max_taps} quieter taps")
  words.append(", ".join(echo_words) if echo_words else
               f"no tap above {_effective.db(effective_dict['min_tap_db'], '.0f')}")
  return "; ".join(words)


def compare(truth_effective: dict, found_effective: dict) -> dict:
  """A found delay against the true one: ``delay_ms``, of the true echoes (taps after
  0 ms) the signed error (found − true) of the one farthest from the nearest found echo
  on its channel (None when a channel with true echoes has no found echo), and
  ``echo_taps``, found echoes − true echoes (both channels)."""
  errors, counts, missing = [], [0, 0], False
  for name in CHANNEL_NAMES:
    true_ms = [d for d in truth_effective[name]["delay_ms"] if d > 0]
    found_ms = [d for d in found_effective[name]["delay_ms"] if d > 0]
    counts[0] += len(true_ms)
    counts[1] += len(found_ms)
    missing = missing or (bool(true_ms) and not found_ms)
    errors += [min((f - t for f in found_ms), key=abs) for t in true_ms if found_ms]
  worst = max(errors, key=abs, default=0.0)
  return {"delay_ms": None if missing else _effective.number(worst),
          "echo_taps": counts[1] - counts[0]}


# ---------------------------------------------------------------------------
# Physical settings (the synthetic songs' prior) and their raw parameters
# ---------------------------------------------------------------------------

SILENT_LOG_MAGNITUDE = -12.0
"""Colour log-magnitude of a silenced tap in ``params_from_settings`` (``e^{-12}``: -104 dB)."""

TAP_RADIUS = 4.0
"""``|z̃|`` of an audible tap in ``params_from_settings`` (``tanh 4 = 0.9993``: sharp)."""


def normalised_tap_gains_db(taps) -> np.ndarray:
  """The taps' ``gain_db`` shifted as the IR's energy normalisation shifts them.

  After it, ``mean_c Σ_taps a² = 1`` (``a``: the taps' amplitudes, ``c``: channels).
  """
  xp = _settings.namespace(taps)
  gains_db = xp.stack([_settings.floats(xp, tap["gain_db"]) for tap in taps])
  return gains_db - units.log_energy_to_db(xp.log(xp.sum(10**(gains_db / 10)) / NUM_CHANNELS))


def params_from_settings(settings, *, sample_rate: int, init_params=None) -> dict:
  r"""Delay parameters with the settings' taps audible and every other tap silenced.

  A tap at ``delay_samples = mN + d`` (segment ``m``, ``N = round(0.1 ·
  sample_rate)``) gets ``z̃ = 4 e^{-j 2π d / N}``, whose surrogate peaks at
  ``d``, and a flat colour ``ln a`` with amplitude ``a``; the tap levels are
  normalised (``normalised_tap_gains_db``), which is how ``controls`` reports
  them. Silenced taps get colour ``SILENT_LOG_MAGNITUDE``.

  Args:
    settings: ``{"taps": [...]}``, dicts with ``channel`` (0 left, 1 right),
      ``delay_samples`` and ``gain_db`` (relative levels; at most one tap per
      segment and channel).
    sample_rate: Hz.
    init_params: the ``delay_z`` of the silenced taps are taken from here
      (default: zeros).

  Runs under ``jit``, ``grad`` and ``vmap`` (``_settings``; the gradient
  flows to the taps' ``gain_db`` and to their position within a segment),
  where taps beyond the segments or sharing one are not checked.

  Returns:
    ``{"delay_z": float32[40, 2], "log_fir_magnitude": float32[40, 20]}``.
  """
  xp = _settings.namespace((settings, init_params))
  taps = settings["taps"]
  n = segment_length(sample_rate)
  delay_z = _settings.floats(xp, xp.zeros(PARAM_SHAPES["delay_z"]) if init_params is None
                             else init_params["delay_z"])
  log_fir = _settings.floats(xp, xp.full(PARAM_SHAPES["log_fir_magnitude"],
                                         SILENT_LOG_MAGNITUDE))
  rows = np.arange(NUM_TAPS)[:, None]
  used = set()
  for tap, gain_db in zip(taps, normalised_tap_gains_db(taps)):
    delay_samples = tap["delay_samples"]
    if xp is np:  # concrete settings: exact integers, checked
      delay_samples = int(delay_samples)
    segment, within = delay_samples // n, delay_samples % n
    index = tap["channel"] * NUM_SEGMENTS + segment
    if xp is np:
      if not 0 <= segment < NUM_SEGMENTS:
        raise ValueError(f"delay.params_from_settings: delay of {tap['delay_samples']} samples "
                         f"is beyond the {NUM_SEGMENTS} segments of {n} samples.")
      if index in used:
        raise ValueError(f"delay.params_from_settings: two taps in segment {segment} of "
                         f"channel {tap['channel']}.")
      used.add(index)
    phase = -2 * math.pi * _settings.floats(xp, within) / n
    delay_z = xp.where(rows == index, TAP_RADIUS * xp.stack([xp.cos(phase), xp.sin(phase)]),
                       delay_z)
    log_fir = xp.where(rows == index, units.db_to_log_gain(gain_db), log_fir)
  return {"delay_z": _settings.param(xp, delay_z),
          "log_fir_magnitude": _settings.param(xp, log_fir)}


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """``taps``: 1–2 per channel at 100–600 ms (levels as ``controls`` reports them)."""
  del x
  n = segment_length(sample_rate)
  taps = []
  for channel in range(NUM_CHANNELS):
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
  for tap, gain_db in zip(taps, normalised_tap_gains_db(taps)):
    tap["gain_db"] = float(gain_db)  # the levels controls() reports
  return {"taps": tuple(taps)}


PROCESSOR = base.Processor(
    name="delay", label="delay", short_label="delay", colour="#f28e2b",
    param_shapes=PARAM_SHAPES, penalty_names=("radii",), init=init, apply=apply,
    prepare=prepare, apply_prepared=apply_prepared,
    controls=controls, penalties=penalties, context_samples=context_samples,
    effective=effective, describe=describe, compare=compare,
    params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form="per_channel", sparsity_cost=1.5)
