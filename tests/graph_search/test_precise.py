"""The precise search method's mechanics (``graph_search.precise``), on tiny songs.

The song shape and step settings are those of ``test_search.py`` (3 tracks,
2 groups, 2 s at 8 kHz), so the trial programs are shared with it.
"""

import jax
import numpy as np
import pytest

import mixjax
from mixjax import nodes
from mixjax import console as console_lib
from mixjax.graph_search import fit as fit_lib
from mixjax.graph_search import precise
from mixjax.graph_search import prune as prune_lib
from mixjax.processors import PROCESSORS

SR = 8000


@pytest.fixture(scope="module")
def song(tiny_song):
  return tiny_song


@pytest.fixture(scope="module")
def result(song, tiny):
  return mixjax.search(song, tiny.replace(method="precise"), seed=0, progress=False)


# -- settings -----------------------------------------------------------------


def test_method_is_validated_in_one_clear_line():
  with pytest.raises(ValueError) as info:
    mixjax.SearchConfig(method="fast")
  message = str(info.value)
  assert "\n" not in message and "method" in message and "paper" in message and "precise" in message
  assert mixjax.SearchConfig().method == "paper"
  assert mixjax.SearchConfig.paper(method="precise").method == "precise"
  assert mixjax.SearchConfig.quick(method="precise").method == "precise"
  assert mixjax.SearchConfig.paper() == mixjax.SearchConfig()


def test_the_paper_method_is_unchanged_by_the_cost_hook(song):
  """``costs=None`` is the paper's plain sum; unit costs give the same numbers."""
  console = console_lib.Console.of(song)
  params = console.init(jax.random.key(0))
  params = params.replace(drywet_logits=jax.tree.map(
      lambda z: z + jax.random.normal(jax.random.key(1), z.shape), params.drywet_logits))
  alive = console.all_alive()
  ones = jax.tree.map(lambda z: np.ones(z.shape, np.float32), params.drywet_logits)
  plain = fit_lib.sparsity_sum(console, params, alive)
  assert float(fit_lib.sparsity_sum(console, params, alive, ones)) == float(plain)
  twice = jax.tree.map(lambda c: 2 * c, ones)
  np.testing.assert_allclose(float(fit_lib.sparsity_sum(console, params, alive, twice)),
                             2 * float(plain), rtol=1e-6)


# -- costs ----------------------------------------------------------------------


def test_costs_prefer_the_simpler_explanation():
  sizes = {"track": 3, "group": 2}
  costs = precise.type_cost_tree(sizes, one_track_groups={1: 2})
  assert costs["track"]["gain_pan"][0] < costs["track"]["eq"][0] < costs["track"]["delay"][0]
  # a one-track subgroup's processor costs more than the same on its track
  assert costs["group"]["eq"][1] > costs["track"]["eq"][2] == costs["group"]["eq"][0]
  # adaptive lasso: a nearly dry processor is pushed harder than a wet one
  prior = np.ones(3, np.float32)
  weights = precise.reweight(prior, np.array([-3.0, 0.0, 3.0]))
  assert weights[0] > weights[1] > weights[2] and weights[1] == pytest.approx(1.0)
  assert precise.one_track_groups([0, 1, 1, 2]) == {0: 0, 2: 3}


# -- canonical placement ---------------------------------------------------------


def _chain(*alive):
  return {name: name in alive for name in PROCESSORS}


def test_canonical_moves_follow_the_commutation_rules():
  # nothing in between: anything moves
  assert precise.canonical_moves(_chain(), _chain("compressor", "eq")) == ["eq", "compressor"]
  # an EQ jumps over LTI processors, not over a compressor
  assert precise.canonical_moves(_chain("reverb"), _chain("eq")) == ["eq"]
  assert precise.canonical_moves(_chain("compressor"), _chain("eq")) == []
  # the track's slot is taken: the processor stays
  assert precise.canonical_moves(_chain("eq"), _chain("eq")) == []
  # the imager (M/S) does not commute with gain/pan; gain/pan does with a delay (per channel)
  assert precise.canonical_moves(_chain("gain_pan"), _chain("imager")) == []
  assert precise.canonical_moves(_chain("delay"), _chain("gain_pan")) == ["gain_pan"]
  # a compressor on the group moves only when nothing alive lies between the slots
  assert precise.canonical_moves(_chain("reverb"), _chain("compressor")) == []


