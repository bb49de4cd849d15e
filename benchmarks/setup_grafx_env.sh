#!/usr/bin/env bash
# Build a separate virtual environment holding GRAFX (the PyTorch reference) for the
# side-by-side benchmarks. mixjax itself never depends on torch or GRAFX.
#
# Usage: bash benchmarks/setup_grafx_env.sh VENV_DIR
#        export MIXJAX_GRAFX_PYTHON=VENV_DIR/bin/python    (how the benchmarks find it)
#
# What it does (see benchmarks/README.md, "GRAFX side-by-side environment"):
#   1. python3 -m venv VENV_DIR
#   2. torch==2.13.0 (the CPU build that lies on this machine's disk; never a CUDA build),
#      GRAFX==0.6.0 --no-deps, then GRAFX's requirements by hand, with torch held at 2.13.0
#      by a constraints file so nothing pulls a newer (CUDA, multi-GB) torch.
#   3. torchaudio==2.11.0 --no-deps; its compiled extension needs CUDA libraries and does not
#      load, so its .so files are moved out of the package (into VENV_DIR/torchaudio-so-disabled).
#      GRAFX imports torchaudio only for an IIR option the mixing console never uses; the
#      pure-Python part of torchaudio imports fine without them.
#   4. librosa (for the mel filterbank of grafx-prune's loss, used by the driver's step/evaluate
#      modes).
#   5. A smoke test: import grafx and build one processor of each type.
set -euo pipefail

VENV="${1:?usage: bash benchmarks/setup_grafx_env.sh VENV_DIR (then MIXJAX_GRAFX_PYTHON=VENV_DIR/bin/python)}"
PY=python3
TORCH_VERSION=2.13.0

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

CONSTRAINTS="$VENV/grafx-constraints.txt"
printf 'torch==%s\n' "$TORCH_VERSION" > "$CONSTRAINTS"

# Refuse to go on if pip would fetch anything but the CPU build of torch (or any nvidia-* wheel).
plan="$("$VPY" -m pip install --dry-run "torch==$TORCH_VERSION" 2>&1 | grep '^Would install' || true)"
echo "$plan"
case "$plan" in
    *"torch-$TORCH_VERSION+cpu"*) ;;
    *) echo "error: pip would not install torch $TORCH_VERSION+cpu; refusing" >&2; exit 1 ;;
esac
case "$plan" in
    *nvidia*|*triton*) echo "error: pip plans CUDA packages; refusing" >&2; exit 1 ;;
esac

"$VPY" -m pip install "torch==$TORCH_VERSION"
"$VPY" -m pip install --no-deps "GRAFX==0.6.0"
"$VPY" -m pip install -c "$CONSTRAINTS" \
    numpy scipy matplotlib networkx einops torch-geometric \
    "torchlpc==0.7.2" "torchcomp==0.2.1"
"$VPY" -m pip install -c "$CONSTRAINTS" librosa

# torchaudio: pure-Python part only.
"$VPY" -m pip install --no-deps "torchaudio==2.11.0"
TA_DIR="$("$VPY" - <<'EOF'
import importlib.util, os
spec = importlib.util.find_spec("torchaudio")
print(os.path.dirname(spec.origin))
EOF
)"
DISABLED="$VENV/torchaudio-so-disabled"
mkdir -p "$DISABLED"
find "$TA_DIR" -name '*.so' -print0 | while IFS= read -r -d '' so; do
    rel="${so#"$TA_DIR"/}"
    mkdir -p "$DISABLED/$(dirname "$rel")"
    mv "$so" "$DISABLED/$rel"
    echo "moved torchaudio/$rel -> $DISABLED/$rel"
done

# Smoke test.
"$VPY" - <<'EOF'
import torch, grafx, librosa
from importlib.metadata import version
from grafx import processors
for cls in (processors.ZeroPhaseFIREqualizer, processors.StereoGain, processors.SideGainImager,
            processors.Compressor, processors.NoiseGate, processors.MultitapDelay,
            processors.STFTMaskedNoiseReverb):
    kw = {} if cls in (processors.ZeroPhaseFIREqualizer, processors.StereoGain,
                       processors.SideGainImager) else {"flashfftconv": False}
    cls(**kw)
assert torch.version.cuda is None, torch.version.cuda
print("torch", torch.__version__, "grafx", version("GRAFX"), "librosa", librosa.__version__,
      "torchaudio", version("torchaudio"))
EOF
"$VPY" -m pip freeze > "$VENV/pip-freeze.txt"
echo "GRAFX environment ready: $VPY"
