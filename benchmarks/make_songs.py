r"""Realistic evaluation songs: dry stems rendered from MIDI with FluidSynth, mixed two ways.

Each song is real music played by General MIDI instruments, one dry stereo
WAV per instrument, with subgroups, and two target mixes of those stems:

* **console**: mixjax's own console with a random sparse ground-truth graph
  (``mixjax.synthetic.random_graph``): the answer lies in the search space.
* **pedalboard**: Spotify's ``pedalboard`` (JUCE plug-ins: NoiseGate, shelf and
  peak filters, Compressor, Gain, Delay, Reverb) plus constant-power panning
  and a mid/side width done in NumPy, with random but plausible settings on a
  sparse choice of tracks and subgroups: a mix mixjax's processors can only
  approximate.

**The music.** Songs cycle through five styles (the order is shuffled by the
seed): ``pop``, ``rock``, ``funk`` and ``ballad`` are generated: a key, a
tempo, a four-chord progression (one chord per bar), a drum groove on GM
channel 10 (kick, snare, hi-hats, fills on the toms at the end of most
four-bar phrases, crashes; kit chosen per style), a bass line, comping keys or
guitars (voice-led chords, strums, power chords, muted funk chops), pads,
a lead melody in two-bar phrases with motifs and rests, and as more tracks
are asked for: a split drum kit (kick, snare, hi-hat, toms, cymbals, with
bleed between the drum microphones), percussion, a counter line, an
arpeggio, brass stabs, bells. ``chorale`` takes a four-part Bach chorale from
the music21 corpus (shipped inside the music21 package; nothing is
downloaded), gives the soprano, alto, tenor and bass voices to an ensemble
(strings, winds, brass, saxophones or choir), and adds doublings (contrabass,
keys, pad, harp, an octave doubling, timpani) and a light drum part when more
tracks are asked for. Every instrument is rendered alone with FluidSynth and
the FluidR3 GM SoundFont (Debian's ``fluid-soundfont-gm``), with FluidSynth's
reverb and chorus off, cut to the song's length, high-passed at 20 Hz (some
GM samples carry DC), given a noise floor about 65 dB below its peak, and
peak-normalised to -12…-4 dBFS.

**Layout** (``--out OUT``)::

  OUT/songs.json                    the set: seed, command, versions, songs, file hashes
  OUT/songs/<song>/                 everything about one song
      tracks/<instrument>.wav       dry stems, 24-bit
      midi/<instrument>.mid         what FluidSynth played
      groups.json                   subgroup name -> track file names
      song.json                     style, source, tempo, key, parts
      mix_console.wav, truth_console.json, truth_console_params.npz
      mix_pedalboard.wav, truth_pedalboard.json
  OUT/console/<song>/               a plain-layout song folder per target:
  OUT/pedalboard/<song>/            tracks/, groups.json, mix.wav and truth.json
                                    are relative symlinks into OUT/songs/<song>/

``OUT/console`` and ``OUT/pedalboard`` are each a data-set folder of plain
songs: ``mixjax search OUT/pedalboard/000_pop`` and the quality benchmark run
on them unchanged, exactly as on a user's own folder of songs (which simply
has no truth.json).

Everything is deterministic from ``--seed``: song ``i`` depends only on the
seed and ``i`` (not on ``--count``), and ``songs.json`` lists the SHA-256 of
every file (of a WAV file's samples: float WAV headers carry a time stamp), so
two runs can be compared with one ``diff``.

Usage:
  bash benchmarks/setup_songs.sh    # once: fluidsynth, the SoundFont, pedalboard, music21, mido
  python benchmarks/make_songs.py --out $MIXJAX_SONGS_DIR --seed 0 --count 6 --sample-rate 30000
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Sequence

import numpy as np
from scipy import signal as sps

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
"""The General MIDI SoundFont of Debian's fluid-soundfont-gm."""

STYLES = ("pop", "rock", "funk", "ballad", "chorale")
"""Song styles; song ``i`` has style ``order[i % 5]`` with ``order`` shuffled by the seed."""

TICKS_PER_BEAT = 480
TAIL_S = 1.0
"""At least this much of every song follows the last bar: release and reverb tails."""

FADE_S = 0.02
"""Fade-out at the very end of every track, so nothing stops with a click."""

PEAK_DBFS_RANGE = (-12.0, -4.0)
"""Each dry track's peak level."""

NOISE_BELOW_PEAK_DB = (62.0, 72.0)
"""Each dry track's noise floor (RMS), this far below its peak."""

FORMAT_VERSION = 1

# ---------------------------------------------------------------------------
# Music: parts of notes
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Part:
  """One instrument of a song: its track, its subgroup and its notes.

  Attributes:
    name: the track's file stem (``"kick"``, ``"alto_sax"``).
    group: the subgroup name.
    role: what it plays (``"kick"``, ``"bass"``, ``"comp"``, ``"lead"``...);
      decides the kind of pedalboard effects it is likely to get.
    program: GM program 0–127 (for drum parts: the drum kit, bank 128).
    drums: True for a part on MIDI channel 10.
    notes: ``(start_beats, length_beats, pitch, velocity)`` tuples.
  """
  name: str
  group: str
  role: str
  program: int
  drums: bool = False
  notes: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Score:
  """A song's music: tempo, length, parts and what to tell people about it."""
  style: str
  bpm: float
  seconds: float
  parts: list
  description: dict


GM_NAMES = {
    0: "piano", 1: "bright_piano", 4: "electric_piano", 5: "electric_piano", 7: "clavinet",
    8: "celesta", 9: "glockenspiel", 11: "vibraphone", 12: "marimba", 16: "organ", 17: "organ",
    18: "rock_organ", 19: "church_organ", 24: "nylon_guitar", 25: "acoustic_guitar",
    26: "jazz_guitar", 27: "clean_guitar", 28: "muted_guitar", 29: "overdrive_guitar",
    30: "distortion_guitar", 32: "upright_bass", 33: "bass", 34: "bass", 35: "fretless_bass",
    36: "slap_bass", 38: "synth_bass", 40: "violin", 41: "viola", 42: "cello",
    43: "contrabass", 45: "pizzicato", 46: "harp", 47: "timpani", 48: "strings",
    49: "slow_strings", 50: "synth_strings", 52: "choir", 53: "voice_oohs", 56: "trumpet",
    57: "trombone", 58: "tuba", 60: "french_horn", 61: "brass", 62: "synth_brass",
    64: "soprano_sax", 65: "alto_sax", 66: "tenor_sax", 67: "baritone_sax", 68: "oboe",
    70: "bassoon", 71: "clarinet", 73: "flute", 80: "square_lead", 81: "saw_lead",
    88: "new_age_pad", 89: "warm_pad", 90: "polysynth", 91: "choir_pad", 95: "sweep_pad",
}
"""Track names of the GM programs used."""

# GM percussion keys (channel 10).
KICK, SIDE_STICK, SNARE, CLAP = 36, 37, 38, 39
HAT_CLOSED, HAT_PEDAL, HAT_OPEN = 42, 44, 46
TOMS = (50, 48, 47, 45, 43, 41)  # high to low
CRASH, RIDE, RIDE_BELL, CRASH_2 = 49, 51, 53, 57
TAMBOURINE, COWBELL, CABASA, MARACAS = 54, 56, 69, 70
CONGAS = (62, 63, 64)  # mute high, open high, low

DRUM_PIECES = {
    "kick": {KICK, 35},
    "snare": {SIDE_STICK, SNARE, CLAP, 40},
    "hihat": {HAT_CLOSED, HAT_PEDAL, HAT_OPEN},
    "toms": set(TOMS),
    "cymbals": {CRASH, RIDE, RIDE_BELL, CRASH_2, 52, 55, 59},
}
"""Which drum keys each close drum microphone hears (the rest is bleed)."""

DRUM_SPLITS = (
    ("drums",),
    ("kick", "snare", "overheads"),
    ("kick", "snare", "hihat", "overheads"),
    ("kick", "snare", "hihat", "toms", "cymbals"),
)
"""The drum tracks at each split level; ``overheads`` gets the keys no other track has."""

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _beats_per_second(bpm: float) -> float:
  return bpm / 60.0


def _jitter_beats(rng, bpm: float, ms: float) -> float:
  """A random timing offset of up to ``ms`` milliseconds, in beats."""
  return float(rng.uniform(-ms, ms)) / 1000.0 * _beats_per_second(bpm)


def _velocity(rng, level: float, spread: float = 0.1) -> int:
  """A MIDI velocity around ``level`` (0–1 of 127) with a random spread."""
  return int(np.clip(round(127 * level * rng.uniform(1 - spread, 1)), 1, 127))


@dataclasses.dataclass(frozen=True)
class Harmony:
  """Key, scale and the chord progression (one chord per bar)."""
  root_pc: int
  scale: tuple
  progression: tuple

  def chord(self, bar: int, size: int = 3) -> tuple[int, ...]:
    """Pitch classes of the diatonic chord of ``bar``: root, third, fifth (, seventh)."""
    degree = self.progression[bar % len(self.progression)]
    return tuple((self.root_pc + self.scale[(degree + 2 * k) % 7]) % 12 for k in range(size))

  def scale_pcs(self) -> set:
    return {(self.root_pc + s) % 12 for s in self.scale}


