"""What a user installs: the wheel holds ``mixjax`` only, and every source compiles cleanly.

The wheel is built offline (``pip wheel --no-build-isolation``, with the setuptools of the
``test`` extra) from a copy of the repository's packaging inputs, beside the folders that must
stay out of it: ``benchmarks/`` (run from a clone) and the ``mixjax-demo/`` folder the demo
leaves.
"""

import importlib.metadata
import os
import pathlib
import shutil
import subprocess
import sys
import warnings
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def copy_of_the_repository(folder: pathlib.Path) -> pathlib.Path:
  """``folder`` holding what a wheel is built from (pyproject.toml, README.md, mixjax/) and
  benchmarks/, without caches; a build there leaves the checkout untouched."""
  ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
  for name in ("mixjax", "benchmarks"):
    shutil.copytree(ROOT / name, folder / name, ignore=ignore)
  for name in ("pyproject.toml", "README.md"):
    shutil.copy(ROOT / name, folder / name)
  return folder


def _setuptools_builds_wheels() -> bool:
  """setuptools ≥ 70.1 builds a wheel without the ``wheel`` package."""
  try:
    major, minor = importlib.metadata.version("setuptools").split(".")[:2]
  except importlib.metadata.PackageNotFoundError:
    return False
  return (int(major), int(minor)) >= (70, 1)


@pytest.mark.skipif(not _setuptools_builds_wheels(),
                    reason="needs setuptools>=70.1, as the test extra installs "
                           "(pip install -e '.[test]')")
def test_wheel_holds_mixjax_only(tmp_path):
  source = copy_of_the_repository(tmp_path / "source")
  demo = source / "mixjax-demo"  # what `mixjax demo` leaves in the folder it runs in
  demo.mkdir()
  (demo / "graph.json").write_text("{}")
  (demo / "helper.py").write_text("")
  done = subprocess.run(
      [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
       "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist"), str(source)],
      capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  (wheel,) = (tmp_path / "dist").glob("mixjax-*.whl")
  names = zipfile.ZipFile(wheel).namelist()
  top = {name.split("/")[0] for name in names}
  version = wheel.name.split("-")[1]
  assert top == {"mixjax", f"mixjax-{version}.dist-info"}, sorted(top)
  packages = {str(pathlib.PurePosixPath(n).parent) for n in names if n.endswith("/__init__.py")}
  want = {str(p.parent.relative_to(ROOT).as_posix())
          for p in (ROOT / "mixjax").rglob("__init__.py")}
  assert packages == want  # every subpackage, nothing else
  entry_points = zipfile.ZipFile(wheel).read(f"mixjax-{version}.dist-info/entry_points.txt")
  assert b"mixjax = mixjax.cli:main" in entry_points


def test_sources_compile_without_syntax_warnings():
  """No invalid escape (``"\\q"`` in a docstring): a SyntaxWarning on Python 3.12, an error later."""
  files = [p for folder in ("mixjax", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")]
  assert len(files) > 50
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    for path in files:
      compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_every_benchmark_script_runs_from_a_clone():
  """A script run as ``python benchmarks/x.py`` puts the repository root on ``sys.path``
  before it imports its siblings: ``benchmarks`` is not installed (not in the wheel)."""
  guard = "if not __package__:"
  missing = []
  for path in sorted((ROOT / "benchmarks").glob("*.py")):
    text = path.read_text()
    if '__name__ == "__main__"' in text and "from benchmarks import" in text:
      if guard not in text or text.index(guard) > text.index("from benchmarks import"):
        missing.append(path.name)
  assert not missing, f"add the sys.path guard to {missing}"


def test_a_benchmark_script_starts_from_a_clone_without_benchmarks_installed(tmp_path):
  """``python benchmarks/side_by_side.py --help`` from another folder, with no PYTHONPATH and
  no site-packages (``-S``: an environment that installed ``benchmarks`` cannot hide it)."""
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  script = str(ROOT / "benchmarks" / "side_by_side.py")
  done = subprocess.run([sys.executable, "-S", script, "--help"],
                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
  assert done.returncode == 0, done.stderr[-2000:]
