"""benchmarks/accelerator.sh and accelerator.py on the CPU, so that the GPU run cannot rot.

The run's plumbing (the JSON after every job, cut and failed children, the budget, the CPU
check) with stand-in children of a few lines; the timed calls of the real children at tiny
sizes with every implicit upload refused; the script killed after its first item; and
(slow) the whole ``--tiny`` run through accelerator.sh.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from benchmarks import accelerator, search, timing

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "accelerator.sh"


def _python(code: str) -> list:
  return [sys.executable, "-c", code]


def _script_env() -> dict:
  env = dict(os.environ, PYTHON=sys.executable, JAX_PLATFORMS="cpu")
  env.pop("MIXJAX_GRAFX_PYTHON", None)
  return env


def test_the_json_holds_each_row_before_the_next_job_starts(tmp_path):
  args = accelerator.parse_args(["--tiny", "--out", str(tmp_path), "--item-seconds", "4"])
  path = tmp_path / "accelerator.json"
  jobs = [
      accelerator.Job("costs", "first", _python('print(\'{"step_s": 0.5}\')')),
      # Reads the JSON as it stands while this job runs: the first row must be there.
      accelerator.Job("costs", "reader", _python(
          f"import json; rows = json.load(open({str(path)!r}))['rows']; "
          f"print(json.dumps({{'names': [r['name'] for r in rows]}}))")),
      accelerator.Job("batch", "slow", _python(
          "import time; print('{\"part\": 1}', flush=True); time.sleep(60)")),
      accelerator.Job("search", "broken", _python("import sys; sys.exit('boom')")),
      accelerator.Job("grafx", "known", row={"status": "not available", "error": "no GRAFX"}),
  ]
  t0 = time.perf_counter()
  result = accelerator.run(args, jobs=jobs)
  assert time.perf_counter() - t0 < 30  # the slow child was cut at --item-seconds
  assert json.loads(path.read_text()) == json.loads(json.dumps(result))
  assert result["status"] == "done"
  first, reader, slow, broken, known = result["rows"]
  assert first["status"] == "ok" and first["result"] == {"step_s": 0.5}
  assert reader["result"] == {"names": ["first"]}
  assert slow["status"] == "cut" and slow["result"] == {"part": 1}  # what it printed is kept
  assert 3 < slow["seconds"] < 20
  assert broken["status"] == "failed" and "boom" in broken["error"]
  assert known == {"item": "grafx", "name": "known", "status": "not available",
                   "error": "no GRAFX"}


def test_jobs_past_the_budget_are_skipped(tmp_path):
  args = accelerator.parse_args(["--tiny", "--out", str(tmp_path), "--budget-seconds", "0"])
  result = accelerator.run(args, jobs=[accelerator.Job("costs", "late", _python("print(1)"))])
  (row,) = result["rows"]
  assert row["status"] == "skipped" and "budget" in row["error"]


def test_a_cpu_stops_the_run_at_once_without_allow_cpu(tmp_path, capsys):
  with pytest.raises(SystemExit) as stop:
    accelerator.main(["--out", str(tmp_path), "--no-grafx"])
  assert stop.value.code == accelerator.NO_CPU_EXIT
  (line,) = capsys.readouterr().err.strip().splitlines()
  assert "cpu" in line and "--allow-cpu" in line
  result = json.loads((tmp_path / "accelerator.json").read_text())
  assert result["status"] == "no accelerator" and result["rows"] == []
  assert result["device"]["backend"] == "cpu" and result["device"]["preallocate"] == "false"


def test_without_a_grafx_python_its_rows_say_so(tmp_path, monkeypatch):
  monkeypatch.delenv("MIXJAX_GRAFX_PYTHON", raising=False)
  result = accelerator.main(["--tiny", "--items", "grafx", "--out", str(tmp_path)])
  assert [r["name"] for r in result["rows"]] == ["GRAFX 2x1 step", "GRAFX 2x1 evaluate"]
  assert {r["status"] for r in result["rows"]} == {"not available"}
  assert "MIXJAX_GRAFX_PYTHON" in result["grafx"]["reason"]


def test_an_implicit_upload_in_a_timed_call_raises():
  add = jax.jit(lambda x: x + 1)
  on_device = jax.device_put(np.ones(3, np.float32))
  timing.no_uploads(lambda: add(on_device).block_until_ready())()
  with pytest.raises(Exception, match="Disallowed host-to-device transfer"):
    timing.no_uploads(lambda: add(np.ones(3, np.float32)))()


def test_the_timed_calls_find_their_inputs_on_the_device(monkeypatch):
  # Every timed call of the step and the evaluation under jax.transfer_guard("disallow").
  guarded = []

  def no_transfers(fn):
    def call():
      guarded.append(fn)
      with jax.transfer_guard("disallow"):
        return fn()
    return call

  monkeypatch.setattr(timing, "no_uploads", no_transfers)
  costs = search.step_costs(2, 1, song_seconds=4.0, repeats=2, sample_rate=8000,
                            config_overrides=accelerator.TINY_CONFIG)
  assert len(guarded) == 3  # two steps, one evaluation
  assert costs["step_s"] > 0 and costs["evaluate_s"] > 0 and costs["chunks"] == 4


def _kill_session(session: int) -> None:
  """SIGKILL to every process of ``session`` (the script, ``timeout``'s own process group,
  the python processes), as a machine's limit would end the run."""
  for entry in os.listdir("/proc"):
    if entry.isdigit():
      try:
        if os.getsid(int(entry)) == session:
          os.kill(int(entry), signal.SIGKILL)
      except ProcessLookupError:
        pass