@pytest.mark.parametrize("track_types,group_types", [
    ((), ("eq", "compressor", "gain_pan")),
    (("eq", "reverb"), ("eq", "delay")),
    (("delay",), ("gain_pan", "reverb")),
])
def test_equivalent_placements_resolve_to_one_canonical_form(track_types, group_types):
  """A one-track subgroup's processors move to the track: the same mix, the canonical graph."""
  song, _ = mixjax.synthetic_song(jax.random.key(5), n_tracks=3, n_groups=2, seconds=1.0,
                                  sample_rate=SR)
  groups = [0, 1, 1]  # group 0 holds track 0 alone
  console = console_lib.Console.build(groups, sample_rate=SR)
  params = console.init(jax.random.key(7))
  params = params.replace(drywet_logits=jax.tree.map(lambda z: z + 1.0, params.drywet_logits))
  table = nodes.NodeTable.of(console)
  alive = console.none_alive()
  alive = jax.tree.map(np.array, alive)
  for name in track_types:
    alive["track"][name][0] = True
  for name in group_types:
    alive["group"][name][0] = True
  alive["track"]["eq"][1] = True  # a two-track subgroup is left alone
  alive["group"]["gain_pan"][1] = True
  flags = table.from_alive(alive)
  host = jax.tree.map(lambda x: np.array(x)[None], jax.device_get(params))
  moved_params, moved_flags, moved = precise.canonicalize(host, flags, table, groups)
  moved_params = jax.tree.map(lambda x: x[0], moved_params)
  expected = precise.canonical_moves(_chain(*track_types), _chain(*group_types))
  assert [m[2] for m in moved] == expected and expected
  assert all(m[:2] == (0, 0) for m in moved)
  after = table.to_alive(moved_flags)
  for name in expected:
    assert after["track"][name][0] and not after["group"][name][0]
  assert after["group"]["gain_pan"][1] and after["track"]["eq"][1]
  before_mix = np.asarray(console.render(params, song.tracks, alive))
  after_mix = np.asarray(console.render(moved_params, song.tracks, after))
  peak = np.abs(before_mix).max()
  # Equal up to float32 FFT rounding (the long delay and reverb convolutions), except where
  # a zero-phase EQ's look-ahead meets the song's end (its half length): there the renders
  # cut the tails at different points.
  edge = 1024
  np.testing.assert_allclose(after_mix[:, :-edge], before_mix[:, :-edge], atol=3e-4 * peak)
  np.testing.assert_allclose(after_mix, before_mix, atol=1e-3 * peak)
  # canonical forms are fixed points
  again_params, again_flags, again = precise.canonicalize(
      jax.tree.map(lambda x: np.array(x)[None], moved_params), moved_flags, table, groups)
  assert again == [] and (again_flags == moved_flags).all()


# -- the search -------------------------------------------------------------------


def test_a_precise_search_runs_and_compiles_once(result, song, tiny):
  assert result.config.method == "precise"
  assert np.isfinite([result.loss_sum, result.loss_console, result.loss_pruned]).all()
  assert all(n <= 1 for n in result.compilations.values()), result.compilations
  assert set(result.method_log) == {"returned", "moved"}
  # the precise sparsity term acts during the console fit (the paper's starts with pruning)
  console_phase = result.history["phase"] == 0
  assert np.any(result.history["sparsity"][console_phase] > 0)
  # another seed, other step counts: no new programs
  again = mixjax.search(song, tiny.replace(method="precise", rounds=1, console_steps=40),
                        seed=1, progress=False)
  assert not any(again.compilations.values()), again.compilations


def test_a_precise_search_is_reproducible(result, song, tiny):
  again = mixjax.search(song, tiny.replace(method="precise"), seed=0, progress=False)
  assert again.alive_nodes() == result.alive_nodes()
  assert again.loss_pruned == result.loss_pruned


def test_paper_searches_stay_the_same_beside_the_precise_method(song, tiny):
  """The paper's method: no sparsity before pruning, the same graph for a seed."""
  first = mixjax.search(song, tiny, seed=0, progress=False)
  assert not np.any(first.history["sparsity"][first.history["phase"] == 0] > 0)
  assert first.method_log == {}
  again = mixjax.search(song, tiny.replace(method="paper"), seed=0, progress=False)
  assert again.alive_nodes() == first.alive_nodes() and again.loss_pruned == first.loss_pruned


