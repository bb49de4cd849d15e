"""Timing helpers shared by the benchmarks."""

from __future__ import annotations


def count_compile_seconds() -> list:
  """A one-element list that accumulates this process's JAX tracing and compile seconds.

  Listens to JAX's ``/jax/core/compile/...`` duration events (tracing, lowering, XLA
  compilation or a persistent-cache hit), so a benchmark can report compile time or subtract it
  from a timed phase.
  """
  import jax
  total = [0.0]

  def listen(event: str, seconds: float, **_) -> None:
    if event.startswith("/jax/core/compile/"):
      total[0] += seconds

  jax.monitoring.register_event_duration_secs_listener(listen)
  return total
