"""Tests of the STFT-masked noise reverb against a float64 NumPy re-implementation.

The reference STFT/ISTFT below are written frame by frame from the
definitions of ``torch.stft`` / ``torch.istft`` (``center=True``, reflect
padding, periodic Hann, ``length=``), independently of ``dsp``.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixjax import dsp
from mixjax.processors import reverb

from conftest import SAMPLE_RATE

N_FFT, HOP = 384, 192
IR_LEN = 2 * SAMPLE_RATE  # 16000 samples at 8 kHz
FRAMES = 1 + IR_LEN // HOP  # 84
N_X = SAMPLE_RATE // 2

_ir = jax.jit(reverb.impulse_response, static_argnames="sample_rate")
_apply = jax.jit(reverb.apply, static_argnames="sample_rate")


# ---------------------------------------------------------------------------
# float64 NumPy reference
# ---------------------------------------------------------------------------


def np_window():
  return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)


def np_stft(x):
  """``torch.stft(x, 384, 192, hann_window(384), center=True, pad_mode="reflect")``."""
  x = np.asarray(x, np.float64)
  padded = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
  n_frames = 1 + len(x) // HOP
  spec = np.empty((N_FFT // 2 + 1, n_frames), np.complex128)
  for m in range(n_frames):
    spec[:, m] = np.fft.rfft(padded[m * HOP:m * HOP + N_FFT] * np_window())
  return spec


def np_istft(spec, length):
  """``torch.istft(spec, 384, 192, hann_window(384), center=True, length=length)``."""
  n_frames = spec.shape[-1]
  total = N_FFT + HOP * (n_frames - 1)
  y = np.zeros(total)
  envelope = np.zeros(total)
  for m in range(n_frames):
    y[m * HOP:m * HOP + N_FFT] += np.fft.irfft(spec[:, m], n=N_FFT) * np_window()
    envelope[m * HOP:m * HOP + N_FFT] += np_window()**2
  start = N_FFT // 2
  y, envelope = y[start:start + length], envelope[start:start + length]
  assert len(y) == length and envelope.min() > 1e-11
  return y / envelope


def np_noise(length):
  return (np.random.RandomState(0).uniform(size=(2, length)) * 2 - 1).astype(np.float32)


def np_mask(params, n_frames):
  h0 = np.asarray(params["init_log_magnitude"], np.float64)
  delta = np.asarray(params["delta_log_magnitude"], np.float64)
  softplus = np.logaddexp(0, delta)
  m = np.arange(n_frames)
  return np.exp((h0[..., None] - softplus[..., None] * m) / 8)


def np_impulse_response(params, length=IR_LEN):
  noise = np_noise(length)
  mask = np_mask(params, 1 + length // HOP)
  mid, side = (np_istft(np_stft(noise[c]) * mask[c], length) for c in range(2))
  ir = np.stack([mid + side, mid - side])
  return ir / np.sqrt(np.mean(np.sum(ir**2, axis=-1)) + 1e-12)


def random_params(seed, scale=1.0):
  rng = np.random.default_rng(seed)
  return {k: (scale * rng.standard_normal(v)).astype(np.float32)
          for k, v in reverb.PARAM_SHAPES.items()}


def params_for_t60(t60_ms, sample_rate=SAMPLE_RATE):
  """Flat initial level and the Δ whose mask falls 60 dB in ``t60_ms``."""
  frames = t60_ms / 1000 * sample_rate / HOP
  softplus = 8 * math.log(1000) / frames
  delta = math.log(math.expm1(softplus))
  return {"init_log_magnitude": np.zeros((2, 193), np.float32),
          "delta_log_magnitude": np.full((2, 193), delta, np.float32)}


def ir(params, sample_rate=SAMPLE_RATE):
  return np.asarray(_ir(params, sample_rate=sample_rate), np.float64)


def signals(seed, shape=(2, N_X)):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------
# Parameters, noise, STFT
# ---------------------------------------------------------------------------


def test_init_shapes_and_distribution(key):
  params = reverb.init(key)
  assert {k: v.shape for k, v in params.items()} == {"init_log_magnitude": (2, 193),
                                                     "delta_log_magnitude": (2, 193)}
  assert all(v.dtype == jnp.float32 for v in params.values())
  values = np.concatenate([np.ravel(v) for v in params.values()])
  # 772 N(0, 0.01²) draws: the sample std is within ~2.5 % (1σ) of 0.01.
  assert abs(values.std() / 0.01 - 1) < 0.1
  assert abs(values.mean()) < 0.01 * 4 / np.sqrt(values.size)


def test_sizes_follow_sample_rate():
  assert reverb.ir_length(30000) == 60000
  assert reverb.num_frames(30000) == 313
  assert reverb.ir_length(SAMPLE_RATE) == IR_LEN
  assert reverb.num_frames(SAMPLE_RATE) == FRAMES


@pytest.mark.parametrize("sample_rate", [SAMPLE_RATE, 30000])
def test_noise_is_randomstate0_draw(sample_rate):
  length = 2 * sample_rate
  noise = reverb._noise(sample_rate)
  assert noise.dtype == np.float32 and noise.shape == (2, length)
  np.testing.assert_array_equal(noise, np_noise(length))
  assert reverb._noise(sample_rate) is noise  # one draw, shared by every node and call


def test_noise_stft_matches_torch_convention():
  noise = np_noise(IR_LEN)
  ref = np.stack([np_stft(noise[c]) for c in range(2)])
  cached = reverb._noise_stft(SAMPLE_RATE)
  assert cached.shape == (2, 193, FRAMES) and cached.dtype == np.complex64
  scale = np.abs(ref).max()
  # float64 computation cast to complex64: one rounding, ~6e-8 relative.
  np.testing.assert_allclose(cached, ref, atol=1e-6 * scale)
  # dsp.stft (float32 JAX) agrees to float32 FFT round-off (~1e-7·log2(384)).
  got = dsp.stft(jnp.asarray(noise), n_fft=N_FFT, hop=HOP)
  np.testing.assert_allclose(got, ref, atol=1e-5 * scale)


def test_istft_matches_numpy():
  params = random_params(1)
  spec = reverb._noise_stft(SAMPLE_RATE) * np_mask(params, FRAMES)
  ref = np.stack([np_istft(spec[c].astype(np.complex128), IR_LEN) for c in range(2)])
  got = dsp.istft(jnp.asarray(spec.astype(np.complex64)), n_fft=N_FFT, hop=HOP, length=IR_LEN)
  np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())


def test_stft_round_trip():
  x = signals(2, (2, 3001))  # a length that is not a multiple of the hop
  spec = dsp.stft(jnp.asarray(x), n_fft=N_FFT, hop=HOP)
  y = dsp.istft(spec, n_fft=N_FFT, hop=HOP, length=x.shape[-1])
  np.testing.assert_allclose(y, x, atol=1e-5)


def test_mask_matches_numpy():
  params = random_params(3)
  got = reverb.decay_mask(jnp.asarray(params["init_log_magnitude"]),
                          jnp.asarray(params["delta_log_magnitude"]), n_frames=FRAMES)
  assert got.shape == (2, 193, FRAMES)
  np.testing.assert_allclose(got, np_mask(params, FRAMES), rtol=1e-5, atol=1e-30)


# ---------------------------------------------------------------------------
# Impulse response
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [None, 4])
def test_impulse_response_matches_numpy(key, seed):
  params = reverb.init(key) if seed is None else random_params(seed)
  ref = np_impulse_response(params)
  got = ir(params)
  assert got.shape == (2, IR_LEN)
  # float32 irfft + overlap-add of ~2 frames per sample: a few ulps of the peak.
  np.testing.assert_allclose(got, ref, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("sample_rate", [SAMPLE_RATE, 30000])
def test_ir_length_and_energy(key, sample_rate):
  h = ir(reverb.init(key), sample_rate)
  assert h.shape == (2, 2 * sample_rate)
  np.testing.assert_allclose(np.mean(np.sum(h**2, axis=-1)), 1.0, rtol=1e-5)


@pytest.mark.parametrize("t60_ms", [250.0, 600.0])
def test_decay_rate_matches_t60(t60_ms):
  """The IR's block log-energy falls 60 dB in the controls' ``t60_ms``.

  With one decay for every bin, the ISTFT of the masked noise is exactly
  ``v[n]·g(n)`` with ``g(n + HOP) = g(n)·e^{-d}`` (each frame of a consistent
  STFT resynthesises its own windowed noise), so the expected energy of a
  HOP-long block falls by ``e^{-2d}`` per block. The fit's only error is the
  spread of each block's energy: 192 uniform samples give σ(ln E) ≈
  sqrt(0.8/192) ≈ 0.065, so over n ≥ 40 blocks the slope's σ is
  ≤ 0.065·sqrt(12/n³) ≈ 9e-4 nepers per block, ≤ 0.2 % of a slope 2d ≥ 0.55
  (T60 ≤ 25 frames); 1 % is > 5σ. (Observed: < 0.1 %.)
  """
  params = params_for_t60(t60_ms)
  controls = reverb.controls(params, sample_rate=SAMPLE_RATE)
  np.testing.assert_allclose(controls["t60_ms"], t60_ms, rtol=1e-5)
  np.testing.assert_allclose(controls["t60_mid_ms"], t60_ms, rtol=1e-5)

  h = ir(params)
  blocks = FRAMES - 1
  log_energy = np.log(np.sum(h[:, :blocks * HOP].reshape(2, blocks, HOP)**2, axis=-1))
  # Each frame is scaled before its own irfft, so float32 keeps its relative
  # precision far down the tail: fit the first 300 dB (e^-34.5, no underflow).
  n_fit = min(blocks, int(5 * t60_ms / 1000 * SAMPLE_RATE / HOP))
  assert n_fit >= 40
  for channel in range(2):
    # nepers of energy per block
    slope = np.polyfit(np.arange(n_fit), log_energy[channel, :n_fit], 1)[0]
    measured_t60_ms = 1000 * HOP / SAMPLE_RATE * 2 * math.log(1000) / -slope
    np.testing.assert_allclose(measured_t60_ms, t60_ms, rtol=0.01)


def test_envelope_is_exactly_exponential():
  """Sharper: ``h / v`` is a deterministic envelope that falls by ``e^{-d}`` per hop."""
  params = params_for_t60(400.0)
  d = np.logaddexp(0, params["delta_log_magnitude"][0, 0]) / 8  # nepers per frame
  h = ir(params)
  noise = np_noise(IR_LEN).astype(np.float64)
  envelope = np.stack([h[0] / (noise[0] + noise[1]), h[1] / (noise[0] - noise[1])])
  ratio = envelope[:, HOP:] / envelope[:, :-HOP]
  well_posed = np.stack([np.abs(noise[0] + noise[1]), np.abs(noise[0] - noise[1])])
  well_posed = (np.minimum(well_posed[:, HOP:], well_posed[:, :-HOP]) > 0.1)
  # Samples after the last frame's centre ((FRAMES−1)·HOP) see one frame
  # only, not two, so the recursion stops one hop earlier.
  well_posed[:, (FRAMES - 2) * HOP:] = False
  # Over the rest of the 2 s (≈ 600 dB of decay: every frame is scaled before its
  # own irfft, so float32 keeps its relative precision). Where |v| > 0.1 the
  # division amplifies the ~1e-7 relative float32 error at most ~10×.
  np.testing.assert_allclose(ratio[well_posed], np.exp(-d), rtol=1e-4)


# ---------------------------------------------------------------------------
# Processing, controls, penalties
# ---------------------------------------------------------------------------


def test_apply_equals_numpy_convolution():
  params = random_params(5)
  x = signals(6)
  y = np.asarray(_apply(params, x, sample_rate=SAMPLE_RATE), np.float64)
  h = ir(params)
  ref = np.stack([np.convolve(x[c].astype(np.float64), h[c])[:N_X] for c in range(2)])
  assert y.shape == x.shape
  # float32 FFT convolution: error ~ 1e-7·sqrt(log n)·‖x‖‖h‖ per sample.
  np.testing.assert_allclose(y, ref, atol=1e-5 * np.abs(ref).max())


def test_controls_values():
  params = random_params(7)
  controls = reverb.controls(params, sample_rate=SAMPLE_RATE)
  frame_s = HOP / SAMPLE_RATE
  d = np.logaddexp(0, params["delta_log_magnitude"].astype(np.float64)) / 8
  t60 = 1000 * frame_s * np.log(1000) / d
  np.testing.assert_allclose(controls["frequency_hz"], np.arange(193) * SAMPLE_RATE / N_FFT,
                             rtol=1e-6)
  level_db = 20 * np.log10(np.exp(params["init_log_magnitude"] / 8))
  np.testing.assert_allclose(controls["initial_level_db"], level_db, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(controls["decay_db_per_s"], 20 * np.log10(np.e) * d / frame_s,
                             rtol=1e-5)
  np.testing.assert_allclose(controls["t60_ms"], t60, rtol=1e-5)
  np.testing.assert_allclose(controls["t60_mid_ms"], np.median(t60[0]), rtol=1e-5)
  np.testing.assert_allclose(controls["t60_side_ms"], np.median(t60[1]), rtol=1e-5)


def test_init_t60_at_30khz(key):
  # REFERENCE §2: ln2/8 nepers per 6.4 ms frame at init, a T60 of ≈ 0.51 s.
  controls = reverb.controls(reverb.init(key), sample_rate=30000)
  expected_ms = 8 * math.log(1000) / math.log(2) * 6.4
  np.testing.assert_allclose(controls["t60_mid_ms"], expected_ms, rtol=0.02)


def test_gain_staging_penalty():
  params = random_params(8)
  x = signals(9)
  y = _apply(params, x, sample_rate=SAMPLE_RATE)
  value = reverb.penalties(params, x, y, sample_rate=SAMPLE_RATE)
  assert set(value) == {"gain_staging"}
  x64, y64 = x.astype(np.float64), np.asarray(y, np.float64)
  ref = abs(np.log(np.mean(x64**2) + 1e-7) - np.log(np.mean(y64**2) + 1e-7))
  np.testing.assert_allclose(value["gain_staging"], ref, rtol=1e-4, atol=1e-6)


def test_vmap_matches_single_node():
  params = [random_params(s, 0.5) for s in (10, 11)]
  x = signals(12, (2, 2, N_X))
  # jit of one node (shared with the other tests) vs jit(vmap) of both.
  single = np.stack([_apply(p, u, sample_rate=SAMPLE_RATE) for p, u in zip(params, x)])
  stacked = jax.tree.map(lambda *p: jnp.stack(p), *params)
  batched = jax.jit(jax.vmap(functools.partial(reverb.apply, sample_rate=SAMPLE_RATE)))(stacked, x)
  np.testing.assert_allclose(batched, single, atol=1e-5 * np.abs(single).max())
  controls = jax.jit(jax.vmap(functools.partial(reverb.controls, sample_rate=SAMPLE_RATE)))(stacked)
  single = reverb.controls(params[1], sample_rate=SAMPLE_RATE)
  np.testing.assert_allclose(controls["t60_ms"][1], single["t60_ms"], rtol=1e-6)


def _training_scalar(params, x):
  y = reverb.apply(params, x, sample_rate=SAMPLE_RATE)
  penalty = reverb.penalties(params, x, y, sample_rate=SAMPLE_RATE)["gain_staging"]
  return jnp.mean(y**2) + 1e-3 * penalty


_training_grad = jax.jit(jax.grad(_training_scalar))


@pytest.mark.parametrize("seed", [None, 13, 14, 15])
def test_finite_gradients(key, seed):
  scale = {13: 0.1, 14: 1.0, 15: 3.0}.get(seed)
  params = reverb.init(key) if seed is None else random_params(seed, scale)
  grads = _training_grad(params, signals(16))
  for name, g in grads.items():
    assert np.all(np.isfinite(g)), name
    assert np.abs(g).max() > 0, name
