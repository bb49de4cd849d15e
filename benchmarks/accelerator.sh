#!/usr/bin/env bash
# One benchmark run on a machine with one NVIDIA GPU, in at most 8 minutes: mixjax's step and
# whole-song evaluation at 16x4 and 32x8 (30 kHz), the same for GRAFX on the same GPU,
# songs/hour of 1, 8 and 32 songs, a complete quick-preset search of a 60 s song, peak device
# memory of a 133x26 console, the step with and without conditionals (benchmarks/accelerator.py
# says what each item measures). Writes accelerator.json into OUT_DIR (default: $OUT, else
# ./accelerator-out), atomically before the first item and after every one.
#
#   bash benchmarks/accelerator.sh [OUT_DIR] [options of benchmarks/accelerator.py]
#   bash benchmarks/accelerator.sh OUT_DIR --tiny --no-grafx    # the CPU check (tests do it)
#
# - The machine's own python3 and jax (with its CUDA plugin) are measured: jax is never
#   installed. Where JAX finds no GPU the run stops at once with one line and exit code 3,
#   unless --allow-cpu; --tiny (tiny sizes at 8 kHz) implies --allow-cpu.
# - What the machine lacks is installed from the repository's ignored .whl/ folder
#   (benchmarks/accelerator_wheels.sh builds it) with pip --no-index --no-deps into a
#   throw-away folder on PYTHONPATH, so nothing of the machine's python moves; torchlpc is
#   built from its source there against the machine's torch (--no-build-isolation), in the
#   background while the mixjax items run. grafx-prune's code comes from .grafx-prune/code.
# - XLA_PYTHON_CLIENT_PREALLOCATE=false before any JAX starts (GRAFX's torch shares the GPU).
# - The budget (450 s, --budget-seconds) counts from this script's start, installs included;
#   each child process gets what is left; a hard kill at 480 s leaves the JSON as it was
#   after the last finished item. The persistent compile cache is off (cold compiles). With
#   --tiny: the compile cache on, a budget of 1770 s and the kill at 1800 s.
set -uo pipefail

STARTED="$(date +%s.%N)"
START_S="${STARTED%.*}"
HARD_LIMIT_S=480
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export MIXJAX_ACCEL_STARTED="$STARTED"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${OUT:-$ROOT/accelerator-out}"
if [[ $# -gt 0 && "$1" != -* ]]; then
  OUT_DIR="$1"
  shift
fi
PY="${PYTHON:-python3}"
WHEELS="$ROOT/.whl"
tiny=0 grafx=1 previous=""
for arg in "$@"; do
  case "$arg" in
    --tiny) tiny=1 ;;
    --no-grafx) grafx=0 ;;
    --items=*) [[ ",${arg#--items=}," == *,grafx,* ]] || grafx=0 ;;
    -h|--help) cd "$ROOT" && PYTHONPATH="$ROOT" exec "$PY" -m benchmarks.accelerator --help ;;
  esac
  [[ "$previous" == --items && ",$arg," != *,grafx,* ]] && grafx=0
  previous="$arg"
done
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
((tiny)) || export MIXJAX_CACHE_DIR=off  # --tiny: the suite's cache, if any
((tiny)) && HARD_LIMIT_S=1800  # a CPU check on a slow machine, not a lent device's minutes

if ! "$PY" -c "import jax" >/dev/null 2>&1; then
  echo "accelerator.sh: $PY cannot import jax; run on a machine whose python has jax" \
       "(this script never installs it), or set PYTHON" >&2
  exit 2
fi

SITE="" BUILD_PID=""
cleanup() {
  if [[ -n "$BUILD_PID" ]]; then  # a build still running: its pip, then its shell
    pkill -P "$BUILD_PID" 2>/dev/null
    kill "$BUILD_PID" 2>/dev/null
  fi
  [[ -n "$SITE" ]] && rm -rf "$SITE"
}
trap cleanup EXIT

# pip name:module of what is installed when missing: soundfile and soxr (mixjax.io), then
# what the GRAFX side needs beyond the machine's packages (GRAFX, torchcomp, torchlpc and
# librosa, for grafx-prune's loss).
WANTED="pycparser:pycparser cffi:cffi soundfile:soundfile soxr:soxr"
# GRAFX runs in this same python where it has torch, unless MIXJAX_GRAFX_PYTHON names another.
if ((grafx)) && [[ -z "${MIXJAX_GRAFX_PYTHON:-}" ]] \
   && "$PY" -c "import importlib.util as u; exit(u.find_spec('torch') is None)"; then
  export MIXJAX_GRAFX_PYTHON="$(command -v "$PY")"
  WANTED="$WANTED decorator:decorator platformdirs:platformdirs pooch:pooch"
  WANTED="$WANTED audioread:audioread librosa:librosa torchlpc:torchlpc torchcomp:torchcomp"
  WANTED="$WANTED GRAFX:grafx"