def _in_range(pcs, lo: int, hi: int) -> list[int]:
  """Every pitch in ``[lo, hi]`` whose pitch class is in ``pcs``."""
  pcs = set(pcs)
  return [p for p in range(lo, hi + 1) if p % 12 in pcs]


def _nearest(pitches: Sequence[int], target: float) -> int:
  return min(pitches, key=lambda p: (abs(p - target), p))


def _voicing(pcs, lo: int, hi: int, size: int, previous=None) -> list[int]:
  """``size`` close-position chord notes in ``[lo, hi]``, voice-led to ``previous``.

  Every inversion and octave of the chord is a candidate; the one whose mean
  pitch is closest to the previous voicing's (or to the middle of the range)
  wins.
  """
  pcs = list(pcs)
  target = np.mean(previous) if previous else (lo + hi) / 2
  best, best_cost = None, math.inf
  for inversion in range(len(pcs)):
    order = pcs[inversion:] + pcs[:inversion]
    for start in _in_range([order[0]], lo, hi):
      notes, pitch = [start], start
      for k in range(1, size):
        pc = order[k % len(order)]
        pitch = pitch + 1
        while pitch % 12 != pc:
          pitch += 1
        notes.append(pitch)
      if notes[-1] > hi:
        continue
      cost = abs(np.mean(notes) - target)
      if cost < best_cost:
        best, best_cost = notes, cost
  if best is None:  # range too narrow: stack from lo
    best = _voicing(pcs, lo, hi + 12, size, previous)
  return best


def _guitar_voicing(chord_pcs, rng) -> list[int]:
  """A barre-chord-like voicing: root in E2–D#3, then fifth, octave, third, fifth."""
  root = _nearest(_in_range([chord_pcs[0]], 40, 51), 45 + rng.integers(-2, 3))
  third = (chord_pcs[1] - chord_pcs[0]) % 12
  fifth = (chord_pcs[2] - chord_pcs[0]) % 12
  return [root, root + fifth, root + 12, root + 12 + third, root + 12 + fifth]


# -- drums -------------------------------------------------------------------


def _drum_kit_notes(rng, style: str, n_bars: int, bpm: float, *, bar_steps: int = 16,
                    phrase_bars: int = 4, start_bar: int = 0) -> list:
  """Every note of a drum kit playing a groove of ``style`` for ``n_bars`` bars.

  16th-note grid (``bar_steps`` per bar); a crash on the first downbeat and
  on most phrase starts; a fill on the toms in the last bar of most phrases,
  and in the last bar of the song if there was none before.
  """
  soft = style in ("ballad", "chorale")
  notes = []

  def hit(bar, step, key, level, length=0.25):
    beat = (start_bar + bar) * bar_steps / 4 + step / 4 + _jitter_beats(rng, bpm, 6)
    notes.append((max(beat, 0.0), length, key, _velocity(rng, level)))

  hat_16ths = style == "funk" or (style == "pop" and rng.random() < 0.4)
  ride = style == "rock" and rng.random() < 0.3
  backbeat = SIDE_STICK if soft and rng.random() < 0.7 else (
      CLAP if style == "pop" and rng.random() < 0.3 else SNARE)
  beats = bar_steps // 4
  base_kick = {"rock": (0, 8, 10), "pop": (0, 6, 8), "funk": (0, 3, 10),
               "ballad": (0, 10), "chorale": (0,)}[style]
  base_kick = tuple(s for s in base_kick if s < bar_steps)
  snare_steps = (tuple(range(4, bar_steps, 8)) if beats % 2 == 0
                 else tuple(range(4, bar_steps, 4)))  # 3/4: beats 2 and 3
  filled = False
  for bar in range(n_bars):
    fill = ((bar % phrase_bars == phrase_bars - 1 and bar != n_bars - 1 and rng.random() < 0.75)
            or (bar == n_bars - 1 and not filled))  # at least one fill per song
    filled = filled or fill
    fill_from = bar_steps - (8 if rng.random() < 0.5 else 4) if fill else bar_steps
    if bar == 0 or (bar % phrase_bars == 0 and rng.random() < 0.8):
      hit(bar, 0, CRASH if rng.random() < 0.7 else CRASH_2, 0.85 if not soft else 0.55, 2.0)
    for step in range(fill_from):
      # kick
      if step in base_kick or (step % 2 == 0 and step not in snare_steps and rng.random() <
                               (0.12 if style != "funk" else 0.2)):
        hit(bar, step, KICK, 0.95 if step in base_kick else 0.7)
      # backbeat and ghost notes
      if step in snare_steps:
        hit(bar, step, backbeat, 0.9 if not soft else 0.6)
      elif style == "funk" and step % 2 == 1 and rng.random() < 0.25:
        hit(bar, step, SNARE, 0.25)
      # hats (or ride)
      if hat_16ths or step % 2 == 0:
        accent = 0.8 if step % 4 == 0 else (0.55 if step % 2 == 0 else 0.4)
        key = RIDE if ride else HAT_CLOSED
        if not ride and step % 4 == 2 and rng.random() < 0.08:
          key = HAT_OPEN
        hit(bar, step, key, accent * (0.6 if soft else 1.0))
      if ride and step in snare_steps:  # riding: the foot keeps time on the hi-hat
        hit(bar, step, HAT_PEDAL, 0.6)
    if fill:
      toms = list(TOMS)
      rate = 1 if rng.random() < 0.5 else 2
      for k, step in enumerate(range(fill_from, bar_steps, rate)):
        n_hits = max((bar_steps - fill_from) // rate, 1)  # down the toms, high to low
        key = SNARE if k == 0 else toms[min(k * len(toms) // n_hits, len(toms) - 1)]
        hit(bar, step, key, 0.6 + 0.3 * k / max(bar_steps - fill_from, 1))
  return notes


def _split_drums(kit_notes: list, level: int, kit: int, group: str) -> list[Part]:
  """The kit's notes split over the close microphones of ``DRUM_SPLITS[level]``."""
  parts = []
  names = DRUM_SPLITS[level]
  claimed = set().union(*(DRUM_PIECES[n] for n in names if n in DRUM_PIECES))
  for name in names:
    keys = DRUM_PIECES.get(name)
    if name == "drums":
      mine = kit_notes
    elif keys is None:  # overheads: whatever no close microphone has
      mine = [n for n in kit_notes if n[2] not in claimed]
    else:
      mine = [n for n in kit_notes if n[2] in keys]
    parts.append(Part(name=name, group=group, role=name, program=kit, drums=True, notes=mine))
  return parts


def _percussion_notes(rng, style: str, n_bars: int, bpm: float, bar_steps: int = 16) -> list:
  kind = rng.choice(["shaker", "tambourine", "congas"] if style in ("funk", "pop")
                    else ["shaker", "tambourine"])
  notes = []
  for bar in range(n_bars):
    for step in range(bar_steps):
      beat = bar * bar_steps / 4 + step / 4 + _jitter_beats(rng, bpm, 5)
      if kind == "shaker" and (step % 2 == 0 or style == "funk"):
        notes.append((max(beat, 0), 0.2, MARACAS if style != "ballad" else CABASA,
                      _velocity(rng, 0.75 if step % 4 == 2 else 0.5)))
      elif kind == "tambourine" and (step % 8 == 4 or (step % 2 == 0 and rng.random() < 0.3)):
        level = 0.8 if step % 8 == 4 else 0.45
        notes.append((max(beat, 0), 0.2, TAMBOURINE, _velocity(rng, level)))
      elif kind == "congas" and step in (0, 3, 6, 8, 10, 11, 14) and rng.random() < 0.85:
        key = {0: CONGAS[2], 3: CONGAS[0], 6: CONGAS[1], 8: CONGAS[2], 10: CONGAS[0],
               11: CONGAS[1], 14: CONGAS[1]}[step]
        notes.append((max(beat, 0), 0.2, key, _velocity(rng, 0.75)))
  return notes


# -- pitched parts of the generated styles ------------------------------------


def _bass_notes(rng, style: str, harmony: Harmony, n_bars: int, bpm: float) -> list:
  """A bass line on the chord roots with style patterns and approach notes."""
  patterns = {  # (step, length in steps, interval above the root)
      "rock": [[(s, 1.6, 0) for s in range(0, 16, 2)],
               [(0, 3, 0), (3, 1, 0), (4, 2, 0), (6, 2, 12), (8, 3, 0), (11, 1, 0), (12, 4, 7)]],
      "pop": [[(0, 3, 0), (3, 1, 0), (6, 2, 0), (8, 4, 0), (12, 2, 7), (14, 2, 12)],
              [(0, 6, 0), (6, 2, 0), (8, 6, 0), (14, 2, 7)]],
      "funk": [[(0, 1.5, 0), (3, 0.5, 12), (6, 1, 0), (7, 0.5, 0), (10, 1.5, 7), (12, 0.5, 0),
                (14, 0.5, 12), (15, 0.5, 10)],
               [(0, 2, 0), (2, 0.5, 0), (4, 0.5, 12), (6, 1, 0), (9, 1, 7), (11, 0.5, 12),
                (12, 1.5, 0), (14, 1, 10)]],
      "ballad": [[(0, 8, 0), (8, 8, 7)], [(0, 12, 0), (12, 4, 7)], [(0, 16, 0)]],
  }[style]
  notes = []
  for bar in range(n_bars):
    if bar % 2 == 0:  # a pattern lasts two bars
      pattern = patterns[rng.integers(len(patterns))]
    root_pc = harmony.chord(bar)[0]
    root = _nearest(_in_range([root_pc], 28, 40), 34)
    for step, length, interval in pattern:
      pitch = root + interval
      if interval == 7 and (root_pc + 7) % 12 not in harmony.chord(bar):
        pitch = root + (harmony.chord(bar)[2] - root_pc) % 12  # the chord's own fifth
      if interval == 10 and (root_pc + 10) % 12 not in harmony.scale_pcs():
        pitch = root + 12
      beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 4)
      notes.append((max(beat, 0), length / 4 * 0.92, pitch, _velocity(rng, 0.85)))
    if bar < n_bars - 1 and style != "funk" and rng.random() < 0.3:  # approach the next root
      next_root = _nearest(_in_range([harmony.chord(bar + 1)[0]], 28, 40), root)
      approach = next_root + (1 if rng.random() < 0.5 else -1) * (1 if rng.random() < 0.5 else 2)
      notes = [n for n in notes if n[0] < bar * 4 + 3.5]
      notes.append((bar * 4 + 3.5, 0.45, approach, _velocity(rng, 0.75)))
  return notes


def _comp_notes(rng, style: str, role: str, program: int, harmony: Harmony, n_bars: int,
                bpm: float) -> list:
  """Chords: keys block chords, guitar strums, power chords or muted funk chops."""
  guitar = 24 <= program <= 31
  notes, previous = [], None
  keys_rhythms = {
      "pop": [[(0, 4), (4, 4), (8, 4), (12, 4)], [(0, 6), (6, 2), (8, 6), (14, 2)], [(0, 16)]],
      "rock": [[(0, 8), (8, 8)], [(0, 4), (4, 4), (8, 4), (12, 4)]],
      "funk": [[(2, 1), (6, 1), (10, 1), (13, 2)], [(0, 1), (3, 1), (6, 2), (11, 1), (14, 1)]],
      "ballad": [[(0, 16)], [(0, 8), (8, 8)]],
  }[style]
  size = 4 if style in ("funk", "ballad") else 3
  for bar in range(n_bars):
    chord = harmony.chord(bar, size)
    if guitar and style == "rock" and program in (29, 30):  # palm-muted power chords, 8ths
      root = _nearest(_in_range([chord[0]], 40, 52), 45)
      fifth = root + (chord[2] - chord[0]) % 12
      for step in range(0, 16, 2):
        beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 5)
        for k, pitch in enumerate((root, fifth, root + 12)):
          notes.append((max(beat + k * 0.01, 0), 0.4, pitch, _velocity(rng, 0.85)))
    elif guitar and style == "funk":  # 16th chops, most of them muted, a few ringing
      voicing = _voicing(chord, 55, 76, 3, previous)
      previous = voicing
      for step in range(16):
        if rng.random() < 0.65:
          beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 4)
          ring = step in (2, 10) or rng.random() < 0.1
          for pitch in voicing:
            notes.append((max(beat, 0), 0.22 if ring else 0.07, pitch,
                          _velocity(rng, 0.8 if step % 4 == 2 else 0.55)))
    elif guitar:  # strums: down strokes low to high, up strokes high to low
      voicing = _guitar_voicing(chord, rng)
      pattern = ([(0, "D"), (4, "D"), (6, "U"), (10, "U"), (12, "D"), (14, "U")]
                 if style != "ballad" else [(s, "P") for s in range(0, 16, 2)])
      for k, (step, stroke) in enumerate(pattern):
        beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 5)
        if stroke == "P":  # ballad: picked arpeggio
          pitch = voicing[[0, 2, 3, 4, 2, 3, 1, 3][k % 8]]
          notes.append((beat, 0.9, pitch, _velocity(rng, 0.65)))
          continue
        strings = voicing if stroke == "D" else voicing[::-1][:4]
        for j, pitch in enumerate(strings):
          notes.append((max(beat + j * 0.012 * _beats_per_second(bpm), 0), 0.45, pitch,
                        _velocity(rng, 0.8 if stroke == "D" else 0.6)))
    else:  # keys: voice-led block chords, the left hand on the root
      if bar % 2 == 0:  # a rhythm lasts two bars
        rhythm = keys_rhythms[rng.integers(len(keys_rhythms))]
      voicing = _voicing(chord, 52, 77, size, previous)
      previous = voicing
      for step, length in rhythm:
        beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 5)
        for pitch in voicing:
          notes.append((max(beat, 0), length / 4 * 0.9, pitch, _velocity(rng, 0.7)))
      if program <= 7 and style != "funk":
        bass = _nearest(_in_range([chord[0]], 36, 48), 42)
        notes.append((bar * 4.0, 1.9, bass, _velocity(rng, 0.65)))
  return notes


