"""The processor chain refuses a penalty it would otherwise drop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mixjax
from mixjax import console as console_lib
from mixjax.processors import PENALTY_NAMES, REGISTRY

SR = 8000


def test_a_penalty_missing_from_penalty_names_fails_loudly(monkeypatch):
  real = REGISTRY["gain_pan"]

  def penalties(params, x, y, *, sample_rate):
    del params, x, sample_rate
    return {"loudness": jnp.mean(y ** 2)}

  assert "loudness" not in PENALTY_NAMES
  monkeypatch.setitem(console_lib.REGISTRY, "gain_pan", real._replace(penalties=penalties))
  console = mixjax.Console.build([0, None], sample_rate=SR)
  params = console.init(jax.random.key(0))
  on = {name: np.ones(2, bool) for name in params.drywet_logits["track"]}
  tracks = jnp.zeros((2, 2, 256), jnp.float32)
  with pytest.raises(ValueError, match=r"processor 'gain_pan' returns the penalties \['loudness'\]"):
    console_lib.apply_chain(params.processors["track"], params.drywet_logits["track"], on,
                             tracks, sample_rate=SR)
