"""One run on a GPU machine: mixjax and GRAFX side by side, the search's throughput and memory.

The Python part of ``benchmarks/accelerator.sh`` (which installs what the machine lacks and
builds torchlpc first). Its items, in order of value (``--items`` picks and orders them):

1. ``costs``: mixjax's optimisation step and whole-song evaluation at each of ``--sizes``
   (16 × 4 and 32 × 8 tracks × groups, 30 kHz, 3.8 s crops, a ``--eval-song-seconds`` song;
   ``search.step_costs``);
2. ``grafx``: the same for GRAFX (``grafx_driver.py --device cuda``) on the same GPU, and the
   ratios (``ratios`` in the JSON);
3. ``batch``: songs/hour of paper-setting searches of ``--batch-sizes`` (1, 8, 32) songs
   in lockstep on the device (``batch_throughput.paper_costs``; on one GPU a batch of ``N``
   is ``songs_per_call=N``, and 1 is one song per device);
4. ``search``: one complete quick-preset search of a ``--search-song-seconds`` synthetic
   song: wall and compile seconds;
5. ``memory``: peak device memory (``peak_bytes_in_use``) of one step and of one
   evaluation of a ``--memory-size`` console (133 × 26: the largest song of the paper's 1129),
   each in a fresh process; running out of memory is a result (``oom``);
6. ``conditionals``: the step with ``SearchConfig(skip_dead_types=True)`` (one ``lax.cond``
   per processor type) and ``False`` (masks only), every type alive (the console fit) and
   with the delay and reverb pruned everywhere (late in a search), and the conditionals each
   program holds.

Each measurement runs in a child process bounded by the budget left (and
``--item-seconds``): one that runs over is killed and recorded as ``cut`` with what it had
printed, one that fails as ``failed`` with its last lines, and the run goes on. The budget
(``--budget-seconds``) counts from ``$MIXJAX_ACCEL_STARTED`` (set by accelerator.sh before
its installs) or from this process's start. ``accelerator.json`` in ``--out`` is written
atomically before the first item and after every one, so a run killed at any point leaves
valid JSON that holds every finished item. JAX's backend is checked first: on a CPU the run
stops at once (exit code 3) unless ``--allow-cpu`` (``--tiny`` implies it). Timed calls
find their inputs on the device (``timing.no_uploads``).

    bash benchmarks/accelerator.sh "$OUT"                            # on the GPU machine
    python -m benchmarks.accelerator --tiny --no-grafx --out /tmp/acc    # the CPU check
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import batch_throughput, grafx_side, search, timing

ROOT = grafx_side.ROOT

PAPER = dict(sizes="16x4,32x8", sample_rate=30000, crop_seconds=3.8, eval_song_seconds=30.0,
             batch_sizes="1,8,32", batch_size="16x4", batch_song_seconds=60.0,
             search_size="16x4", search_song_seconds=60.0, memory_size="133x26",
             memory_song_seconds=30.0, repeats=3)
"""The issue's settings (one GPU, at most 8 minutes)."""

TINY = dict(sizes="2x1", sample_rate=8000, crop_seconds=1.5, eval_song_seconds=4.0,
            batch_sizes="1,2", batch_size="2x1", batch_song_seconds=4.0, search_size="3x2",
            search_song_seconds=2.0, memory_size="2x1", memory_song_seconds=4.0, repeats=1)
"""A CPU check that everything runs (the test suite's); the shapes of its other programs."""

