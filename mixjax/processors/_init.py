"""Parameter initialisation shared by the processors.

grafx allocates every processor parameter with
``create_empty_parameters(std=1e-2)``: i.i.d. N(0, 0.01²) in the
unconstrained domain, so each processor starts near its "neutral" setting
(unity gain, flat EQ, ...) through its own mapping to physical units.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp

INIT_STD = 1e-2
"""Standard deviation of every unconstrained parameter at initialisation."""


def normal_params(key, shapes: Mapping[str, tuple[int, ...]], *,
                  std: float = INIT_STD) -> dict:
  """Draw each parameter i.i.d. N(0, std²) as float32.

  Args:
    key: a ``jax.random`` key.
    shapes: parameter name -> shape; one subkey per name, in the order given.
    std: standard deviation (default: grafx's 0.01).

  Returns:
    ``{name: float32 array of that shape}``.
  """
  keys = jax.random.split(key, len(shapes))
  return {
      name: std * jax.random.normal(subkey, shape, jnp.float32)
      for subkey, (name, shape) in zip(keys, shapes.items())
  }
