"""The whole search on tiny synthetic songs (8 kHz, a few seconds).

One song shape and one config for most tests, so the fit and the
whole-song loss compile once for the file.
"""

import dataclasses
import types

import jax
import numpy as np
import optax
import pytest

import mixjax
from mixjax.io import results_folder
from mixjax.graph_search import checkpoint
from mixjax.graph_search import batch as batch_lib
from mixjax.graph_search import incremental as incremental_lib
from mixjax.processors import PROCESSORS
from mixjax.processors import gain_pan

SR = 8000


@pytest.fixture(scope="module")
def song(tiny_song):
  return tiny_song


@pytest.fixture(scope="module")
def result(song, tiny):
  return mixjax.search(song, tiny, seed=0, progress=False)


def test_result_fields(result, song, tiny):
  assert np.isfinite([result.loss_sum, result.loss_console, result.loss_pruned]).all()
  assert 0 <= result.pruning_ratio <= 1
  assert set(result.pruning_ratio_per_type) == set(PROCESSORS)
  assert len(result.history["loss"]) == tiny.console_steps + tiny.rounds * tiny.finetune_steps
  np.testing.assert_array_equal(result.history["step"], np.arange(len(result.history["loss"])))
  assert set(result.seconds) == {"console_fit", "trials", "finetune", "total"}
  assert result.device == "cpu:0" and result.resolved == {"trial_batch": 1, "skip_dead_types": True}
  assert len(result.round_losses) == tiny.rounds
  graph = result.graph()
  assert len(graph["tracks"]) == song.n_tracks and len(graph["groups"]) == song.n_groups
  kept = sum(len(e["processors"]) for level in graph.values() for e in level)
  assert kept == len(result.alive_nodes())
  for level in graph.values():
    for entry in level:
      for proc in entry["processors"]:
        assert 0 < proc["drywet"] < 1 and proc["controls"]
  assert "pruning ratio" in result.summary()
  assert result.render(song).shape == song.mix.shape


def test_nothing_recompiles_during_a_search(result, song, tiny):
  assert all(n <= 1 for n in result.compilations.values()), result.compilations
  # Step counts, rounds, sampler and tolerance are not static: no new programs.
  again = mixjax.search(song, tiny.replace(rounds=1, console_steps=40, sampler="brute",
                                           tolerance=0.05), seed=1, progress=False)
  assert set(again.compilations) >= {"fit", "song_loss", "trial_loss"}
  assert not any(again.compilations.values()), again.compilations
  same = mixjax.search(song, tiny, seed=5, progress=False)
  assert not any(same.compilations.values()), same.compilations


def test_every_accepted_trial_obeys_the_tolerance(result, tiny):
  assert result.trials
  for t in result.trials:
    assert t.accepted == (t.loss <= t.l_min + tiny.tolerance)
  running = float("inf")
  by_round = {}
  for t in result.trials:
    by_round.setdefault(t.round, []).append(t)
  for r, start in enumerate(result.round_losses, start=1):
    running = min(running, start)
    for t in by_round.get(r, []):
      assert t.l_min == pytest.approx(running, abs=0)
      running = min(running, t.loss)


