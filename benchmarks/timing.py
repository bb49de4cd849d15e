"""Plumbing shared by the benchmarks: seconds, peak memory, child processes, machine paths."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time


def seconds(fn) -> float:
  """Wall seconds of one call of ``fn()`` (block on JAX results inside ``fn``)."""
  t0 = time.perf_counter()
  fn()
  return time.perf_counter() - t0


def median_seconds(fn, repeats: int) -> float:
  """Median wall seconds of ``repeats`` calls of ``fn()``."""
  return statistics.median(seconds(fn) for _ in range(repeats))


def no_uploads(fn):
  """``fn`` wrapped so that an implicit host-to-device transfer inside it raises.

  For timed loops: their inputs must already be on the device (``jax.device_put`` once,
  before timing), or every call would also time an upload of the song. Explicit
  ``device_put`` (a search's own per-call masks) stays allowed, and so do device-to-host
  reads (a search's metrics).
  """
  import jax

  def guarded():
    with jax.transfer_guard_host_to_device("disallow"):
      return fn()

  return guarded


def peak_rss_mb() -> float:
  """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
  """``"<processor>, <n> cores"``: the machine a result was measured on."""
  return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def run_child(script: str, *args: str, env: dict | None = None) -> dict:
  """Runs ``python script args...`` in a fresh process and returns the JSON object it printed last.

  One measurement per process keeps its peak memory its own (and its compile cache cold).
  """
  done = subprocess.run([sys.executable, script, *args], env=env, capture_output=True, text=True,
                        check=True)
  return json.loads(done.stdout.strip().splitlines()[-1])


def last_json(text: str) -> dict | None:
  """The last line of ``text`` (a child's output) that is a JSON object, or None."""
  for line in reversed((text or "").strip().splitlines()):
    if line.strip().startswith("{"):
      try:
        return json.loads(line)
      except json.JSONDecodeError:
        continue
  return None


def count_compile_seconds() -> list:
  """A one-element list that accumulates this process's JAX tracing and compile seconds.

  Listens to JAX's ``/jax/core/compile/...`` duration events (tracing, lowering, XLA
  compilation or a persistent-cache hit), so a benchmark can report compile time or subtract it
  from a timed phase.
  """
  import jax
  total = [0.0]

  def listen(event: str, duration_s: float, **_) -> None:
    if event.startswith("/jax/core/compile/"):
      total[0] += duration_s

  jax.monitoring.register_event_duration_secs_listener(listen)
  return total


def env_path(name: str, needed_for: str) -> str:
  """The machine path in environment variable ``name``; exits with one line when it is unset.

  The names (``benchmarks/README.md`` "Machine paths"): ``MIXJAX_SONGS_DIR`` (the song set
  ``make_songs.py`` wrote), ``MIXJAX_GRAFX_PYTHON`` (the GRAFX environment's python),
  ``MIXJAX_GRAFX_PRUNE_DIR`` / ``MIXJAX_GRAFX_PRUNE_GIT`` (grafx-prune's code).
  """
  value = os.environ.get(name)
  if not value:
    sys.exit(f"{os.path.basename(sys.argv[0]) or 'benchmarks'}: set {name} for {needed_for} "
             f"(benchmarks/README.md, 'Machine paths').")
  return value
