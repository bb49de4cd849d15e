"""Where the time of one optimisation step goes: per-piece timings (mixjax only).

For each size (tracks x groups, 30 kHz, a 3.8 s crop, every node alive), the
median of ``--repeats`` timed calls (after one compiling call) of:

- ``render_fwd``: the console render;
- ``render_fwd_bwd``: the render and the gradient of the mean square of its mix;
- ``loss_fwd``: the matching loss ``La`` of a fixed prediction and target;
- ``loss_fwd_bwd``: the loss and its gradient with respect to the prediction;
- ``step``: one whole training step (``fit.run_steps``, one song);

the fewest process CPU seconds of each (less moved by other processes on a
shared machine), and the compile seconds of each. Prints a table and, as its last line, one
JSON object.

    python benchmarks/step_pieces.py --sizes 4x1,16x4 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from benchmarks import timing


def _time(fn, repeats: int) -> tuple[float, float, float]:
  """(median seconds, fewest CPU seconds of this process, compile seconds) of ``fn``.

  The CPU seconds (both XLA threads together) move less than the wall clock
  when other processes share the machine.
  """
  import jax
  t0 = time.perf_counter()
  jax.block_until_ready(fn())
  compile_s = time.perf_counter() - t0
  times, cpu = [], []
  for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
  return statistics.median(times), min(cpu), compile_s


def pieces(tracks: int, groups: int, *, repeats: int, sample_rate: int = 30000,
           crop_seconds: float = 3.8) -> dict:
  """Per-piece seconds (median) and compile seconds of one size."""
  import functools
  import jax
  import jax.numpy as jnp
  import numpy as np
  import mixjax
  from mixjax import console as console_lib
  from mixjax import loss as loss_lib
  from mixjax.graph_search import fit as fit_lib

  n = int(round(crop_seconds * sample_rate))
  rng = np.random.default_rng(0)
  song = mixjax.Song((0.1 * rng.standard_normal((tracks, 2, n))).astype(np.float32),
                     (0.1 * rng.standard_normal((2, n))).astype(np.float32),
                     [i * groups // tracks for i in range(tracks)], sample_rate)
  console = console_lib.Console.of(song)
  params = console.init(jax.random.key(0))
  alive = console.all_alive()
  x = jnp.asarray(song.padded_tracks())
  mix = jnp.asarray(song.mix)
  active = console_lib.active_types(alive)

  # Inputs are arguments, not closed-over constants: XLA would fold work on constant
  # tracks into the program at compile time (slower compiles, optimistic run times).
  render = jax.jit(lambda p, x, alive: console_lib.render(console, p, x, alive, active)[0])
  render_grad = jax.jit(jax.grad(
      lambda p, x, alive: jnp.mean(console_lib.render(console, p, x, alive, active)[0]**2)))
  loss = functools.partial(loss_lib.mrstft_loss, sample_rate=sample_rate)
  pred = render(params, x, alive)
  loss_fwd = jax.jit(loss)
  loss_grad = jax.jit(jax.value_and_grad(loss))

  config = mixjax.SearchConfig(steps_per_dispatch=1, console_steps=1, finetune_steps=1)
  optimizer = fit_lib.default_optimizer(config)
  batch = lambda t: jax.tree.map(lambda a: np.asarray(a)[None], t)
  state = batch(fit_lib.init_state(params, optimizer))
  key = jax.random.split(jax.random.key(0), 1)
  settings = fit_lib.step_settings(config, sample_rate)
  n_samples = np.array([n], np.int32)

  def step():
    return fit_lib.run_steps(state, batch(console), key, x[None], mix[None], batch(alive),
                             n_samples, fit_lib.sparsity_schedule(config),
                             settings=settings, optimizer=optimizer)

  row = {"tracks": tracks, "groups": groups}
  for name, fn in [("render_fwd", lambda: render(params, x, alive)),
                   ("render_fwd_bwd", lambda: render_grad(params, x, alive)),
                   ("loss_fwd", lambda: loss_fwd(pred, mix)),
                   ("loss_fwd_bwd", lambda: loss_grad(pred, mix)),
                   ("step", step)]:
    row[name], row["cpu_" + name], row["compile_" + name] = _time(fn, repeats)
  return row


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="4x1,16x4", help="tracks x groups (default: %(default)s)")
  parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default: %(default)s)")
  args = parser.parse_args()
  import jax
  names = ("render_fwd", "render_fwd_bwd", "loss_fwd", "loss_fwd_bwd", "step")
  print(f"{'T x G':>6} | " + " ".join(f"{n:>20}" for n in names)
        + "   (median s / fewest CPU s; compile s in brackets)")
  rows = []
  for size in filter(None, args.sizes.split(",")):
    t, g = map(int, size.split("x"))
    row = pieces(t, g, repeats=args.repeats)
    rows.append(row)
    print(f"{t:>3} x{g:>2} | " + " ".join(
        f"{row[n]:>6.3f}/{row['cpu_' + n]:>6.3f} ({row['compile_' + n]:>4.1f})" for n in names),
        flush=True)
  print(json.dumps({"benchmark": "step_pieces", "backend": jax.default_backend(),
                    "machine": timing.machine(),
                    "load_average": os.getloadavg(), "rows": rows}))


if __name__ == "__main__":
  main()
