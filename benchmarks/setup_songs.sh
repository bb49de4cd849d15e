#!/usr/bin/env bash
# Installs what benchmarks/make_songs.py needs to render the realistic song set:
#   - FluidSynth and the FluidR3 General MIDI SoundFont (Debian packages; the SoundFont
#     lands in /usr/share/sounds/sf2/FluidR3_GM.sf2, 142 MiB),
#   - pedalboard (Spotify's JUCE plug-ins: the second target mix), music21 (its corpus of
#     Bach chorales ships inside the package: nothing is downloaded at run time) and mido
#     (writes the MIDI files FluidSynth plays).
# The Python versions are pinned because the set's checksums (songs.json) depend on them;
# set MIXJAX_SONGS_PIP="pedalboard music21 mido" to take the newest instead.
# Run as root (or with sudo), once per machine:  bash benchmarks/setup_songs.sh
set -euo pipefail

PIP_PACKAGES=${MIXJAX_SONGS_PIP:-"pedalboard==0.9.26 music21==10.5.1 mido==1.3.3"}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v fluidsynth >/dev/null || [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      fluidsynth fluid-soundfont-gm
fi
# shellcheck disable=SC2086
python -m pip install --disable-pip-version-check $PIP_PACKAGES

fluidsynth --version | head -n 1
python - <<'PY'
from importlib.metadata import version
from music21 import corpus
chorales = [p for p in corpus.getComposer("bach") if p.name.startswith("bwv")]
print(f"pedalboard {version('pedalboard')}, music21 {version('music21')} "
      f"({len(chorales)} Bach chorale files in its corpus), mido {version('mido')}")
PY
echo "ready: python benchmarks/make_songs.py --out DIR --seed 0"
