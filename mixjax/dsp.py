"""Signal-processing primitives shared by the processors and the loss.

Every function here is pure, works on the last axis and broadcasts over the
leading ones. Signals are float32 ``[..., samples]``.

FFT lengths are always rounded up to a 5-smooth number (``fast_length``):
the reference pads to exactly ``signal + filter - 1`` samples (e.g.
173999 = 7²·53·67), which is several times slower per transform.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

# ---------------------------------------------------------------------------
# FFT sizes and windows
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def fast_length(n: int) -> int:
  """Smallest 5-smooth integer (2^a·3^b·5^c) that is ``>= n``."""
  if n < 1:
    raise ValueError(f"fast_length needs a positive length, got {n}.")
  best = 1 << (n - 1).bit_length()  # the power of two is always a candidate
  p5 = 1
  while p5 < best:
    p35 = p5
    while p35 < best:
      # smallest power of two that lifts p35 to >= n
      p = p35
      while p < n:
        p *= 2
      best = min(best, p)
      p35 *= 3
    p5 *= 5
  return best


def hann_periodic(length: int, dtype=np.float32) -> np.ndarray:
  """Periodic Hann window ``0.5 - 0.5 cos(2πn/L)`` (``torch.hann_window``), computed in float64."""
  n = np.arange(length)
  return (0.5 - 0.5 * np.cos(2 * np.pi * n / length)).astype(dtype)


# ---------------------------------------------------------------------------
# FFT convolution
# ---------------------------------------------------------------------------


def fft_convolve(x, h, *, offset: int = 0, n_out: int | None = None):
  """Samples ``[offset, offset + n_out)`` of the linear convolution ``x * h``.

  The FFT length is the smallest 5-smooth length for which the circular
  convolution equals the linear one on the requested samples:
  ``>= max(offset + n_out, len(x) + len(h) - 1 - offset)``.

  Args:
    x: ``[..., n_x]`` signal.
    h: ``[..., n_h]`` filter; leading axes broadcast against ``x``'s.
    offset: first output sample; ``(n_h - 1) // 2`` gives a zero-phase
      ("same") convolution of a centred FIR, 0 a causal one.
    n_out: number of output samples (default ``n_x``).

  Returns:
    ``[..., n_out]`` (leading axes broadcast).
  """
  n_x, n_h = x.shape[-1], h.shape[-1]
  spectrum = filter_spectrum(h, n_x=n_x, offset=offset, n_out=n_out)
  return convolve_spectrum(x, spectrum, n_h=n_h, offset=offset, n_out=n_out)


def convolution_fft_length(n_x: int, n_h: int, *, offset: int = 0, n_out: int | None = None) -> int:
  """The FFT length ``fft_convolve`` uses for these sizes (see there)."""
  n_out = n_x if n_out is None else n_out
  return fast_length(max(offset + n_out, n_x + n_h - 1 - offset))


def filter_spectrum(h, *, n_x: int, offset: int = 0, n_out: int | None = None):
  """``rfft(h)`` at the FFT length of ``fft_convolve`` for an ``n_x``-sample signal.

  The filter's half of an FFT convolution: compute it once and apply it to
  many signals of that length with ``convolve_spectrum`` (the chunks of a
  whole-song evaluation share every filter).
  """
  n_fft = convolution_fft_length(n_x, h.shape[-1], offset=offset, n_out=n_out)
  return jnp.fft.rfft(h, n=n_fft)


def convolve_spectrum(x, spectrum, *, n_h: int, offset: int = 0, n_out: int | None = None):
  """``fft_convolve(x, h, ...)`` given ``spectrum = filter_spectrum(h, n_x=len(x), ...)``.

  ``n_h`` is the filter's length (it fixes the FFT length with ``x``'s).
  """
  n_x = x.shape[-1]
  n_out = n_x if n_out is None else n_out
  n_fft = convolution_fft_length(n_x, n_h, offset=offset, n_out=n_out)
  y = jnp.fft.irfft(jnp.fft.rfft(x, n=n_fft) * spectrum, n=n_fft)
  return y[..., offset:offset + n_out]


def causal_convolve(x, h):
  """Causal FIR filtering: the first ``n_x`` samples of ``x * h``."""
  return fft_convolve(x, h)


def zero_phase_offset(n_h: int) -> int:
  """The first output sample of a zero-phase convolution with an ``n_h``-tap
  centred FIR, ``(n_h - 1) / 2``; raises ValueError for an even ``n_h``."""
  if n_h % 2 != 1:
    raise ValueError(f"A zero-phase FIR needs an odd number of taps, got {n_h}.")
  return (n_h - 1) // 2


def zero_phase_convolve(x, h):
  """Zero-phase FIR filtering with an odd-length filter centred on its middle tap.

  Equals samples ``[(n_h - 1) / 2, (n_h - 1) / 2 + n_x)`` of ``x * h``
  (grafx ``convolve(mode="zerophase")``).
  """
  return fft_convolve(x, h, offset=zero_phase_offset(h.shape[-1]))


def zero_phase_fir(log_magnitude, *, n_taps: int):
  """Centred, Hann-windowed FIR from natural-log magnitudes.

  ``h = hann(n_taps) · roll(irfft(exp(log_magnitude), n_taps), n_taps // 2)``
  (grafx ``ZeroPhaseFilter``: the window is the periodic Hann).

  Args:
    log_magnitude: ``[..., n_taps // 2 + 1]`` natural-log magnitudes at the
      bins ``k · sample_rate / n_taps``.
    n_taps: odd FIR length.

  Returns:
    ``[..., n_taps]`` FIR whose centre tap is ``n_taps // 2``.
  """
  if log_magnitude.shape[-1] != n_taps // 2 + 1:
    raise ValueError(
        f"{n_taps} taps need {n_taps // 2 + 1} magnitudes, got "
        f"{log_magnitude.shape[-1]}.")
  h = jnp.fft.irfft(jnp.exp(log_magnitude), n=n_taps)
  h = jnp.roll(h, n_taps // 2, axis=-1)
  return h * hann_periodic(n_taps)


# ---------------------------------------------------------------------------
# One-pole smoothing
# ---------------------------------------------------------------------------


_RECURRENCE_BLOCK = 256
"""Block length of the blocked recurrence (samples)."""


def _blocked_recurrence(a, b, *, block: int = _RECURRENCE_BLOCK):
  r"""``y[n] = a·y[n-1] + b[n]`` with ``y[-1] = 0``, for a scalar ``a`` in [0, 1).

  Blocked: inside each block of ``block`` samples the response to the block's
  own input is one matrix product with the lower-triangular Toeplitz matrix
  ``a^(i-j)``. The state entering block ``k`` is the same recurrence one level
  up, over the blocks' local end values ``e_k`` with the pole ``g = a^block``:

  .. math::
    Y_k = g\,Y_{k-1} + e_k, \qquad
    y[kB + i] = \mathrm{local}[kB + i] + a^{i+1}\,Y_{k-1},

  computed by the same blocking, recursively: ``⌈log_B n⌉`` levels of a few
  operations each (3 for a 3.8 s crop at 30 kHz, 446 blocks), no loop, and
  work and memory linear in ``n``. (A ``lax.scan`` over the blocks took
  ``n / B`` serial trips, a kernel launch each on a GPU; a block-to-block
  decay matrix grows as ``(n / B)²``; an associative scan compiled slower:
  ``benchmarks/RESULTS.md``.) The matrix products use full float32
  precision (not TPU's default bfloat16).

  Args:
    a: scalar pole.
    b: ``[..., n]`` drive.

  Returns:
    ``[..., n]``.
  """
  return _blocked_recurrence_log(jnp.log(jnp.maximum(a, 1e-30)), b, block=block)


def _blocked_recurrence_log(log_a, b, *, block: int):
  """``_blocked_recurrence`` of the pole ``exp(log_a)``: every power is ``exp(k · log_a)``,
  so a power below float32's range is 0 rather than a product of rounded factors."""
  n = b.shape[-1]
  size = min(block, n)  # a signal shorter than a block is one block of its own length
  n_blocks = -(-n // size)
  b = jnp.pad(b, [(0, 0)] * (b.ndim - 1) + [(0, n_blocks * size - n)])
  blocks = b.reshape(b.shape[:-1] + (n_blocks, size))
  # i - j, built in the program (iota) rather than embedded as a [size, size] constant
  lag = (jax.lax.broadcasted_iota(jnp.int32, (size, size), 0)
         - jax.lax.broadcasted_iota(jnp.int32, (size, size), 1))
  powers = jnp.where(lag >= 0, jnp.exp(jnp.maximum(lag, 0) * log_a), 0.0).astype(b.dtype)
  y = jnp.einsum("...ti,ji->...tj", blocks, powers, precision=jax.lax.Precision.HIGHEST)
  if n_blocks > 1:  # static: carry each block's end state into the next block
    ends = _blocked_recurrence_log(size * log_a, y[..., -1], block=block)  # Y_k
    entering = jnp.pad(ends[..., :-1], [(0, 0)] * (ends.ndim - 1) + [(1, 0)])  # Y_{k-1}
    decay = jnp.exp((np.arange(size) + 1) * log_a).astype(b.dtype)  # a^(i+1)
    y = y + entering[..., None] * decay
  return y.reshape(b.shape)[..., :n]


@jax.custom_vjp
def _linear_recurrence(a, b):
  r"""``y[n] = a·y[n-1] + b[n]`` with ``y[-1] = 0`` (``_blocked_recurrence``),
  with its adjoint written out rather than differentiated through the blocks.

  The recurrence is ``y = L b`` with ``L`` lower-triangular Toeplitz,
  ``L_{ij} = a^{i-j}``. Its vector-Jacobian products are

  .. math::
    \bar b = L^\top \bar y, \qquad
    \bar a = \sum_n \bar b[n]\, y[n-1],

  where ``L^T ȳ`` is the same recurrence run backwards in time
  (``λ[n] = a·λ[n+1] + ȳ[n]``) and ``ā`` follows from
  ``∂y[n]/∂a = a·∂y[n-1]/∂a + y[n-1]`` (summed over every leading axis: ``a``
  is a scalar). One backward recurrence and a dot product replace the
  transposed block products and scan that autodiff would build: less work
  and a smaller program.
  """
  return _blocked_recurrence(a, b)


def _linear_recurrence_fwd(a, b):
  y = _blocked_recurrence(a, b)
  return y, (a, y)


def _linear_recurrence_bwd(residuals, y_bar):
  a, y = residuals
  b_bar = jnp.flip(_blocked_recurrence(a, jnp.flip(y_bar, -1)), -1)
  y_previous = jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(1, 0)])[..., :-1]
  a_bar = jnp.sum(b_bar * y_previous).astype(jnp.result_type(a))
  return jnp.reshape(a_bar, jnp.shape(a)), b_bar


_linear_recurrence.defvjp(_linear_recurrence_fwd, _linear_recurrence_bwd)


def one_pole_smooth(x, alpha, *, n_taps: int):
  """Smooth ``x`` with the truncated one-pole FIR ``h[k] = (1-α)α^k, k < n_taps``.

  This is exactly grafx's ``TruncatedOnePoleIIRFilter`` convolution, computed
  as a recurrence instead of a 16384-tap FFT convolution: the truncated FIR
  obeys ``y[n] = α·y[n-1] + (1-α)·(x[n] - α^n_taps · x[n - n_taps])``.

  Args:
    x: ``[..., n]`` signal.
    alpha: scalar pole in ``[0, 1)``.
    n_taps: truncation length of the impulse response.

  Returns:
    ``[..., n]`` smoothed signal (not rectified).
  """
  delayed = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_taps, 0)])[..., :x.shape[-1]]
  drive = (1 - alpha) * (x - alpha**n_taps * delayed)
  return _linear_recurrence(alpha, drive)


