"""The persistent compilation cache: a second `mixjax demo` run compiles nothing."""

import json
import os
import subprocess
import sys

import pytest


# A tiny search (as tests/test_cli.py's demo test runs it).
TINY_ARGS = ["--preset", "quick", "--steps", "10", "--finetune-steps", "10", "--rounds", "1",
             "--crop-seconds", "1.5", "--warmup-seconds", "0.5", "--sample-rate", "8000",
             "--no-progress"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs the CLI in a fresh process and counts the programs XLA was asked for
# ("requests") and those read back from the on-disk cache ("hits").
_CHILD = r"""
import json, sys
import jax
counts = {"requests": 0, "hits": 0}
def listen(event, **_):
  if event == "/jax/compilation_cache/compile_requests_use_cache":
    counts["requests"] += 1
  elif event == "/jax/compilation_cache/cache_hits":
    counts["hits"] += 1
jax.monitoring.register_event_listener(listen)
from mixjax import cli
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, **counts}))
"""


def _demo_in_a_fresh_process(cache_dir, out):
  env = dict(os.environ, MIXJAX_CACHE_DIR=str(cache_dir),
             PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
  args = ["demo", "--out", str(out), "--tracks", "2", "--groups", "1", "--seconds", "2",
          *TINY_ARGS]
  done = subprocess.run([sys.executable, "-c", _CHILD, *args], env=env, cwd=ROOT,
                        capture_output=True, text=True, timeout=900)
  assert done.returncode == 0, done.stderr[-2000:]
  return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_demo_run_compiles_nothing(tmp_path):
  first = _demo_in_a_fresh_process(tmp_path / "xla", tmp_path / "first")
  second = _demo_in_a_fresh_process(tmp_path / "xla", tmp_path / "second")
  assert first["code"] == second["code"] == 0
  assert first["requests"] > 0 and first["hits"] < first["requests"]
  # Every program of the second run comes from the cache the first one wrote.
  assert second["requests"] > 0
  assert second["hits"] == second["requests"], second
