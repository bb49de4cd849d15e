"""One run on an accelerator: mixjax and GRAFX side by side, and the search's throughput.

The Python part of ``benchmarks/accelerator.sh`` (which installs what is missing
first). On the device JAX picks (a GPU when there is one), it measures:

- for each console size (``--sizes``, 30 kHz, a 3.8 s crop): the render's
  forward and forward+backward (``render.measure_one``), one optimisation step
  and one whole-song evaluation of a ``--eval-song-seconds`` song
  (``search.step_costs``), each for mixjax and for GRAFX (``grafx_driver.py``
  on ``--grafx-device``, the same GPU), and their ratios;
- a slice of a paper-preset search of one synthetic 16 × 4 song of
  ``--search-song-seconds``: steps per second and trials per second
  (``batch_throughput.paper_costs``: a few steps, a round-start cache render, one call
  of incremental trials);
- the same costs for batches of ``--batch-sizes`` songs, projected to
  songs/hour for 3-minute songs at the paper's schedule;
- peak device memory, the jax/torch versions and the device's name.

Items left when ``--budget-seconds`` has passed are skipped (named in
``skipped``), so the run fits its time slot. Writes ``accelerator.json`` into
``--out`` and prints the same object as its last line.

    python benchmarks/accelerator.py --out "$OUT"
    python benchmarks/accelerator.py --tiny --out /tmp/acc   # the CPU check of the suite
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import batch_throughput, grafx_side, render, search, timing

PAPER = dict(sizes="16x4,32x8", sample_rate=30000, crop_seconds=3.8, eval_song_seconds=30.0,
             search_song_seconds=60.0, search_size="16x4", batch_sizes="1,8,32", repeats=3)
"""The issue's settings (one GPU, at most 8 minutes)."""

TINY = dict(sizes="2x1", sample_rate=8000, crop_seconds=1.5, eval_song_seconds=4.0,
            search_song_seconds=4.0, search_size="2x1", batch_sizes="1,2", repeats=1)
"""A CPU check that the script runs (the test suite's)."""

