"""Incremental trial evaluation equals rendering the whole console."""

import jax
import numpy as np
import pytest

import mixjax
from mixjax import nodes
from mixjax.graph_search import evaluate, incremental, prune
from mixjax.processors import PROCESSORS

SR = 8000
CHUNK, HOP, OMIT = 12000, 8000, 0.5  # 1.5 s chunks every 1 s, as tests/graph_search/test_search.py
FFT_SIZES = (512, 1024, 4096)


@pytest.fixture(scope="module")
def layout():
  return incremental.Layout.of(mixjax.Console.build([0, 1, 0], sample_rate=SR))


def _rows(layout, drop=()):
  """All existing nodes alive except ``drop``: ``(level, index, processor)`` triples."""
  rows = {"track": np.repeat(layout.track_exists[:, None], len(PROCESSORS), 1),
          "group": np.repeat(layout.group_exists[:, None], len(PROCESSORS), 1)}
  for level, i, name in drop:
    rows[level][i, PROCESSORS.index(name)] = False
  return rows


def test_a_track_node_needs_one_track_and_one_group_chain(layout):
  base = _rows(layout)
  plan, answered = incremental.make_plan(base, [_rows(layout, [("track", 2, "eq")])], layout,
                                         track_jobs=2, group_jobs=2, batch=2)
  assert answered == 1
  assert plan.track_node[0] == 2 and not plan.track_alive[0, 0] and plan.track_alive[0, 1:].all()
  assert plan.group_node[0] == 0
  # Group 0 sums cached track 0 and job 0 (the new track 2); the mix takes cached group 1.
  np.testing.assert_array_equal(plan.group_inputs[0], [1, 0, 0, 1, 0])
  np.testing.assert_array_equal(plan.mix_inputs[0], [0, 1, 1, 0])
  np.testing.assert_array_equal(plan.track_source[0], [0, 1, 3])


def test_nested_candidates_share_jobs_and_a_group_node_needs_no_track_chain(layout):
  base = _rows(layout)
  a = [("group", 1, "reverb")]
  b = a + [("track", 1, "delay")]
  assert incremental.job_counts(base, [base, _rows(layout, a)], layout) == (0, 1)
  # b changes track 1 and group 1 again: one track job; group 1's second version is a new job.
  assert incremental.job_counts(base, [_rows(layout, a), _rows(layout, b)], layout) == (1, 2)


def test_the_plan_answers_the_longest_prefix_that_fits(layout):
  base = _rows(layout)
  cands = [_rows(layout, [("track", 0, "eq")]),
           _rows(layout, [("track", 0, "eq"), ("track", 1, "eq")]),
           _rows(layout, [("track", 0, "eq"), ("track", 1, "eq"), ("track", 2, "eq")])]
  _, answered = incremental.make_plan(base, cands, layout, track_jobs=2, group_jobs=4, batch=3)
  assert answered == 2
  _, answered = incremental.make_plan(base, cands[2:], layout, track_jobs=2, group_jobs=4,
                                      batch=3)
  assert answered == 0


@pytest.fixture(scope="module")
def setup():
  song, _ = mixjax.synthetic_song(jax.random.key(3), n_tracks=3, n_groups=2, seconds=2.0,
                                  sample_rate=SR)
  console = mixjax.Console.of(song)
  params = console.init(jax.random.key(0))
  # Make every processor act: half-wet logits are the default; perturb the parameters.
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(1), len(leaves))
  params = jax.tree.unflatten(tree, [x + 0.3 * jax.random.normal(k, x.shape)
                                     for x, k in zip(leaves, keys)])
  starts = np.arange(0, song.n_samples, HOP, dtype=np.int32)
  n = int(starts[-1]) + CHUNK
  pad = lambda x: np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])
  stack = lambda tree: jax.tree.map(lambda x: np.asarray(x)[None], tree)
  arrays = {"console": stack(console), "tracks": pad(song.padded_tracks(3))[None],
            "mix": pad(song.mix)[None], "n_chunks": np.array([len(starts)], np.int32)}
  return console, stack(params), arrays, starts, nodes.NodeTable.of(console)


def _full_losses(setup, masks):
  console, params, arrays, starts, table = setup
  alive = jax.tree.map(lambda x: x[None], nodes.stack([table.to_alive(m) for m in masks]))
  return np.asarray(evaluate.song_loss(
      params, arrays["console"], arrays["tracks"], arrays["mix"], alive, starts,
      arrays["n_chunks"], chunk_len=CHUNK, omit_seconds=OMIT, fft_sizes=FFT_SIZES))[0]


def _nested_removals(rng, flags, count=3):
  """``count`` masks, each one more node off than the last, like the speculative trials of a
  round."""
  masks, m = [], flags
  for node in rng.choice(np.flatnonzero(flags), count, replace=False):
    m = m.copy()
    m[node] = False
    masks.append(m)
  return masks


