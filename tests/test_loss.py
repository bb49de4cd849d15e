"""Tests for mixjax.loss against an independent float64 NumPy implementation."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from mixjax import loss
from mixjax.graph_search import fit
from mixjax.graph_search.config import SearchConfig

SR_LOW = 8000
SR_REF = 30000  # the reference run's sample rate


# ---------------------------------------------------------------------------
# Independent float64 NumPy reference (written without mixjax's helpers)
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _np_a_weighting_taps(sr):
  """Same recipe as auraloss, but built from poles/zeros (zpk) instead of polynomials."""
  w = [2 * np.pi * f for f in (20.598997, 107.65265, 737.86223, 12194.217)]
  zeros = np.zeros(4)
  poles = -np.array([w[0], w[0], w[1], w[2], w[3], w[3]])
  gain = w[3]**2 * 10**(1.9997 / 20)
  zd, pd, kd = scipy.signal.bilinear_zpk(zeros, poles, gain, fs=sr)
  freqs, response = scipy.signal.freqz_zpk(zd, pd, kd, worN=512, fs=sr)
  return scipy.signal.firls(101, freqs, np.abs(response), fs=sr)


@functools.lru_cache(maxsize=None)
def _np_mel(sr, n_fft, n_mels=96):
  """Slaney mel triangles, bin by bin."""

  def hz_to_mel(f):
    return 3 * f / 200 if f < 1000 else 15 + 27 * np.log(f / 1000) / np.log(6.4)

  def mel_to_hz(m):
    return 200 * m / 3 if m < 15 else 1000 * 6.4**((m - 15) / 27)

  top = hz_to_mel(sr / 2)
  edges = [mel_to_hz(top * i / (n_mels + 1)) for i in range(n_mels + 2)]
  bank = np.zeros((n_mels, n_fft // 2 + 1))
  for i in range(n_mels):
    lo, centre, hi = edges[i:i + 3]
    for j in range(n_fft // 2 + 1):
      f = j * sr / n_fft
      if lo < f <= centre:
        bank[i, j] = (f - lo) / (centre - lo)
      elif centre < f < hi:
        bank[i, j] = (hi - f) / (hi - centre)
    bank[i] *= 2 / (hi - lo)
  return bank


def _np_mel_magnitudes(x, sr, n_fft):
  hop = n_fft // 4
  padded = np.pad(x, [(0, 0), (n_fft // 2, n_fft // 2)], mode="reflect")
  frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop]
  window = np.hanning(n_fft + 1)[:-1]  # periodic Hann
  spec = np.fft.rfft(frames * window, axis=-1)  # [signals, frames, bins]
  magnitude = np.sqrt(np.maximum(np.abs(spec)**2, 1e-4))
  return np.einsum("kb,sfb->skf", _np_mel(sr, n_fft), magnitude)


def _np_loss_terms(pred, target, sr, omit_seconds=1.0, fft_sizes=(512, 1024, 4096)):
  omit = int(round(sr * omit_seconds))
  taps = _np_a_weighting_taps(sr)

  def prepare(x):
    x = np.asarray(x, np.float64)[:, omit:]
    lrms = np.stack([x[0], x[1], x[0] + x[1], x[0] - x[1]])
    return np.stack([np.convolve(s, taps, mode="same") for s in lrms])

  p, t = prepare(pred), prepare(target)
  per_res = []
  for n_fft in fft_sizes:
    yp, yt = _np_mel_magnitudes(p, sr, n_fft), _np_mel_magnitudes(t, sr, n_fft)
    sc = np.sqrt(((yp - yt)**2).sum((1, 2))) / np.sqrt((yp**2).sum((1, 2)))
    log = np.abs(np.log(yp) - np.log(yt)).mean((1, 2))
    per_res.append(sc + log)
  left, right, mid, side = np.mean(per_res, axis=0)
  return {"left": left, "right": right, "mid": mid, "side": side,
          "lr": (left + right) / 2, "total": (left + right + mid + side) / 4}


def _analog_a_weighting_db(f):
  """Closed-form IEC 61672 A-weighting in dB."""
  f2 = np.asarray(f, np.float64)**2
  ra = (12194.217**2 * f2**2
        / ((f2 + 20.598997**2) * np.sqrt((f2 + 107.65265**2) * (f2 + 737.86223**2))
           * (f2 + 12194.217**2)))
  return 20 * np.log10(ra) + 1.9997


def _fir_db(taps, f, sr):
  _, h = scipy.signal.freqz(taps, worN=np.asarray(f, np.float64), fs=sr)
  return 20 * np.log10(np.abs(h))


# ---------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------


def _stereo_pair(sr, seconds, seed=0, mono_pred=False):
  """A target mix and a plausible imperfect prediction, float32 ``[2, n]``.

  ``mono_pred`` makes the prediction's side channel exactly 0, so its side
  spectrum sits on the power floor (the "plain sum of mono stems" case).
  """
  rng = np.random.default_rng(seed)
  n = int(sr * seconds)
  t = np.arange(n) / sr
  tones = np.sin(2 * np.pi * 220 * t) * np.array([[0.5], [0.3]])
  target = 0.1 * rng.standard_normal((2, n)) + tones
  pred = 0.8 * np.roll(target, 3, axis=-1) + 0.02 * rng.standard_normal((2, n))
  pred[1] *= 1.3
  if mono_pred:
    pred = np.repeat(pred.mean(axis=0, keepdims=True), 2, axis=0)
  return pred.astype(np.float32), target.astype(np.float32)


@functools.lru_cache(maxsize=None)
def _loss_fn(sr, terms=False):
  """Jitted loss, cached so tests with the same shapes share one compilation."""
  fn = loss.mrstft_loss_terms if terms else loss.mrstft_loss
  return jax.jit(functools.partial(fn, sample_rate=sr))


@pytest.fixture(scope="module")
def low_pair():
  return _stereo_pair(SR_LOW, 2.0)


# ---------------------------------------------------------------------------
# Matching loss
# ---------------------------------------------------------------------------


def test_zero_for_identical_positive_otherwise(low_pair):
  pred, target = low_pair
  terms = _loss_fn(SR_LOW, terms=True)
  same = terms(target, target)
  for name, value in same.items():
    assert float(value) == 0.0, name
  differ = terms(pred, target)
  for name, value in differ.items():
    assert float(value) > 0.0, name


@pytest.mark.parametrize("sr, seconds, mono_pred", [
    (SR_LOW, 2.0, False), (SR_LOW, 2.0, True), (SR_REF, 1.5, False)])
def test_matches_float64_numpy_reference(sr, seconds, mono_pred):
  pred, target = _stereo_pair(sr, seconds, seed=1, mono_pred=mono_pred)
  got = _loss_fn(sr, terms=True)(pred, target)
  want = _np_loss_terms(pred, target, sr)
  assert set(got) == set(want)
  for name in want:  # observed: ~3e-7 relative
    np.testing.assert_allclose(float(got[name]), want[name], rtol=1e-5, err_msg=name)


def _plain_loss(pred, target, sr):
  """The loss as first written: four A-weighted signals, four STFTs per resolution."""
  omit = int(round(sr * loss.OMIT_SECONDS))
  both = jnp.stack([pred, target])[..., omit:]
  weighted = loss.a_weight(loss.sum_and_difference(both), sample_rate=sr)
  per_resolution = []
  for n_fft in loss.FFT_SIZES:
    mel = loss.mel_magnitudes(weighted, sample_rate=sr, n_fft=n_fft)
    per_resolution.append(loss.spectral_convergence(mel[0], mel[1])
                          + loss.log_magnitude_distance(mel[0], mel[1]))
  left, right, mid, side = jnp.mean(jnp.stack(per_resolution), axis=0)
  return 0.25 * (left + right) + 0.25 * mid + 0.25 * side


@pytest.mark.parametrize("mono_pred", [False, True])
def test_two_stfts_per_resolution_equal_the_four_signal_loss(mono_pred):
  # Mid and side spectra as sums of the channels' (linearity) against
  # transforming L + R and L - R themselves: value and gradient.
  pred, target = _stereo_pair(SR_REF, 1.5, seed=2, mono_pred=mono_pred)
  fast = jax.value_and_grad(functools.partial(loss.mrstft_loss, sample_rate=SR_REF))
  plain = jax.value_and_grad(functools.partial(_plain_loss, sr=SR_REF))
  (value, grad), (want_value, want_grad) = jax.jit(fast)(pred, target), jax.jit(plain)(pred, target)
  np.testing.assert_allclose(float(value), float(want_value), rtol=1e-5)
  # Gradients: bins whose power sits at the 1e-4 floor switch on or off with
  # float32 rounding; both versions differ from a float64 gradient by ~3e-4
  # (relative norm) on this pair, and from each other by as much.
  grad, want_grad = np.asarray(grad), np.asarray(want_grad)
  assert np.linalg.norm(grad - want_grad) < 2e-3 * np.linalg.norm(want_grad)


def test_target_transforms_are_shared_under_vmap():
  # A batch of predictions against one target: the same losses as one by one.
  pred, target = _stereo_pair(SR_LOW, 2.0, seed=3)
  preds = np.stack([pred, 0.5 * pred, target])
  fn = functools.partial(loss.mrstft_loss, sample_rate=SR_LOW)
  batched = jax.jit(jax.vmap(fn, in_axes=(0, None)))(preds, target)
  one_by_one = [float(_loss_fn(SR_LOW)(p, target)) for p in preds]
  np.testing.assert_allclose(np.asarray(batched), one_by_one, rtol=1e-6, atol=1e-6)
  assert abs(float(batched[2])) < 1e-6  # a batched FFT rounds differently from an unbatched one


def test_terms_combine_like_the_paper(low_pair):
  terms = _loss_fn(SR_LOW, terms=True)(*low_pair)
  terms = {k: float(v) for k, v in terms.items()}
  assert terms["lr"] == pytest.approx(0.5 * (terms["left"] + terms["right"]), rel=1e-6)
  assert terms["total"] == pytest.approx(
      0.5 * terms["lr"] + 0.25 * terms["mid"] + 0.25 * terms["side"], rel=1e-6)
  assert terms["total"] == pytest.approx(
      np.mean([terms[k] for k in ("left", "right", "mid", "side")]), rel=1e-6)
  total = _loss_fn(SR_LOW)(*low_pair)
  assert float(total) == pytest.approx(terms["total"], rel=1e-6)


def test_spectral_convergence_is_normalised_by_the_prediction():
  pred = jnp.full((4, 3), 2.0)
  target = jnp.full((4, 3), 1.0)
  # ‖Ŷ − Y‖ / ‖Ŷ‖ = 1/2 (it would be 1 if normalised by the target)
  np.testing.assert_allclose(loss.spectral_convergence(pred, target), 0.5, rtol=1e-6)


def test_gradient_finite_everywhere_and_zero_at_matching_mels(low_pair):
  """A perfect match is stationary: the gradient is 0 where ``Ŷ`` and ``Y`` agree.

  ``mean|ln Ŷ − ln Y|`` and ``‖Ŷ − Y‖`` have no gradient at ``Ŷ = Y`` (the
  subdifferential of ``|a − b|`` at ``a = b`` is ``[−1, 1]``); the loss picks
  the subgradient 0 there, as torch does, so with bit-identical mel magnitudes
  the gradient is exactly 0 (checked below on the mels).

  End to end, ``grad(mrstft_loss)(x, x)`` need not be 0: under ``jit`` the
  prediction's transform is compiled into the differentiated program (which
  keeps residuals for the backward pass) and the target's into a plain one, so
  XLA may fuse them differently and ``Ŷ`` and ``Y`` differ in their last bits
  (on jax 0.12.0.1, 218 of the 3072 mel bins of the largest FFT size; none on
  jax 0.10.2; none without ``jit``, and none in the forward-only program). Each
  such bin then takes a subgradient ±1 instead of 0 (a gradient up to 5e-4
  here, against 9e-3 at ``low_pair``'s mismatch). Only finiteness is asked of
  it: the search never sits exactly at the target, and computing both
  transforms in one program would recompute the target's for every trial mask
  under ``vmap`` and send it through the step's backward pass.
  """
  pred, target = low_pair
  grad = jax.jit(jax.grad(functools.partial(loss.mrstft_loss, sample_rate=SR_LOW)))
  g = np.asarray(grad(pred, target))
  assert np.all(np.isfinite(g))
  assert np.any(g != 0)
  assert np.all(np.isfinite(np.asarray(grad(target, target))))
  mels = jax.jit(functools.partial(loss.mel_spectrograms, sample_rate=SR_LOW))(target)
  grad_mels = jax.jit(jax.grad(lambda p, t: loss.loss_terms_from_mels(p, t)["total"]))
  for g_match in grad_mels(mels, mels):
    np.testing.assert_array_equal(g_match, 0.0)  # torch's |·|' and ‖·‖' at 0 are 0 too
  assert any(np.any(np.asarray(g_mel) != 0) for g_mel in grad_mels(jax.jit(
      functools.partial(loss.mel_spectrograms, sample_rate=SR_LOW))(pred), mels))


def test_rejects_bad_shapes():
  x = jnp.zeros((2, 16000))
  with pytest.raises(ValueError, match="same shape"):
    loss.mrstft_loss(x, x[:, :-1], sample_rate=SR_LOW)
  with pytest.raises(ValueError, match=r"\[2, samples\]"):
    loss.mrstft_loss(x[None], x[None], sample_rate=SR_LOW)
  with pytest.raises(ValueError, match="FFT size 4096"):
    loss.mrstft_loss(x[:, :9000], x[:, :9000], sample_rate=SR_LOW)


# ---------------------------------------------------------------------------
# A-weighting
# ---------------------------------------------------------------------------


def test_a_weighting_fir_design():
  taps = loss.a_weighting_fir(SR_REF)
  assert taps.shape == (101,) and taps.dtype == np.float64
  assert not taps.flags.writeable
  assert loss.a_weighting_fir(SR_REF) is taps  # cached
  # Exactly symmetric, so torch's conv1d (a cross-correlation) equals a convolution.
  np.testing.assert_array_equal(taps, taps[::-1])
  np.testing.assert_allclose(taps, _np_a_weighting_taps(SR_REF), rtol=1e-7, atol=1e-12)


def test_a_weighting_fir_response():
  taps = loss.a_weighting_fir(SR_REF)
  # REFERENCE.md §3 check values.
  np.testing.assert_allclose(
      _fir_db(taps, [100, 1000, 10000], SR_REF), [-19.5, 0.1, -7.0], atol=0.1)
  # Against the analog curve: within 0.5 dB from 300 Hz to 5 kHz. Below that 101
  # taps are too short (1.4 dB off at ~150 Hz); above, the bilinear transform
  # (no prewarping) compresses the curve towards Nyquist (4.6 dB off at 10 kHz).
  mid_band = np.geomspace(300, 5000, 400)
  np.testing.assert_allclose(
      _fir_db(taps, mid_band, SR_REF), _analog_a_weighting_db(mid_band), atol=0.5)
  # Up to 10 kHz it follows the analog curve at the bilinear-warped frequency.
  high = np.geomspace(300, 10000, 400)
  warped = SR_REF / np.pi * np.tan(np.pi * high / SR_REF)
  np.testing.assert_allclose(
      _fir_db(taps, high, SR_REF), _analog_a_weighting_db(warped), atol=0.5)


def test_a_weight_is_a_same_convolution():
  x = np.random.default_rng(2).standard_normal((3, 700)).astype(np.float32)
  got = loss.a_weight(jnp.asarray(x), sample_rate=SR_LOW)
  taps = loss.a_weighting_fir(SR_LOW)
  want = np.stack([np.correlate(row.astype(np.float64), taps, mode="same") for row in x])
  np.testing.assert_allclose(got, want, atol=1e-5)


# ---------------------------------------------------------------------------
# Mel filterbank
# ---------------------------------------------------------------------------


def test_mel_filterbank_shape_and_nonempty_rows():
  bank = loss.mel_filterbank(SR_REF, 512)
  assert bank.shape == (96, 257)
  assert not bank.flags.writeable
  assert np.all(bank >= 0)
  assert np.all(bank.max(axis=1) > 0)  # no empty band at FFT 512, 30 kHz


@pytest.mark.parametrize("sr, n_fft", [(SR_REF, 512), (SR_REF, 4096), (SR_LOW, 1024)])
def test_mel_filterbank_matches_bin_by_bin_definition(sr, n_fft):
  np.testing.assert_allclose(
      loss.mel_filterbank(sr, n_fft), _np_mel(sr, n_fft), rtol=1e-9, atol=1e-15)


def test_mel_filterbank_librosa_values():
  # From librosa 0.11.0: librosa.filters.mel(sr=30000, n_fft=512, n_mels=96).
  bank = loss.mel_filterbank(SR_REF, 512)
  np.testing.assert_allclose(
      bank.sum(axis=1)[[0, 1, 10, 50, 95]],
      [0.0115704332, 0.0151813971, 0.0260142889, 0.0164369812, 0.0170259528],
      rtol=1e-7)
  assert bank[0, 1] == pytest.approx(0.0115704332, rel=1e-7)
  np.testing.assert_array_equal(np.flatnonzero(bank[40]), [29, 30])
  np.testing.assert_allclose(bank[40, 29:31], [0.0074845725, 0.0092906123], rtol=1e-7)


def test_mel_filterbank_slaney_area():
  # Slaney norm: every triangle has unit area in Hz; a fine FFT grid resolves it.
  sr, n_fft = SR_LOW, 2**16
  bank = loss.mel_filterbank(sr, n_fft)
  np.testing.assert_allclose(bank.sum(axis=1) * sr / n_fft, 1.0, rtol=2e-3)


# ---------------------------------------------------------------------------
# Regularisers
# ---------------------------------------------------------------------------


# The paper's schedule (SearchConfig's defaults): from step 6000, over 2000 steps, to 1e-4.
paper_sparsity = functools.partial(
    loss.sparsity_weight, start_step=SearchConfig().console_steps,
    ramp_steps=SearchConfig().sparsity_ramp_steps, weight=SearchConfig().sparsity_weight)


def test_sparsity_ramp_values():
  steps = [5999, 6000, 6001, 7000, 7999, 8000, 9000]
  want = 1e-4 * np.array([0, 1, 2, 1001, 2000, 2000, 2000]) / 2000
  got = [float(paper_sparsity(s)) for s in steps]
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
  traced = jax.jit(paper_sparsity)(jnp.asarray(steps))
  np.testing.assert_allclose(traced, want, rtol=1e-6, atol=0)


def test_sparsity_ramp_replays_the_reference_counter():
  # prune solver: per training step, in epoch >= 12, increment c by 1/(4·500)
  # while epoch < 16, then use it.
  coeff, want = 0.0, []
  for step in range(10000):
    epoch = step // 500
    if epoch >= 12 and epoch < 16:
      coeff += 1 / (4 * 500)
    want.append(1e-4 * coeff if epoch >= 12 else 0.0)
  got = np.asarray(jax.vmap(paper_sparsity)(jnp.arange(10000)))
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-15)


def test_regularization_weights_are_the_papers():
  weights = fit.step_settings(SearchConfig(), 8000).penalty_weights
  assert weights == (("gain_staging", 1e-3), ("radii", 0.5))
  paper = functools.partial(loss.regularization, weights=weights)
  assert float(paper({"gain_staging": 0.0, "radii": 0.0})) == 0.0
  assert float(paper({"gain_staging": 2.0, "radii": 0.0})) == pytest.approx(2e-3)
  assert float(paper({"gain_staging": 0.0, "radii": 3.0})) == pytest.approx(1.5)
  value = jax.jit(paper)({"gain_staging": jnp.float32(10.0), "radii": jnp.float32(1.0)})
  assert float(value) == pytest.approx(1e-2 + 0.5)