fi
missing="$("$PY" - "$WANTED" <<'EOF'
import importlib.util, sys
pairs = [p.split(":") for p in sys.argv[1].split()]
print(" ".join(name for name, module in pairs if importlib.util.find_spec(module) is None))
EOF
)"
installed=() failed=()
if [[ -n "$missing" ]]; then
  echo "accelerator.sh: missing $missing" >&2
  # Installed here, a throw-away folder put first on PYTHONPATH.
  SITE="$(mktemp -d "${TMPDIR:-/tmp}/mixjax-accelerator-site.XXXXXX")"
  export PYTHONPATH="$SITE:$PYTHONPATH"
  wheels=() names=()
  for name in $missing; do
    [[ "$name" == torchlpc ]] && continue
    wheel=("$WHEELS"/"$name"-*.whl)
    if [[ -f "${wheel[0]}" ]]; then
      wheels+=("${wheel[0]}") names+=("$name")
    else
      failed+=("$name")
    fi
  done
  pip_install() {
    "$PY" -m pip install --quiet --no-index --no-deps --no-compile \
      --disable-pip-version-check --target "$SITE" "$@" >&2
  }
  if ((${#wheels[@]})); then
    if pip_install "${wheels[@]}"; then
      installed+=("${names[@]}")
    else  # one at a time, so one bad wheel does not stop the others
      for i in "${!wheels[@]}"; do
        if pip_install --upgrade "${wheels[$i]}"; then
          installed+=("${names[$i]}")
        else
          failed+=("${names[$i]}")
        fi
      done
    fi
  fi
  if [[ " $missing " == *" torchlpc "* ]]; then
    sdist=("$WHEELS"/torchlpc-*.tar.gz)
    if [[ -f "${sdist[0]}" ]]; then
      export MIXJAX_ACCEL_TORCHLPC_RC="$SITE/torchlpc-build.rc"
      export MIXJAX_ACCEL_TORCHLPC_LOG="$SITE/torchlpc-build.log"
      (
        build_start="$(date +%s)"
        MAX_JOBS="$(nproc)" nice -n 10 "$PY" -m pip install --no-index --no-deps \
          --no-build-isolation --no-compile --disable-pip-version-check --target "$SITE" \
          "${sdist[0]}" >"$MIXJAX_ACCEL_TORCHLPC_LOG" 2>&1
        rc=$?
        if ((rc)); then  # torchlpc without its extension (its Numba kernels), so GRAFX runs
          tar -xzf "${sdist[0]}" -C "$SITE" --strip-components=1 --wildcards '*/torchlpc/*.py'
        fi
        echo "$rc $(($(date +%s) - build_start))" >"$MIXJAX_ACCEL_TORCHLPC_RC.tmp"
        mv "$MIXJAX_ACCEL_TORCHLPC_RC.tmp" "$MIXJAX_ACCEL_TORCHLPC_RC"
      ) &
      BUILD_PID=$!
      installed+=("torchlpc(building)")
    else
      failed+=("torchlpc")
    fi
  fi
  ((${#failed[@]})) && echo "accelerator.sh: could not install ${failed[*]} from $WHEELS" \
    "(benchmarks/accelerator_wheels.sh fills it)" >&2
fi
export MIXJAX_ACCEL_INSTALLED="${installed[*]:-}" MIXJAX_ACCEL_INSTALL_FAILED="${failed[*]:-}"
if [[ -z "${MIXJAX_GRAFX_PRUNE_DIR:-}" && -f "$ROOT/.grafx-prune/code/loss.py" ]]; then
  export MIXJAX_GRAFX_PRUNE_DIR="$ROOT/.grafx-prune"
fi

left=$((HARD_LIMIT_S - ($(date +%s) - START_S)))
((left > 10)) || left=10
timeout -s KILL "$left" "$PY" -m benchmarks.accelerator --out "$OUT_DIR" "$@"
rc=$?
case $rc in
  0) echo "accelerator.sh: wrote $OUT_DIR/accelerator.json" >&2 ;;
  137) echo "accelerator.sh: stopped at ${HARD_LIMIT_S} s; $OUT_DIR/accelerator.json holds" \
            "every item finished before" >&2 ;;
esac
exit $rc
