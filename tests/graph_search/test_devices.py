"""``devices.map_on_devices``: jobs side by side, results in order, a failure or Ctrl-C stops
every worker (the real searches on four devices: ``test_batch.py``).

These tests pass one CPU device several times: each entry gets its own worker.
"""

import _thread
import threading
import time

import jax
import jax.numpy as jnp
import pytest

from mixjax.graph_search import devices


def workers_left() -> list:
  return [t for t in threading.enumerate() if t.name.startswith("mixjax-cpu") and t.is_alive()]


def wait_for_stop(seconds: float = 10.0) -> None:
  """A job's dispatch loop: runs until a stop is requested, then stops as a search does."""
  end = time.monotonic() + seconds
  while time.monotonic() < end:
    if devices.stop_requested():
      raise KeyboardInterrupt("stopped")
    time.sleep(0.01)
  raise AssertionError("no stop was requested")


def test_results_come_back_in_job_order_from_side_by_side_workers():
  cpu = jax.devices("cpu")[0]
  started = threading.Barrier(3, timeout=10)  # every worker holds a job at the same time

  def job(i, device):
    if i < 3:
      started.wait()
    time.sleep(0.01 * (5 - i))
    return i, device, threading.get_ident(), jnp.ones(2).dtype

  out = devices.map_on_devices(job, range(5), [cpu] * 3)
  assert [i for i, *_ in out] == list(range(5))
  assert all(d is cpu and dtype == jnp.float32 for _, d, _, dtype in out)
  assert len({ident for *_, ident, _ in out[:3]}) == 3
  assert not workers_left() and not devices.stop_requested()


def test_one_device_runs_the_jobs_in_the_callers_thread():
  cpu = jax.devices("cpu")[0]
  out = devices.map_on_devices(lambda i, d: threading.current_thread(), range(3), [cpu])
  assert out == [threading.current_thread()] * 3


def test_a_failing_job_stops_the_others_and_its_error_is_raised():
  cpu = jax.devices("cpu")[0]
  ran = []

  def job(i, device):
    ran.append(i)
    if i == 1:
      time.sleep(0.1)
      raise RuntimeError("song 1 failed")
    wait_for_stop()

  with pytest.raises(RuntimeError, match="song 1 failed"):
    devices.map_on_devices(job, range(6), [cpu] * 3)
  assert sorted(ran) == [0, 1, 2]  # no job started after the failure
  assert not workers_left()


def test_ctrl_c_stops_every_worker_and_raises_a_stopped_searchs_interrupt():
  cpu = jax.devices("cpu")[0]

  def job(i, device):
    if i == 0:
      time.sleep(0.1)
      _thread.interrupt_main()  # Ctrl-C: KeyboardInterrupt in the caller's thread
    wait_for_stop()

  with pytest.raises(KeyboardInterrupt, match="stopped"):
    devices.map_on_devices(job, range(4), [cpu] * 2)
  assert not workers_left()


def test_the_scope_is_float32_on_its_device_even_under_x64():
  cpu = jax.devices("cpu")[0]
  with jax.enable_x64(True):
    with devices.scope(cpu):
      x = jnp.arange(3.0)
    assert x.dtype == jnp.float32 and x.devices() == {cpu}
    assert jnp.arange(3.0).dtype == jnp.float64


def test_song_devices_name_the_device_of_each_song():
  cpu = jax.devices("cpu")[0]
  assert devices.device_name(cpu) == "cpu:0"
  assert devices.song_devices(jax.device_put(jnp.zeros((3, 2)), cpu), 3) == ["cpu:0"] * 3