def _pad_notes(rng, harmony: Harmony, n_bars: int, *, lo: int = 48, hi: int = 79) -> list:
  """Sustained four-note chords, one per bar, voice-led."""
  notes, previous = [], None
  level = rng.uniform(0.5, 0.7)
  for bar in range(n_bars):
    voicing = _voicing(harmony.chord(bar, 4 if rng.random() < 0.4 else 3), lo, hi, 4, previous)
    previous = voicing
    for pitch in voicing:
      notes.append((bar * 4.0, 3.95, pitch, _velocity(rng, level, 0.05)))
  return notes


def _melody_notes(rng, harmony: Harmony, n_bars: int, bpm: float, *, lo: int, hi: int,
                  busy: float = 0.5) -> list:
  """A melody in two-bar phrases: chord tones on strong beats, steps between, motifs, rests.

  Each four-bar section draws one rhythm for its first phrase and repeats it
  (with new pitches) in its second; a phrase is left silent now and then.
  """
  scale_pitches = _in_range(harmony.scale_pcs(), lo, hi)
  index = len(scale_pitches) // 2
  notes = []
  rhythm = None
  for phrase in range(0, n_bars, 2):
    if (phrase // 2) % 2 == 0 or rhythm is None:
      rhythm, step = [], 0
      choices = ([1, 2, 2, 2, 3, 4] if busy > 0.6 else [2, 2, 3, 4, 4, 6] if busy > 0.3
                 else [2, 4, 4, 6, 8])
      while step < 28:
        length = int(rng.choice(choices))
        rest = rng.random() < 0.1
        rhythm.append((step, min(length, 32 - step), rest))
        step += length
      rhythm.append((max(step, 28), 32 - max(step, 28) if step < 32 else 4, False))
    if phrase > 0 and rng.random() < 0.15:  # a silent phrase: the others answer
      continue
    for step, length, rest in rhythm:
      if rest or step >= 32:
        continue
      bar = phrase + step // 16
      if bar >= n_bars:
        break
      beat = phrase * 4 + step / 4
      if step % 8 == 0:  # strong beat: the nearest chord tone
        chord = harmony.chord(bar)
        candidates = [i for i, p in enumerate(scale_pitches) if p % 12 in chord]
        index = min(candidates, key=lambda i: abs(i - index + rng.integers(-1, 2)))
      else:
        index = int(np.clip(index + rng.choice([-2, -1, -1, 1, 1, 2]), 0,
                            len(scale_pitches) - 1))
      notes.append((beat + _jitter_beats(rng, bpm, 8), length / 4 * 0.9, scale_pitches[index],
                    _velocity(rng, 0.85 if step % 4 == 0 else 0.7)))
  return notes


def _counter_notes(rng, harmony: Harmony, n_bars: int, *, lo: int = 55, hi: int = 74) -> list:
  """Long guide tones (the chord's third or seventh), voice-led, half or whole notes."""
  notes, previous = [], (lo + hi) / 2
  for bar in range(n_bars):
    chord = harmony.chord(bar, 4)
    halves = 2 if rng.random() < 0.4 else 1
    for h in range(halves):
      pcs = [chord[1], chord[3]] if h == 0 else [chord[2], chord[0]]
      pitch = _nearest(_in_range(pcs, lo, hi), previous)
      previous = pitch
      notes.append((bar * 4.0 + h * 4 / halves, 4 / halves * 0.95, pitch, _velocity(rng, 0.65)))
  return notes


def _arp_notes(rng, harmony: Harmony, n_bars: int, bpm: float) -> list:
  """A 16th- or 8th-note arpeggio over the chord tones in two octaves."""
  rate = 1 if rng.random() < 0.5 else 2
  shape = rng.choice(["up", "updown", "random"])
  notes = []
  for bar in range(n_bars):
    tones = _voicing(harmony.chord(bar), 60, 84, 3)
    tones = tones + [t + 12 for t in tones]
    if shape == "updown":
      tones = tones + tones[-2:0:-1]
    for k, step in enumerate(range(0, 16, rate)):
      pitch = tones[k % len(tones)] if shape != "random" else int(rng.choice(tones))
      notes.append((bar * 4 + step / 4, rate / 4 * 0.8, pitch,
                    _velocity(rng, 0.7 if step % 4 == 0 else 0.55)))
  return notes


def _stab_notes(rng, harmony: Harmony, n_bars: int, bpm: float) -> list:
  """Short brass chords on syncopations, every other bar."""
  notes = []
  for bar in range(n_bars):
    if bar % 2 == 1 and rng.random() < 0.7:
      continue
    voicing = _voicing(harmony.chord(bar), 58, 79, 3)
    for step in [(6, 14), (3, 10), (0, 6, 14)][rng.integers(3)]:
      beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 4)
      for pitch in voicing:
        notes.append((max(beat, 0), 0.3, pitch, _velocity(rng, 0.85)))
  return notes