def test_a_removed_processor_can_return(song, monkeypatch, tiny):
  """After a round, a removed processor whose return lowers the loss by more than τ comes back."""
  config = tiny.replace(method="precise", rounds=1, console_steps=50, finetune_steps=10)
  search = precise.PreciseSearch([song], config, [0], fit_lib.default_optimizer(config), False)
  run = search.new_run()
  table = search.tables[0]
  # Remove two processors by hand, as a round would, and make one of them the clear winner.
  removed = [i for i, n in enumerate(table.nodes) if n.processor == "gain_pan"][:2]
  run["flags"][0][removed] = False
  run["l_min"][0] = 10.0
  base_loss, good_loss = 1.0, 0.5

  def fake_evaluate_all(params, flags, requests):
    out = []
    for masks in requests:
      losses = []
      for m in masks:
        back = [i for i in removed if m[i]]
        losses.append(good_loss if back == [removed[1]] else base_loss + 0.001 * len(back))
      out.append(np.array(losses))
    return out

  monkeypatch.setattr(search, "evaluate_all", fake_evaluate_all)
  search.after_round(run, 0)
  assert run["flags"][0][removed[1]] and not run["flags"][0][removed[0]]
  assert run["l_min"][0] == good_loss
  assert run["returned"][0] == [(1, tuple(table.nodes[removed[1]]), base_loss, good_loss)]
  # A return that gains less than τ does not happen.
  run["flags"][0][removed] = False
  good_loss = base_loss - 0.5 * config.tolerance
  run["returned"] = [[]]
  search.after_round(run, 0)
  assert not run["flags"][0][removed].any() and run["returned"][0] == []


def test_the_return_step_evaluates_returns_exactly(song, tiny):
  """The real evaluator: a processor's return costs what a full render with it says."""
  config = tiny.replace(method="precise", rounds=1, console_steps=50, finetune_steps=10)
  search = precise.PreciseSearch([song], config, [0], fit_lib.default_optimizer(config), False)
  run = search.new_run()
  flags = run["flags"][0].copy()
  flags[[0, 3]] = False
  with_back = flags.copy()
  with_back[3] = True
  params = run["state"].params
  losses = search.evaluate_all(params, [flags], [[flags, with_back]])[0]
  full = [search.evaluate(params, [[m]])[0][0] for m in (flags, with_back)]
  np.testing.assert_allclose(losses, full, rtol=1e-4)


# -- the command line ---------------------------------------------------------------


@pytest.mark.parametrize("command", [["search", "x", "--out", "y"], ["collect", "x", "--out", "y"],
                                     ["demo"]])
def test_the_method_option(command, capsys):
  from mixjax import cli
  parser = cli.build_parser()
  assert cli._config_from_args(parser.parse_args(command)).method == "paper"
  args = parser.parse_args(command + ["--method", "precise"])
  assert cli._config_from_args(args).method == "precise"
  with pytest.raises(SystemExit) as info:
    parser.parse_args(command + ["--method", "fast"])
  assert info.value.code == 2
  err = capsys.readouterr().err
  assert "argument --method: invalid choice: 'fast'" in err


def test_seeds_batched_equal_seeds_alone(result, song, tiny):
  """Several seeds of one song searched at once (vmap) start as each seed's search alone.

  On one device a batch of two is vectorised differently from one song, so
  the first steps agree to float rounding and Adam then amplifies the last
  bits (as in ``search_batch``'s docstring); sharded over devices each song
  runs alone and the whole search agrees (``test_batch.py``, paper method).
  """
  config = tiny.replace(method="precise")
  batch = mixjax.search_batch([song, song], config, seeds=[0, 1], progress=False)
  alone = mixjax.search(song, config, seed=1, progress=False)
  for got, want in ((batch[0], result), (batch[1], alone)):
    # Steps 0 and 1 agree; from step 2 on a batch of two drifts by ~1e-4 (measured), as Adam
    # turns rounding into full-size steps.
    np.testing.assert_allclose(got.history["loss"][:2], want.history["loss"][:2], rtol=1e-5)
    np.testing.assert_allclose(got.loss_sum, want.loss_sum, rtol=1e-5)
