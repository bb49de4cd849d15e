"""notebooks/quickstart.ipynb runs top to bottom (tiny settings), so it never rots."""

import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

import mixjax

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


def test_the_notebook_uses_public_names_and_is_saved_without_outputs():
  """No internal module (``mixjax``'s docstring names the public ones), no saved output."""
  public = {"mixjax.io.graph_json", "mixjax.io.results_folder", "mixjax.collect",
            "mixjax.processors"}
  cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
  source = "".join("".join(c["source"]) for c in cells)
  for module, names in re.findall(r"^ *from (mixjax\S*) import (.+)$", source, re.MULTILINE):
    for name in re.split(r", *", names):
      assert (module == "mixjax" and name in mixjax.__all__ or module in public
              or f"{module}.{name}" in public), f"the notebook imports {module}.{name}"
  assert re.findall(r"^ *import (mixjax\S*)", source, re.MULTILINE) == ["mixjax"]
  attributes = set(re.findall(r"\bmixjax\.(\w+)", source)) - {"io", "collect"}
  assert attributes <= set(mixjax.__all__) | {"__version__"}, attributes
  assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells)


def install_cell() -> str:
  """The notebook's first code cell: installs mixjax where it is not importable."""
  cells = json.loads(NOTEBOOK.read_text())["cells"]
  return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


class FakeDistribution:
  """What the install cell reads of an installed distribution."""

  def __init__(self, name, version):
    self.metadata, self.version = {"Name": name}, version


def run_install_cell(monkeypatch, *, installed: bool, distributions=(), pip_status=0):
  """Runs the install cell with pip replaced by a recorder; returns the commands."""
  real_find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: (
      real_find_spec(name, *args) if installed or name != "mixjax" else None))
  monkeypatch.setattr(importlib.metadata, "distributions", lambda: iter(distributions))
  commands = []

  def pip(command, **kwargs):
    commands.append(command)
    return subprocess.CompletedProcess(command, pip_status)

  monkeypatch.setattr(subprocess, "run", pip)
  exec(compile(install_cell(), "install cell", "exec"), {"__name__": "__main__"})  # noqa: S102
  return commands


def test_install_cell_does_nothing_where_mixjax_is_importable(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert run_install_cell(monkeypatch, installed=True) == []


def test_install_cell_installs_an_uploaded_wheel(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.delenv("MIXJAX_REPOSITORY", raising=False)
  (tmp_path / "mixjax-0.1.0-py3-none-any.whl").write_bytes(b"")
  assert run_install_cell(monkeypatch, installed=False) == [
      [sys.executable, "-m", "pip", "install", "-q", "mixjax-0.1.0-py3-none-any.whl"]]


def test_install_cell_installs_from_a_git_url(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("MIXJAX_REPOSITORY", "https://example.org/me/mixjax")
  assert run_install_cell(monkeypatch, installed=False) == [
      [sys.executable, "-m", "pip", "install", "-q", "git+https://example.org/me/mixjax"]]


RUNTIME = (FakeDistribution("numpy", "2.0.2"), FakeDistribution("jax", "0.4.38"),
           FakeDistribution("jaxlib", "0.4.38"), FakeDistribution("libtpu", "0.0.9"),
           FakeDistribution("jax_cuda12_plugin", "0.4.38"), FakeDistribution("jaxtyping", "0.2.36"),
           FakeDistribution("JAX", "0.5.0"))  # the last one later on sys.path: not the imported one
"""A runtime with its own jax (a Colab TPU/GPU image): the cell must hold the first five jax pieces."""


def test_install_cell_holds_the_runtimes_jax(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("MIXJAX_REPOSITORY", "https://example.org/me/mixjax")
  (command,) = run_install_cell(monkeypatch, installed=False, distributions=RUNTIME)
  assert command[:-2] == [sys.executable, "-m", "pip", "install", "-q",
                          "git+https://example.org/me/mixjax"]
  assert command[-2] == "--constraint"
  pins = pathlib.Path(command[-1]).read_text().split()
  assert sorted(pins) == ["jax-cuda12-plugin==0.4.38", "jax==0.4.38", "jaxlib==0.4.38",
                          "libtpu==0.0.9"]


def test_install_cell_says_when_pip_cannot_keep_the_jax(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("MIXJAX_REPOSITORY", "https://example.org/me/mixjax")
  with pytest.raises(SystemExit, match=r"without moving this runtime's jax==0\.4\.38, "
                     r"jaxlib==0\.4\.38") as stop:
    run_install_cell(monkeypatch, installed=False, distributions=RUNTIME, pip_status=1)
  pyproject = (NOTEBOOK.parents[1] / "pyproject.toml").read_text()
  requirement = re.search(r'"(jax>=[0-9.]+)"', pyproject)[1]
  assert f"mixjax needs {requirement}" in str(stop.value)


def test_install_cell_says_exactly_what_to_do(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.delenv("MIXJAX_REPOSITORY", raising=False)
  with pytest.raises(SystemExit, match=r"upload a wheel built with `python -m pip wheel "
                     r"--no-deps -w dist \.`.*or set REPOSITORY to mixjax's git URL"):
    run_install_cell(monkeypatch, installed=False)
  assert "python -m pip wheel --no-deps -w dist ." in install_cell()


@pytest.mark.slow
def test_install_cell_keeps_an_older_jax_in_a_new_venv(tmp_path):
  """For real, with PyPI: a venv holding jax 0.4.38 (older than pip's choice, as the project's
  ``jax>=0.4.30`` admits), a mixjax wheel of this checkout beside the notebook; after the cell
  mixjax is installed and jax and jaxlib have not moved. A few minutes (downloads)."""
  from test_packaging import copy_of_the_repository
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no mixjax of the checkout
  venv = tmp_path / "venv"
  python = str(venv / "bin" / "python")
  subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
  subprocess.run([python, "-m", "pip", "install", "-q", "jax==0.4.38", "jaxlib==0.4.38"],
                 check=True, env=env)
  notebook = tmp_path / "notebook"
  subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(notebook),
                  str(copy_of_the_repository(tmp_path / "source"))], check=True, env=env)
  subprocess.run([python, "-c", install_cell()], cwd=notebook, check=True, env=env)
  versions = subprocess.run(
      [python, "-c", "import importlib.metadata as m\n"
       "print(*(m.version(n) for n in ('jax', 'jaxlib', 'mixjax')))"],
      capture_output=True, text=True, check=True, env=env, cwd=notebook).stdout.split()
  (wheel,) = notebook.glob("mixjax-*.whl")
  assert versions == ["0.4.38", "0.4.38", wheel.name.split("-")[1]]
