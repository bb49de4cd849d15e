"""The song set's music: notes of generated pop, rock, funk and ballad songs (``make_songs.py``)."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

TAIL_S = 1.0
"""At least this much of every song follows the last bar: release and reverb tails."""


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


def beats_per_second(bpm: float) -> float:
  return bpm / 60.0


def _jitter_beats(rng, bpm: float, ms: float) -> float:
  """A random timing offset of up to ``ms`` milliseconds, in beats."""
  return float(rng.uniform(-ms, ms)) / 1000.0 * beats_per_second(bpm)


def velocity(rng, level: float, spread: float = 0.1) -> int:
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


def in_range(pcs, lo: int, hi: int) -> list[int]:
  """Every pitch in ``[lo, hi]`` whose pitch class is in ``pcs``."""
  pcs = set(pcs)
  return [p for p in range(lo, hi + 1) if p % 12 in pcs]


def nearest(pitches: Sequence[int], target: float) -> int:
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
    for start in in_range([order[0]], lo, hi):
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
  root = nearest(in_range([chord_pcs[0]], 40, 51), 45 + rng.integers(-2, 3))
  third = (chord_pcs[1] - chord_pcs[0]) % 12
  fifth = (chord_pcs[2] - chord_pcs[0]) % 12
  return [root, root + fifth, root + 12, root + 12 + third, root + 12 + fifth]


# -- drums -------------------------------------------------------------------


def drum_kit_notes(rng, style: str, n_bars: int, bpm: float, *, bar_steps: int = 16,
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
    notes.append((max(beat, 0.0), length, key, velocity(rng, level)))

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


def split_drums(kit_notes: list, level: int, kit: int, group: str) -> list[Part]:
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


def percussion_notes(rng, style: str, n_bars: int, bpm: float, bar_steps: int = 16) -> list:
  kind = rng.choice(["shaker", "tambourine", "congas"] if style in ("funk", "pop")
                    else ["shaker", "tambourine"])
  notes = []
  for bar in range(n_bars):
    for step in range(bar_steps):
      beat = bar * bar_steps / 4 + step / 4 + _jitter_beats(rng, bpm, 5)
      if kind == "shaker" and (step % 2 == 0 or style == "funk"):
        notes.append((max(beat, 0), 0.2, MARACAS if style != "ballad" else CABASA,
                      velocity(rng, 0.75 if step % 4 == 2 else 0.5)))
      elif kind == "tambourine" and (step % 8 == 4 or (step % 2 == 0 and rng.random() < 0.3)):
        level = 0.8 if step % 8 == 4 else 0.45
        notes.append((max(beat, 0), 0.2, TAMBOURINE, velocity(rng, level)))
      elif kind == "congas" and step in (0, 3, 6, 8, 10, 11, 14) and rng.random() < 0.85:
        key = {0: CONGAS[2], 3: CONGAS[0], 6: CONGAS[1], 8: CONGAS[2], 10: CONGAS[0],
               11: CONGAS[1], 14: CONGAS[1]}[step]
        notes.append((max(beat, 0), 0.2, key, velocity(rng, 0.75)))
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
    root = nearest(in_range([root_pc], 28, 40), 34)
    for step, length, interval in pattern:
      pitch = root + interval
      if interval == 7 and (root_pc + 7) % 12 not in harmony.chord(bar):
        pitch = root + (harmony.chord(bar)[2] - root_pc) % 12  # the chord's own fifth
      if interval == 10 and (root_pc + 10) % 12 not in harmony.scale_pcs():
        pitch = root + 12
      beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 4)
      notes.append((max(beat, 0), length / 4 * 0.92, pitch, velocity(rng, 0.85)))
    if bar < n_bars - 1 and style != "funk" and rng.random() < 0.3:  # approach the next root
      next_root = nearest(in_range([harmony.chord(bar + 1)[0]], 28, 40), root)
      approach = next_root + (1 if rng.random() < 0.5 else -1) * (1 if rng.random() < 0.5 else 2)
      notes = [n for n in notes if n[0] < bar * 4 + 3.5]
      notes.append((bar * 4 + 3.5, 0.45, approach, velocity(rng, 0.75)))
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
      root = nearest(in_range([chord[0]], 40, 52), 45)
      fifth = root + (chord[2] - chord[0]) % 12
      for step in range(0, 16, 2):
        beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 5)
        for k, pitch in enumerate((root, fifth, root + 12)):
          notes.append((max(beat + k * 0.01, 0), 0.4, pitch, velocity(rng, 0.85)))
    elif guitar and style == "funk":  # 16th chops, most of them muted, a few ringing
      voicing = _voicing(chord, 55, 76, 3, previous)
      previous = voicing
      for step in range(16):
        if rng.random() < 0.65:
          beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 4)
          ring = step in (2, 10) or rng.random() < 0.1
          for pitch in voicing:
            notes.append((max(beat, 0), 0.22 if ring else 0.07, pitch,
                          velocity(rng, 0.8 if step % 4 == 2 else 0.55)))
    elif guitar:  # strums: down strokes low to high, up strokes high to low
      voicing = _guitar_voicing(chord, rng)
      pattern = ([(0, "D"), (4, "D"), (6, "U"), (10, "U"), (12, "D"), (14, "U")]
                 if style != "ballad" else [(s, "P") for s in range(0, 16, 2)])
      for k, (step, stroke) in enumerate(pattern):
        beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 5)
        if stroke == "P":  # ballad: picked arpeggio
          pitch = voicing[[0, 2, 3, 4, 2, 3, 1, 3][k % 8]]
          notes.append((beat, 0.9, pitch, velocity(rng, 0.65)))
          continue
        strings = voicing if stroke == "D" else voicing[::-1][:4]
        for j, pitch in enumerate(strings):
          notes.append((max(beat + j * 0.012 * beats_per_second(bpm), 0), 0.45, pitch,
                        velocity(rng, 0.8 if stroke == "D" else 0.6)))
    else:  # keys: voice-led block chords, the left hand on the root
      if bar % 2 == 0:  # a rhythm lasts two bars
        rhythm = keys_rhythms[rng.integers(len(keys_rhythms))]
      voicing = _voicing(chord, 52, 77, size, previous)
      previous = voicing
      for step, length in rhythm:
        beat = bar * 4 + step / 4 + _jitter_beats(rng, bpm, 5)
        for pitch in voicing:
          notes.append((max(beat, 0), length / 4 * 0.9, pitch, velocity(rng, 0.7)))
      if program <= 7 and style != "funk":
        bass = nearest(in_range([chord[0]], 36, 48), 42)
        notes.append((bar * 4.0, 1.9, bass, velocity(rng, 0.65)))
  return notes


def _pad_notes(rng, harmony: Harmony, n_bars: int, *, lo: int = 48, hi: int = 79) -> list:
  """Sustained four-note chords, one per bar, voice-led."""
  notes, previous = [], None
  level = rng.uniform(0.5, 0.7)
  for bar in range(n_bars):
    voicing = _voicing(harmony.chord(bar, 4 if rng.random() < 0.4 else 3), lo, hi, 4, previous)
    previous = voicing
    for pitch in voicing:
      notes.append((bar * 4.0, 3.95, pitch, velocity(rng, level, 0.05)))
  return notes


def _melody_notes(rng, harmony: Harmony, n_bars: int, bpm: float, *, lo: int, hi: int,
                  busy: float = 0.5) -> list:
  """A melody in two-bar phrases: chord tones on strong beats, steps between, motifs, rests.

  Each four-bar section draws one rhythm for its first phrase and repeats it
  (with new pitches) in its second; a phrase is left silent now and then.
  """
  scale_pitches = in_range(harmony.scale_pcs(), lo, hi)
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
                    velocity(rng, 0.85 if step % 4 == 0 else 0.7)))
  return notes


def _counter_notes(rng, harmony: Harmony, n_bars: int, *, lo: int = 55, hi: int = 74) -> list:
  """Long guide tones (the chord's third or seventh), voice-led, half or whole notes."""
  notes, previous = [], (lo + hi) / 2
  for bar in range(n_bars):
    chord = harmony.chord(bar, 4)
    halves = 2 if rng.random() < 0.4 else 1
    for h in range(halves):
      pcs = [chord[1], chord[3]] if h == 0 else [chord[2], chord[0]]
      pitch = nearest(in_range(pcs, lo, hi), previous)
      previous = pitch
      notes.append((bar * 4.0 + h * 4 / halves, 4 / halves * 0.95, pitch, velocity(rng, 0.65)))
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
                    velocity(rng, 0.7 if step % 4 == 0 else 0.55)))
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
        notes.append((max(beat, 0), 0.3, pitch, velocity(rng, 0.85)))
  return notes


