"""The song set's two target mixes and their truth files.

* pedalboard: JUCE plug-ins with random but plausible settings on a sparse choice of nodes;
* console: mixjax's own console with a random sparse graph (``synthetic.random_graph``).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

FORMAT_VERSION = 1
"""Version of the song set's files (``songs.json``, ``truth*.json``)."""


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
  from mixjax.console import Console
  truth = synthetic.random_graph(key, song.tracks, song.track_groups,
                                 sample_rate=song.sample_rate, density=density)
  mix = np.asarray(Console.of(song).render(truth.params, song.tracks, truth.alive), np.float32)
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
