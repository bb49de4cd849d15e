"""Shared plumbing of the processors' ``params_from_settings``.

``params_from_settings(settings, *, sample_rate)`` turns physical settings
into raw parameters. Called with concrete numbers (the synthetic songs) it
computes in float64 NumPy and checks the settings, raising ``ValueError``
for impossible ones; called under ``jit``, ``grad`` or ``vmap`` (a network
that predicts settings, trained through the console) it computes the same
formulas in float32 ``jax.numpy``, without the checks (a traced value cannot
be tested). ``namespace`` picks the array module from the settings
themselves, so one formula serves both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def is_traced(settings) -> bool:
  """Whether any leaf of ``settings`` is a JAX tracer (inside ``jit``, ``grad``, ``vmap``)."""
  return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(settings))


def namespace(settings):
  """``jax.numpy`` when ``settings`` holds a tracer, else ``numpy``."""
  return jnp if is_traced(settings) else np


def floats(xp, x):
  """``x`` as a float array of ``xp``: float64 NumPy, or float32 ``jax.numpy``."""
  return xp.asarray(x, np.float64 if xp is np else jnp.float32)


def param(xp, x, shape=None):
  """A raw parameter: ``x`` as float32 (reshaped to ``shape`` when given)."""
  value = xp.asarray(x, np.float32)
  return value if shape is None else xp.reshape(value, shape)
