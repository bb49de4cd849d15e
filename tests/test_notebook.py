"""notebooks/quickstart.ipynb runs top to bottom (tiny settings), so it never rots."""

import json
import os
import pathlib

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("MIXJAX_NOTEBOOK_TINY", "1")
  cells = json.loads(NOTEBOOK.read_text())["cells"]
  namespace = {"__name__": "__main__"}
  for i, cell in enumerate(c for c in cells if c["cell_type"] == "code"):
    source = "".join(cell["source"])
    exec(compile(source, f"{NOTEBOOK.name} cell {i}", "exec"), namespace)  # noqa: S102
  assert (tmp_path / "notebook-results" / "graph.json").exists()
  index = [json.loads(l) for l in (tmp_path / "notebook-collection" / "index.jsonl").read_text().splitlines()]
  assert len(index) == 2 and all(r["status"] == "done" for r in index)
  assert os.path.exists(tmp_path / "notebook-collection" / "summary.md")
