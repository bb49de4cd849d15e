"""dsp primitives against float64 NumPy references.

Tolerances are for float32 JAX against float64 NumPy; each one says what it
is relative to.
"""

import bisect
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from mixjax import dsp

from conftest import primitives

F32 = np.float32

# Jitted once per static configuration: op-by-op dispatch of the associative
# scan is slow (one compile per primitive).
_one_pole_smooth = jax.jit(dsp.one_pole_smooth, static_argnames="n_taps")

# ---------------------------------------------------------------------------
# fast_length
# ---------------------------------------------------------------------------


def _five_smooth_up_to(limit):
  values = []
  p2 = 1
  while p2 <= limit:
    p23 = p2
    while p23 <= limit:
      p235 = p23
      while p235 <= limit:
        values.append(p235)
        p235 *= 5
      p23 *= 3
    p2 *= 2
  return sorted(values)


_SMOOTH = _five_smooth_up_to(1 << 20)


def _is_five_smooth(m):
  for p in (2, 3, 5):
    while m % p == 0:
      m //= p
  return m == 1


@pytest.mark.parametrize(
    "n", list(range(1, 130)) + [1000, 1023, 1025, 2047, 4369, 16384, 16385,
                                114000, 173999, 174000 + 2046, 123457])
def test_fast_length_is_the_smallest_5_smooth_at_least_n(n):
  m = dsp.fast_length(n)
  assert m >= n
  assert _is_five_smooth(m), f"fast_length({n}) = {m} is not 5-smooth"
  # the smallest 5-smooth number >= n, by brute-force enumeration
  assert m == _SMOOTH[bisect.bisect_left(_SMOOTH, n)]


def test_fast_length_rejects_non_positive():
  with pytest.raises(ValueError, match="positive"):
    dsp.fast_length(0)


# ---------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------


def _np_full_convolve(x, h):
  """Row-wise float64 linear convolution, ``[..., n_x + n_h - 1]``."""
  x, h = np.broadcast_arrays(np.asarray(x, np.float64)[..., :, None],
                             np.asarray(h, np.float64)[..., None, :])
  x, h = x[..., 0], h[..., 0, :]
  return np.stack([np.convolve(a, b) for a, b in zip(x.reshape(-1, x.shape[-1]),
                                                    h.reshape(-1, h.shape[-1]))
                   ]).reshape(x.shape[:-1] + (-1,))


def _fft_atol(ref):
  # float32 FFT convolution: error ~ a few float32 eps of the largest output
  # sample (measured ~2.5e-7 relative for these sizes).
  return 2e-6 * np.abs(ref).max()