TINY_CONFIG = dict(crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
"""Search settings that fit ``TINY``'s short crop."""


def device_info() -> dict:
  """Backend, device name and versions of this process's JAX."""
  import jax
  import jaxlib
  device = jax.devices()[0]
  return {"backend": jax.default_backend(), "device_name": getattr(device, "device_kind", str(device)),
          "device_count": jax.local_device_count(), "jax": jax.__version__,
          "jaxlib": jaxlib.__version__, "python": platform.python_version(),
          "machine": timing.machine()}


def peak_device_mb() -> float | None:
  """Peak bytes in use on the first device (MiB), where the backend reports it."""
  import jax
  stats = jax.devices()[0].memory_stats() or {}
  peak = stats.get("peak_bytes_in_use")
  return None if peak is None else peak / 2**20


def _size(text: str) -> tuple[int, int]:
  t, g = map(int, text.split("x"))
  return t, g


def _ratio(reference, ours):
  return reference / ours if reference and ours else None


def run(args) -> dict:
  """Everything, within ``args.budget_seconds``; returns the result object."""
  started = time.perf_counter()
  result = {"benchmark": "accelerator", **device_info(), "settings": vars(args).copy(),
            "sizes": [], "skipped": []}
  config = TINY_CONFIG if args.tiny else None
  grafx_python = None if args.no_grafx else grafx_side.find_grafx_python()
  result["grafx_python"] = grafx_python

  def time_left(item: str) -> bool:
    if time.perf_counter() - started < args.budget_seconds:
      return True
    result["skipped"].append(item)
    return False

  for text in filter(None, args.sizes.split(",")):
    t, g = _size(text)
    if not time_left(f"size {text}"):
      continue
    row = {"tracks": t, "groups": g}
    row["mixjax"] = {"render": render.measure_one(t, g, args.crop_seconds, args.sample_rate,
                                                  args.repeats)}
    row["mixjax"].update(search.step_costs(t, g, song_seconds=args.eval_song_seconds,
                                           repeats=args.repeats, sample_rate=args.sample_rate,
                                           config_overrides=config))
    if grafx_python and time_left(f"GRAFX {text}"):
      common = dict(tracks=t, groups=g, sample_rate=args.sample_rate, repeats=args.repeats,
                    device=args.grafx_device, timeout=args.budget_seconds)
      ref_render = grafx_side.run_grafx("render", seconds=args.crop_seconds, **common) or {}
      ref_step = grafx_side.run_grafx("step", seconds=args.crop_seconds, **common) or {}
      ref_eval = grafx_side.run_grafx("evaluate", seconds=args.eval_song_seconds,
                                      chunk_seconds=args.crop_seconds, **common) or {}
      row["grafx"] = {"fwd_s": ref_render.get("fwd_s"), "fwd_bwd_s": ref_render.get("fwd_bwd_s"),
                      "step_s": ref_step.get("step_s"), "evaluate_s": ref_eval.get("evaluate_s"),
                      "torch": ref_step.get("torch") or ref_render.get("torch"),
                      "device_name": ref_step.get("device_name") or ref_render.get("device_name"),
                      "peak_device_mb": max(filter(None, [r.get("peak_device_mb") for r in
                                                          (ref_render, ref_step, ref_eval)]),
                                            default=None)}
      m, ref = row["mixjax"], row["grafx"]
      row["ratio"] = {"render_fwd_bwd": _ratio(ref["fwd_bwd_s"], m["render"]["fwd_bwd_s"]),
                      "step": _ratio(ref["step_s"], m["step_s"]),
                      "evaluate": _ratio(ref["evaluate_s"], m["evaluate_s"])}
    result["sizes"].append(row)
    print(json.dumps(row), flush=True)

  t, g = _size(args.search_size)
  batches = []
  for batch in [int(b) for b in args.batch_sizes.split(",") if b]:
    if not time_left(f"batch {batch}"):
      continue
    costs = batch_throughput.paper_costs(batch, tracks=t, groups=g, song_seconds=args.search_song_seconds,
                                sample_rate=args.sample_rate, config_overrides=config)
    costs["songs_per_step_s"] = batch / costs["step_s"]  # song-steps per second
    costs["trials_per_s"] = batch * costs["trials_answered_per_call"] / costs["trial_call_s"]
    batches.append(costs)
    print(json.dumps(costs), flush=True)
  result["search_batch"] = batches
  single = next((b for b in batches if b["batch"] == 1), None)
  if single:
    result["search_slice"] = {"tracks": t, "groups": g, "song_seconds": args.search_song_seconds,
                              "steps_per_s": 1.0 / single["step_s"],
                              "trials_per_s": single["trials_per_s"]}
  result["peak_device_mb"] = peak_device_mb()
  result["peak_rss_mb"] = timing.peak_rss_mb()
  result["seconds"] = time.perf_counter() - started
  return result


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", default=os.environ.get("OUT", "."),
                      help="folder for accelerator.json (default: $OUT or the current folder)")
  parser.add_argument("--tiny", action="store_true",
                      help="tiny sizes at 8 kHz (a CPU check that everything runs)")
  for key, value in PAPER.items():
    parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=None,
                        help=f"(default: {value}; with --tiny: {TINY[key]})")
  parser.add_argument("--budget-seconds", type=float, default=420.0,
                      help="skip what is left after this many seconds (default: %(default)s)")
  parser.add_argument("--no-grafx", action="store_true", help="skip the GRAFX side")
  parser.add_argument("--grafx-device", default=None,
                      help="torch device of the GRAFX side (default: cuda on a GPU, else cpu)")
  args = parser.parse_args(argv)
  for key, value in (TINY if args.tiny else PAPER).items():
    if getattr(args, key) is None:
      setattr(args, key, value)
  if args.grafx_device is None:
    import jax
    args.grafx_device = "cuda" if jax.default_backend() == "gpu" else "cpu"
  return args


def main(argv=None) -> dict:
  args = parse_args(argv)
  result = run(args)
  os.makedirs(args.out, exist_ok=True)
  path = os.path.join(args.out, "accelerator.json")
  with open(path + ".tmp", "w") as f:
    json.dump(result, f, indent=1)
  os.replace(path + ".tmp", path)
  print(json.dumps(result))
  return result


if __name__ == "__main__":
  main()