def _bell_notes(rng, harmony: Harmony, n_bars: int) -> list:
  """Sparse chord tones high up (glockenspiel, vibraphone, celesta)."""
  notes = []
  for bar in range(n_bars):
    tones = _in_range(harmony.chord(bar), 72, 91)
    for step in sorted(rng.choice(np.arange(0, 16, 2), size=rng.integers(1, 4), replace=False)):
      notes.append((bar * 4 + step / 4, 1.0, int(rng.choice(tones)), _velocity(rng, 0.6)))
  return notes


# -- generated styles ---------------------------------------------------------

STYLE_SETTINGS = {
    "pop": dict(bpm=(92, 124), scales=(MAJOR, MAJOR, MINOR),
                progressions=((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 5, 4)),
                kits=(0, 24, 25, 8), bass=(33, 38, 34), comp=(0, 25, 4, 27), comp2=(25, 4, 0, 90),
                pad=(89, 48, 50, 88), lead=(73, 80, 53, 65, 11), counter=(48, 60, 53),
                arp=(81, 11, 12, 46), stabs=(61, 62), bells=(9, 8, 11)),
    "rock": dict(bpm=(104, 140), scales=(MAJOR, MINOR),
                 progressions=((0, 3, 4, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 4, 3, 3)),
                 kits=(16, 0, 8), bass=(34, 33), comp=(29, 30), comp2=(27, 18, 25, 0),
                 pad=(48, 49, 89), lead=(30, 81, 66, 29), counter=(61, 48, 18),
                 arp=(27, 81), stabs=(61,), bells=(9, 11)),
    "funk": dict(bpm=(92, 112), scales=(DORIAN, MINOR, MAJOR),
                 progressions=((0, 0, 3, 3), (0, 3, 0, 4), (1, 4, 0, 0), (0, 6, 5, 4)),
                 kits=(0, 8), bass=(36, 33, 38), comp=(28, 27, 7), comp2=(4, 7, 16),
                 pad=(50, 89, 16), lead=(65, 66, 56, 81), counter=(61, 62, 16),
                 arp=(12, 81), stabs=(61, 62), bells=(11, 12)),
    "ballad": dict(bpm=(64, 84), scales=(MAJOR, MINOR),
                   progressions=((0, 5, 3, 4), (0, 2, 3, 4), (0, 4, 5, 2), (5, 3, 0, 4)),
                   kits=(40, 32, 0), bass=(35, 32, 33), comp=(0, 24, 4), comp2=(24, 46, 4),
                   pad=(48, 49, 52, 89), lead=(40, 71, 73, 68, 42), counter=(60, 48, 71),
                   arp=(46, 8, 11), stabs=(60,), bells=(8, 9, 11)),
}
"""Per style: tempo range, scales, progressions (scale degrees, one per bar), GM programs."""

REGISTERS = {  # melody range per lead program
    73: (72, 93), 80: (64, 86), 53: (60, 79), 65: (61, 82), 66: (54, 75), 11: (65, 89),
    30: (59, 83), 81: (62, 86), 29: (59, 83), 56: (60, 82), 40: (67, 91), 71: (58, 84),
    68: (62, 86), 42: (48, 69),
}

GENERATED_GROUPS = {"drums": "drums", "bass": "bass", "comp": "rhythm", "comp2": "rhythm",
                    "stabs": "rhythm", "pad": "pads", "pad2": "pads", "arp": "pads",
                    "lead": "lead", "counter": "lead", "bells": "lead", "percussion": "drums"}