@pytest.mark.parametrize("n_x,n_h", [(1000, 301), (257, 2047)])  # filter shorter / longer
@pytest.mark.parametrize("where", ["causal", "centred", "late", "full", "past_end"])
def test_fft_convolve_matches_numpy(rng, n_x, n_h, where):
  x = rng.normal(size=(2, n_x))
  h = rng.normal(size=n_h)
  full = _np_full_convolve(x, h)
  offset, n_out = {
      "causal": (0, n_x),
      "centred": ((n_h - 1) // 2, n_x),
      "late": (n_h - 1, n_x),
      "full": (0, n_x + n_h - 1),
      "past_end": (n_x, n_x + n_h),  # runs past the end: zeros there
  }[where]
  padded = np.pad(full, ((0, 0), (0, offset + n_out)))
  ref = padded[:, offset:offset + n_out]
  y = dsp.fft_convolve(jnp.asarray(x, F32), jnp.asarray(h, F32), offset=offset, n_out=n_out)
  assert y.shape == (2, n_out)
  np.testing.assert_allclose(np.asarray(y), ref, atol=_fft_atol(ref), rtol=0)


def test_fft_convolve_broadcasts_filters_per_channel(rng):
  x = rng.normal(size=(2, 500))
  h = rng.normal(size=(2, 64))
  ref = _np_full_convolve(x, h)[:, :500]
  y = dsp.fft_convolve(jnp.asarray(x, F32), jnp.asarray(h, F32))
  np.testing.assert_allclose(np.asarray(y), ref, atol=_fft_atol(ref), rtol=0)


def test_causal_and_zero_phase_convolve_match_numpy(rng):
  n, n_h = 1200, 255
  x = rng.normal(size=(2, n))
  h = rng.normal(size=n_h)
  full = _np_full_convolve(x, h)
  causal = dsp.causal_convolve(jnp.asarray(x, F32), jnp.asarray(h, F32))
  centred = dsp.zero_phase_convolve(jnp.asarray(x, F32), jnp.asarray(h, F32))
  np.testing.assert_allclose(np.asarray(causal), full[:, :n], atol=_fft_atol(full), rtol=0)
  ref = full[:, 127:127 + n]
  np.testing.assert_allclose(np.asarray(centred), ref, atol=_fft_atol(full), rtol=0)


def test_zero_phase_convolve_rejects_even_filters():
  with pytest.raises(ValueError, match="odd"):
    dsp.zero_phase_convolve(jnp.zeros((2, 10)), jnp.zeros(4))


def test_zero_phase_fir_matches_numpy_recipe(rng):
  n_taps = 31
  log_magnitude = 0.3 * rng.normal(size=n_taps // 2 + 1)
  window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_taps) / n_taps)  # periodic Hann
  ref = np.roll(np.fft.irfft(np.exp(log_magnitude), n=n_taps), n_taps // 2) * window
  h = dsp.zero_phase_fir(jnp.asarray(log_magnitude, F32), n_taps=n_taps)
  np.testing.assert_allclose(np.asarray(h), ref, atol=1e-6 * np.abs(ref).max(), rtol=0)
  with pytest.raises(ValueError, match="magnitudes"):
    dsp.zero_phase_fir(jnp.zeros(15), n_taps=n_taps)


# ---------------------------------------------------------------------------
# One-pole smoothing
# ---------------------------------------------------------------------------


def _np_truncated_one_pole(x, alpha, n_taps):
  """float64 reference: causal convolution with ``h[k] = (1-α)α^k``, ``k < n_taps``."""
  h = (1 - alpha) * alpha**np.arange(n_taps, dtype=np.float64)
  return np.convolve(x, h)[:x.shape[-1]]


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9, 0.99, 0.9999, 1 - 1e-5])
@pytest.mark.parametrize("n_taps", [100, 4369, 20000])
def test_one_pole_smooth_matches_truncated_fir(rng, alpha, n_taps):
  n = 8000
  x = rng.normal(size=n)
  # Compare at the pole the float32 computation actually uses: near 1, rounding
  # α to float32 alone changes 1 - α by up to 3e-4 relative (for 1 - α = 1e-4).
  alpha32 = float(F32(alpha))
  ref = _np_truncated_one_pole(x, alpha32, n_taps)
  y = _one_pole_smooth(jnp.asarray(x, F32), jnp.asarray(alpha32, F32), n_taps=n_taps)
  # The scan's rounding error stays below ~1e-7 of the input amplitude
  # (measured); 1e-6 leaves a margin.
  np.testing.assert_allclose(np.asarray(y), ref, atol=1e-6 * np.abs(x).max(), rtol=0)


def test_one_pole_smooth_broadcasts_and_grads(rng):
  x = jnp.asarray(rng.normal(size=(3, 500)), F32)
  y = _one_pole_smooth(x, jnp.float32(0.9), n_taps=64)
  for row in range(3):
    ref = _np_truncated_one_pole(np.asarray(x[row], np.float64), float(F32(0.9)), 64)
    np.testing.assert_allclose(np.asarray(y[row]), ref, atol=1e-6 * np.abs(x).max(), rtol=0)
  grad_fn = jax.jit(jax.grad(lambda a: jnp.sum(dsp.one_pole_smooth(x, a, n_taps=256)**2)))
  for alpha in (0.0, 0.5, 0.9999, 1 - 1e-5):
    assert np.isfinite(grad_fn(jnp.float32(alpha)))


# ---------------------------------------------------------------------------
# STFT
# ---------------------------------------------------------------------------


def _np_stft(x, n_fft, hop):
  """float64 centred, reflect-padded, periodic-Hann one-sided STFT (torch.stft)."""
  window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
  padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode="reflect")
  n_frames = 1 + x.shape[-1] // hop
  frames = np.stack([padded[..., m * hop:m * hop + n_fft] * window for m in range(n_frames)],
                    axis=-2)
  return np.swapaxes(np.fft.rfft(frames, axis=-1), -1, -2)


