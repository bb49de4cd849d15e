"""Where the time of one optimisation step goes: per-piece timings (mixjax only).

For each size (tracks x groups, 30 kHz, a 3.8 s crop, every node alive), the
median of ``--repeats`` timed calls (after one compiling call) of:

- ``render_fwd``: the console render;
- ``render_fwd_bwd``: the render and the gradient of the mean square of its mix;
- ``loss_fwd``: the matching loss ``La`` of a fixed prediction and target;
- ``loss_fwd_bwd``: the loss and its gradient with respect to the prediction;
- ``step``: one whole training step (``fit.run_steps``, one song);

the fewest process CPU seconds of each (less moved by other processes on a
shared machine), and the compile seconds of each. With ``--profile``, also the
step's op seconds by kind from a ``jax.profiler`` trace (``op_profile``): each
FFT by type and length, each fusion by XLA's name for it. Prints a table (two
with ``--profile``) and, as its last line, one JSON object.

    python benchmarks/step_pieces.py --sizes 4x1,16x4 --repeats 5
    python benchmarks/step_pieces.py --sizes 16x4 --repeats 3 --profile
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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
  fn = timing.no_uploads(fn)  # the inputs are on the device
  for _ in range(repeats):
    t0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
  return statistics.median(times), min(cpu), compile_s


CONTAINER_OPS = ("conditional", "while", "call")
"""Opcodes whose trace events enclose other ops' events (left out of ``op_profile``)."""

_HLO_LINE = re.compile(r"^\s*(?:ROOT\s+)?%?(\S+) = .*? ([a-z][\w-]*)\(")
_FFT = re.compile(r"fft_type=(\w+), fft_length=\{([\d,]+)\}")


def _op_kinds(hlo_text: str) -> dict:
  """``{instruction name: kind}`` of a compiled HLO module's text.

  The kind of an FFT is ``"fft RFFT 174960"`` (type and length), of any other
  op its name without the ``.N`` suffix (a fusion's name says what it fuses:
  ``multiply_add_fusion``); control-flow containers are left out.
  """
  kinds = {}
  for line in hlo_text.splitlines():
    match = _HLO_LINE.match(line)
    if not match or match.group(2) in CONTAINER_OPS:
      continue
    name, opcode = match.groups()
    fft = _FFT.search(line) if opcode == "fft" else None
    kinds[name] = f"fft {fft.group(1)} {fft.group(2)}" if fft else re.sub(r"\.\d+$", "", name)
  return kinds


def op_profile(fn, *args, calls: int = 3) -> dict:
  """Seconds per call of each kind of op (``_op_kinds``) of the jitted ``fn(*args)``.

  From a ``jax.profiler`` trace of ``calls`` calls after a compiling one. The
  seconds of ops that ran at the same time on different cores both count, so
  the total can exceed the wall time; compare kinds by their share.

  Returns:
    ``{kind: seconds per call}``, largest first.
  """
  import jax
  compiled = fn.lower(*args).compile()
  kinds = _op_kinds(compiled.as_text())
  jax.block_until_ready(compiled(*args))
  with tempfile.TemporaryDirectory() as folder:
    with jax.profiler.trace(folder, create_perfetto_trace=True):
      for _ in range(calls):
        jax.block_until_ready(compiled(*args))
    (path,) = glob.glob(os.path.join(folder, "**", "perfetto_trace.json.gz"), recursive=True)
    with gzip.open(path) as f:
      events = json.load(f)["traceEvents"]
  seconds = collections.Counter()
  for event in events:
    kind = kinds.get(event.get("name"))
    if event.get("ph") == "X" and kind:
      seconds[kind] += event["dur"] / 1e6 / calls
  return dict(seconds.most_common())


def pieces(tracks: int, groups: int, *, repeats: int, sample_rate: int = 30000,
           crop_seconds: float = 3.8, profile: bool = False) -> dict:
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
  batch = lambda t: jax.device_put(jax.tree.map(lambda a: np.asarray(a)[None], t))
  state = batch(fit_lib.init_state(params, optimizer))
  key = jax.random.split(jax.random.key(0), 1)
  settings = fit_lib.step_settings(config, sample_rate)
  n_samples = batch(np.int32(n))

  step_fn = jax.jit(functools.partial(fit_lib.run_steps, settings=settings, optimizer=optimizer))
  step_args = (state, batch(console), key, x[None], mix[None], batch(alive), n_samples,
               fit_lib.sparsity_schedule(config))
  step = lambda: step_fn(*step_args)

  row = {"tracks": tracks, "groups": groups}
  for name, fn in [("render_fwd", lambda: render(params, x, alive)),
                   ("render_fwd_bwd", lambda: render_grad(params, x, alive)),
                   ("loss_fwd", lambda: loss_fwd(pred, mix)),
                   ("loss_fwd_bwd", lambda: loss_grad(pred, mix)),
                   ("step", step)]:
    row[name], row["cpu_" + name], row["compile_" + name] = _time(fn, repeats)
  if profile:
    row["step_op_s"] = op_profile(step_fn, *step_args, calls=repeats)
  return row


def _print_profile(row: dict, top: int = 12) -> None:
  """The step's op seconds by kind: the ``top`` kinds, all FFTs, everything."""
  ops = row["step_op_s"]
  total = sum(ops.values())
  fft = sum(s for kind, s in ops.items() if kind.startswith("fft "))
  print(f"\n{row['tracks']} x {row['groups']} step, op seconds per step by kind "
        f"(summed over threads; the step's wall time is {row['step']:.3f} s)")
  for kind, s in [*list(ops.items())[:top], ("all FFTs", fft), ("all ops", total)]:
    print(f"  {kind:<36} {s:>7.3f} s  {100 * s / total:5.1f} %")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="4x1,16x4", help="tracks x groups (default: %(default)s)")
  parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default: %(default)s)")
  parser.add_argument("--profile", action="store_true",
                      help="also profile the step (op seconds by kind, jax.profiler)")
  args = parser.parse_args()
  import jax
  names = ("render_fwd", "render_fwd_bwd", "loss_fwd", "loss_fwd_bwd", "step")
  print(f"{'T x G':>6} | " + " ".join(f"{n:>20}" for n in names)
        + "   (median s / fewest CPU s; compile s in brackets)")
  rows = []
  for size in filter(None, args.sizes.split(",")):
    t, g = map(int, size.split("x"))
    row = pieces(t, g, repeats=args.repeats, profile=args.profile)
    rows.append(row)
    print(f"{t:>3} x{g:>2} | " + " ".join(
        f"{row[n]:>6.3f}/{row['cpu_' + n]:>6.3f} ({row['compile_' + n]:>4.1f})" for n in names),
        flush=True)
  for row in rows if args.profile else ():
    _print_profile(row)
  print(json.dumps({"benchmark": "step_pieces", "backend": jax.default_backend(),
                    "machine": timing.machine(),
                    "load_average": os.getloadavg(), "rows": rows}))


if __name__ == "__main__":
  main()
