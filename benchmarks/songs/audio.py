"""The song set's audio: MIDI files, FluidSynth renders and finished dry tracks."""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Sequence

import numpy as np
from scipy import signal as sps

from benchmarks.songs.music import DRUM_SPLITS, Part

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
"""The General MIDI SoundFont of Debian's fluid-soundfont-gm."""

TICKS_PER_BEAT = 480

FADE_S = 0.02
"""Fade-out at the very end of every track, so nothing stops with a click."""

PEAK_DBFS_RANGE = (-12.0, -4.0)
"""Each dry track's peak level."""

NOISE_BELOW_PEAK_DB = (62.0, 72.0)
"""Each dry track's noise floor (RMS), this far below its peak."""


# ---------------------------------------------------------------------------
# Audio: MIDI files and FluidSynth
# ---------------------------------------------------------------------------


def write_midi(path: str, part: Part, bpm: float) -> None:
  """One part as a type-0 MIDI file: tempo, program, no reverb or chorus send, the notes."""
  import mido
  channel = 9 if part.drums else 0
  events = [(0, -1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))]
  for control, value in ((7, 100), (10, 64), (11, 127), (64, 0), (91, 0), (93, 0)):
    events.append((0, -1, mido.Message("control_change", channel=channel, control=control,
                                       value=value)))
  events.append((0, -1, mido.Message("program_change", channel=channel, program=part.program)))
  for start, length, pitch, velocity in part.notes:
    on = int(round(start * TICKS_PER_BEAT))
    off = max(on + 1, int(round((start + length) * TICKS_PER_BEAT)))
    events.append((on, 1, mido.Message("note_on", channel=channel, note=int(pitch),
                                       velocity=int(velocity))))
    events.append((off, 0, mido.Message("note_off", channel=channel, note=int(pitch),
                                        velocity=0)))
  events.sort(key=lambda e: (e[0], e[1]))  # at one tick: set-up, then note-offs, then note-ons
  track = mido.MidiTrack()
  now = 0
  for tick, _, message in events:
    track.append(message.copy(time=tick - now))
    now = tick
  midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
  midi.tracks.append(track)
  midi.save(path)


def render_midi(midi_path: str, n_samples: int, *, sample_rate: int,
                soundfont: str = SOUNDFONT) -> np.ndarray:
  """``float64[2, n_samples]``: FluidSynth's dry render of a MIDI file (reverb and chorus off)."""
  import soundfile as sf
  with tempfile.TemporaryDirectory() as tmp:
    wav = os.path.join(tmp, "out.wav")
    command = ["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", "0.5",
               "-r", str(sample_rate), "-O", "float", "-T", "wav", "-F", wav, soundfont,
               midi_path]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not os.path.exists(wav):
      raise RuntimeError(f"fluidsynth failed on {midi_path} (exit {done.returncode}): "
                         f"{done.stderr.strip() or done.stdout.strip()}")
    audio, rate = sf.read(wav, dtype="float64", always_2d=True)
  if rate != sample_rate:
    raise RuntimeError(f"fluidsynth wrote {rate} Hz instead of {sample_rate} Hz.")
  audio = audio.T[:2]
  out = np.zeros((2, n_samples))
  out[:, :min(n_samples, audio.shape[1])] = audio[:, :n_samples]
  return out


def _dc_blocker(sample_rate: int):
  """Second-order Butterworth high-pass at 20 Hz (second-order sections)."""
  return sps.butter(2, 20.0, btype="highpass", fs=sample_rate, output="sos")


def _fade_out(x: np.ndarray, sample_rate: int) -> np.ndarray:
  n = min(int(FADE_S * sample_rate), x.shape[-1])
  x = x.copy()
  x[..., x.shape[-1] - n:] *= np.linspace(1.0, 0.0, n)
  return x


def _delayed(x: np.ndarray, samples: int) -> np.ndarray:
  return np.pad(x, [(0, 0), (samples, 0)])[:, :x.shape[-1]]


def finish_tracks(rng, parts: Sequence[Part], raw: Sequence[np.ndarray], *,
                  sample_rate: int) -> tuple[list[np.ndarray], list[dict]]:
  """Bleed between the drum microphones, a 20 Hz high-pass, a noise floor, a peak level.

  Close drum microphones hear the rest of the kit 18–30 dB down, 0.5–4 ms
  late; overheads hear kick and snare 6–12 dB down. Then every track gets
  white noise ``NOISE_BELOW_PEAK_DB`` below its peak and is scaled to a peak
  in ``PEAK_DBFS_RANGE``.

  Returns:
    The finished ``[2, n]`` tracks and, per track, ``{"peak_dbfs",
    "noise_below_peak_db", "bleed"}``.
  """
  mics = [i for i, p in enumerate(parts) if p.drums and p.name in DRUM_SPLITS[-1] + ("overheads",)]
  out, info = [], []
  for i, (part, x) in enumerate(zip(parts, raw)):
    bleed = {}
    if len(mics) > 1 and i in mics:
      for j in mics:
        if j == i:
          continue
        overheads_hear = part.name == "overheads" and parts[j].name in ("kick", "snare")
        gain_db = float(rng.uniform(-12, -6) if overheads_hear else rng.uniform(-30, -18))
        lag = int(rng.uniform(0.5, 4.0) / 1000 * sample_rate)
        x = x + 10**(gain_db / 20) * _delayed(raw[j], lag)
        bleed[parts[j].name] = {"gain_db": round(gain_db, 2), "delay_samples": lag}
    x = sps.sosfilt(_dc_blocker(sample_rate), x, axis=-1)  # some GM samples carry DC
    peak = np.max(np.abs(x))
    if peak <= 0:
      raise RuntimeError(f"FluidSynth rendered silence for {part.name}.")
    noise_db = float(rng.uniform(*NOISE_BELOW_PEAK_DB))
    x = x + peak * 10**(-noise_db / 20) * rng.standard_normal(x.shape)
    peak_dbfs = float(rng.uniform(*PEAK_DBFS_RANGE))
    x = _fade_out(x * 10**(peak_dbfs / 20) / np.max(np.abs(x)), sample_rate)
    out.append(x)
    info.append({"peak_dbfs": round(peak_dbfs, 2), "noise_below_peak_db": round(noise_db, 2),
                 "bleed": bleed})
  return out, info