@pytest.mark.parametrize("n_fft,hop,n", [(512, 128, 3000), (384, 192, 4001)])
def test_stft_matches_numpy(rng, n_fft, hop, n):
  x = rng.normal(size=(2, n))
  ref = _np_stft(x, n_fft, hop)
  spec = dsp.stft(jnp.asarray(x, F32), n_fft=n_fft, hop=hop)
  assert spec.shape == (2, n_fft // 2 + 1, 1 + n // hop)
  # float32 FFT of n_fft windowed samples: a few eps of the largest bin.
  np.testing.assert_allclose(np.asarray(spec), ref, atol=1e-5 * np.abs(ref).max(), rtol=0)


@pytest.mark.parametrize("n_fft,hop", [(512, 128), (400, 150)])  # reshaped views; the gather
def test_frames_are_the_windows_of_the_signal_and_so_is_their_gradient(rng, n_fft, hop):
  x = rng.normal(size=(2, 3000)).astype(np.float32)
  n_frames = 1 + (3000 - n_fft) // hop
  index = (np.arange(n_frames) * hop)[:, None] + np.arange(n_fft)[None, :]
  np.testing.assert_array_equal(dsp._frames(x, n_frames=n_frames, n_fft=n_fft, hop=hop), x[..., index])
  weights = jnp.asarray(rng.normal(size=(2, n_frames, n_fft)), F32)
  grad = jax.grad(lambda v: jnp.sum(weights * dsp._frames(v, n_frames=n_frames, n_fft=n_fft,
                                                           hop=hop)))(jnp.asarray(x))
  want = np.zeros((2, 3000))
  np.add.at(want, (slice(None), index), np.asarray(weights, np.float64))
  np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-5, atol=1e-5)