def test_a_seed_reproduces_a_run_exactly(result, song, tiny):
  again = mixjax.search(song, tiny, seed=0, progress=False)
  assert again.trials == result.trials
  assert again.loss_pruned == result.loss_pruned
  for a, b in zip(jax.tree.leaves(again.params), jax.tree.leaves(result.params)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("trial_batch,incremental,cached_chunks",
                         [(1, False, None), (4, True, None), (1, True, 1)])
def test_batched_and_sequential_trials_take_the_same_decisions(result, song, trial_batch,
                                                               incremental, cached_chunks, tiny,
                                                               monkeypatch):
  # `result` evaluates one trial at a time incrementally (the CPU default); the others render
  # the whole console per trial, or evaluate speculative batches of 4 incrementally, or one at
  # a time with a cache of the first of the song's 2 chunks (the other rendered per call).
  assert result.config.trials_per_call() == 1 and result.resolved == {"trial_batch": 1, "skip_dead_types": True}
  if cached_chunks:
    monkeypatch.setattr(incremental_lib, "cached_chunks", lambda n_chunks, **_: cached_chunks)
  other = mixjax.search(song, tiny.replace(trial_batch=trial_batch,
                                           incremental_trials=incremental),
                        seed=0, progress=False)
  assert other.resolved == {"trial_batch": trial_batch, "skip_dead_types": True}
  assert [(t.candidates, t.accepted) for t in other.trials] == \
         [(t.candidates, t.accepted) for t in result.trials]
  np.testing.assert_allclose([t.loss for t in other.trials],
                             [t.loss for t in result.trials], rtol=1e-5)
  assert other.alive_nodes() == result.alive_nodes()


@pytest.mark.slow
def test_a_search_without_conditionals_runs_through(result, song, tiny):
  # skip_dead_types=False (the GPU and TPU default: no lax.cond, the masks choose) against
  # `result` (the CPU default, True): the same first loss (the same forward), each program
  # compiled once. The two searches then part, as any rounding change makes them: AdamW's
  # first update is about ±lr per parameter whatever the gradient's size, so gradients
  # equal up to rounding still move the trajectory (benchmarks/RESULTS.md, issue 21).
  assert result.config.skips_dead_types()
  other = mixjax.search(song, tiny.replace(skip_dead_types=False), seed=0, progress=False)
  assert other.history["loss"][0] == pytest.approx(result.history["loss"][0], rel=1e-6)
  assert np.isfinite([other.loss_sum, other.loss_console, other.loss_pruned]).all()
  assert all(n <= 1 for n in other.compilations.values()), other.compilations
  assert other.compilations["fit"] == 1  # its own program, not the default's


def test_resume_after_an_interruption_gives_the_same_result(song, tmp_path, monkeypatch, tiny):
  full = mixjax.search(song, tiny, seed=2, progress=False, checkpoint_dir=str(tmp_path / "a"))
  # Interrupt a second run right after round 1 was checkpointed.
  calls = {"n": 0}
  original = checkpoint.save

  def save_then_die(directory, progress, stamp):
    original(directory, progress, stamp)
    calls["n"] += 1
    if calls["n"] == 2:  # console fit, round 1
      raise KeyboardInterrupt

  monkeypatch.setattr(checkpoint, "save", save_then_die)
  # The interrupted run's clock runs 1000 s per reading: its time must reach the total.
  clock = iter(range(0, 10**9, 1000))
  monkeypatch.setattr(batch_lib, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
  with pytest.raises(KeyboardInterrupt):
    mixjax.search(song, tiny, seed=2, progress=False, checkpoint_dir=str(tmp_path / "b"))
  monkeypatch.undo()
  # Resumed where the defaults would resolve as on a GPU: the checkpoint's CPU values are kept.
  monkeypatch.setattr(mixjax.SearchConfig, "resolved", lambda self, backend=None: {
      "trial_batch": 4, "skip_dead_types": False})
  resumed = mixjax.search(song, tiny, seed=2, progress=False, checkpoint_dir=str(tmp_path / "b"),
                          resume=True)
  assert full.resolved == resumed.resolved == {"trial_batch": 1, "skip_dead_types": True}
  assert resumed.trials == full.trials
  assert resumed.seconds["total"] > 1000 > full.seconds["total"]  # the interrupted run counts
  assert resumed.seconds["total"] >= sum(v for k, v in resumed.seconds.items() if k != "total")
  assert resumed.loss_pruned == full.loss_pruned
  np.testing.assert_array_equal(resumed.history["loss"], full.history["loss"])
  for a, b in zip(jax.tree.leaves(resumed.params), jax.tree.leaves(full.params)):
    np.testing.assert_array_equal(a, b)


def test_resume_refuses_another_runs_checkpoint(song, tmp_path, tiny):
  mixjax.search(song, tiny.replace(rounds=0), seed=0, progress=False,
                checkpoint_dir=str(tmp_path))
  with pytest.raises(ValueError, match="another run"):
    mixjax.search(song, tiny.replace(rounds=0), seed=1, progress=False,
                  checkpoint_dir=str(tmp_path), resume=True)
  # An explicit trial batch is another run, even the one the checkpoint resolved (1 here).
  with pytest.raises(ValueError, match="another run") as error:
    mixjax.search(song, tiny.replace(rounds=0, trial_batch=1), seed=0, progress=False,
                  checkpoint_dir=str(tmp_path), resume=True)
  assert "\n" not in str(error.value)


X64_SCRIPT = r"""
import json, jax, mixjax
mixjax.enable_compilation_cache()
assert jax.config.jax_enable_x64
with jax.enable_x64(False):  # the song as the test process makes it
  song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=8000)
config = mixjax.SearchConfig.quick(console_steps=60, finetune_steps=20, rounds=2,
                                   crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)
result = mixjax.search(song, config, seed=0, progress=False)
print("RESULT " + json.dumps({
    "losses": [result.loss_sum, result.loss_console, result.loss_pruned],
    "trials": [float(t.loss) for t in result.trials],
    "dtypes": sorted({str(x.dtype) for x in jax.tree.leaves(result.params)})}))
"""


def test_a_search_under_x64_runs_its_float32_programs(result, tiny):
  import json, os, subprocess, sys
  assert tiny == mixjax.SearchConfig.quick(console_steps=60, finetune_steps=20, rounds=2,
                                           crop_seconds=1.5, omit_seconds=0.5,
                                           eval_hop_seconds=1.0)
  done = subprocess.run([sys.executable, "-c", X64_SCRIPT], capture_output=True, text=True,
                        env=dict(os.environ, JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu"),
                        timeout=900)
  assert done.returncode == 0, done.stderr[-3000:]
  out = json.loads([l for l in done.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])
  assert out["dtypes"] == ["float32"]
  assert out["losses"] == [result.loss_sum, result.loss_console, result.loss_pruned]
  assert out["trials"] == [float(t.loss) for t in result.trials]


def test_no_steps_at_all(song, tiny):
  """console_steps=0 and rounds=0: the initial console, measured; nothing to index."""
  result = mixjax.search(song, tiny.replace(console_steps=0, rounds=0), seed=0, progress=False)
  assert result.history["loss"].shape == (0,) and result.history["step"].shape == (0,)
  assert np.isfinite(result.loss_console) and result.loss_pruned == result.loss_console
  assert result.pruning_ratio == 0 and result.trials == []


def test_any_subset_of_processors_searches_and_reports(song, tmp_path, tiny):
  config = tiny.replace(processors=("gain_pan", "eq"))
  result = mixjax.search(song, config, seed=0, progress=False)
  assert set(result.pruning_ratio_per_type) == {"eq", "gain_pan"}
  assert set(t for _, _, t in result.alive_nodes()) <= {"eq", "gain_pan"}
  results_folder.write_results(result, song, str(tmp_path))
  text = (tmp_path / "report.md").read_text()
  kept = sum(result.processor_counts().values())
  assert f"{kept} of {2 * (song.n_tracks + song.n_groups)} processors kept (the console holds " \
         f"eq, gain_pan only)." in text
  pruning = text[text.index("## Pruning"):text.index("## The graph")]
  assert "| eq |" in pruning and "| gain_pan |" in pruning and "| reverb |" not in pruning
  assert "| processors | eq, gain_pan |" in text


def test_crop_too_short_for_the_loss_is_refused(song, tiny):
  with pytest.raises(ValueError, match=r"leaves 800 samples at 8000 Hz to score, but the "
                     r"loss's largest FFT \(4096\) needs at least 2049"):
    mixjax.search(song, tiny.replace(crop_seconds=0.2, omit_seconds=0.1, eval_hop_seconds=0.1),
                  progress=False)


def test_resume_refuses_a_checkpoint_of_another_optimizer(song, tmp_path, tiny):
  mixjax.search(song, tiny.replace(rounds=0), seed=0, progress=False,
                checkpoint_dir=str(tmp_path))
  with pytest.raises(ValueError, match="another run"):  # refused before anything is fitted
    mixjax.search(song, tiny.replace(rounds=0), seed=0, progress=False,
                  optimizer=optax.adamw(tiny.learning_rate / 10, weight_decay=0.0),
                  checkpoint_dir=str(tmp_path), resume=True)
  # The same (default) optimizer resumes: nothing is left to do.
  again = mixjax.search(song, tiny.replace(rounds=0), seed=0, progress=False,
                        checkpoint_dir=str(tmp_path), resume=True)
  assert again.history["loss"].shape == (tiny.console_steps,)


def test_song_shorter_than_a_crop_is_refused(song, tiny):
  with pytest.raises(ValueError, match="shorter than one training crop"):
    mixjax.search(song.crop(0, SR), tiny, progress=False)


def test_config_rejects_bad_settings():
  with pytest.raises(ValueError, match="sampler"):
    mixjax.SearchConfig(sampler="random")
  with pytest.raises(ValueError, match="omit_seconds"):
    mixjax.SearchConfig(omit_seconds=4.0)
  with pytest.raises(ValueError, match="trial_batch"):
    mixjax.SearchConfig(trial_batch=0)
  assert dataclasses.asdict(mixjax.SearchConfig())["tolerance"] == 0.01


def test_paper_defaults():
  c = mixjax.SearchConfig()
  assert (c.console_steps, c.finetune_steps, c.rounds, c.sampler, c.tolerance) == (6000, 500, 12, "hybrid", 0.01)
  assert (c.learning_rate, c.reset_every, c.crop_seconds, c.omit_seconds, c.eval_hop_seconds) == (1e-2, 500, 3.8, 1.0, 2.8)
  assert (c.gain_staging_weight, c.radii_weight, c.sparsity_weight, c.sparsity_ramp_steps) == (1e-3, 0.5, 1e-4, 2000)
  assert c.fft_sizes == (512, 1024, 4096)


def _gain_pan_only_song():
  """3 tracks in 2 groups whose true graph is gain/pan on every track, nothing else."""
  from mixjax import synthetic
  tracks, names = synthetic.synthetic_tracks(jax.random.key(11), n_tracks=3, seconds=2.0,
                                             sample_rate=SR)
  console = mixjax.Console.build([0, 0, 1], sample_rate=SR)
  params = console.init(jax.random.key(1))
  gains = [(-6.0, 3.0), (4.0, -5.0), (-3.0, -9.0)]
  log_gain = np.stack([gain_pan.params_from_settings(
      {"left_gain_db": l, "right_gain_db": r}, sample_rate=SR)["log_gain"] for l, r in gains])
  processors = {**params.processors, "track": {**params.processors["track"],
                                               "gain_pan": {"log_gain": log_gain}}}
  logits = {**params.drywet_logits, "track": {**params.drywet_logits["track"],
                                              "gain_pan": np.full(3, 10.0, np.float32)}}
  alive = console.none_alive()
  alive["track"]["gain_pan"] = console.track_exists
  truth = params.replace(processors=processors, drywet_logits=logits)
  mix = np.asarray(console.render(truth, tracks, alive))
  return mixjax.Song(tracks, mix, [0, 0, 1], SR, track_names=list(names))


def _others_pruned(result):
  kept = [n for n in result.alive_nodes() if n[2] != "gain_pan"]
  total = (3 + 2) * (len(PROCESSORS) - 1)
  return 1 - len(kept) / total


def test_fitting_lowers_the_loss_far_below_the_plain_sum(tiny):
  song = _gain_pan_only_song()
  result = mixjax.search(song, tiny.replace(console_steps=600, rounds=0), seed=0, progress=False)
  assert result.loss_console < result.loss_sum / 2, (result.loss_console, result.loss_sum)
  fit = result.history["loss"]
  assert fit[-50:].mean() < fit[:20].mean() / 5


@pytest.mark.slow
def test_a_longer_fit_prunes_more_on_a_gain_pan_only_song(tiny):
  """2000 steps: the fit gets within 0.012 of the mix and pruning removes about 40 % of the
  other processors (measured 0.43). Not "most": the delays stay, fitted as gain stages
  (a tap near 0 ms), an equivalent graph that the loss cannot tell from the truth."""
  song = _gain_pan_only_song()
  config = tiny.replace(console_steps=2000, finetune_steps=200, rounds=2, sampler="brute")
  result = mixjax.search(song, config, seed=0, progress=False)
  assert result.loss_console < result.loss_sum / 20
  assert result.loss_pruned <= min(result.round_losses) + config.tolerance
  assert _others_pruned(result) >= 0.35
