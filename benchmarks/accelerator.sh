#!/usr/bin/env bash
# One benchmark run on a machine with one NVIDIA GPU: mixjax and GRAFX side by side (render
# forward+backward, the step and the whole-song evaluation at 16x4 and 32x8, 30 kHz), a
# paper-preset search slice of a synthetic 16x4 one-minute song (steps/s, trials/s), the
# search_batch throughput at 1, 8 and 32 songs projected to songs/hour for 3-minute songs, peak
# device memory, versions and the device's name. Writes one JSON file, accelerator.json, into
# the folder given as the first argument (default: $OUT, else ./accelerator-out).
#
#   bash benchmarks/accelerator.sh [OUT_DIR] [extra options of benchmarks/accelerator.py]
#
# Python packages the machine lacks are installed from the repository's ignored .whl/ folder
# with `pip --no-index` (nothing is downloaded). GRAFX's side also needs grafx-prune's code
# (its console builder and loss): an ignored .grafx-prune/code/ folder in the repository, or
# MIXJAX_GRAFX_PRUNE_DIR. Without GRAFX the mixjax side still runs and the JSON says so.
# The whole run is held under 8 minutes (python's --budget-seconds skips what is left, and a
# hard timeout stops it at 480 s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${1:-${OUT:-$ROOT/accelerator-out}}"
shift || true
PY="${PYTHON:-python3}"
WHEELS="$ROOT/.whl"
mkdir -p "$OUT_DIR"
cd "$ROOT"

# module name -> pip name, for what mixjax and the GRAFX driver import.
NEEDED="jax:jax optax:optax flax:flax chex:chex numpy:numpy scipy:scipy soundfile:soundfile
soxr:soxr matplotlib:matplotlib tqdm:tqdm yaml:pyyaml grafx:GRAFX torchcomp:torchcomp
torchlpc:torchlpc librosa:librosa networkx:networkx einops:einops
torch_geometric:torch-geometric"
missing=()
for pair in $NEEDED; do
  module="${pair%%:*}"
  "$PY" -c "import $module" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if ((${#missing[@]})); then
  echo "accelerator.sh: missing ${missing[*]}" >&2
  if [[ -d "$WHEELS" ]]; then
    # One at a time, so one unavailable wheel does not stop the others.
    for package in "${missing[@]}"; do
      "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" "$package" \
        || echo "accelerator.sh: could not install $package from $WHEELS" >&2
    done
  else
    echo "accelerator.sh: no $WHEELS folder to install them from" >&2
  fi
fi

# GRAFX runs in this same interpreter (torch is there) when it imports.
if "$PY" -c "import grafx" >/dev/null 2>&1; then
  export MIXJAX_GRAFX_PYTHON="$(command -v "$PY")"
fi
if [[ -z "${MIXJAX_GRAFX_PRUNE_DIR:-}" && -d "$ROOT/.grafx-prune/code" ]]; then
  export MIXJAX_GRAFX_PRUNE_DIR="$ROOT/.grafx-prune"
fi
# Compiled programs of this run only (a cold, honest compile time; nothing left behind).
export MIXJAX_CACHE_DIR=off

"$PY" -c "import jax; print('accelerator.sh: jax', jax.__version__, jax.devices())" >&2
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" timeout 480 \
  "$PY" benchmarks/accelerator.py --out "$OUT_DIR" "$@"
echo "accelerator.sh: wrote $OUT_DIR/accelerator.json" >&2
