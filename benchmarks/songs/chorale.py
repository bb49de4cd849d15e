"""The song set's chorales: a Bach chorale (music21 corpus) given to an ensemble, with doublings."""

from __future__ import annotations

import math

import numpy as np

from benchmarks.songs.music import (
    GM_NAMES, TAIL_S, Part, Score, beats_per_second, drum_kit_notes, in_range, nearest,
    percussion_notes, split_drums, unique_names, velocity)

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


def chorale_score(rng, n_tracks: int, seconds_range) -> Score:
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
  music_q = (seconds - TAIL_S) * beats_per_second(bpm)
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
                      notes=[(o, d * 0.97, p, velocity(rng, level, 0.08)) for o, d, p in notes]))
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
    kit_notes = drum_kit_notes(rng, "chorale", len(downbeats), bpm, bar_steps=bar_steps)
    kit_notes = [(b + pickup_q, d, p, v) for b, d, p, v in kit_notes if b + pickup_q < end_q]
    parts += split_drums(kit_notes, drum_level, kit, "drums")
  for extra in chosen:
    if extra == "low":
      program = int(rng.choice([43, 32, 33]))
      if program == 33:  # electric bass: the bass voice in repeated 8ths
        notes = []
        for o, d, p in bass_voice:
          for k in range(max(1, int(round(d / 0.5)))):
            notes.append((o + 0.5 * k, 0.45, p - 12 if p >= 48 else p, velocity(rng, 0.8)))
      else:
        notes = [(o, d * 0.95, p - 12, velocity(rng, 0.75)) for o, d, p in bass_voice]
      parts.append(Part(GM_NAMES[program], "low", "bass", program, notes=notes))
    elif extra == "keys":
      program = int(rng.choice([0, 19, 4, 16]))
      seen, notes = set(), []
      for voice in looped_voices:
        for o, d, p in voice:
          if (round(o, 3), p) not in seen:
            seen.add((round(o, 3), p))
            notes.append((o, d * 0.95, p, velocity(rng, 0.6)))
      parts.append(Part(GM_NAMES[program], "accompaniment", "comp", program, notes=notes))
    elif extra == "pad":
      program = int(rng.choice([48, 49, 89, 91]))
      notes, step = [], bar_q / (2 if bar_q == 4 else 3)
      for beat in np.arange(0, end_q, step):
        for p in set(_sounding(looped_voices, beat + 1e-6)):
          notes.append((float(beat), min(step, end_q - beat) * 0.98, p, velocity(rng, 0.55, 0.05)))
      parts.append(Part(GM_NAMES[program], "accompaniment", "pad", program, notes=notes))
    elif extra == "double":
      program = int(rng.choice([73, 9, 11, 71]))
      shift = 24 if program == 9 else 12
      notes = [(o, d * 0.95, p + shift, velocity(rng, 0.6)) for o, d, p in soprano]
      parts.append(Part(GM_NAMES[program], "accompaniment", "lead", program, notes=notes))
    elif extra == "harp":
      notes = []
      for beat in np.arange(0, end_q, 0.5):
        pitches = sorted(set(_sounding(looped_voices, beat + 1e-6)))
        if pitches:
          k = int(round(beat * 2)) % len(pitches)
          notes.append((float(beat), 0.9, pitches[k] + 12, velocity(rng, 0.6)))
      parts.append(Part("harp", "accompaniment", "arp", 46, notes=notes))
    elif extra == "timpani":
      notes = []
      for beat in downbeats:
        pitches = _sounding([bass_voice], beat + 1e-6)
        if pitches and rng.random() < 0.7:
          pitch = nearest(in_range([pitches[0] % 12], 41, 55), 48)
          notes.append((float(beat), 0.9, pitch, velocity(rng, 0.7)))
      if not notes:
        notes = [(float(downbeats[0]), 0.9, 48, 90)]
      parts.append(Part("timpani", "low", "bass", 47, notes=notes))
    elif extra == "percussion":
      notes = [(b, d, p, v) for b, d, p, v in percussion_notes(
          rng, "ballad", len(downbeats), bpm, bar_steps=int(bar_q * 4))]
      notes = [(b + pickup_q, d, p, v) for b, d, p, v in notes if b + pickup_q < end_q]
      parts.append(Part("percussion", "drums", "percussion", 0, drums=True, notes=notes))
  unique_names(parts)
  description = {"style": "chorale", "source": f"music21 corpus: bach/{path.name}",
                 "ensemble": ensemble, "bpm": bpm, "bar_quarters": bar_q,
                 "pickup_quarters": pickup_q, "repeats": repeats}
  return Score(style="chorale", bpm=bpm, seconds=seconds, parts=parts, description=description)
