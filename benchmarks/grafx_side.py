"""Run GRAFX (the PyTorch reference) beside mixjax's benchmarks, in its own environment.

GRAFX needs torch, which mixjax never imports, so it lives in a separate virtual environment
(``benchmarks/setup_grafx_env.sh`` builds one at ``/work/grafx-venv``) and is driven through a
subprocess running ``benchmarks/grafx_driver.py``. This module only uses the standard library.

    from benchmarks.grafx_side import run_grafx
    ref = run_grafx("render", tracks=16, groups=4, seconds=3.8, sample_rate=30000, repeats=5)
    if ref is not None:
        print(ref["fwd_s"], ref["fwd_bwd_s"], ref["peak_rss_mb"])

Run GRAFX and mixjax one after the other, not at the same time: both want every core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

DEFAULT_VENV_PYTHON = "/work/grafx-venv/bin/python"
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafx_driver.py")
MODES = ("render", "step", "evaluate")


def _can_import_grafx(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-I", "-W", "ignore", "-c", "import grafx"],
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_grafx_python() -> str | None:
    """The python interpreter of an environment that has GRAFX, or ``None``.

    ``MIXJAX_GRAFX_PYTHON`` wins when set (it is trusted as given); otherwise
    ``/work/grafx-venv/bin/python`` is used if it exists and can ``import grafx``.
    """
    env = os.environ.get("MIXJAX_GRAFX_PYTHON")
    if env:
        return env
    if os.path.isfile(DEFAULT_VENV_PYTHON) and os.access(DEFAULT_VENV_PYTHON, os.X_OK):
        if _can_import_grafx(DEFAULT_VENV_PYTHON):
            return DEFAULT_VENV_PYTHON
    return None


def run_grafx(mode: str, *, timeout: float = 3600.0, **kwargs) -> dict | None:
    """Time GRAFX with ``grafx_driver.py`` and return its JSON result, or ``None``.

    Args:
        mode: ``"render"``, ``"step"`` or ``"evaluate"``.
        timeout: seconds before the subprocess is killed (then ``None`` is returned).
        **kwargs: driver options with underscores, e.g. ``tracks=16, groups=4, seconds=3.8,
            sample_rate=30000, repeats=5, threads=2`` (``True`` becomes a bare flag).

    Returns:
        The parsed last JSON line the driver printed: ``mode``, ``tracks``, ``groups``,
        ``seconds``, ``sample_rate``, ``fwd_s`` and ``fwd_bwd_s`` (render), ``step_s`` (step)
        or ``evaluate_s`` (evaluate), ``peak_rss_mb``, ``torch``, ``grafx``, ``threads`` and a
        few more. ``None``, with the reason printed to stderr, when GRAFX is unavailable or the
        run fails or times out.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    python = find_grafx_python()
    if python is None:
        print(
            "GRAFX comparison skipped: no GRAFX environment (set MIXJAX_GRAFX_PYTHON or run "
            "benchmarks/setup_grafx_env.sh)",
            file=sys.stderr,
        )
        return None
    cmd = [python, DRIVER, "--mode", mode]
    for key, value in kwargs.items():
        if value is None or value is False:
            continue
        cmd.append("--" + key.replace("_", "-"))
        if value is not True:
            cmd.append(str(value))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"GRAFX comparison skipped: timed out after {timeout:.0f} s", file=sys.stderr)
        return None
    except OSError as e:
        print(f"GRAFX comparison skipped: could not run {python}: {e}", file=sys.stderr)
        return None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        print(
            f"GRAFX comparison skipped: driver exited with {done.returncode}:\n{tail}",
            file=sys.stderr,
        )
        return None
    for line in reversed(done.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    print("GRAFX comparison skipped: the driver printed no JSON result", file=sys.stderr)
    return None


if __name__ == "__main__":  # python benchmarks/grafx_side.py render --tracks 4 --groups 1 ...
    import argparse

    parser = argparse.ArgumentParser(description="run benchmarks/grafx_driver.py via run_grafx")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--tracks", type=int, default=4)
    parser.add_argument("--groups", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.8)
    parser.add_argument("--sample-rate", type=int, default=30000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0)
    a = parser.parse_args()
    out = run_grafx(
        a.mode,
        timeout=a.timeout,
        tracks=a.tracks,
        groups=a.groups,
        seconds=a.seconds,
        sample_rate=a.sample_rate,
        repeats=a.repeats,
        threads=a.threads,
    )
    print(json.dumps(out))
    sys.exit(0 if out is not None else 1)