def test_stft_of_a_numpy_array_stays_numpy_float64(rng):
  x = rng.normal(size=(2, 3000))
  spec = dsp.stft(x, n_fft=512, hop=128)
  assert isinstance(spec, np.ndarray) and spec.dtype == np.complex128
  np.testing.assert_allclose(spec, _np_stft(x, 512, 128), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_fft,hop,n", [(512, 128, 3000), (384, 192, 4001), (384, 192, 60000)])
def test_istft_inverts_stft(rng, n_fft, hop, n):
  x = rng.normal(size=(2, n))
  spec = dsp.stft(jnp.asarray(x, F32), n_fft=n_fft, hop=hop)
  y = dsp.istft(spec, n_fft=n_fft, hop=hop, length=n)
  assert y.shape == (2, n)
  # Two float32 FFTs and an overlap-add, relative to the signal amplitude.
  np.testing.assert_allclose(np.asarray(y), x, atol=1e-5 * np.abs(x).max(), rtol=0)


def test_istft_rejects_hop_not_dividing_n_fft():
  spec = jnp.zeros((257, 10), jnp.complex64)
  with pytest.raises(ValueError, match="divide"):
    dsp.istft(spec, n_fft=512, hop=100, length=900)


# ---------------------------------------------------------------------------
# Energy helpers
# ---------------------------------------------------------------------------


def test_energy_helpers_match_numpy(rng):
  u = rng.normal(size=(2, 1000))
  y = 0.3 * rng.normal(size=(2, 1000))
  ref = abs(np.log(np.mean(u**2) + 1e-7) - np.log(np.mean(y**2) + 1e-7))
  np.testing.assert_allclose(float(dsp.gain_staging(jnp.asarray(u, F32), jnp.asarray(y, F32))),
                             ref, rtol=1e-5)
  ir = rng.normal(size=(2, 300))
  ref_ir = ir / np.sqrt(np.mean(np.sum(ir**2, axis=-1)) + 1e-12)
  np.testing.assert_allclose(np.asarray(dsp.energy_normalize(jnp.asarray(ir, F32))), ref_ir,
                             rtol=1e-5, atol=1e-6)


# Not at α = 0 exactly: there the blocked version's clamp log(max(α, 1e-30))
# cuts the pole's gradient to 0, while the adjoint gives the true derivative
# (a sigmoid never reaches 0 in float32 for the parameters a search visits).
@pytest.mark.parametrize("alpha", [1e-3, 0.5, 0.99, 0.9999, 1 - 1e-5])
def test_recurrence_adjoint_equals_autodiff_of_the_blocks(rng, alpha):
  # The written-out VJP of the smoother against autodiff through the blocked
  # recurrence, for the input and the pole, with the pole computed from a
  # parameter as the compressor does (so its gradient is a traced scalar).
  x = jnp.asarray(rng.normal(size=(2, 3000)), F32)
  w = jnp.asarray(rng.normal(size=(2, 3000)), F32)
  alpha = jnp.float32(alpha)

  def objective(x, alpha, recurrence):
    drive = (1 - alpha) * x
    return jnp.sum(w * recurrence(alpha, drive))

  custom = jax.jit(jax.grad(functools.partial(objective, recurrence=dsp._linear_recurrence),
                            argnums=(0, 1)))
  plain = jax.jit(jax.grad(functools.partial(objective, recurrence=dsp._blocked_recurrence),
                           argnums=(0, 1)))
  (gx, ga), (want_gx, want_ga) = custom(x, alpha), plain(x, alpha)
  np.testing.assert_allclose(np.asarray(gx), np.asarray(want_gx), rtol=0,
                             atol=1e-5 * np.abs(np.asarray(want_gx)).max())
  np.testing.assert_allclose(float(ga), float(want_ga), rtol=1e-4,
                             atol=1e-5 * np.abs(np.asarray(want_gx)).max())


def test_recurrence_adjoint_matches_float64(rng):
  # d/dα Σ w·y against a float64 central difference of the NumPy recurrence.
  x = rng.normal(size=2000)
  w = rng.normal(size=2000)

  def np_objective(alpha):
    y, state = np.empty_like(x), 0.0
    for i, v in enumerate(x):
      state = alpha * state + v
      y[i] = state
    return np.sum(w * y), y

  for alpha in (0.0, 0.95):
    _check_recurrence_adjoint(alpha, x, w, np_objective)


def _check_recurrence_adjoint(alpha, x, w, np_objective):
  want = (np_objective(alpha + 1e-6)[0] - np_objective(alpha - 1e-6)[0]) / 2e-6
  grad = jax.grad(lambda a: jnp.sum(jnp.asarray(w, F32) * dsp._linear_recurrence(
      a, jnp.asarray(x, F32))))(jnp.float32(alpha))
  assert float(grad) == pytest.approx(want, rel=1e-4)
  gx = jax.grad(lambda x: jnp.sum(jnp.asarray(w, F32) * dsp._linear_recurrence(
      jnp.float32(alpha), x)))(jnp.asarray(x, F32))
  want_gx = np.array([np.sum(w[i:] * alpha**np.arange(len(x) - i)) for i in range(len(x))])
  np.testing.assert_allclose(np.asarray(gx), want_gx, rtol=0, atol=1e-5 * np.abs(want_gx).max())


def _np_recurrence(alpha, x):
  """float64 ``y[n] = α·y[n-1] + x[n]``."""
  return scipy.signal.lfilter([1.0], [1.0, -alpha], x)


@jax.jit
def _recurrence_and_vjp(alpha, x, y_bar):
  y, vjp = jax.vjp(dsp._linear_recurrence, alpha, x)
  return (y, *vjp(y_bar))


# 70 000 samples: 274 blocks of 256, whose carry is blocked again (2 blocks) and
# again (1 block): every level of the blocking. Near α = 1 the blocks' pole
# α^256 is near 1 too (0.997 at 1 - 1e-5); at α ≤ 0.5 it underflows to 0.
@pytest.mark.parametrize("alpha", [1e-3, 0.5, 0.999, 1 - 1e-5])
def test_recurrence_over_many_blocks_and_its_adjoint_match_float64(rng, alpha):
  n = 70000
  x, w = rng.normal(size=n), rng.normal(size=n)
  alpha = float(F32(alpha))  # the pole the float32 computation uses
  y, alpha_bar, x_bar = _recurrence_and_vjp(jnp.float32(alpha), jnp.asarray(x, F32),
                                            jnp.asarray(w, F32))
  want = _np_recurrence(alpha, x)
  # Relative to the largest output: float32 sums of up to 1/(1-α) terms (measured
  # up to 8e-7 over 114000 samples).
  np.testing.assert_allclose(np.asarray(y), want, rtol=0, atol=2e-6 * np.abs(want).max())
  want_x_bar = _np_recurrence(alpha, w[::-1])[::-1]  # Lᵀ w: the recurrence backwards
  np.testing.assert_allclose(np.asarray(x_bar), want_x_bar, rtol=0,
                             atol=2e-6 * np.abs(want_x_bar).max())
  # d/dα Σ w·y: a float64 central difference, its step well inside 1 - α
  h = 1e-4 * (1 - alpha)
  want_alpha_bar = (np.sum(w * _np_recurrence(alpha + h, x))
                    - np.sum(w * _np_recurrence(alpha - h, x))) / (2 * h)
  assert float(alpha_bar) == pytest.approx(want_alpha_bar, rel=1e-4)


@pytest.mark.parametrize("n", [100, 8000, 114000])
def test_the_smoother_has_no_loop(n):
  # A loop over the blocks would be n / 256 serial trips, a kernel launch each on a GPU.
  grad = jax.grad(lambda a, x: jnp.sum(dsp.one_pole_smooth(x, a, n_taps=4369) ** 2),
                  argnums=(0, 1))
  jaxpr = jax.make_jaxpr(grad)(jnp.float32(0.9), jnp.zeros(n, jnp.float32))
  assert primitives(jaxpr, ("scan", "while")) == []
