r"""Stereo imager with a side-channel gain (grafx ``SideGainImager``).

Let ``g`` be ``params["log_gain"][0]``, a natural-log amplitude gain. With the
mid ``m = L + R`` and the side ``s = L - R``:

.. math::

  s' &= e^{g} (L - R), \\
  L' &= (m + s') / 2, \qquad R' = (m - s') / 2.

``g = 0`` is the identity, ``g → -∞`` collapses the image to mono
(``L' = R' = (L + R) / 2``), ``g > 0`` widens it.

References:
  grafx ``processors/stereo.py`` ``SideGainImager``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from mixjax import units
from mixjax.processors import _effective
from mixjax.processors import _init
from mixjax.processors import _settings
from mixjax.processors import base

PARAM_SHAPES = {"log_gain": (1,)}
"""Name and shape of every parameter."""


def init(key) -> dict:
  """Parameters drawn i.i.d. N(0, 0.01²): almost the identity."""
  return _init.normal_params(key, PARAM_SHAPES)


def apply(params, x, *, sample_rate: int):
  """Scale the side signal by ``exp(log_gain)``.

  Args:
    params: ``{"log_gain": [1]}``, natural-log side gain.
    x: ``[2, n]`` float32 stereo signal (left, right).
    sample_rate: unused.

  Returns:
    ``[2, n]`` signal with the same mid and a scaled side.
  """
  del sample_rate
  left, right = x[0], x[1]
  mid = left + right
  side = jnp.exp(params["log_gain"][0]) * (left - right)
  return jnp.stack([(mid + side) / 2, (mid - side) / 2])


def context_samples(*, sample_rate: int) -> tuple[int, int]:
  """``(0, 0)``: memoryless."""
  del sample_rate
  return (0, 0)


def controls(params, *, sample_rate: int) -> dict:
  """``side_gain_db``: the side gain ``20 log10 exp(g)`` (scalar)."""
  del sample_rate
  return {"side_gain_db": units.log_gain_to_db(params["log_gain"][0])}


def penalties(params, x, y, *, sample_rate: int) -> dict:
  """No regulariser."""
  del params, x, y, sample_rate
  return {}


def effective(params, wet: float, *, sample_rate: int) -> dict:
  """Side gain at dry/wet ``w``: the mid is kept, the side scaled by ``w e^g + 1 - w``.

  Returns:
    A JSON-ready dict: ``side_gain_db`` (> 0 wider, < 0 narrower) and ``wet``.
  """
  del sample_rate
  side = wet * np.exp(float(np.asarray(params["log_gain"], np.float64).reshape(-1)[0])) + 1 - wet
  return {"wet": _effective.number(wet, 4),
          "side_gain_db": _effective.number(_effective.gain_db(side))}


def describe(effective_dict: dict) -> str:
  """``"side +3.0 dB (wider)"``."""
  side = effective_dict["side_gain_db"]
  width = "unchanged" if abs(side) < 0.05 else ("wider" if side > 0 else "narrower")
  return f"side {_effective.db(side)} ({width})"


def compare(truth_effective: dict, found_effective: dict) -> dict:
  """A found node against the true one: ``side_gain_db``, found − true."""
  return _effective.differences(truth_effective, found_effective, ("side_gain_db",))


# ---------------------------------------------------------------------------
# Physical settings (the synthetic songs' prior) and their raw parameters
# ---------------------------------------------------------------------------


def params_from_settings(settings, *, sample_rate: int, init_params=None) -> dict:
  """``{"log_gain": float32[1]}`` with ``20 log10 e^g = settings["side_gain_db"]``
  (also under ``jit``, ``grad`` and ``vmap``: ``_settings``)."""
  del sample_rate, init_params
  xp = _settings.namespace(settings)
  return {"log_gain": _settings.param(xp, units.db_to_log_gain(settings["side_gain_db"]), (1,))}


def sample_settings(rng, x, *, sample_rate: int) -> dict:
  """``side_gain_db`` ±(6–12) dB."""
  del x, sample_rate
  return {"side_gain_db": float(rng.choice([-1.0, 1.0]) * rng.uniform(6.0, 12.0))}


PROCESSOR = base.Processor(
    name="imager", label="imager", short_label="imager", colour="#b07aa1",
    param_shapes=PARAM_SHAPES, penalty_names=(), init=init, apply=apply, controls=controls,
    penalties=penalties, context_samples=context_samples, effective=effective,
    describe=describe, compare=compare, params_from_settings=params_from_settings,
    sample_settings=sample_settings, lti_form="mid_side", sparsity_cost=0.75)
