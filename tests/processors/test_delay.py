"""Tests of the multitap delay against a float64 NumPy re-implementation.

The reference (``np_*`` below) follows grafx ``MultitapDelay`` /
``SurrogateDelay`` step by step in float64: unit-disk map, complex powers,
irfft, hard argmax, zero-phase colour FIR, segment assembly, energy
normalisation.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax import dsp
from mixjax.processors import delay

from conftest import SAMPLE_RATE

SEG = int(round(0.1 * SAMPLE_RATE))  # 800 samples at 8 kHz
N_COLOUR = 39
N_X = SAMPLE_RATE // 4  # input length of the apply and gradient tests
LOSS_SCALE = 1e4
"""Scales the IR-path test losses so that |∂L/∂z̃| ≫ 1e-7, the ε of the
normalisation g / (ε + |g|); otherwise ε alone shortens the unit vectors."""

# Compiled once per shape and shared by the tests (eager op-by-op dispatch of
# the gradients is several times slower than compiling).
_ir = jax.jit(delay.impulse_response, static_argnames="sample_rate")
_apply = jax.jit(delay.apply, static_argnames="sample_rate")
_controls = jax.jit(delay.controls, static_argnames="sample_rate")


# ---------------------------------------------------------------------------
# float64 NumPy reference
# ---------------------------------------------------------------------------


def np_unit_disk(delay_z):
  z_tilde = delay_z[..., 0] + 1j * delay_z[..., 1]
  magnitude = np.abs(z_tilde)
  return z_tilde * np.tanh(magnitude) / (magnitude + 1e-7)


def np_surrogate(delay_z, n):
  z = np_unit_disk(np.asarray(delay_z, np.float64))
  k = np.arange(n // 2 + 1)
  return np.fft.irfft((z[..., None] + 1e-7)**k, n=n)


def np_colour_fir(log_magnitude):
  h = np.fft.irfft(np.exp(np.asarray(log_magnitude, np.float64)), n=N_COLOUR)
  h = np.roll(h, N_COLOUR // 2, axis=-1)
  return h * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_COLOUR) / N_COLOUR))


def np_coloured_taps(params, n):
  """``[40, n]`` hard, coloured taps (before normalisation)."""
  hard = np.eye(n)[np.argmax(np_surrogate(params["delay_z"], n), axis=-1)]
  fir = np_colour_fir(params["log_fir_magnitude"])
  centre = N_COLOUR // 2
  return np.stack([np.convolve(hard[i], fir[i])[centre:centre + n] for i in range(40)])


def np_impulse_response(params, n):
  ir = np_coloured_taps(params, n).reshape(2, 20 * n)
  return ir / np.sqrt(np.mean(np.sum(ir**2, axis=-1)) + 1e-12)


def random_params(seed, *, radius=(1.5, 3.0), colour_std=0.3):
  """Sharp taps (|z̃| in ``radius``) with random phases and colours."""
  rng = np.random.default_rng(seed)
  magnitude = rng.uniform(*radius, size=40)
  phase = rng.uniform(-np.pi, np.pi, size=40)
  return {
      "delay_z": (magnitude[:, None] * np.stack([np.cos(phase), np.sin(phase)], -1)).astype(
          np.float32),
      "log_fir_magnitude": (colour_std * rng.standard_normal((40, 20))).astype(np.float32),
  }


def ir(params, sample_rate=SAMPLE_RATE):
  return np.asarray(_ir(params, sample_rate=sample_rate), np.float64)


def ir_path_loss(params, x, w):
  """A scalar that reaches ``delay_z`` only through the impulse response."""
  return LOSS_SCALE * jnp.sum(w * delay.apply(params, x, sample_rate=SAMPLE_RATE))


_ir_path_grad = jax.jit(jax.grad(ir_path_loss))


def signals(seed, shape=(2, N_X)):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------
# Parameters and sizes
# ---------------------------------------------------------------------------


def test_init_shapes_and_distribution(key):
  params = delay.init(key)
  shapes = {k: v.shape for k, v in params.items()}
  assert shapes == {"delay_z": (40, 2), "log_fir_magnitude": (40, 20)}
  assert all(v.dtype == jnp.float32 for v in params.values())
  values = np.concatenate([np.ravel(v) for v in params.values()])
  # 880 N(0, 0.01²) draws: the sample std is within ~2.4 % (1σ) of 0.01.
  assert abs(values.std() / 0.01 - 1) < 0.1
  assert abs(values.mean()) < 0.01 * 4 / np.sqrt(values.size)


def test_sizes_follow_sample_rate():
  assert delay.segment_length(30000) == 3000
  assert delay.ir_length(30000) == 60000
  assert delay.segment_length(SAMPLE_RATE) == SEG
  # An odd segment (22.05 kHz -> 2205 samples) still gives full-length segments
  # (grafx's irfft without n would give 2204).
  params = random_params(0)
  shape = jax.eval_shape(functools.partial(delay.impulse_response, sample_rate=22050), params).shape
  assert shape == (2, 20 * 2205)


# ---------------------------------------------------------------------------
# Delay positions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [SAMPLE_RATE, 30000])
def test_peaks_at_chosen_delays(sample_rate):
  seg = delay.segment_length(sample_rate)
  rng = np.random.default_rng(1)
  within = rng.integers(0, seg, size=(2, 20))
  within[0, 0], within[1, 0], within[0, 1] = 0, seg - 1, seg // 2  # the edges and the middle
  theta = -2 * np.pi * within.reshape(40) / seg  # d = -θN/2π
  params = {"delay_z": (2.5 * np.stack([np.cos(theta), np.sin(theta)], -1)).astype(np.float32),
            "log_fir_magnitude": np.zeros((40, 20), np.float32)}
  h = ir(params, sample_rate)
  expected = within + seg * np.arange(20)
  # Flat colour: each segment is 0.998·δ (the Hann(39) centre tap), nothing else.
  segments = np.abs(h).reshape(2, 20, seg)
  np.testing.assert_array_equal(np.argmax(segments, axis=-1) + seg * np.arange(20), expected)
  np.testing.assert_allclose(np.sort(segments, axis=-1)[..., -2], 0, atol=1e-5)
  controls = _controls(params, sample_rate=sample_rate)
  np.testing.assert_array_equal(controls["delay_samples"], expected)
  np.testing.assert_allclose(controls["delay_ms"], 1000 * expected / sample_rate, rtol=1e-6)


def test_delay_follows_phase_formula():
  # d = round(-θ N / 2π) mod N for sharp taps; skip phases within 0.1 sample
  # of a half-sample, where the two neighbours tie up to the series' truncation.
  params = random_params(2, radius=(2.5, 2.5))
  z = params["delay_z"].astype(np.float64)
  position = (-np.arctan2(z[:, 1], z[:, 0]) * SEG / (2 * np.pi)) % SEG
  clear = (np.abs(position % 1 - 0.5) > 0.1).reshape(2, 20)
  assert clear.sum() > 30
  expected = (np.round(position).astype(int) % SEG).reshape(2, 20) + SEG * np.arange(20)
  got = np.asarray(_controls(params, sample_rate=SAMPLE_RATE)["delay_samples"])
  np.testing.assert_array_equal(got[clear], expected[clear])
  peaks = np.argmax(np.abs(ir(params)).reshape(2, 20, SEG), axis=-1) + SEG * np.arange(20)
  np.testing.assert_array_equal(peaks, got)


def test_init_delay_near_phase_formula(key):
  # At init (|z̃| ≈ 0.014) the surrogate is nearly flat: the argmax sits near
  # the phase formula, off by what float32 rounding decides among the nearly
  # equal samples around the peak (observed ≤ 1 sample at 8 kHz, ≤ 4 at 30 kHz).
  params = delay.init(key)
  z = np.asarray(params["delay_z"], np.float64)
  position = (-np.arctan2(z[:, 1], z[:, 0]) * SEG / (2 * np.pi)) % SEG
  got = np.asarray(_controls(params, sample_rate=SAMPLE_RATE)["delay_samples"]).reshape(40) % SEG
  distance = np.abs((got - position + SEG / 2) % SEG - SEG / 2)
  assert distance.max() < 4


# ---------------------------------------------------------------------------
# Impulse response vs the float64 reference
# ---------------------------------------------------------------------------


def test_surrogate_matches_numpy(key):
  for params in (delay.init(key), random_params(3)):
    soft = np.asarray(delay._surrogate_irs(jnp.asarray(params["delay_z"]), SEG))
    ref = np_surrogate(params["delay_z"], SEG)
    # z^k = exp(k log z) in complex64 carries a phase error ≈ k·|arg z|·2⁻²⁴;
    # summed over the r^k-weighted terms that is ≲ 1/(1−r) ≈ 200 ulps of the
    # peak for |z̃| ≤ 3: 1e-4 of the peak bounds it.
    np.testing.assert_allclose(soft, ref, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("seed", [4, 5])
def test_impulse_response_matches_numpy(seed):
  params = random_params(seed)
  ref = np_impulse_response(params, SEG)
  got = ir(params)
  # Same hard delays (sharp taps: no argmax near-ties), then float32 FFT
  # round-off: ~1e-7 of the tap level, far below 1e-5 of the peak.
  np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("seed", [None, 6])
def test_energy_normalised(key, seed):
  params = delay.init(key) if seed is None else random_params(seed)
  h = ir(params)
  assert h.shape == (2, 20 * SEG)
  np.testing.assert_allclose(np.mean(np.sum(h**2, axis=-1)), 1.0, rtol=1e-5)


def test_apply_equals_numpy_convolution():
  params = random_params(7)
  x = signals(8)
  y = np.asarray(_apply(params, x, sample_rate=SAMPLE_RATE), np.float64)
  h = ir(params)
  ref = np.stack([np.convolve(x[c].astype(np.float64), h[c])[:N_X] for c in range(2)])
  assert y.shape == x.shape
  # float32 FFT convolution: error ~ 1e-7·sqrt(log n)·‖x‖‖h‖ per sample.
  np.testing.assert_allclose(y, ref, atol=1e-5 * np.abs(ref).max())


def test_controls_consistent_with_ir():
  params = random_params(9)
  controls = _controls(params, sample_rate=SAMPLE_RATE)
  h = ir(params).reshape(2, 20, SEG)
  tap_gain_db = np.asarray(controls["tap_gain_db"], np.float64)
  np.testing.assert_allclose(tap_gain_db, 10 * np.log10(np.sum(h**2, axis=-1)), atol=1e-4)
  np.testing.assert_allclose(np.mean(np.sum(10**(tap_gain_db / 10), -1)), 1.0, rtol=1e-5)
  z = params["delay_z"].astype(np.float64)
  np.testing.assert_allclose(controls["radius"], np.tanh(np.hypot(z[:, 0], z[:, 1])).reshape(2, 20),
                             rtol=1e-6)
  np.testing.assert_allclose(
      controls["colour_gain_db"],
      (20 / np.log(10) * params["log_fir_magnitude"]).reshape(2, 20, 20), rtol=1e-6)
  np.testing.assert_allclose(controls["colour_frequency_hz"], np.arange(20) * SAMPLE_RATE / 39,
                             rtol=1e-6)


# ---------------------------------------------------------------------------
# Straight-through estimator and gradient normalisation
# ---------------------------------------------------------------------------


def test_straight_through_forward_is_hard(key):
  for params in (delay.init(key), random_params(10, radius=(0.1, 3.0))):
    soft = delay._surrogate_irs(jnp.asarray(params["delay_z"]), SEG)
    forward = np.asarray(delay._straight_through(soft))
    hard = np.eye(SEG)[np.argmax(np.asarray(soft), axis=-1)]
    # soft + (hard - soft) rounds to hard within one float32 ulp.
    np.testing.assert_allclose(forward, hard, atol=1e-7)


@pytest.mark.parametrize("seed", [None, 11])
def test_gradient_normalised_per_tap(key, seed):
  params = delay.init(key) if seed is None else random_params(seed, radius=(0.3, 2.0))
  grads = _ir_path_grad(params, signals(12), signals(13))
  g = np.asarray(grads["delay_z"], np.float64)
  assert np.all(np.isfinite(g))
  # g / (1e-7 + |g|) has unit length once LOSS_SCALE makes |g| ≫ 1e-7.
  np.testing.assert_allclose(np.linalg.norm(g, axis=-1), 1.0, atol=1e-5)
  assert np.all(np.isfinite(grads["log_fir_magnitude"]))
  assert np.abs(grads["log_fir_magnitude"]).max() > 0


def test_gradient_direction_is_soft_path():
  """The STE gradient is the soft IR's Jacobian applied to ∂L/∂(hard taps), normalised.

  ∂L/∂taps comes from JAX at the hard taps; the Jacobian of the float64
  surrogate ``Σ_n c[i, n] h̃_i[n]`` w.r.t. (Re z̃_i, Im z̃_i) from central
  differences (step 1e-6: truncation and round-off both ≲ 1e-8 relative).
  """
  params = random_params(14, radius=(0.3, 2.0))
  x, w = signals(15), signals(16)
  fir = delay._colour_firs(jnp.asarray(params["log_fir_magnitude"]))

  def loss_of_taps(taps):
    coloured = dsp.zero_phase_convolve(taps, fir).reshape(2, -1)
    return LOSS_SCALE * jnp.sum(w * dsp.causal_convolve(x, dsp.energy_normalize(coloured)))

  hard = np.eye(SEG)[np.argmax(np_surrogate(params["delay_z"], SEG), axis=-1)].astype(np.float32)
  cotangent = np.asarray(jax.jit(jax.grad(loss_of_taps))(hard), np.float64)

  z = params["delay_z"].astype(np.float64)
  step = 1e-6
  ref = np.zeros_like(z)
  for part in range(2):
    dz = np.zeros_like(z)
    dz[:, part] = step
    change = np_surrogate(z + dz, SEG) - np_surrogate(z - dz, SEG)
    ref[:, part] = np.sum(cotangent * change, axis=-1) / (2 * step)
  ref /= np.linalg.norm(ref, axis=-1, keepdims=True)

  got = np.asarray(_ir_path_grad(params, x, w)["delay_z"], np.float64)
  # Unit vectors; the float32 surrogate Jacobian carries the ~1e-4 relative
  # phase error of test_surrogate_matches_numpy, so 1e-3 on each component.
  np.testing.assert_allclose(got, ref, atol=1e-3)


def test_gradient_normalised_per_node_under_vmap():
  nodes = [random_params(s, radius=(0.3, 2.0)) for s in (17, 18, 19)]
  params = jax.tree.map(lambda *p: jnp.stack(p), *nodes)
  x, w = signals(20, (3, 2, N_X)), signals(21, (3, 2, N_X))

  def loss(params):
    return jnp.sum(jax.vmap(ir_path_loss)(params, x, w) * jnp.arange(1.0, 4.0))

  g = np.asarray(jax.jit(jax.grad(loss))(params)["delay_z"], np.float64)
  np.testing.assert_allclose(np.linalg.norm(g, axis=-1), 1.0, atol=1e-5)


# ---------------------------------------------------------------------------
# Radii penalty
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [None, 22])
def test_radii_penalty_matches_numpy(key, seed):
  params = delay.init(key) if seed is None else random_params(seed, radius=(0.1, 3.0))
  x = jnp.zeros((2, 100))

  def radii(p):
    return delay.penalties(p, x, x, sample_rate=SAMPLE_RATE)["radii"]

  value = delay.penalties(params, x, x, sample_rate=SAMPLE_RATE)
  assert set(value) == {"radii"}
  z = np.asarray(params["delay_z"], np.float64)
  r = np.hypot(z[:, 0], z[:, 1])
  # A sum over the 40 taps (grafx calculate_radii_loss: .sum()), not a mean.
  np.testing.assert_allclose(value["radii"], np.sum((1 - np.tanh(r))**2), rtol=1e-5)
  # Its gradient is the plain (un-normalised) derivative.
  g = jax.jit(jax.grad(radii))(params)
  ref = (-2 * (1 - np.tanh(r)) * (1 - np.tanh(r)**2) / r)[:, None] * z
  np.testing.assert_allclose(g["delay_z"], ref, rtol=1e-4, atol=1e-7)
  np.testing.assert_array_equal(g["log_fir_magnitude"], 0)


# ---------------------------------------------------------------------------
# jit, vmap, finite gradients
# ---------------------------------------------------------------------------


def test_vmap_matches_single_node():
  params = [random_params(s) for s in (23, 24)]
  x = signals(25, (2, 2, N_X))
  # jit of one node (shared with the other tests) vs jit(vmap) of both.
  single = np.stack([_apply(p, u, sample_rate=SAMPLE_RATE) for p, u in zip(params, x)])
  stacked = jax.tree.map(lambda *p: jnp.stack(p), *params)
  batched = jax.jit(jax.vmap(functools.partial(delay.apply, sample_rate=SAMPLE_RATE)))(stacked, x)
  np.testing.assert_allclose(batched, single, atol=1e-5 * np.abs(single).max())
  controls = jax.jit(jax.vmap(functools.partial(delay.controls, sample_rate=SAMPLE_RATE)))(stacked)
  np.testing.assert_array_equal(controls["delay_samples"][1],
                                _controls(params[1], sample_rate=SAMPLE_RATE)["delay_samples"])


def _training_scalar(params, x):
  y = delay.apply(params, x, sample_rate=SAMPLE_RATE)
  return jnp.mean(y**2) + 0.5 * delay.penalties(params, x, y, sample_rate=SAMPLE_RATE)["radii"]


_training_grad = jax.jit(jax.grad(_training_scalar))


@pytest.mark.parametrize("seed", [None, 26, 27, 28, "zero"])
def test_finite_gradients(key, seed):
  if seed is None:
    params = delay.init(key)
  elif seed == "zero":  # |z̃| = 0 exactly: the magnitude's gradient must not be 0/0
    params = {k: np.zeros(v, np.float32) for k, v in delay.PARAM_SHAPES.items()}
  else:
    rng = np.random.default_rng(seed)
    params = {k: (rng.standard_normal(v) * rng.uniform(0.01, 2)).astype(np.float32)
              for k, v in delay.PARAM_SHAPES.items()}
  grads = _training_grad(params, signals(29))
  for name, g in grads.items():
    assert np.all(np.isfinite(g)), name
    if seed != "zero":
      assert np.abs(g).max() > 0, name
