"""The dry tracks of a short procedural song (``synthetic_tracks``).

One tempo, key, scale and chord progression (one chord per bar) per song.
Instruments are cycled over the tracks in ``INSTRUMENTS`` order: ``drums``
(kick, snare and hats on a 16th-note groove, like overhead microphones),
``bass`` (8th notes on the chord roots, a mellow saw), ``chords`` (detuned
oscillators, one voice per chord tone, the two detuned copies on opposite
sides), ``lead`` (a melody with delayed vibrato), then close ``kick``,
``snare`` and ``hat`` tracks. Every track has its own pan, per-bar dynamics
(0 to -6 dB), a muted half-bar now and then, a hiss floor (about -60 dB
below its peak) and a peak level around -12 dBFS, so that gates and
compressors have something to act on. Everything is deterministic from the
key; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import signal as sps

from mixjax import validation

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


def numpy_rng(key, stream: int = 0) -> np.random.Generator:
  """A NumPy generator seeded by a ``jax.random`` key (typed or raw ``uint32``).

  Different ``stream`` numbers give independent generators from one key
  (without ``jax.random.split``, which would compile for every new shape).
  """
  key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  return np.random.default_rng([stream, *np.asarray(key, np.uint32).ravel().tolist()])


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
  rng = numpy_rng(key)
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
