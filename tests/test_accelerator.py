"""benchmarks/accelerator.py's CPU path at tiny sizes, so that the GPU script cannot rot.

Run in this process, so the suite's persistent compile cache serves its
programs after the first run.
"""

import json

from benchmarks import accelerator


def test_accelerator_tiny_run_writes_one_json(tmp_path, capsys):
  result = accelerator.main(["--tiny", "--no-grafx", "--sizes", "2x1", "--batch-sizes", "1",
                             "--budget-seconds", "1e9", "--out", str(tmp_path)])
  with open(tmp_path / "accelerator.json") as f:
    assert json.load(f) == json.loads(json.dumps(result))
  last = capsys.readouterr().out.strip().splitlines()[-1]
  assert json.loads(last) == json.loads(json.dumps(result))  # the last line is the JSON
  assert result["benchmark"] == "accelerator" and result["backend"] == "cpu"
  assert result["jax"] and result["device_name"] and not result["skipped"]
  (row,) = result["sizes"]
  assert (row["tracks"], row["groups"]) == (2, 1) and "grafx" not in row
  for key in ("step_s", "evaluate_s", "compile_step_s"):
    assert row["mixjax"][key] > 0
  assert row["mixjax"]["render"]["fwd_bwd_s"] > 0
  (costs,) = result["search_batch"]
  assert costs["batch"] == 1 and costs["projected_songs_per_hour"] > 0
  assert costs["trials_per_s"] > 0
  assert result["search_slice"]["steps_per_s"] == 1 / costs["step_s"]
