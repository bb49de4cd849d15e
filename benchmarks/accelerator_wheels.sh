#!/usr/bin/env bash
# Builds the repository's ignored .whl/ folder: the Python packages that benchmarks/accelerator.sh
# needs and the lent GPU machine lacks (it has Python 3.12, jax with CUDA, torch with CUDA,
# numpy, scipy, matplotlib, numba, scikit-learn, networkx, einops, torch-geometric, ... but no
# soundfile, cffi, pycparser, soxr, GRAFX, torchcomp, torchlpc, librosa, audioread, decorator,
# pooch or platformdirs; /work/.library/device/KINDS.md lists what it has). Nothing can be
# fetched there, so they travel with the run (`carry: [".whl", ".grafx-prune"]`).
#
#   bash benchmarks/accelerator_wheels.sh            # here, where pip reaches the index
#
# - Wheels for CPython 3.12, manylinux x86_64, binary only, no dependencies (--no-deps: each
#   package the machine lacks is named below, so nothing of the machine's moves when
#   accelerator.sh installs them with `pip install --no-index --no-deps`).
# - torchlpc is published as source only: its sdist goes in the folder and accelerator.sh
#   builds it there against the machine's own torch (--no-build-isolation). pip prepares an
#   sdist's metadata even to download it, which runs torchlpc's setup.py and needs torch: the
#   download runs under a python with torch, $MIXJAX_GRAFX_PYTHON (the GRAFX environment,
#   benchmarks/setup_grafx_env.sh), which it does not change.
# - grafx-prune's code/ (the GRAFX side's console builder and loss) goes in .grafx-prune/,
#   exported with `git archive` from $MIXJAX_GRAFX_PRUNE_GIT (a clone or bare mirror).
# Prints the size of both folders (all carried files together must stay under 64 MiB).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="$ROOT/.whl"
PY="${PYTHON:-python3}"

# The versions of the GRAFX environment the CPU benchmarks use (benchmarks/setup_grafx_env.sh).
BINARY="soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0 GRAFX==0.6.0
torchcomp==0.2.1 librosa==0.11.0 audioread==3.1.0 decorator==5.3.1 pooch==1.9.0
platformdirs==4.14.9"
SOURCE="torchlpc==0.7.2"

rm -rf "$WHEELS"
mkdir -p "$WHEELS"
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
           manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d "$WHEELS" $BINARY

GRAFX_PY="${MIXJAX_GRAFX_PYTHON:-}"
if [[ -z "$GRAFX_PY" ]] || ! "$GRAFX_PY" -c "import torch" >/dev/null 2>&1; then
  echo "accelerator_wheels.sh: set MIXJAX_GRAFX_PYTHON to a python with torch (the GRAFX" \
       "environment, benchmarks/setup_grafx_env.sh) to download the $SOURCE source" >&2
  exit 2
fi
"$GRAFX_PY" -m pip download --quiet --no-deps --no-binary=:all: --no-build-isolation \
  -d "$WHEELS" "$SOURCE"

PRUNE="$ROOT/.grafx-prune"
if [[ -n "${MIXJAX_GRAFX_PRUNE_GIT:-}" ]]; then
  rm -rf "$PRUNE"
  mkdir -p "$PRUNE"
  # The files benchmarks/grafx_driver.py imports (its PRUNE_FILES). A mirror without its
  # largest files makes git archive complain of a missing blob it does not export: the check
  # below says whether the export holds what is needed.
  git -C "$MIXJAX_GRAFX_PRUNE_GIT" archive --format=tar HEAD code/loss.py code/auraloss_opt \
    code/mixing_console.py code/solver.py code/prune.py code/utils.py 2>/dev/null \
    | tar -x -C "$PRUNE"
  [[ -f "$PRUNE/code/loss.py" ]] || { echo "accelerator_wheels.sh: could not export" \
    "grafx-prune's code/ from $MIXJAX_GRAFX_PRUNE_GIT" >&2; exit 2; }
elif [[ ! -f "$PRUNE/code/loss.py" ]]; then
  echo "accelerator_wheels.sh: no $PRUNE/code: set MIXJAX_GRAFX_PRUNE_GIT to a clone of" \
       "grafx-prune (benchmarks/README.md, 'Machine paths') for the GRAFX side" >&2
fi

ls -1 "$WHEELS"
du -sh "$WHEELS" "$PRUNE" 2>/dev/null || true
echo "accelerator_wheels.sh: carry .whl and .grafx-prune (64 MiB in all, with the tree)" >&2