def test_the_json_survives_a_kill_after_the_first_item(tmp_path):
  path = tmp_path / "accelerator.json"
  proc = subprocess.Popen(["bash", str(SCRIPT), str(tmp_path), "--tiny", "--no-grafx"],
                          env=_script_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  try:
    deadline = time.time() + 600
    rows = []
    while not rows and time.time() < deadline and proc.poll() is None:
      time.sleep(0.2)
      if path.exists():
        rows = json.loads(path.read_text())["rows"]  # never half written: always loads
  finally:
    _kill_session(proc.pid)
    proc.wait()
  result = json.loads(path.read_text())
  assert result["status"] == "running"  # killed mid-run
  first = result["rows"][0]
  assert first["name"] == "mixjax 2x1" and first["status"] == "ok", first
  assert first["result"]["step_s"] > 0 and first["result"]["evaluate_s"] > 0


@pytest.mark.slow
def test_the_tiny_run_measures_every_item(tmp_path):
  done = subprocess.run(["bash", str(SCRIPT), str(tmp_path), "--tiny", "--no-grafx"],
                        env=_script_env(), capture_output=True, text=True, timeout=1900)
  assert done.returncode == 0, done.stderr[-3000:]
  result = json.loads((tmp_path / "accelerator.json").read_text())
  assert result["status"] == "done" and result["device"]["backend"] == "cpu"
  rows = {r["name"]: r for r in result["rows"]}
  assert list(rows) == ["mixjax 2x1", "batch 1 x 2x1", "batch 2 x 2x1", "quick search 3x2",
                        "memory 2x1 step", "memory 2x1 evaluate", "conditionals 2x1"]
  assert all(r["status"] == "ok" for r in rows.values()), rows
  out = {name: r["result"] for name, r in rows.items()}
  assert out["mixjax 2x1"]["compile_step_s"] > 0
  assert set(result["songs_per_hour"]) == {"1", "2"}
  assert out["batch 2 x 2x1"]["batch"] == 2 and out["batch 2 x 2x1"]["trials_per_s"] > 0
  search_row = out["quick search 3x2"]
  assert search_row["wall_s"] > 0 and search_row["compile_s"] > 0 and search_row["trials"] > 0
  assert out["memory 2x1 step"]["part"] == "step" and not out["memory 2x1 step"]["oom"]
  assert "peak_bytes_in_use" in out["memory 2x1 evaluate"]
  conditionals = out["conditionals 2x1"]
  for state in ("all_alive", "delay_reverb_dead"):
    assert conditionals[f"{state}_skip"]["conditionals_in_step"] > 0
    assert conditionals[f"{state}_masks_only"]["conditionals_in_step"] == 0
    assert conditionals[f"{state}_masks_only_speedup"] > 0
  json.loads(done.stdout.strip().splitlines()[-1])  # the summary line


def test_the_wheels_folder_holds_every_package_the_run_installs():
  wanted = re.search(r'WANTED="([^"]+)"', SCRIPT.read_text()).group(1).split()
  wanted += " ".join(re.findall(r'WANTED="\$WANTED ([^"]+)"', SCRIPT.read_text())).split()
  names = {pair.split(":")[0] for pair in wanted}
  wheels_script = (ROOT / "benchmarks" / "accelerator_wheels.sh").read_text()
  pinned = re.search(r'BINARY="([^"]+)"', wheels_script).group(1).split()
  pinned += re.search(r'SOURCE="([^"]+)"', wheels_script).group(1).split()
  assert names == {spec.split("==")[0] for spec in pinned}