def _musical_length(rng, seconds_range, bar_s: float) -> tuple[float, int]:
  """``(seconds, n_bars)``: a length in the range, and the whole bars that fit before the tail."""
  seconds = round(float(rng.uniform(*seconds_range)), 2)
  n_bars = max(1, int((seconds - TAIL_S) // bar_s))
  return seconds, n_bars


def _generated_score(rng, style: str, n_tracks: int, seconds_range) -> Score:
  """A pop, rock, funk or ballad song with ``n_tracks`` instruments."""
  settings = STYLE_SETTINGS[style]
  bpm = round(float(rng.uniform(*settings["bpm"])), 1)
  seconds, n_bars = _musical_length(rng, seconds_range, 4 * 60.0 / bpm)
  scale = settings["scales"][rng.integers(len(settings["scales"]))]
  progressions = settings["progressions"]
  harmony = Harmony(root_pc=int(rng.integers(12)), scale=scale,
                    progression=progressions[rng.integers(len(progressions))])
  pick = lambda role: int(rng.choice(settings[role]))

  # Which tracks: four core parts, then extras in a style-flavoured, lightly shuffled order.
  roles = ["comp", "lead"]
  drum_level, extras = 0, ["pad", "split", "comp2", "split", "percussion", "counter", "split",
                           "arp", "stabs", "pad2", "bells"]
  for i in range(len(extras) - 1):  # neighbouring extras swap now and then
    if rng.random() < 0.3:
      extras[i], extras[i + 1] = extras[i + 1], extras[i]
  budget = n_tracks - 4
  for extra in extras:
    cost = 2 if extra == "split" and drum_level == 0 else 1
    if cost > budget:
      continue
    budget -= cost
    if extra == "split":
      drum_level += 1
    else:
      roles.append(extra)

  kit = pick("kits")
  parts = _split_drums(_drum_kit_notes(rng, style, n_bars, bpm), drum_level, kit, "drums")
  parts.append(Part("bass", "bass", "bass", pick("bass"),
                    notes=_bass_notes(rng, style, harmony, n_bars, bpm)))
  for role in roles:
    group = GENERATED_GROUPS[role]
    if role == "percussion":
      parts.append(Part("percussion", group, role, kit, drums=True,
                        notes=_percussion_notes(rng, style, n_bars, bpm)))
      continue
    program = pick({"pad2": "pad"}.get(role, role))
    if role == "comp":
      notes = _comp_notes(rng, style, role, program, harmony, n_bars, bpm)
    elif role == "comp2":
      notes = _comp_notes(rng, "pop" if style == "rock" else style, role, program, harmony,
                          n_bars, bpm)
    elif role in ("pad", "pad2"):
      notes = _pad_notes(rng, harmony, n_bars, lo=48 if role == "pad" else 60,
                         hi=79 if role == "pad" else 88)
    elif role == "lead":
      lo, hi = REGISTERS.get(program, (60, 84))
      notes = _melody_notes(rng, harmony, n_bars, bpm, lo=lo, hi=hi,
                            busy=0.8 if style == "funk" else (0.2 if style == "ballad" else 0.5))
    elif role == "counter":
      notes = _counter_notes(rng, harmony, n_bars)
    elif role == "arp":
      notes = _arp_notes(rng, harmony, n_bars, bpm)
    elif role == "stabs":
      notes = _stab_notes(rng, harmony, n_bars, bpm)
    else:
      notes = _bell_notes(rng, harmony, n_bars)
    parts.append(Part(GM_NAMES[program], group, role, program, notes=notes))
  _unique_names(parts)
  key = f"{PITCH_NAMES[harmony.root_pc]} " + {MAJOR: "major", MINOR: "minor",
                                              DORIAN: "dorian"}[scale]
  description = {"style": style, "source": "generated", "key": key, "bpm": bpm,
                 "bars": n_bars, "progression_degrees": list(harmony.progression),
                 "drum_kit": kit}
  return Score(style=style, bpm=bpm, seconds=seconds, parts=parts, description=description)


def _unique_names(parts: list) -> None:
  """Renames repeated track names ``name``, ``name_2``, ``name_3``... in place."""
  seen = {}
  for part in parts:
    count = seen.get(part.name, 0) + 1
    seen[part.name] = count
    if count > 1:
      part.name = f"{part.name}_{count}"


# -- Bach chorales from the music21 corpus -----------------------------------

ENSEMBLES = {
    "strings": ((40, "violin_1"), (40, "violin_2"), (41, "viola"), (42, "cello")),
    "winds": ((73, "flute"), (68, "oboe"), (71, "clarinet"), (70, "bassoon")),
    "brass": ((56, "trumpet"), (60, "french_horn"), (57, "trombone"), (58, "tuba")),
    "saxes": ((64, "soprano_sax"), (65, "alto_sax"), (66, "tenor_sax"), (67, "baritone_sax")),
    "choir": ((52, "soprano"), (52, "alto"), (53, "tenor"), (53, "bass_voice")),
}
"""Who sings or plays soprano, alto, tenor and bass."""

VOICES = ("Soprano", "Alto", "Tenor", "Bass")


def chorale_paths() -> list:
  """The Bach chorales of the music21 corpus (MusicXML), in a fixed order."""
  from music21 import corpus
  paths = [p for p in corpus.getComposer("bach")
           if p.suffix in (".mxl", ".xml") and p.name.startswith("bwv")]
  return sorted(paths, key=lambda p: p.name)


def _read_chorale(path):
  """``(voices, bar_quarters, pickup_quarters, length_quarters)`` or None if not SATB.

  ``voices[v]`` lists ``(offset, length, pitch)`` in quarter notes (ties merged).
  """
  from music21 import converter, meter
  score = converter.parse(str(path)).stripTies()
  by_name = {p.partName: p for p in score.parts}
  if not all(v in by_name for v in VOICES):
    return None
  voices = []
  for v in VOICES:
    notes = []
    for n in by_name[v].flatten().notes:
      if n.quarterLength <= 0:
        continue
      for pitch in n.pitches:
        notes.append((float(n.offset), float(n.quarterLength), int(pitch.midi)))
    voices.append(notes)
  signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
  bar = float(signatures[0].barDuration.quarterLength) if signatures else 4.0
  measures = list(by_name["Soprano"].getElementsByClass("Measure"))
  padding = float(measures[0].paddingLeft) if measures else 0.0
  pickup = (bar - padding) % bar
  length = max(o + d for notes in voices for o, d, _ in notes)
  length = math.ceil((length - pickup) / bar - 1e-9) * bar + pickup
  if bar not in (3.0, 4.0) or not all(voices):
    return None
  return voices, bar, pickup, length


def _sounding(voices, beat: float) -> list[int]:
  """The voices' pitches sounding at ``beat`` (quarter notes)."""
  pitches = []
  for notes in voices:
    for o, d, p in notes:
      if o <= beat < o + d:
        pitches.append(p)
        break
  return pitches


def _chorale_score(rng, n_tracks: int, seconds_range) -> Score:
  """A Bach chorale for an ensemble, with doublings and drums for more tracks."""
  paths = chorale_paths()
  if not paths:
    raise RuntimeError("the music21 corpus has no Bach chorales; reinstall music21.")
  start = int(rng.integers(len(paths)))
  for k in range(len(paths)):
    path = paths[(start + k) % len(paths)]
    read = _read_chorale(path)
    if read is not None:
      break
  else:
    raise RuntimeError("no four-part chorale found in the music21 corpus.")
  voices, bar_q, pickup_q, length_q = read
  bpm = round(float(rng.uniform(66, 96)), 1)
  seconds = round(float(rng.uniform(*seconds_range)), 2)
  music_q = (seconds - TAIL_S) * _beats_per_second(bpm)
  # Whole bars (counted from the first downbeat) that fit; the chorale repeats if it is short.
  end_q = pickup_q + max(1, int((music_q - pickup_q) // bar_q)) * bar_q
  if end_q > music_q + 1e-9:
    end_q = music_q
  repeats = int(math.ceil(end_q / length_q))

  def looped(notes, shift=0):
    out = []
    for r in range(repeats):
      for o, d, p in notes:
        o = o + r * length_q
        if o < end_q:
          out.append((o, min(d, end_q - o), p + shift))
    return out

  looped_voices = [looped(v) for v in voices]
  ensemble = str(rng.choice(list(ENSEMBLES)))
  parts = []
  for (program, name), notes in zip(ENSEMBLES[ensemble], looped_voices):
    level = rng.uniform(0.65, 0.85)
    parts.append(Part(name, ensemble, "voice", program,
                      notes=[(o, d * 0.97, p, _velocity(rng, level, 0.08)) for o, d, p in notes]))
  bass_voice, soprano = looped_voices[3], looped_voices[0]
  downbeats = np.arange(pickup_q, end_q, bar_q)

  extras = ["low", "keys", "drums", "pad", "double", "split", "harp", "split", "timpani",
            "split", "percussion"]
  for i in range(len(extras) - 1):
    if rng.random() < 0.25 and "split" not in extras[i:i + 2] and "drums" not in extras[i:i + 2]:
      extras[i], extras[i + 1] = extras[i + 1], extras[i]
  budget, drum_level, chosen = n_tracks - 4, None, []
  for extra in extras:
    if extra == "split":
      if drum_level is None:
        continue
      cost = 2 if drum_level == 0 else 1
    else:
      cost = 1
    if cost > budget:
      continue
    budget -= cost
    if extra == "drums":
      drum_level = 0
    elif extra == "split":
      drum_level += 1
    else:
      chosen.append(extra)

  if drum_level is not None:
    kit = int(rng.choice([40, 32, 0]))
    bar_steps = int(bar_q * 4)
    kit_notes = _drum_kit_notes(rng, "chorale", len(downbeats), bpm, bar_steps=bar_steps)
    kit_notes = [(b + pickup_q, d, p, v) for b, d, p, v in kit_notes if b + pickup_q < end_q]
    parts += _split_drums(kit_notes, drum_level, kit, "drums")
  for extra in chosen:
    if extra == "low":
      program = int(rng.choice([43, 32, 33]))
      if program == 33:  # electric bass: the bass voice in repeated 8ths
        notes = []
        for o, d, p in bass_voice:
          for k in range(max(1, int(round(d / 0.5)))):
            notes.append((o + 0.5 * k, 0.45, p - 12 if p >= 48 else p, _velocity(rng, 0.8)))
      else:
        notes = [(o, d * 0.95, p - 12, _velocity(rng, 0.75)) for o, d, p in bass_voice]
      parts.append(Part(GM_NAMES[program], "low", "bass", program, notes=notes))
    elif extra == "keys":
      program = int(rng.choice([0, 19, 4, 16]))
      seen, notes = set(), []
      for voice in looped_voices:
        for o, d, p in voice:
          if (round(o, 3), p) not in seen:
            seen.add((round(o, 3), p))
            notes.append((o, d * 0.95, p, _velocity(rng, 0.6)))
      parts.append(Part(GM_NAMES[program], "accompaniment", "comp", program, notes=notes))
    elif extra == "pad":
      program = int(rng.choice([48, 49, 89, 91]))
      notes, step = [], bar_q / (2 if bar_q == 4 else 3)
      for beat in np.arange(0, end_q, step):
        for p in set(_sounding(looped_voices, beat + 1e-6)):
          notes.append((float(beat), min(step, end_q - beat) * 0.98, p, _velocity(rng, 0.55, 0.05)))
      parts.append(Part(GM_NAMES[program], "accompaniment", "pad", program, notes=notes))
    elif extra == "double":
      program = int(rng.choice([73, 9, 11, 71]))
      shift = 24 if program == 9 else 12
      notes = [(o, d * 0.95, p + shift, _velocity(rng, 0.6)) for o, d, p in soprano]
      parts.append(Part(GM_NAMES[program], "accompaniment", "lead", program, notes=notes))
    elif extra == "harp":
      notes = []
      for beat in np.arange(0, end_q, 0.5):
        pitches = sorted(set(_sounding(looped_voices, beat + 1e-6)))
        if pitches:
          k = int(round(beat * 2)) % len(pitches)
          notes.append((float(beat), 0.9, pitches[k] + 12, _velocity(rng, 0.6)))
      parts.append(Part("harp", "accompaniment", "arp", 46, notes=notes))
    elif extra == "timpani":
      notes = []
      for beat in downbeats:
        pitches = _sounding([bass_voice], beat + 1e-6)
        if pitches and rng.random() < 0.7:
          pitch = _nearest(_in_range([pitches[0] % 12], 41, 55), 48)
          notes.append((float(beat), 0.9, pitch, _velocity(rng, 0.7)))
      if not notes:
        notes = [(float(downbeats[0]), 0.9, 48, 90)]
      parts.append(Part("timpani", "low", "bass", 47, notes=notes))
    elif extra == "percussion":
      notes = [(b, d, p, v) for b, d, p, v in _percussion_notes(
          rng, "ballad", len(downbeats), bpm, bar_steps=int(bar_q * 4))]
      notes = [(b + pickup_q, d, p, v) for b, d, p, v in notes if b + pickup_q < end_q]
      parts.append(Part("percussion", "drums", "percussion", 0, drums=True, notes=notes))
  _unique_names(parts)
  description = {"style": "chorale", "source": f"music21 corpus: bach/{path.name}",
                 "ensemble": ensemble, "bpm": bpm, "bar_quarters": bar_q,
                 "pickup_quarters": pickup_q, "repeats": repeats}
  return Score(style="chorale", bpm=bpm, seconds=seconds, parts=parts, description=description)


def make_score(seed: int, index: int, *, n_tracks: int, seconds_range, style: str) -> Score:
  """The music of song ``index`` of the set made with ``seed`` (no audio)."""
  rng = np.random.default_rng([seed, index, 0])
  if style == "chorale":
    score = _chorale_score(rng, n_tracks, seconds_range)
  else:
    score = _generated_score(rng, style, n_tracks, seconds_range)
  end_beats = (score.seconds - TAIL_S / 2) * _beats_per_second(score.bpm)
  for part in score.parts:  # nothing starts in the tail; every part plays
    part.notes = sorted((max(b, 0.0), d, p, v) for b, d, p, v in part.notes if b < end_beats)
    if not part.notes:
      raise RuntimeError(f"song {index}: the {part.name} part has no notes; try another seed.")
  return score


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


# ---------------------------------------------------------------------------
# Target (b): a pedalboard mix
# ---------------------------------------------------------------------------

PEDALBOARD_ORDER = ("NoiseGate", "EQ", "Compressor", "Gain", "Pan", "StereoWidth", "Delay",
                    "Reverb")
"""The chain of every track and subgroup (EQ is 1–3 of LowShelfFilter, PeakFilter,
HighShelfFilter); each effect is present or not."""

MIXJAX_TYPE = {"NoiseGate": "noisegate", "LowShelfFilter": "eq", "HighShelfFilter": "eq",
               "PeakFilter": "eq", "Compressor": "compressor", "Gain": "gain_pan",
               "Pan": "gain_pan", "StereoWidth": "imager", "Delay": "delay", "Reverb": "reverb"}
"""The mixjax processor that plays each pedalboard effect's part."""

CATEGORY = {"kick": "drum_close", "snare": "drum_close", "toms": "drum_close",
            "hihat": "drum_room", "cymbals": "drum_room", "overheads": "drum_room",
            "drums": "drum_room", "percussion": "drum_room", "bass": "bass", "comp": "rhythm",
            "comp2": "rhythm", "stabs": "rhythm", "pad": "pad", "pad2": "pad", "arp": "pad",
            "lead": "lead", "counter": "lead", "bells": "lead", "voice": "lead"}

EFFECT_PROBABILITY = {  # NoiseGate, EQ, Compressor, Gain, Pan, StereoWidth, Delay, Reverb
    "drum_close": (0.6, 0.6, 0.5, 0.5, 0.3, 0.0, 0.0, 0.15),
    "drum_room": (0.1, 0.5, 0.3, 0.5, 0.6, 0.0, 0.05, 0.2),
    "bass": (0.05, 0.6, 0.6, 0.5, 0.0, 0.0, 0.0, 0.05),
    "rhythm": (0.05, 0.6, 0.4, 0.5, 0.7, 0.05, 0.2, 0.25),
    "pad": (0.0, 0.5, 0.2, 0.5, 0.5, 0.1, 0.1, 0.3),
    "lead": (0.1, 0.6, 0.6, 0.5, 0.4, 0.0, 0.35, 0.4),
    "group": (0.03, 0.4, 0.5, 0.35, 0.15, 0.2, 0.1, 0.4),
    "single_group": (0.0, 0.2, 0.25, 0.2, 0.05, 0.1, 0.05, 0.2),
}
"""Probability of each effect on a track of each kind, on a subgroup, and on a
subgroup of one track (a bus whose effects could as well sit on the track)."""


def _envelope_db(x: np.ndarray, sample_rate: int, window_ms: float = 10.0) -> np.ndarray:
  """RMS level (dB) of ``x [2, n]`` in a sliding ``window_ms`` window."""
  energy = np.mean(np.square(x), axis=0)
  n = max(1, int(window_ms / 1000 * sample_rate))
  smoothed = np.convolve(energy, np.ones(n) / n, mode="same")
  return 10 * np.log10(np.maximum(smoothed, 1e-12))


def _cut_or_boost(rng, *, boost_probability: float) -> float:
  """A gain in dB: a boost of 2–6 dB, or (more often) a cut of 3–9 dB, as engineers do."""
  if rng.random() < boost_probability:
    return float(rng.uniform(2, 6))
  return float(-rng.uniform(3, 9))


def _sample_effect(rng, kind: str, x: np.ndarray, *, sample_rate: int, bpm: float) -> list:
  """``[(type, settings)]`` for one effect slot, with levels set from its input ``x``."""
  if kind == "NoiseGate":
    env = _envelope_db(x, sample_rate)
    quiet, loud = np.percentile(env, [10, 95])
    return [("NoiseGate", {"threshold_db": float(quiet + rng.uniform(0.35, 0.6) * (loud - quiet)),
                           "ratio": float(rng.uniform(4, 20)),
                           "attack_ms": float(rng.uniform(0.5, 5)),
                           "release_ms": float(rng.uniform(40, 200))})]
  if kind == "Compressor":
    loud = np.percentile(_envelope_db(x, sample_rate), 95)
    return [("Compressor", {"threshold_db": float(loud - rng.uniform(4, 14)),
                            "ratio": float(rng.uniform(2, 8)),
                            "attack_ms": float(rng.uniform(1, 30)),
                            "release_ms": float(rng.uniform(50, 300))})]
  if kind == "EQ":
    nyquist = sample_rate / 2
    bands = []
    for band in rng.choice(["LowShelfFilter", "PeakFilter", "HighShelfFilter", "PeakFilter"],
                           size=int(rng.integers(1, 4)), replace=False):
      gain = _cut_or_boost(rng, boost_probability=0.4)
      if band == "LowShelfFilter":
        cutoff = float(rng.uniform(80, 300))
        q = 0.707
      elif band == "HighShelfFilter":
        cutoff = float(min(rng.uniform(3000, 10000), 0.4 * nyquist))
        q = 0.707
      else:
        cutoff = float(np.exp(rng.uniform(np.log(150), np.log(min(6000, 0.35 * nyquist)))))
        q = float(rng.uniform(0.7, 3.0))
      bands.append((str(band), {"cutoff_frequency_hz": cutoff, "gain_db": gain, "q": q}))
    return bands
  if kind == "Gain":
    return [("Gain", {"gain_db": _cut_or_boost(rng, boost_probability=0.3)})]
  if kind == "Pan":
    return [("Pan", {"pan": float(rng.choice([-1, 1]) * rng.uniform(0.2, 0.9))})]
  if kind == "StereoWidth":
    return [("StereoWidth", {"side_gain_db": float(rng.choice([-1, 1]) * rng.uniform(4, 9))})]
  if kind == "Delay":
    beat_s = 60.0 / bpm
    note = float(rng.choice([0.5, 0.75, 1.0]))  # an 8th, a dotted 8th or a quarter note
    delay_s = note * beat_s
    while delay_s > 0.6:
      delay_s /= 2
    return [("Delay", {"delay_seconds": float(delay_s), "feedback": float(rng.uniform(0.1, 0.45)),
                       "mix": float(rng.uniform(0.15, 0.35))})]
  # JUCE's reverb scales dry_level by 2 and wet_level by 3: dry_level 0.5 is unity.
  return [("Reverb", {"room_size": float(rng.uniform(0.3, 0.9)),
                      "damping": float(rng.uniform(0.2, 0.7)),
                      "wet_level": float(rng.uniform(0.1, 0.3)),
                      "dry_level": float(rng.uniform(0.35, 0.5)),
                      "width": float(rng.uniform(0.5, 1.0))})]


def apply_effect(kind: str, settings: dict, x: np.ndarray, *, sample_rate: int) -> np.ndarray:
  """One effect on ``x: float32[2, n]``: a pedalboard plug-in, or panning/width in NumPy.

  ``Pan`` is constant-power: ``θ = (pan + 1) π / 4``, left ``√2 cos θ``,
  right ``√2 sin θ`` (unity in the middle). ``StereoWidth`` scales the side
  signal ``(L - R) / 2`` by ``side_gain_db``.
  """
  if kind == "Pan":
    theta = (settings["pan"] + 1) * np.pi / 4
    return x * np.array([[math.sqrt(2) * math.cos(theta)], [math.sqrt(2) * math.sin(theta)]],
                        np.float32)
  if kind == "StereoWidth":
    mid, side = (x[0] + x[1]) / 2, (x[0] - x[1]) / 2 * 10**(settings["side_gain_db"] / 20)
    return np.stack([mid + side, mid - side]).astype(np.float32)
  import pedalboard
  plugin = getattr(pedalboard, kind)(**settings)
  return plugin.process(np.ascontiguousarray(x, np.float32), float(sample_rate), reset=True)


def pedalboard_mix(rng, tracks: dict, groups: dict, roles: dict, *, sample_rate: int,
                   bpm: float) -> tuple[np.ndarray, list]:
  """``_pedalboard_mix``, drawn again (same generator) in the rare case it has no effect."""
  for _ in range(100):
    mix, effects = _pedalboard_mix(rng, tracks, groups, roles, sample_rate=sample_rate, bpm=bpm)
    if effects:
      return mix, effects
  raise RuntimeError("pedalboard_mix drew no effect in 100 tries.")


def _pedalboard_mix(rng, tracks: dict, groups: dict, roles: dict, *, sample_rate: int,
                    bpm: float) -> tuple[np.ndarray, list]:
  """A sparse random pedalboard mix with the console's topology.

  Every track goes through its chain (``PEDALBOARD_ORDER``, each effect
  present with ``EFFECT_PROBABILITY`` of the track's kind), the track
  outputs are summed into their subgroups, every subgroup goes through its
  own chain, and the subgroups are summed into the mix (no master bus).

  Args:
    rng: NumPy generator.
    tracks: ``{name: float32[2, n]}``.
    groups: ``{group: [track names]}``.
    roles: ``{track name: role}``.
    sample_rate: Hz.
    bpm: tempo (delays are tempo-synced).

  Returns:
    ``(mix float32[2, n], effects)`` with one dict per effect: ``level``,
    ``owner``, ``type``, ``mixjax_type``, ``position`` (in the chain) and
    ``settings``.
  """
  effects = []

  def chain(level, owner, category, x):
    position = 0
    for slot, probability in zip(PEDALBOARD_ORDER, EFFECT_PROBABILITY[category]):
      if rng.random() >= probability:
        continue
      for kind, settings in _sample_effect(rng, slot, x, sample_rate=sample_rate, bpm=bpm):
        x = apply_effect(kind, settings, x, sample_rate=sample_rate)
        effects.append({"level": level, "owner": owner, "type": kind,
                        "mixjax_type": MIXJAX_TYPE[kind], "position": position,
                        "settings": {k: round(v, 4) for k, v in settings.items()}})
        position += 1
    return x

  mix = None
  for group, members in groups.items():
    bus = sum(chain("track", name, CATEGORY[roles[name]], tracks[name].astype(np.float32))
              for name in members)
    bus = chain("group", group, "group" if len(members) > 1 else "single_group", bus)
    mix = bus if mix is None else mix + bus
  return np.asarray(mix, np.float32), effects


# ---------------------------------------------------------------------------
# Target (a): mixjax's console with a random graph
# ---------------------------------------------------------------------------


def _jsonable(value):
  """Settings as plain JSON values (floats rounded to 6 significant digits)."""
  if isinstance(value, dict):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, (bool, np.bool_)):
    return bool(value)
  if isinstance(value, (int, np.integer)):
    return int(value)
  if isinstance(value, (float, np.floating)):
    return float(f"{float(value):.6g}")
  if isinstance(value, np.ndarray):
    return _jsonable(value.tolist())
  return value


def console_mix(song, *, key, density: float):
  """``(mix, truth)``: the console's render of ``song``'s tracks with a random sparse graph."""
  from mixjax import synthetic
  truth = synthetic.random_graph(key, song.tracks, song.track_groups,
                                 sample_rate=song.sample_rate, density=density)
  mix = np.asarray(song.console().render(truth.params, song.tracks, truth.alive), np.float32)
  return mix, truth


def console_truth_json(song, truth, *, density: float, params_file: str) -> dict:
  """The JSON of the console target: tracks, groups, alive masks, every alive node's settings."""
  from mixjax.console import LEVELS
  from mixjax.processors import PROCESSORS
  owners = {"track": song.track_names, "group": song.group_names}
  nodes = [{"level": s.level, "index": s.index, "owner": owners[s.level][s.index],
            "processor": s.processor, "drywet": _jsonable(s.drywet),
            "settings": _jsonable(dict(s.settings))} for s in truth.settings]
  return {
      "format": "mixjax.truth", "version": FORMAT_VERSION, "target": "console",
      "sample_rate": song.sample_rate, "density": density,
      "tracks": [{"name": n, "group": song.group_names[g]}
                 for n, g in zip(song.track_names, song.resolved_groups())],
      "groups": list(song.group_names),
      "alive": {level: {name: np.asarray(truth.alive[level][name]).astype(bool).tolist()
                        for name in PROCESSORS}
                for level in LEVELS},
      "nodes": nodes,
      "params_file": params_file,
  }


def console_params_arrays(truth) -> dict:
  """``{"processors/<level>/<name>/<param>": array, "drywet_logits/<level>/<name>": array}``."""
  arrays = {}
  for level, names in truth.params.processors.items():
    for name, params in names.items():
      for param, leaf in params.items():
        arrays[f"processors/{level}/{name}/{param}"] = np.asarray(leaf)
  for level, names in truth.params.drywet_logits.items():
    for name, leaf in names.items():
      arrays[f"drywet_logits/{level}/{name}"] = np.asarray(leaf)
  return arrays


def read_console_truth(truth_path: str):
  """``(params, alive)`` of a ``truth_console.json`` (and the npz it names), ready to render.

  ``Console.render(params, song.tracks, alive)`` on the loaded song gives its
  ``mix.wav``.
  """
  import jax.numpy as jnp

  from mixjax.console import LEVELS, ConsoleParams
  from mixjax.processors import PROCESSORS
  with open(truth_path, encoding="utf-8") as f:
    truth = json.load(f)
  if truth.get("format") != "mixjax.truth" or truth.get("target") != "console":
    raise ValueError(f"{truth_path} is not a console truth file (format mixjax.truth, "
                     f"target console).")
  arrays = np.load(os.path.join(os.path.dirname(truth_path), truth["params_file"]))
  processors = {level: {name: {} for name in PROCESSORS} for level in LEVELS}
  for key in arrays.files:
    kind, level, name, *param = key.split("/")
    if kind == "processors":
      processors[level][name][param[0]] = jnp.asarray(arrays[key])
  params = ConsoleParams(
      processors=processors,
      drywet_logits={level: {name: jnp.asarray(arrays[f"drywet_logits/{level}/{name}"])
                             for name in PROCESSORS} for level in LEVELS})
  alive = {level: {name: np.asarray(truth["alive"][level][name], bool) for name in PROCESSORS}
           for level in LEVELS}
  return params, alive


# ---------------------------------------------------------------------------
# One song folder and its target views
# ---------------------------------------------------------------------------


def _sha256(path: str) -> str:
  """SHA-256 of a file; of a WAV file's samples and rate (float WAVs carry a time stamp)."""
  digest = hashlib.sha256()
  if path.endswith(".wav"):
    import soundfile as sf
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    digest.update(f"{rate} {audio.shape}".encode())
    digest.update(np.ascontiguousarray(audio).tobytes())
    return digest.hexdigest()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


_SCALAR = r'(?:-?[0-9.eE+-]+|true|false|null|"[^"\n]*")'
_FLAT_LIST = re.compile(r"\[\s*(" + _SCALAR + r"(?:,\s*" + _SCALAR + r")*)\s*\]")


def dumps(value) -> str:
  """JSON indented by one space, with lists of plain values on one line."""
  text = json.dumps(value, indent=1)
  return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)


def _write_json(path: str, value) -> None:
  from mixjax import files
  files.write_text(path, dumps(value) + "\n")


def _link(target: str, link: str) -> None:
  """A relative symlink ``link -> target``."""
  if os.path.lexists(link):
    os.remove(link)
  os.symlink(os.path.relpath(target, os.path.dirname(link)), link)


def _make_view(out: str, name: str, target: str) -> str:
  """``OUT/<target>/<name>/``: a plain-layout song folder of symlinks into ``OUT/songs/<name>``."""
  song_dir = os.path.join(out, "songs", name)
  view = os.path.join(out, target, name)
  os.makedirs(view, exist_ok=True)
  _link(os.path.join(song_dir, "tracks"), os.path.join(view, "tracks"))
  _link(os.path.join(song_dir, "groups.json"), os.path.join(view, "groups.json"))
  _link(os.path.join(song_dir, f"mix_{target}.wav"), os.path.join(view, "mix.wav"))
  _link(os.path.join(song_dir, f"truth_{target}.json"), os.path.join(view, "truth.json"))
  if target == "console":
    _link(os.path.join(song_dir, "truth_console_params.npz"),
          os.path.join(view, "truth_console_params.npz"))
  return view


def make_song(out: str, seed: int, index: int, *, style: str, n_tracks: int, seconds_range,
              sample_rate: int, density: float, soundfont: str = SOUNDFONT,
              log=print) -> dict:
  """Renders song ``index`` into ``OUT/songs/<name>/`` and its two target views.

  Returns:
    The song's entry of ``songs.json``.
  """
  import jax
  import soundfile as sf

  from mixjax import files
  from mixjax.loading import load_song

  t0 = time.perf_counter()
  score = make_score(seed, index, n_tracks=n_tracks, seconds_range=seconds_range, style=style)
  name = f"{index:03d}_{style}"
  song_dir = os.path.join(out, "songs", name)
  for sub in ("tracks", "midi"):
    os.makedirs(os.path.join(song_dir, sub), exist_ok=True)
  n_samples = int(round(score.seconds * sample_rate))

  raw = []
  for part in score.parts:
    midi_path = os.path.join(song_dir, "midi", f"{part.name}.mid")
    write_midi(midi_path, part, score.bpm)
    raw.append(render_midi(midi_path, n_samples, sample_rate=sample_rate, soundfont=soundfont))
  t_render = time.perf_counter() - t0

  rng = np.random.default_rng([seed, index, 1])
  finished, levels = finish_tracks(rng, score.parts, raw, sample_rate=sample_rate)
  for part, x in zip(score.parts, finished):
    with files.atomic_path(os.path.join(song_dir, "tracks", f"{part.name}.wav")) as tmp:
      sf.write(tmp, x.T, sample_rate, subtype="PCM_24", format="WAV")
  groups = {}
  for part in score.parts:
    groups.setdefault(part.group, []).append(f"{part.name}.wav")
  _write_json(os.path.join(song_dir, "groups.json"), groups)
  # Mix what a loader reads: the 24-bit tracks read back.
  tracks = {p.name: sf.read(os.path.join(song_dir, "tracks", f"{p.name}.wav"), dtype="float32",
                            always_2d=True)[0].T for p in score.parts}

  # (b) pedalboard
  t1 = time.perf_counter()
  rng = np.random.default_rng([seed, index, 2])
  roles = {p.name: p.role for p in score.parts}
  members = {g: [os.path.splitext(f)[0] for f in fs] for g, fs in groups.items()}
  mix_b, effects = pedalboard_mix(rng, tracks, members, roles, sample_rate=sample_rate,
                                  bpm=score.bpm)
  files.write_wav(os.path.join(song_dir, "mix_pedalboard.wav"), mix_b, sample_rate)
  t_pedalboard = time.perf_counter() - t1

  # The song as the loader sees it fixes the track and group order of both truths.
  song = load_song(_make_view(out, name, "pedalboard"), sample_rate=sample_rate)
  index_of = {"track": {n: i for i, n in enumerate(song.track_names)},
              "group": {n: i for i, n in enumerate(song.group_names)}}
  for effect in effects:
    effect["index"] = index_of[effect["level"]][effect["owner"]]
  nodes = sorted({(e["level"], e["index"], e["owner"], e["mixjax_type"]) for e in effects})
  track_list = [{"name": n, "group": song.group_names[g]}
                for n, g in zip(song.track_names, song.resolved_groups())]
  _write_json(os.path.join(song_dir, "truth_pedalboard.json"), {
      "format": "mixjax.truth", "version": FORMAT_VERSION, "target": "pedalboard",
      "engine": f"pedalboard {_version('pedalboard')}", "sample_rate": sample_rate,
      "tracks": track_list, "groups": list(song.group_names),
      "chain_order": list(PEDALBOARD_ORDER),
      "effects": [{k: e[k] for k in ("level", "index", "owner", "type", "mixjax_type",
                                      "position", "settings")} for e in effects],
      "nodes": [{"level": lv, "index": i, "owner": o, "processor": t} for lv, i, o, t in nodes],
  })

  # (a) console
  t2 = time.perf_counter()
  key = jax.random.key(int(np.random.default_rng([seed, index, 3]).integers(2**31)))
  mix_a, truth = console_mix(song, key=key, density=density)
  files.write_wav(os.path.join(song_dir, "mix_console.wav"), mix_a, sample_rate)
  with files.atomic_path(os.path.join(song_dir, "truth_console_params.npz")) as tmp:
    with open(tmp, "wb") as f:
      np.savez_compressed(f, **console_params_arrays(truth))
  _write_json(os.path.join(song_dir, "truth_console.json"), console_truth_json(
      song, truth, density=density, params_file="truth_console_params.npz"))
  _make_view(out, name, "console")
  t_console = time.perf_counter() - t2

  _write_json(os.path.join(song_dir, "song.json"), {
      "name": name, **score.description, "seconds": score.seconds, "sample_rate": sample_rate,
      "parts": [{"name": p.name, "group": p.group, "role": p.role,
                 "program": p.program, "drums": p.drums, "notes": len(p.notes), **level}
                for p, level in zip(score.parts, levels)],
  })
  log(f"{name}: {len(score.parts)} tracks in {len(groups)} groups, {score.seconds:.1f} s "
      f"({score.description.get('source')}); fluidsynth {t_render:.1f} s, "
      f"pedalboard {t_pedalboard:.1f} s ({len(effects)} effects), console "
      f"{t_console:.1f} s ({len(truth.settings)} processors)")
  return {"name": name, "style": style, "source": score.description.get("source"),
          "seconds": score.seconds, "tracks": len(score.parts), "groups": groups,
          "pedalboard_effects": len(effects), "console_processors": len(truth.settings),
          "timing_s": {"fluidsynth": round(t_render, 2), "pedalboard": round(t_pedalboard, 2),
                       "console": round(t_console, 2)}}


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def _version(package: str) -> str:
  from importlib import metadata
  try:
    return metadata.version(package)
  except metadata.PackageNotFoundError:
    return "not installed"


def _fluidsynth_version() -> str:
  try:
    done = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True)
  except FileNotFoundError:
    return "not installed"
  match = re.search(r"version (\S+)", done.stdout)
  return match.group(1) if match else "unknown"


def check_tools(soundfont: str = SOUNDFONT) -> list[str]:
  """What is missing to make songs (empty when everything is there)."""
  missing = []
  if shutil.which("fluidsynth") is None:
    missing.append("the fluidsynth command (apt-get install fluidsynth)")
  if not os.path.exists(soundfont):
    missing.append(f"the SoundFont {soundfont} (apt-get install fluid-soundfont-gm)")
  for module, package in (("pedalboard", "pedalboard"), ("music21", "music21"),
                          ("mido", "mido")):
    try:
      __import__(module)
    except ImportError:
      missing.append(f"the Python package {package} (pip install {package})")
  return missing


def style_order(seed: int, styles: Sequence[str]) -> list[str]:
  """The styles in the order songs cycle through them (shuffled by the seed)."""
  rng = np.random.default_rng([seed, 2**20])
  return [styles[i] for i in rng.permutation(len(styles))]


def song_plan(seed: int, count: int, *, styles: Sequence[str], tracks_range) -> list:
  """``[(index, style, n_tracks)]`` of every song: deterministic from the seed."""
  order = style_order(seed, styles)
  plan = []
  for i in range(count):
    rng = np.random.default_rng([seed, i, 9])
    plan.append((i, order[i % len(order)], int(rng.integers(tracks_range[0], tracks_range[1] + 1))))
  return plan


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description="Render realistic evaluation songs: dry stems from MIDI with FluidSynth, a "
                  "console target and a pedalboard target per song (see the module docstring "
                  "and benchmarks/README.md).",
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument("--out", required=True, help="output folder (songs/, console/, pedalboard/)")
  parser.add_argument("--seed", type=int, default=0, help="the set's seed")
  parser.add_argument("--count", type=int, default=6, help="number of songs")
  parser.add_argument("--sample-rate", type=int, default=30000, help="Hz")
  parser.add_argument("--seconds-range", type=float, nargs=2, default=(8.0, 30.0),
                      metavar=("MIN", "MAX"), help="song length range (s)")
  parser.add_argument("--tracks-range", type=int, nargs=2, default=(4, 16),
                      metavar=("MIN", "MAX"), help="track count range")
  parser.add_argument("--styles", default=",".join(STYLES),
                      help="comma-separated styles to cycle through")
  parser.add_argument("--density", type=float, default=0.35,
                      help="console target: probability that each (node, processor) is alive")
  parser.add_argument("--soundfont", default=SOUNDFONT, help="General MIDI SoundFont")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace the songs of an earlier run in --out")
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  styles = [s.strip() for s in args.styles.split(",") if s.strip()]
  problems = []
  if any(s not in STYLES for s in styles) or not styles:
    problems.append(f"--styles must name some of {', '.join(STYLES)}, got {args.styles!r}")
  lo_s, hi_s = args.seconds_range
  if not 4.0 <= lo_s <= hi_s:
    problems.append(f"--seconds-range needs 4 <= MIN <= MAX, got {lo_s} {hi_s}")
  lo_t, hi_t = args.tracks_range
  if not 4 <= lo_t <= hi_t <= 16:
    problems.append(f"--tracks-range needs 4 <= MIN <= MAX <= 16, got {lo_t} {hi_t}")
  if args.count < 1:
    problems.append(f"--count must be >= 1, got {args.count}")
  if not 0.0 <= args.density <= 1.0:
    problems.append(f"--density is a probability in [0, 1], got {args.density}")
  problems += [f"missing {m}; run benchmarks/setup_songs.sh" for m in check_tools(args.soundfont)]
  manifest_path = os.path.join(args.out, "songs.json")
  if os.path.exists(manifest_path) and not args.overwrite:
    problems.append(f"{args.out} already holds a song set (songs.json); pass --overwrite to "
                    f"replace it or choose another --out")
  if problems:
    for problem in problems:
      print(f"make_songs.py: error: {problem}.", file=sys.stderr)
    return 2
  if args.overwrite:  # only what an earlier run made
    for sub in ("songs", "console", "pedalboard"):
      shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
    if os.path.exists(manifest_path):
      os.remove(manifest_path)
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  import mixjax

  t0 = time.perf_counter()
  entries = []
  for index, style, n_tracks in song_plan(args.seed, args.count, styles=styles,
                                         tracks_range=args.tracks_range):
    entries.append(make_song(args.out, args.seed, index, style=style, n_tracks=n_tracks,
                             seconds_range=args.seconds_range, sample_rate=args.sample_rate,
                             density=args.density, soundfont=args.soundfont))
  seconds = time.perf_counter() - t0
  checksums = {}
  for root, _, names in os.walk(os.path.join(args.out, "songs")):
    for f in sorted(names):
      path = os.path.join(root, f)
      checksums[os.path.relpath(path, args.out)] = _sha256(path)
  manifest = {
      "format": "mixjax.songs", "version": FORMAT_VERSION,
      "command": "python benchmarks/make_songs.py " + " ".join(
          argv if argv is not None else sys.argv[1:]),
      "seed": args.seed, "count": args.count, "sample_rate": args.sample_rate,
      "seconds_range": list(args.seconds_range), "tracks_range": list(args.tracks_range),
      "styles": styles, "density": args.density,
      "versions": {"fluidsynth": _fluidsynth_version(),
                   "soundfont": f"{os.path.basename(args.soundfont)} sha256 "
                                f"{_sha256(args.soundfont)[:16]}",
                   "mixjax": mixjax.__version__,
                   **{p: _version(p) for p in ("pedalboard", "music21", "mido", "jax", "numpy")}},
      "songs": [{k: v for k, v in e.items() if k != "timing_s"} for e in entries],
      "sha256": checksums,
  }
  _write_json(manifest_path, manifest)
  size = sum(os.path.getsize(os.path.join(args.out, p)) for p in checksums)
  print(f"{len(entries)} songs in {args.out} ({size / 2**20:.0f} MiB) in {seconds:.0f} s; "
        f"targets: {os.path.join(args.out, 'console')} and {os.path.join(args.out, 'pedalboard')}")
  print(json.dumps({"songs": len(entries), "seconds": round(seconds, 1),
                    "mib": round(size / 2**20, 1),
                    "per_song": {e["name"]: e["timing_s"] for e in entries}}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
