"""One run at a time in a results folder: an advisory lock on ``DIR/.mixjax.lock``.

The lock is ``flock`` on an open file, so the operating system drops it when
its process ends in any way (``kill -9`` included): a lock file left behind by
a killed run never blocks the next one (``--resume`` included). The file holds
the holder's process id, for the message, and is removed when the holder lets
go. On systems without ``fcntl`` (Windows) folders are not locked.
"""

from __future__ import annotations

import contextlib
import os

try:
  import fcntl
except ImportError:  # Windows: no advisory locks
  fcntl = None

LOCK_FILE = ".mixjax.lock"
"""The lock file's name inside the folder (hidden: folder checks skip it)."""


def _busy(folder: str, fd: int) -> ValueError:
  try:
    pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
  except OSError:
    pid = "?"
  return ValueError(
      f"{folder} is in use by another mixjax run (process {pid}); wait for it to end, or "
      f"choose another --out folder.")


def check_free(folder: str) -> None:
  """Raises a one-line ValueError while another process holds ``folder``; writes nothing."""
  path = os.path.join(folder, LOCK_FILE)
  if fcntl is None or not os.path.isfile(path):
    return
  try:
    fd = os.open(path, os.O_RDONLY)
  except FileNotFoundError:  # its holder just let go
    return
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
      raise _busy(folder, fd) from None
    fcntl.flock(fd, fcntl.LOCK_UN)
  finally:
    os.close(fd)


@contextlib.contextmanager
def hold(folder: str):
  """Holds ``folder`` (created if needed) for the ``with`` block.

  Raises:
    ValueError: (one line) when another process holds it.
  """
  if fcntl is None:
    os.makedirs(folder, exist_ok=True)
    yield
    return
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, LOCK_FILE)
  while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      error = _busy(folder, fd)
      os.close(fd)
      raise error from None
    try:
      same = os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
      same = False
    if same:
      break
    os.close(fd)  # locked a file its last holder had just removed: take the new one
  try:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    yield
  finally:
    try:
      os.remove(path)  # while still locked, so nobody else holds the removed file
    except FileNotFoundError:
      pass
    os.close(fd)
