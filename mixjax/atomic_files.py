"""Writing result files atomically: a temp file in the same folder, then a rename.

A crash, Ctrl-C or ``kill -9`` never leaves a half-written file behind. Standard library
only (WAV files: ``mixjax.io.audio.write_wav``), so the core may use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path: str, *, suffix: str = ""):
  """Yields a temporary path next to ``path``; renames it onto ``path`` on success."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1])
  os.close(fd)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are ordinary files
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_text(path: str, text: str) -> None:
  """Writes a text file atomically."""
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)


def remove_tree(path: str) -> None:
  """Removes a folder and everything in it, if it exists."""
  shutil.rmtree(path, ignore_errors=True)
