"""Searches side by side: one worker thread per local device, each taking the next job.

``search_batch`` runs its parts (by default one song each) through
``map_on_devices``: each worker places its arrays and runs its programs on
its own device (``scope``: ``jax.default_device`` and float32, both
thread-local in JAX), so a song runs the same program as alone, on another
device. XLA releases the GIL while a program runs, so the workers overlap.
If a job fails, or the caller is interrupted (Ctrl-C), no further job starts,
the running searches stop at their next dispatch (``stop_requested``, after
which they raise ``SearchInterrupted`` with their checkpoint), every worker
ends, and the first error is raised.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable, Sequence

import jax

_local = threading.local()
"""``stops``: the stop events of the ``map_on_devices`` calls this thread works for."""


def device_name(device) -> str:
  """``"cpu:0"``, ``"gpu:1"``, ``"tpu:3"``: a device as results record it."""
  return f"{device.platform}:{device.id}"


@contextlib.contextmanager
def scope(device):
  """The context a search's programs run in: new arrays and jit calls on ``device``, float32.

  ``jax.enable_x64(False)``: a search traces float32 programs even where the
  caller enabled ``jax_enable_x64``.
  """
  with jax.default_device(device), jax.enable_x64(False):
    yield


def stop_requested() -> bool:
  """True in a worker of ``map_on_devices`` once another job failed or the caller was
  interrupted."""
  return any(stop.is_set() for stop in getattr(_local, "stops", ()))


def map_on_devices(fn: Callable, jobs: Sequence, devices: Sequence) -> list:
  """``[fn(job, device) for job in jobs]``, the jobs side by side on ``devices``.

  One worker thread per device (at most one per job) runs job k on device k
  first, then takes the next job in order as it finishes, each under
  ``scope(device)``; results come back in job order. With one device or one
  job, the jobs run in the caller's thread.

  Raises:
    the first error of a job, or ``KeyboardInterrupt`` (the first stopped
    search's ``SearchInterrupted`` if any) when the caller is interrupted;
    either after every worker has ended.
  """
  jobs, devices = list(jobs), list(devices)
  if len(devices) == 1 or len(jobs) <= 1:
    with scope(devices[0]):
      return [fn(job, devices[0]) for job in jobs]
  stop, lock = threading.Event(), threading.Lock()
  stops = getattr(_local, "stops", ()) + (stop,)
  workers = devices[:len(jobs)]
  pending = iter(range(len(workers), len(jobs)))
  results, errors = [None] * len(jobs), []

  def work(first: int, device):
    _local.stops = stops
    i = first
    with scope(device):
      while i is not None and not stop.is_set():
        try:
          results[i] = fn(jobs[i], device)
        except BaseException as error:  # pylint: disable=broad-except
          with lock:
            errors.append(error)
          stop.set()
        with lock:
          i = next(pending, None)

  threads = [threading.Thread(target=work, args=(k, d), name=f"mixjax-{device_name(d)}",
                              daemon=True) for k, d in enumerate(workers)]
  for thread in threads:
    thread.start()
  try:
    for thread in threads:
      while thread.is_alive():
        thread.join(0.2)  # a short wait, so that Ctrl-C reaches this thread
  except KeyboardInterrupt as interrupt:
    stop.set()
    for thread in threads:
      thread.join()
    stopped = [e for e in errors if isinstance(e, KeyboardInterrupt)]
    raise (stopped[0] if stopped else interrupt) from None
  if errors:
    raise errors[0]
  return results


def song_devices(array, n_songs: int) -> list[str]:
  """The device holding each song of ``array`` (song axis first, possibly sharded)."""
  names = [""] * n_songs
  for shard in array.addressable_shards:
    for s in range(n_songs)[shard.index[0]]:
      names[s] = device_name(shard.device)
  return names
