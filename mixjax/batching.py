"""``vmap`` over songs and masks, with a unit axis indexed away instead of mapped.

Most searches run one song, and many evaluations one mask, so the batched
programs usually see a batch axis of size 1. ``jax.vmap`` over such an axis
gives the same values but a slower program: XLA's batched FFTs and reductions
of the console with one more (unit) dimension made a 16 × 4 training step
~15 % slower on CPU, and its compile ~35 % longer (benchmarks/RESULTS.md).
``vmap`` below decides at trace time, from the static shapes: a batch of one
is run unbatched (``x[0]`` in, ``y[None]`` out), anything larger is
``jax.vmap``ped.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax


def _axis_sizes(args: Sequence[Any], in_axes: Sequence[int | None]) -> set[int]:
  return {leaf.shape[0] for arg, axis in zip(args, in_axes) if axis is not None
          for leaf in jax.tree.leaves(arg)}


def vmap(fn: Callable, in_axes: int | Sequence[int | None] = 0) -> Callable:
  """``jax.vmap(fn, in_axes)`` over leading axes, unbatched when the batch is 1.

  Args:
    fn: the per-entry function; its outputs are stacked on a new leading axis.
    in_axes: 0 (every argument batched on its leading axis) or one entry per
      positional argument, 0 or None (not batched).

  Returns:
    The batched function. Under a batch of one it calls ``fn`` on the single
    entries and adds the unit axis back to every output leaf.

  Raises:
    ValueError: an axis other than 0 or None, or batched arguments whose
      leading axes differ in size.
  """

  def batched(*args):
    axes = (in_axes,) * len(args) if isinstance(in_axes, int) else tuple(in_axes)
    if len(axes) != len(args) or any(axis not in (0, None) for axis in axes):
      raise ValueError(f"batching.vmap: in_axes must be 0 or None per argument, got {in_axes!r} "
                       f"for {len(args)} arguments.")
    sizes = _axis_sizes(args, axes)
    if len(sizes) > 1:
      raise ValueError(f"batching.vmap: the batched arguments have leading axes of sizes "
                       f"{sorted(sizes)}; they must agree.")
    if sizes != {1}:
      return jax.vmap(fn, in_axes=axes)(*args)
    first = [arg if axis is None else jax.tree.map(lambda leaf: leaf[0], arg)
             for arg, axis in zip(args, axes)]
    return jax.tree.map(lambda leaf: leaf[None], fn(*first))

  return batched
