"""Search cost and quality on synthetic songs, side by side with GRAFX where it is available.

For synthetic songs of 4, 8 and 16 tracks (a known ground-truth graph each):
time per search and per phase (console fit, trials, fine-tuning), the losses,
ρ, and ground-truth recovery, for each sampler, and sequential vs batched
trials. Then, at the paper's scale (30 kHz, 3.8 s crops), the cost of one
optimisation step and of one whole-song evaluation in mixjax and (when GRAFX
is importable, see benchmarks/README.md) in GRAFX on the same console, with
the ratio. Prints a table, then one JSON line.

Usage:
  python benchmarks/search.py [--tracks 4,8,16] [--preset reduced] [--samplers hybrid,drywet,brute]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import grafx_side, scoring, timing

PRESETS = {
    # A CPU-sized setting: the paper's loss, crop, samplers and τ; fewer steps and rounds.
    "reduced": dict(console_steps=300, finetune_steps=50, rounds=4, reset_every=100,
                    sparsity_ramp_steps=100, steps_per_dispatch=50),
    "quick": {},
    "paper": None,
}


def _config(preset: str):
  import mixjax
  if preset == "paper":
    return mixjax.SearchConfig()
  if preset == "quick":
    return mixjax.SearchConfig.quick()
  return mixjax.SearchConfig(**PRESETS[preset])


TRIAL_MODES = (
    # (name, trial batch, incremental)
    ("sequential, full renders", 1, False),
    ("batched x4, full renders", 4, False),
    ("sequential, incremental", 1, True),
    ("batched x4, incremental", 4, True),
)
"""How the pruning phase is timed: one trial at a time with a full render (the reference's way)
first, then batching, incremental evaluation, and both."""


def search_rows(args) -> list[dict]:
  import jax
  import mixjax

  rows = []
  base = _config(args.preset)
  for n_tracks in map(int, args.tracks.split(",")):
    n_groups = max(1, n_tracks // 4)
    song, truth = mixjax.synthetic_song(jax.random.key(n_tracks), n_tracks=n_tracks,
                                        n_groups=n_groups, seconds=args.seconds,
                                        sample_rate=args.sample_rate)
    for sampler in args.samplers.split(","):
      config = base.replace(sampler=sampler)
      result = mixjax.search(song, config, seed=0, progress=False)
      row = {
          "tracks": n_tracks, "groups": n_groups, "sampler": sampler,
          "trial_batch": config.trials_per_call(), "incremental": config.incremental_trials,
          **scoring.search_numbers(result),
          "recovery": scoring.recovery(truth.alive_nodes(), result.alive_nodes()),
      }
      rows.append(row)
      _print_search_row(row)
    if not args.skip_trial_modes:
      rows.append(pruning_phase(song, base.replace(sampler=args.samplers.split(",")[0])))
  return rows


def pruning_phase(song, config) -> dict:
  """Seconds of the pruning rounds of one fitted console, for every entry of ``TRIAL_MODES``.

  The console is fitted once; then, for each mode, all ``config.rounds`` pruning rounds run back
  to back from that fit (no fine-tuning in between, so every mode sees the same parameters and
  must take the same decisions). Compilation inside the timed rounds (JAX's compile events) is
  subtracted.
  """
  import copy
  from mixjax.graph_search import fit as fit_lib
  from mixjax.graph_search import batch as batch_lib

  compile_s = timing.count_compile_seconds()
  search = batch_lib.BatchSearch([song], config, [0],
                                fit_lib.default_optimizer(config), False)
  fitted = search.new_run()
  search.fit(fitted, config.console_steps, 0, "console fit")
  out = {"tracks": song.n_tracks, "groups": song.n_groups, "sampler": config.sampler,
         "rounds": config.rounds, "modes": {}}
  for name, batch, incremental in TRIAL_MODES:
    search.config = config.replace(trial_batch=batch, incremental_trials=incremental)
    search.resolved = search.config.resolved()
    run = dict(fitted, flags=copy.deepcopy(fitted["flags"]), l_min=list(fitted["l_min"]),
               trials=[[]], round_losses=[[]])
    compiled_before, t0 = compile_s[0], time.perf_counter()
    for r in range(config.rounds):
      search.prune(run, r)
    wall = time.perf_counter() - t0
    seconds = wall - (compile_s[0] - compiled_before)
    trials = run["trials"][0]
    out["modes"][name] = {"trial_batch": batch, "incremental": incremental, "seconds": seconds,
                          "compile_s": wall - seconds, "trials": len(trials),
                          "alive": int(run["flags"][0].sum()),
                          "decisions": [(t.candidates, t.accepted) for t in trials]}
  reference = out["modes"][TRIAL_MODES[0][0]]
  for mode in out["modes"].values():
    mode["speedup_vs_sequential_full"] = reference["seconds"] / mode["seconds"]
    mode["same_decisions"] = mode["decisions"] == reference["decisions"]
  print(f"   pruning phase, {config.rounds} rounds of {config.sampler} from one fit "
        f"({reference['trials']} trials):", flush=True)
  for name, mode in out["modes"].items():
    print(f"     {name:<26} {mode['seconds']:7.1f} s  {mode['speedup_vs_sequential_full']:5.2f}x"
          f"  same decisions: {mode['same_decisions']}", flush=True)
  for mode in out["modes"].values():
    mode["decisions"] = len(mode["decisions"])
  return {"pruning_phase": out}




_PRINTED = set()


def _print_search_row(row) -> None:
  if "search" not in _PRINTED:
    print(f"{'T x G':>6} {'sampler':>7} {'trials':>12} | {'sum':>6} {'console':>7} {'pruned':>7} {'rho':>5} "
          f"| {'P':>4} {'R':>4} | {'fit s':>6} {'trials s':>8} {'#':>4} {'tune s':>6} {'total s':>7}")
    _PRINTED.add("search")
  s, rec = row["seconds"], row["recovery"]
  mode = f"{'incr' if row['incremental'] else 'full'} x{row['trial_batch']}"  # how trials ran
  print(f"{row['tracks']:>3} x{row['groups']:>2} {row['sampler']:>7} {mode:>12} | "
        f"{row['loss_sum']:6.3f} {row['loss_console']:7.3f} {row['loss_pruned']:7.3f} "
        f"{row['pruning_ratio']:5.2f} | {rec['precision']:4.2f} {rec['recall']:4.2f} | "
        f"{s['console_fit']:6.1f} {s['trials']:8.1f} {row['trials']:4d} {s['finetune']:6.1f} "
        f"{s['total']:7.1f}", flush=True)


def step_costs(tracks: int, groups: int, *, song_seconds: float, repeats: int,
               sample_rate: int = 30000, config_overrides: dict | None = None,
               parts: tuple[str, ...] = ("step", "evaluate"), count_conditionals: bool = False,
               dead_types: tuple[str, ...] = (), report=None) -> dict:
  """mixjax's cost of one optimisation step and one whole-song evaluation (30 kHz by default).

  A song of seeded noise, ``tracks`` over ``groups``, ``song_seconds`` long. Every input is
  put on the device once, before timing; the timed calls run under ``timing.no_uploads``
  (an implicit upload raises). The first call of each program is its compile (``compile_*``).

  Args:
    parts: what to measure, ``"step"`` and/or ``"evaluate"``.
    count_conditionals: also count the ``lax.cond`` of the step's program
      (``conditionals_in_step``: ``stablehlo.case`` ops of its lowering).
    dead_types: processor types pruned on every node (as late in a search: what
      ``skip_dead_types`` skips); default none, the console fit.
    report: called with the result so far after each part (a child process prints it, so
      a run cut short keeps what it measured).
  """
  import jax
  import numpy as np
  import mixjax
  from mixjax.graph_search import evaluate as evaluate_lib
  from mixjax.graph_search import fit as fit_lib

  sr = sample_rate
  config = mixjax.SearchConfig(steps_per_dispatch=1, console_steps=1, finetune_steps=1,
                               **(config_overrides or {}))
  rng = np.random.default_rng(0)
  n = int(song_seconds * sr)
  song = mixjax.Song((0.1 * rng.standard_normal((tracks, 2, n))).astype(np.float32),
                     (0.1 * rng.standard_normal((2, n))).astype(np.float32),
                     [i * groups // tracks for i in range(tracks)], sr)
  console = mixjax.Console.of(song)
  optimizer = fit_lib.default_optimizer(config)
  # A batch of one song, on the device.
  batch = lambda x: jax.device_put(jax.tree.map(lambda a: np.asarray(a)[None], x))
  params = console.init(jax.random.key(0))
  alive = {level: {name: on & (name not in dead_types) for name, on in types.items()}
           for level, types in console.all_alive().items()}
  consoles, alive = batch(console), batch(alive)
  tracks_, mix = batch(song.padded_tracks()), batch(song.mix)
  out = {"tracks": tracks, "groups": groups, "sample_rate": sr, "song_seconds": song_seconds,
         "song_mb": (tracks_.nbytes + mix.nbytes) / 2**20, "backend": jax.default_backend()}

  def measured(name: str, fn, times: int) -> None:
    t0 = time.perf_counter()
    fn()
    out[f"compile_{name}_s"] = time.perf_counter() - t0
    out[f"{name}_s"] = timing.median_seconds(timing.no_uploads(fn), times)
    if report:
      report(dict(out))

  if "step" in parts:
    args = (batch(fit_lib.init_state(params, optimizer)), consoles,
            jax.random.split(jax.random.key(0), 1), tracks_, mix, alive,
            batch(np.int32(n)), fit_lib.sparsity_schedule(config))
    kwargs = dict(settings=fit_lib.step_settings(config, sr), optimizer=optimizer)
    measured("step", lambda: jax.block_until_ready(fit_lib.run_steps(*args, **kwargs)), repeats)
    if count_conditionals:
      lowered = fit_lib.run_steps.lower(*args, **kwargs).as_text()
      out["conditionals_in_step"] = lowered.count("stablehlo.case")

  if "evaluate" in parts:
    starts = evaluate_lib.chunk_starts(n, sample_rate=sr, config=config)
    chunk_len = config.crop_samples(sr)
    pad = lambda x: evaluate_lib.pad_for_chunks(x, starts, chunk_len)
    loss_settings = dict(chunk_len=chunk_len, omit_seconds=config.omit_seconds,
                         fft_sizes=tuple(config.fft_sizes),
                         skip_dead_types=config.skips_dead_types())
    args = (batch(params), consoles, pad(tracks_), pad(mix), jax.tree.map(lambda a: a[:, None], alive),
            jax.device_put(starts.astype(np.int32)), batch(np.int32(len(starts))))
    out["chunks"] = len(starts)
    measured("evaluate",
             lambda: jax.block_until_ready(evaluate_lib.song_loss(*args, **loss_settings)),
             max(1, repeats // 2))
  return out


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--tracks", default="4,8,16", help="track counts (groups = tracks/4) (default: %(default)s)")
  parser.add_argument("--preset", choices=sorted(PRESETS), default="reduced", help="search settings (default: %(default)s)")
  parser.add_argument("--samplers", default="hybrid,drywet,brute", help="samplers to run (default: %(default)s)")
  parser.add_argument("--seconds", type=float, default=12.0, help="synthetic song length (default: %(default)s)")
  parser.add_argument("--sample-rate", type=int, default=16000, help="search sample rate (default: %(default)s)")
  parser.add_argument("--cost-sizes", default="4x1,16x4,32x8", help="tracks x groups for the step/evaluation costs (default: %(default)s)")
  parser.add_argument("--cost-song-seconds", type=float, default=30.0, help="song length of the evaluation cost (default: %(default)s)")
  parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default: %(default)s)")
  parser.add_argument("--skip-search", action="store_true", help="only the step/evaluation costs")
  parser.add_argument("--skip-trial-modes", action="store_true",
                      help="skip the pruning-phase comparison of trial modes")
  parser.add_argument("--no-grafx", action="store_true", help="skip the GRAFX side")
  args = parser.parse_args()

  import jax
  summary = {"benchmark": "search", "preset": args.preset, "sample_rate": args.sample_rate,
             "seconds": args.seconds, "backend": jax.default_backend(),
             "machine": timing.machine()}
  if not args.skip_search:
    summary["searches"] = search_rows(args)

  grafx_python = None if args.no_grafx else grafx_side.find_grafx_python()
  costs = []
  print(f"\n{'T x G':>6} | {'mixjax step':>11} {'eval':>7} | {'GRAFX step':>10} {'eval':>7} | {'ratio step':>10} {'eval':>6}"
        f"   (30 kHz, 3.8 s crop; evaluation of a {args.cost_song_seconds:.0f} s song)")
  for size in filter(None, args.cost_sizes.split(",")):
    t, g = map(int, size.split("x"))
    m = step_costs(t, g, song_seconds=args.cost_song_seconds, repeats=args.repeats)
    row = {"tracks": t, "groups": g, "mixjax": m}
    if grafx_python:
      step = grafx_side.run_grafx("step", tracks=t, groups=g, seconds=3.8, sample_rate=30000,
                                  repeats=args.repeats)
      ev = grafx_side.run_grafx("evaluate", tracks=t, groups=g, seconds=args.cost_song_seconds,
                                sample_rate=30000, repeats=max(1, args.repeats // 2))
      row["grafx"] = {"step_s": step and step.get("step_s"), "evaluate_s": ev and ev.get("evaluate_s")}
      if row["grafx"]["step_s"]:
        row["ratio_step"] = row["grafx"]["step_s"] / m["step_s"]
      if row["grafx"]["evaluate_s"]:
        row["ratio_evaluate"] = row["grafx"]["evaluate_s"] / m["evaluate_s"]
    costs.append(row)
    gx = row.get("grafx") or {}
    fmt = lambda v, w: f"{v:>{w}.3f}" if isinstance(v, (int, float)) else f"{'-':>{w}}"
    print(f"{t:>3} x{g:>2} | {m['step_s']:>10.3f}s {m['evaluate_s']:>6.2f}s | "
          f"{fmt(gx.get('step_s'), 9)}s {fmt(gx.get('evaluate_s'), 6)}s | "
          f"{fmt(row.get('ratio_step'), 9)}x {fmt(row.get('ratio_evaluate'), 5)}x", flush=True)
  summary["costs"] = costs
  print(json.dumps(summary))


if __name__ == "__main__":
  main()