TINY_CONFIG = dict(crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
"""Search settings that fit ``TINY``'s short crop."""

TINY_SEARCH = dict(console_steps=20, finetune_steps=10, rounds=1)
"""The quick preset cut down further for ``--tiny``."""

ITEMS = ("costs", "grafx", "batch", "search", "memory", "conditionals")
"""Every item, in order of value."""

NO_CPU_EXIT = 3
"""Exit code of a run that finds JAX on the CPU without ``--allow-cpu``."""

MARGIN_SECONDS = 5.0
"""Kept back from each child's timeout, for writing the JSON."""

# --------------------------------------------------------------------------- children


def _size(text: str) -> tuple[int, int]:
  t, g = map(int, text.split("x"))
  return t, g


def probe() -> dict:
  """JAX's backend, devices and versions in this process."""
  import importlib.metadata

  import jax
  import jaxlib
  devices = jax.devices()
  plugins = {}
  for name in ("jax-cuda13-plugin", "jax-cuda12-plugin", "libtpu"):
    try:
      plugins[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      pass
  return {"backend": jax.default_backend(), "device_name": devices[0].device_kind,
          "device_count": len(devices), "devices": [str(d) for d in devices],
          "jax": jax.__version__, "jaxlib": jaxlib.__version__, "plugins": plugins,
          "python": platform.python_version(), "machine": timing.machine(),
          "preallocate": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
          "memory_stats": bool(devices[0].memory_stats())}


def peak_device_mb() -> float | None:
  """Peak bytes in use on the first device so far (MiB), where the backend reports it."""
  import jax
  peak = (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
  return None if peak is None else peak / 2**20


def batch_costs(batch: int, **kwargs) -> dict:
  """``batch_throughput.paper_costs`` and the rates it implies."""
  costs = batch_throughput.paper_costs(batch, **kwargs)
  costs["song_steps_per_s"] = batch / costs["step_s"]
  costs["trials_per_s"] = batch * costs["trials_answered_per_call"] / costs["trial_call_s"]
  return costs


def quick_search(*, tracks: int, groups: int, song_seconds: float, sample_rate: int,
                 config_overrides: dict | None = None) -> dict:
  """One complete ``SearchConfig.quick()`` search of a synthetic song: wall and compile seconds.

  ``compile_s`` sums JAX's tracing, lowering and compile seconds over the threads that
  compiled: a search compiles its trial programs in a background thread while the fit runs,
  so it may exceed the wall time.
  """
  import jax
  import mixjax

  song, truth = mixjax.synthetic_song(jax.random.key(0), n_tracks=tracks, n_groups=groups,
                                      seconds=song_seconds, sample_rate=sample_rate)
  config = mixjax.SearchConfig.quick(**(config_overrides or {}))
  compile_s = timing.count_compile_seconds()  # from here: the search's compiles only
  t0 = time.perf_counter()
  result = mixjax.search(song, config, seed=0, progress=False)
  wall = time.perf_counter() - t0
  return {"tracks": tracks, "groups": groups, "song_seconds": song_seconds,
          "sample_rate": sample_rate, "wall_s": wall, "compile_s": compile_s[0],
          "phase_seconds": result.seconds, "steps": config.console_steps
          + config.rounds * config.finetune_steps, "rounds": config.rounds,
          "trials": len(result.trials), "alive": len(result.alive_nodes()),
          "loss_pruned": float(result.loss_pruned),
          "recovery": mixjax.recovery_scores(truth.alive_nodes(), result.alive_nodes())}


def is_out_of_memory(error: BaseException) -> bool:
  """Whether ``error`` is XLA running out of device memory."""
  text = str(error)
  return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def peak_memory(*, part: str, report=None, **kwargs) -> dict:
  """Peak device memory of one ``part`` (``"step"`` or ``"evaluate"``) in a fresh process.

  Running out of device memory is a result: ``oom`` True and XLA's first line.
  """
  import jax
  out = {"part": part, "oom": False}
  try:
    out.update(search.step_costs(parts=(part,), repeats=1, report=report, **kwargs))
  except Exception as error:  # noqa: BLE001  (any other error is the item's failure)
    if not is_out_of_memory(error):
      raise
    out.update(oom=True, error=str(error).strip().splitlines()[0][:500])
  stats = jax.devices()[0].memory_stats() or {}
  out["peak_bytes_in_use"] = stats.get("peak_bytes_in_use")
  out["bytes_limit"] = stats.get("bytes_limit")
  return out


def conditionals(*, report=None, config_overrides: dict | None = None, **kwargs) -> dict:
  """The step with and without a ``lax.cond`` per processor type (``skip_dead_types``)."""
  import mixjax
  out = {"default_skip_dead_types": mixjax.SearchConfig().skips_dead_types()}
  # Every type alive (the console fit), then the delay and reverb pruned everywhere (late in
  # a search, where skipping pays on the CPU: 1.86x at 8 x 2, RESULTS.md).
  for dead, state in (((), "all_alive"), (("delay", "reverb"), "delay_reverb_dead")):
    for skip, name in ((True, "skip"), (False, "masks_only")):
      costs = search.step_costs(parts=("step",), count_conditionals=True, dead_types=dead,
                                config_overrides={**(config_overrides or {}),
                                                  "skip_dead_types": skip}, **kwargs)
      out[f"{state}_{name}"] = {k: costs[k]
                                for k in ("step_s", "compile_step_s", "conditionals_in_step")}
      if report:
        report(dict(out))
    out[f"{state}_masks_only_speedup"] = (out[f"{state}_skip"]["step_s"]
                                          / out[f"{state}_masks_only"]["step_s"])
  return out


CHILDREN = {
    "probe": lambda report: probe(),
    "costs": lambda report, **kw: search.step_costs(report=report, **kw),
    "batch": lambda report, batch, **kw: batch_costs(batch, **kw),
    "search": lambda report, **kw: quick_search(**kw),
    "memory": peak_memory,
    "conditionals": conditionals,
}
"""What a child process runs: ``--child '{"kind": ..., keyword arguments...}'``."""


def child_main(spec: dict) -> dict:
  """Runs one measurement; prints partial results as JSON lines, the whole one last."""
  spec = dict(spec)
  kind = spec.pop("kind")
  if spec.pop("cache", False):
    import mixjax
    mixjax.enable_compilation_cache()  # --tiny: the suite's cache ($MIXJAX_CACHE_DIR)

  def report(partial: dict) -> None:
    print(json.dumps(partial), flush=True)

  out = CHILDREN[kind](report=report, **spec)
  if kind != "probe":
    out["peak_device_mb"] = peak_device_mb()
  report(out)
  return out


# --------------------------------------------------------------------------- the run


@dataclasses.dataclass
class Job:
  """One row of the run: a child command, or (``command`` None) a row known without one."""
  item: str
  name: str
  command: list | None = None
  env: dict | None = None
  row: dict = dataclasses.field(default_factory=dict)


class Budget:
  """The seconds left of the run, counted from ``started`` (epoch seconds)."""

  def __init__(self, started: float, seconds: float, item_seconds: float):
    self.started, self.seconds, self.item_seconds = started, seconds, item_seconds

  def left(self) -> float:
    return self.started + self.seconds - time.time()

  def timeout(self) -> float:
    """A child's timeout: what is left (less the JSON's margin), at most ``item_seconds``."""
    return min(self.left() - MARGIN_SECONDS, self.item_seconds)


def execute(command: list, *, timeout: float, env: dict | None = None) -> dict:
  """Runs ``command`` from the repository root for at most ``timeout`` seconds.

  Returns ``status`` (``ok``, ``failed`` or ``cut``), ``seconds``, ``result`` (the last JSON
  object it printed, partial when cut) and, unless ok, ``error`` (its last lines).
  """
  t0 = time.perf_counter()
  try:
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  except OSError as error:
    return {"status": "failed", "seconds": 0.0, "result": None, "error": str(error)}
  try:
    out, err = proc.communicate(timeout=max(timeout, 1.0))
    status = "ok" if proc.returncode == 0 else "failed"
  except subprocess.TimeoutExpired:
    proc.kill()
    try:
      out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # a grandchild holds the pipes open
      out, err = "", ""
    status = "cut"
  row = {"status": status, "seconds": time.perf_counter() - t0,
         "result": timing.last_json(out)}
  if status == "cut":
    row["error"] = f"cut after {timeout:.0f} s (the budget left or --item-seconds)"
  elif status == "failed":
    row["error"] = f"exit code {proc.returncode}: " + "\n".join(
        (err or "").strip().splitlines()[-12:])
  return row


def child_env(extra_pythonpath: bool = True) -> dict:
  """The environment of a child: this one, with the repository first on the import path."""
  env = dict(os.environ)
  paths = [ROOT] + ([os.environ["PYTHONPATH"]] if extra_pythonpath and
                    os.environ.get("PYTHONPATH") else [])
  env["PYTHONPATH"] = os.pathsep.join(paths)
  return env


def child_command(kind: str, **spec) -> list:
  return [sys.executable, "-m", "benchmarks.accelerator", "--child",
          json.dumps({"kind": kind, **spec})]


GRAFX_CHECK = """
import json, platform
from importlib import metadata
import torch, grafx, torchcomp, torchlpc

def version(name):
  try:
    return metadata.version(name)
  except metadata.PackageNotFoundError:  # torchlpc's sources alone (its build failed)
    return None

cuda = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": cuda, "python": platform.python_version(),
                  "device_name": torch.cuda.get_device_name(0) if cuda else None,
                  "grafx": version("GRAFX"), "torchcomp": version("torchcomp"),
                  "torchlpc": version("torchlpc"), "torchlpc_extension": torchlpc.EXTENSION_LOADED}))
"""
"""Run by the GRAFX python: what the GRAFX side needs imports, and torch sees the GPU."""


def wait_for_torchlpc(budget: Budget) -> dict | None:
  """Waits for accelerator.sh's background torchlpc build (``$MIXJAX_ACCEL_TORCHLPC_RC``)."""
  rc_file = os.environ.get("MIXJAX_ACCEL_TORCHLPC_RC")
  if not rc_file:
    return None
  t0 = time.time()
  while not os.path.exists(rc_file) and budget.left() > MARGIN_SECONDS:
    time.sleep(1.0)
  build = {"waited_s": time.time() - t0}
  if not os.path.exists(rc_file):
    return {**build, "rc": None, "error": "still building when the budget ran out"}
  with open(rc_file) as f:
    rc, seconds = (f.read().split() + ["", ""])[:2]
  build.update(rc=int(rc), seconds=float(seconds) if seconds else None)
  log = os.environ.get("MIXJAX_ACCEL_TORCHLPC_LOG")
  if build["rc"] != 0 and log and os.path.exists(log):
    with open(log, errors="replace") as f:
      build["log_tail"] = f.read()[-3000:]
  return build


def grafx_environment(args, budget: Budget) -> dict:
  """Whether the GRAFX side can run here: its python, what it imports, the GPU torch sees."""
  python = grafx_side.find_grafx_python()
  env = {"python": python, "device": args.grafx_device,
         "grafx_prune_dir": os.environ.get("MIXJAX_GRAFX_PRUNE_DIR"),
         "torchlpc_build": wait_for_torchlpc(budget)}
  if python is None:
    return {**env, "available": False,
            "reason": "no GRAFX python (MIXJAX_GRAFX_PYTHON unset; accelerator.sh sets it "
                      "where torch imports)"}
  done = execute([python, "-c", GRAFX_CHECK], timeout=min(budget.timeout(), 120),
                 env=grafx_env(python))
  env["check"] = done["result"]
  if done["status"] != "ok" or not done["result"]:
    return {**env, "available": False,
            "reason": done.get("error") or "the check printed nothing"}
  if args.grafx_device.startswith("cuda") and not done["result"]["cuda"]:
    return {**env, "available": False, "reason": "torch sees no GPU"}
  return {**env, "available": True}


def grafx_env(python: str) -> dict:
  """The GRAFX child's environment: this one; another interpreter gets the repository only
  on its path (packages installed for this python may not load in it)."""
  same = os.path.realpath(python) == os.path.realpath(sys.executable)
  return child_env(extra_pythonpath=same)


def plan(args, result: dict, budget: Budget):
  """The run's jobs, in order of value (a generator: the GRAFX side is checked on reaching it)."""
  tiny = args.tiny
  overrides = TINY_CONFIG if tiny else None
  common = dict(sample_rate=args.sample_rate, config_overrides=overrides, cache=tiny)
  sizes = [_size(s) for s in args.sizes.split(",") if s]
  for item in args.items:
    if item == "costs":
      for t, g in sizes:
        yield Job(item, f"mixjax {t}x{g}", child_command(
            "costs", tracks=t, groups=g, song_seconds=args.eval_song_seconds,
            repeats=args.repeats, **common))
    elif item == "grafx":
      yield from grafx_jobs(args, result, budget, sizes)
    elif item == "batch":
      t, g = _size(args.batch_size)
      for batch in [int(b) for b in args.batch_sizes.split(",") if b]:
        yield Job(item, f"batch {batch} x {t}x{g}", child_command(
            "batch", batch=batch, tracks=t, groups=g, song_seconds=args.batch_song_seconds,
            **common))
    elif item == "search":
      t, g = _size(args.search_size)
      yield Job(item, f"quick search {t}x{g}", child_command(
          "search", tracks=t, groups=g, song_seconds=args.search_song_seconds,
          sample_rate=args.sample_rate,
          config_overrides={**TINY_CONFIG, **TINY_SEARCH} if tiny else None, cache=tiny))
    elif item == "memory":
      t, g = _size(args.memory_size)
      for part in ("step", "evaluate"):
        yield Job(item, f"memory {t}x{g} {part}", child_command(
            "memory", part=part, tracks=t, groups=g, song_seconds=args.memory_song_seconds,
            **common))
    elif item == "conditionals":
      t, g = sizes[0]
      yield Job(item, f"conditionals {t}x{g}", child_command(
          "conditionals", tracks=t, groups=g, song_seconds=args.eval_song_seconds,
          repeats=args.repeats, **common))


def grafx_jobs(args, result: dict, budget: Budget, sizes):
  """GRAFX's step and evaluation per size (``grafx_driver.py``), once its side imports."""
  environment = result["grafx"] = grafx_environment(args, budget)
  python = environment["python"]
  for t, g in sizes:
    for mode, seconds in (("step", args.crop_seconds), ("evaluate", args.eval_song_seconds)):
      name = f"GRAFX {t}x{g} {mode}"
      if not environment["available"]:
        yield Job("grafx", name, row={"status": "not available",
                                      "error": environment["reason"]})
        continue
      driver = dict(tracks=t, groups=g, sample_rate=args.sample_rate, seconds=seconds,
                    repeats=args.repeats, device=args.grafx_device, threads=os.cpu_count())
      if mode == "evaluate":
        driver.update(chunk_seconds=args.crop_seconds, repeats=max(1, args.repeats // 2))
      yield Job("grafx", name, grafx_side.driver_command(python, mode, **driver),
                env=grafx_env(python))


def summarize(result: dict) -> None:
  """``ratios`` (GRAFX's seconds over mixjax's, per size) and ``songs_per_hour`` per batch."""
  ok = {row["name"]: row["result"] for row in result["rows"]
        if row["status"] == "ok" and row.get("result")}
  ratios = {}
  for size in (s for s in result["settings"]["sizes"].split(",") if s):
    ours = ok.get(f"mixjax {size}") or {}
    for part, key in (("step", "step_s"), ("evaluate", "evaluate_s")):
      theirs = ok.get(f"GRAFX {size} {part}") or {}
      if ours.get(key) and theirs.get(key):
        ratios.setdefault(size, {})[part] = theirs[key] / ours[key]
  result["ratios"] = ratios
  result["songs_per_hour"] = {str(r["batch"]): r["projected_songs_per_hour"]
                              for r in ok.values() if "projected_songs_per_hour" in r}


def write(result: dict, out_dir: str) -> str:
  """``accelerator.json`` in ``out_dir``, atomically (a temp file, then a rename)."""
  from mixjax import atomic_files
  path = os.path.join(out_dir, "accelerator.json")
  atomic_files.write_text(path, json.dumps(result, indent=1) + "\n")
  return path


def run(args, jobs=None) -> dict:
  """Every job within the budget; ``accelerator.json`` after each. ``jobs``: the plan's by
  default (tests give their own)."""
  started = float(os.environ.get("MIXJAX_ACCEL_STARTED") or time.time())
  budget = Budget(started, args.budget_seconds, args.item_seconds)
  result = {"benchmark": "accelerator", "status": "running",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "settings": {k: v for k, v in vars(args).items() if k not in ("out", "child")},
            "setup": {"seconds_before_python": time.time() - started,
                      "installed": os.environ.get("MIXJAX_ACCEL_INSTALLED", "").split(),
                      "install_failed": os.environ.get("MIXJAX_ACCEL_INSTALL_FAILED", "").split()},
            "rows": []}
  write(result, args.out)
  if jobs is None:
    device = execute(child_command("probe"), timeout=min(budget.timeout(), 120), env=child_env())
    result["device"] = device["result"] or {"error": device.get("error")}
    if device["status"] != "ok" or not device["result"]:
      result["status"] = "failed: JAX did not start"
      write(result, args.out)
      sys.exit(f"accelerator.py: JAX did not start: {device.get('error')}")
    backend = device["result"]["backend"]
    if backend == "cpu" and not args.allow_cpu:
      result["status"] = "no accelerator"
      write(result, args.out)
      print(f"accelerator.py: JAX runs on the cpu here (jax {device['result']['jax']}, "
            f"{device['result']['device_name']}), not on a GPU: nothing measured; pass "
            f"--allow-cpu (or --tiny) to run on the CPU anyway.", file=sys.stderr)
      sys.exit(NO_CPU_EXIT)
    if args.grafx_device is None:
      args.grafx_device = "cuda" if backend == "gpu" else "cpu"
      result["settings"]["grafx_device"] = args.grafx_device
    jobs = plan(args, result, budget)
  for job in jobs:
    row = {"item": job.item, "name": job.name}
    if job.command is None:
      row.update(job.row)
    elif budget.timeout() < 1.0:
      row.update(status="skipped", error="no time left in the budget")
    else:
      row.update(execute(job.command, timeout=budget.timeout(), env=job.env or child_env()))
    result["rows"].append(row)
    summarize(result)
    result["seconds"] = time.time() - started
    write(result, args.out)
    print(json.dumps(row), flush=True)
  result["status"] = "done"
  write(result, args.out)
  return result


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", default=os.environ.get("OUT", "."),
                      help="folder for accelerator.json (default: $OUT or the current folder)")
  parser.add_argument("--tiny", action="store_true",
                      help="tiny sizes at 8 kHz: a CPU check that everything runs (implies "
                           "--allow-cpu; compiled programs from the persistent cache)")
  parser.add_argument("--allow-cpu", action="store_true",
                      help=f"run where JAX has no GPU (else: exit code {NO_CPU_EXIT} at once)")
  parser.add_argument("--items", default=",".join(ITEMS),
                      help="items to run, in this order (default: %(default)s)")
  for key, value in PAPER.items():
    parser.add_argument("--" + key.replace("_", "-"), type=type(value), default=None,
                        help=f"(default: {value}; with --tiny: {TINY[key]})")
  parser.add_argument("--budget-seconds", type=float, default=None,
                      help="the whole run's seconds, from $MIXJAX_ACCEL_STARTED (set by "
                           "accelerator.sh) or this start (default: 450; with --tiny: 1770)")
  parser.add_argument("--item-seconds", type=float, default=200.0,
                      help="the most one child process may take (default: %(default)s)")
  parser.add_argument("--no-grafx", action="store_true", help="skip the GRAFX side")
  parser.add_argument("--grafx-device", default=None,
                      help="torch device of the GRAFX side (default: cuda where JAX has a "
                           "GPU, else cpu)")
  parser.add_argument("--child", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    return args
  for key, value in (TINY if args.tiny else PAPER).items():
    if getattr(args, key) is None:
      setattr(args, key, value)
  args.allow_cpu = args.allow_cpu or args.tiny
  if args.budget_seconds is None:
    args.budget_seconds = 1770.0 if args.tiny else 450.0
  items = [i for i in args.items.split(",") if i]
  unknown = sorted(set(items) - set(ITEMS))
  if unknown:
    parser.error(f"--items: unknown {', '.join(unknown)}; the items are {', '.join(ITEMS)}")
  args.items = [i for i in items if not (args.no_grafx and i == "grafx")]
  return args


def main(argv=None) -> dict:
  os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # before any child's JAX
  args = parse_args(argv)
  if args.child:
    return child_main(json.loads(args.child))
  os.makedirs(args.out, exist_ok=True)
  result = run(args)
  print(json.dumps({k: result[k] for k in ("status", "seconds", "ratios", "songs_per_hour")
                    if k in result}))
  return result


if __name__ == "__main__":
  main()