def _bell_notes(rng, harmony: Harmony, n_bars: int) -> list:
  """Sparse chord tones high up (glockenspiel, vibraphone, celesta)."""
  notes = []
  for bar in range(n_bars):
    tones = in_range(harmony.chord(bar), 72, 91)
    for step in sorted(rng.choice(np.arange(0, 16, 2), size=rng.integers(1, 4), replace=False)):
      notes.append((bar * 4 + step / 4, 1.0, int(rng.choice(tones)), velocity(rng, 0.6)))
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


def generated_score(rng, style: str, n_tracks: int, seconds_range) -> Score:
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
  parts = split_drums(drum_kit_notes(rng, style, n_bars, bpm), drum_level, kit, "drums")
  parts.append(Part("bass", "bass", "bass", pick("bass"),
                    notes=_bass_notes(rng, style, harmony, n_bars, bpm)))
  for role in roles:
    group = GENERATED_GROUPS[role]
    if role == "percussion":
      parts.append(Part("percussion", group, role, kit, drums=True,
                        notes=percussion_notes(rng, style, n_bars, bpm)))
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
  unique_names(parts)
  key = f"{PITCH_NAMES[harmony.root_pc]} " + {MAJOR: "major", MINOR: "minor",
                                              DORIAN: "dorian"}[scale]
  description = {"style": style, "source": "generated", "key": key, "bpm": bpm,
                 "bars": n_bars, "progression_degrees": list(harmony.progression),
                 "drum_kit": kit}
  return Score(style=style, bpm=bpm, seconds=seconds, parts=parts, description=description)


def unique_names(parts: list) -> None:
  """Renames repeated track names ``name``, ``name_2``, ``name_3``... in place."""
  seen = {}
  for part in parts:
    count = seen.get(part.name, 0) + 1
    seen[part.name] = count
    if count > 1:
      part.name = f"{part.name}_{count}"