# False: the trial programs without conditionals, against full renders with them.
@pytest.mark.parametrize("skip_dead_types", [True, False])
def test_round_evaluator_equals_full_renders_across_rebases(setup, skip_dead_types):
  console, params, arrays, starts, table = setup
  rng = np.random.default_rng(0)
  flags = np.ones(len(table.nodes), bool)
  evaluator = incremental.RoundEvaluator(
      params, arrays, [console], [table], [flags], starts=starts, put=jax.device_put,
      chunk_len=CHUNK, omit_seconds=OMIT, fft_sizes=FFT_SIZES, batch=3,
      skip_dead_types=skip_dead_types)
  answered_total = 0
  for _ in range(5):
    masks = _nested_removals(rng, flags)
    (losses,) = evaluator([masks])
    assert 1 <= len(losses) <= 3
    answered_total += len(losses)
    np.testing.assert_allclose(losses, _full_losses(setup, masks[:len(losses)]), rtol=2e-5)
    flags = masks[len(losses) - 1]  # the next request builds on the last answered mask
  assert answered_total > 5  # most requests were answered in part or whole, not one by one


def test_a_candidate_far_from_the_base_gets_a_fresh_cache(setup):
  console, params, arrays, starts, table = setup
  flags = np.ones(len(table.nodes), bool)
  evaluator = incremental.RoundEvaluator(
      params, arrays, [console], [table], [flags], starts=starts, put=jax.device_put,
      chunk_len=CHUNK, omit_seconds=OMIT, fft_sizes=FFT_SIZES, batch=1)
  far = flags.copy()
  far[table.of_type("eq")] = False  # every track and group changes: 5 jobs > 1 slot
  (losses,) = evaluator([[far]])
  np.testing.assert_allclose(losses, _full_losses(setup, [far]), rtol=2e-5)


def test_the_cache_holds_the_chunks_that_fit_its_budget():
  kwargs = dict(n_songs=2, n_outputs=24, chunk_len=114000)  # 21.9 MB a chunk
  assert incremental.cached_chunks(86, cache_bytes=incremental.CACHE_BYTES, **kwargs) == 12
  assert incremental.cached_chunks(86, cache_bytes=None, **kwargs) == 86
  assert incremental.cached_chunks(5, cache_bytes=10**12, **kwargs) == 5
  assert incremental.cached_chunks(5, cache_bytes=1, **kwargs) == 1  # at least one


def test_a_bounded_cache_gives_the_losses_of_the_full_cache(setup):
  console, params, arrays, starts, table = setup
  assert len(starts) == 2
  flags = np.ones(len(table.nodes), bool)
  kwargs = dict(starts=starts, put=jax.device_put, chunk_len=CHUNK, omit_seconds=OMIT,
                fft_sizes=FFT_SIZES, batch=3)
  full, bounded = (incremental.RoundEvaluator(params, arrays, [console], [table], [flags],
                                              cache_bytes=budget, **kwargs)
                   for budget in (None, 1))
  rng = np.random.default_rng(1)
  far = flags.copy()
  far[table.of_type("eq")] = False  # 5 jobs > 3 slots: a fresh cache
  for step in range(5):
    masks = [far] if step == 3 else _nested_removals(rng, flags)
    (want,), (got,) = full([masks]), bounded([masks])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    flags = masks[len(got) - 1]
    # Only the first chunk is cached (and gathered by rebase); the second is rendered afresh.
    assert bounded.cache[0].shape[1] == 1 and full.cache[0].shape[1] == 2
    assert all(jobs.shape[1] == 1 for jobs in bounded.last[1])


# Shapes no other test compiles: a 1-chunk song; a 2-chunk song with 1 chunk cached, B = 1.
@pytest.mark.parametrize("cache_bytes,n_chunks,batch", [(incremental.CACHE_BYTES, 1, 2), (1, 2, 1)])
def test_compile_compiles_the_programs_the_round_runs(setup, cache_bytes, n_chunks, batch):
  console, params, arrays, starts, table = setup
  starts = starts[:n_chunks]
  arrays = dict(arrays, n_chunks=np.array([len(starts)], np.int32))
  flags = np.ones(len(table.nodes), bool)
  kwargs = dict(starts=starts, put=jax.device_put, chunk_len=CHUNK, omit_seconds=OMIT,
                fft_sizes=FFT_SIZES, batch=batch, cache_bytes=cache_bytes)
  incremental.RoundEvaluator(params, arrays, [console], [table], [flags], **kwargs).compile()
  compiled, rebases = [], incremental.rebase._cache_size()

  def listen(event, seconds, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
      compiled.append(kw.get("fun_name", ""))

  jax.monitoring.register_event_duration_secs_listener(listen)
  try:
    evaluator = incremental.RoundEvaluator(params, arrays, [console], [table], [flags], **kwargs)
    track_node = {n.index: i for i, n in reversed(list(enumerate(table.nodes)))
                  if n.level == "track"}
    one = flags.copy()
    one[track_node[0]] = False
    two = one.copy()
    two[track_node[1]] = False
    evaluator([[one]])
    evaluator([[two]])  # cheapest from `one` (one track job, not two): the base moves, a rebase
  finally:
    jax.monitoring.unregister_event_duration_listener(listen)
  assert not [name for name in compiled
              if any(f in name for f in ("cache_render", "trial_loss", "rebase"))], compiled
  assert incremental.rebase._cache_size() == rebases + 1  # it ran, on the new shapes