# ---------------------------------------------------------------------------
# STFT (torch.stft / torch.istft conventions: centred, reflect-padded)
# ---------------------------------------------------------------------------


def stft(x, *, n_fft: int, hop: int):
  """One-sided STFT with a periodic Hann window, centred with reflect padding.

  Matches ``torch.stft(x, n_fft, hop, window=hann_window(n_fft), center=True,
  pad_mode="reflect", return_complex=True)``. The one STFT of mixjax: the
  loss, the reverb's noise and the spectrogram plots use it. A JAX array is
  transformed by JAX (float32); a NumPy array by NumPy, in its own precision
  (float64 in, complex128 out), for constants and pictures.

  Args:
    x: ``[..., n]`` signal (``n > n_fft // 2``).

  Returns:
    ``[..., n_fft // 2 + 1, 1 + n // hop]`` complex spectrogram.
  """
  xp = np if isinstance(x, np.ndarray) else jnp
  n = x.shape[-1]
  pad = n_fft // 2
  x = xp.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
  window = hann_periodic(n_fft, np.float64 if xp is np else np.float32)
  frames = _frames(x, n_frames=1 + n // hop, n_fft=n_fft, hop=hop) * window
  return xp.swapaxes(xp.fft.rfft(frames, axis=-1), -1, -2)


def _frames(x, *, n_frames: int, n_fft: int, hop: int):
  """``[..., n_frames, n_fft]`` with ``frames[..., m, t] = x[..., m · hop + t]``.

  When ``hop`` divides ``n_fft`` (every STFT here: hop = n_fft / 4) the frames
  are ``n_fft / hop`` shifted views of ``x`` cut into hop-long blocks, joined:
  slices and a reshape, whose gradient is pads and adds. A gather with an
  ``[n_frames, n_fft]`` index constant computes the same values but made the
  step program ~10 MB larger (three resolutions, forward and backward) and
  its compile correspondingly slower. Other hops use that gather.
  """
  xp = np if isinstance(x, np.ndarray) else jnp
  if n_fft % hop:
    index = (np.arange(n_frames) * hop)[:, None] + np.arange(n_fft)[None, :]
    return x[..., index]
  overlap = n_fft // hop
  n_blocks = n_frames + overlap - 1
  blocks = x[..., :n_blocks * hop].reshape(x.shape[:-1] + (n_blocks, hop))
  return xp.concatenate([blocks[..., k:k + n_frames, :] for k in range(overlap)], axis=-1)


def istft(spec, *, n_fft: int, hop: int, length: int):
  """Inverse of ``stft`` (``torch.istft`` with the same window and ``length``).

  Overlap-adds the windowed frames and divides by the summed squared window.
  ``hop`` must divide ``n_fft`` (so the overlap-add is a sum of shifted
  reshapes, no scatter).

  Args:
    spec: ``[..., n_fft // 2 + 1, frames]`` complex spectrogram.
    length: number of output samples.

  Returns:
    ``[..., length]`` signal.
  """
  if n_fft % hop:
    raise ValueError(f"istft needs hop ({hop}) to divide n_fft ({n_fft}).")
  overlap = n_fft // hop
  window = hann_periodic(n_fft)
  n_frames = spec.shape[-1]
  frames = jnp.fft.irfft(jnp.swapaxes(spec, -1, -2), n=n_fft, axis=-1) * window
  blocks = frames.reshape(frames.shape[:-1] + (overlap, hop))  # [..., F, r, hop]
  lead = [(0, 0)] * (frames.ndim - 2)
  y = sum(
      jnp.pad(blocks[..., i, :], lead + [(i, overlap - 1 - i), (0, 0)])
      for i in range(overlap))  # [..., F + r - 1, hop]
  y = y.reshape(y.shape[:-2] + (-1,))
  envelope = np.zeros((n_frames + overlap - 1) * hop)
  for m in range(n_frames):
    envelope[m * hop:m * hop + n_fft] += window.astype(np.float64)**2
  start = n_fft // 2
  y = y[..., start:start + length]
  envelope = envelope[start:start + length]
  if np.any(envelope < 1e-11):
    raise ValueError("istft: the window envelope vanishes inside the output.")
  if y.shape[-1] < length:
    y = jnp.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    envelope = np.pad(envelope, (0, length - envelope.shape[0]), constant_values=1.0)
  return y / envelope.astype(np.float32)


# ---------------------------------------------------------------------------
# Stereo helpers
# ---------------------------------------------------------------------------


def energy_normalize(ir, eps: float = 1e-12):
  """Divide a ``[channels, n]`` IR by ``sqrt(mean_c Σ_t h² + eps)``."""
  energy = jnp.mean(jnp.sum(ir**2, axis=-1))
  return ir / jnp.sqrt(energy + eps)


def log_energy(x, eps: float = 1e-7):
  """``ln(mean(x²) + eps)`` over all samples and channels."""
  return jnp.log(jnp.mean(x**2) + eps)


def gain_staging(u, y):
  """Gain-staging regulariser of one node: ``|ln(mean u² + ε) - ln(mean f(u)² + ε)|``.

  ``u`` is the node input, ``y`` its wet output (before the dry/wet mix);
  means over both channels and all samples, ε = 1e-7 (grafx
  ``GainStagingRegularization``).
  """
  return jnp.abs(log_energy(u) - log_energy(y))


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
  """Round a duration to a whole number of samples."""
  return int(round(seconds * sample_rate))

