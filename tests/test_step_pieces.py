"""benchmarks/step_pieces.py's profile: op seconds by kind from a jax.profiler trace."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import step_pieces


def test_op_kinds_name_ffts_by_type_and_length_and_skip_containers():
  text = "\n".join([
      "  fft.12 = c64[4,33]{1,0} fft(f32[4,64]{1,0} p), fft_type=RFFT, fft_length={64}",
      "  ROOT multiply_add_fusion.3 = f32[4]{0} fusion(a, b), kind=kLoop, calls=f",
      "  cond.7 = (f32[2]{0}, s32[]) conditional(p, x, y), branch_computations={a, b}",
  ])
  assert step_pieces._op_kinds(text) == {"fft.12": "fft RFFT 64",
                                          "multiply_add_fusion.3": "multiply_add_fusion"}


def test_op_profile_finds_the_ffts_of_a_program():
  fn = jax.jit(lambda x: jnp.fft.irfft(jnp.fft.rfft(x) * 2.0, n=x.shape[-1]))
  ops = step_pieces.op_profile(fn, jnp.asarray(np.ones((8, 4096), np.float32)), calls=2)
  assert ops["fft RFFT 4096"] > 0 and ops["fft IRFFT 4096"] > 0
  assert list(ops.values()) == sorted(ops.values(), reverse=True)
