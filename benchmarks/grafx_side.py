"""Run GRAFX (the PyTorch reference) beside mixjax's benchmarks, in its own environment.

GRAFX needs torch, which mixjax never imports, so it lives in a separate virtual environment
(``benchmarks/setup_grafx_env.sh DIR`` builds one), named by ``MIXJAX_GRAFX_PYTHON`` (its
python), and is driven through a subprocess running ``python -m benchmarks.grafx_driver`` (or
``benchmarks.grafx_search``) from the repository root, so those scripts import each other as
package modules without mixjax installed there. This module only uses the standard library.

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

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository root: the GRAFX-side scripts run from here as ``benchmarks.*`` modules."""

MODES = ("render", "step", "evaluate")


def find_grafx_python() -> str | None:
    """The python of the GRAFX environment, ``$MIXJAX_GRAFX_PYTHON`` (trusted as given), or ``None``."""
    return os.environ.get("MIXJAX_GRAFX_PYTHON") or None


def grafx_command(python: str, script: str, *args: str) -> list[str]:
    """``python -m benchmarks.<script> args...``: run it with ``cwd=ROOT``."""
    return [python, "-m", f"benchmarks.{script}", *args]


def driver_command(python: str, mode: str, **kwargs) -> list[str]:
    """The command that runs ``benchmarks.grafx_driver`` in ``mode`` (run it with ``cwd=ROOT``).

    ``kwargs`` are driver options with underscores (``tracks=16, device="cuda"``); ``True``
    becomes a bare flag, ``None`` and ``False`` are left out.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    cmd = grafx_command(python, "grafx_driver", "--mode", mode)
    for key, value in kwargs.items():
        if value is None or value is False:
            continue
        cmd.append("--" + key.replace("_", "-"))
        if value is not True:
            cmd.append(str(value))
    return cmd


def run_grafx(mode: str, *, timeout: float = 3600.0, **kwargs) -> dict | None:
    """Time GRAFX with ``benchmarks.grafx_driver`` and return its JSON result, or ``None``.

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
    python = find_grafx_python()
    if python is None:
        print(
            "GRAFX comparison skipped: no GRAFX environment (set MIXJAX_GRAFX_PYTHON; "
            "benchmarks/setup_grafx_env.sh builds one)",
            file=sys.stderr,
        )
        return None
    cmd = driver_command(python, mode, **kwargs)
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
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
    result = timing.last_json(done.stdout)
    if result is None:
        print("GRAFX comparison skipped: the driver printed no JSON result", file=sys.stderr)
    return result


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
