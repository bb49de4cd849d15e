"""The layout holds: the core imports no file I/O and no plotting, and no modules import each other in a circle.

Read from the source with ``ast`` (nothing is imported), so a new arrow that points the
wrong way fails here, not in a reader's head (docs/ARCHITECTURE.md draws the layout); one
test runs a search with the file and plotting libraries blocked, which also catches an
import that goes through another module.
"""

import ast
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "mixjax"

FILE_LIBRARIES = ("soundfile", "soxr", "matplotlib")
"""Imported only by ``mixjax.io`` (a GPU or TPU host may lack them)."""

CORE = ("mixjax.processors", "mixjax.console", "mixjax.loss", "mixjax.graph_search",
        "mixjax.data", "mixjax.nodes", "mixjax.dsp", "mixjax.units", "mixjax.validation")
"""Modules (and packages) of the core: they read and write no files but checkpoints."""


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict:
  """``{module: {imported mixjax modules and third-party top-level names}}``."""
  graph = {}
  for path in PACKAGE.rglob("*.py"):
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        found.update(alias.name for alias in node.names)
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative import
          base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + [base])
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names)
    graph[name] = found
  return graph


GRAPH = _imports()
MODULES = set(GRAPH)


def _in_package(imported: set) -> set:
  return {m for m in imported if m in MODULES}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(CORE)))
def test_the_core_imports_no_file_io_and_no_plotting(module):
  imported = GRAPH[module]
  assert not {m for m in imported if m.startswith("mixjax.io")}, module
  assert not {m for m in imported if m.split(".")[0] in FILE_LIBRARIES}, module


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("mixjax.io")))
def test_only_io_imports_the_file_and_plotting_libraries(module):
  assert not {m for m in GRAPH[module] if m.split(".")[0] in FILE_LIBRARIES}, module


def test_a_search_runs_without_the_file_and_plotting_libraries():
  # A fresh interpreter where importing soundfile, soxr or matplotlib fails (as on a machine
  # without them) runs mixjax.search on a Song made in memory (conftest's tiny settings and
  # programs, fewer steps).
  script = textwrap.dedent(f"""
      import sys
      for name in {FILE_LIBRARIES!r}:
        sys.modules[name] = None  # "import name" raises ImportError
      import jax
      import mixjax
      mixjax.enable_compilation_cache()
      song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                      sample_rate=8000)
      config = mixjax.SearchConfig.quick(console_steps=20, finetune_steps=10, rounds=1,
                                         crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
      result = mixjax.search(song, config, seed=0, progress=False)
      assert result.loss_pruned > 0 and result.trials, result
      print("searched", len(result.trials), "trials")
      """)
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
  done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                        timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.startswith("searched"), done.stdout


def test_no_module_imports_one_that_imports_it_back():
  # Depth-first search for a cycle among mixjax's own modules. A module may import its own
  # package's __init__ (``from mixjax.processors import base`` loads the package first), so
  # package -> its own submodules is the only edge allowed to close a loop.
  edges = {m: {i for i in _in_package(GRAPH[m]) if i != m and not m.startswith(i + ".")}
           for m in MODULES}
  state, stack = {}, []

  def visit(module):
    state[module] = "open"
    stack.append(module)
    for nxt in sorted(edges[module]):
      if state.get(nxt) == "open":
        raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
      if nxt not in state:
        visit(nxt)
    stack.pop()
    state[module] = "done"

  for module in sorted(MODULES):
    if module not in state:
      visit(module)


def test_the_graph_sees_the_imports():
  # The parser must see real edges, or the tests above could not fail.
  assert "mixjax.console" in GRAPH["mixjax.graph_search.fit"]
  assert "mixjax.io.song_folder" in _in_package(GRAPH["mixjax.cli"])
