"""The padded console: bypass, padding, routing, gradients, no recompiles, errors.

All tests share one small console shape (3 tracks, 2 groups, 0.5 s at 8 kHz)
so the jitted render compiles once for the file.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mixjax
from mixjax import console as console_lib
from mixjax.processors import PROCESSORS, REGISTRY

SR = 8000
N = 4000
GROUPS = [0, 0, None]  # the third track has no subgroup: it gets group 1


@pytest.fixture(scope="module")
def console():
  return mixjax.Console.build(GROUPS, sample_rate=SR)


@pytest.fixture(scope="module")
def tracks():
  rng = np.random.default_rng(1)
  return (0.1 * rng.standard_normal((3, 2, N))).astype(np.float32)


@pytest.fixture(scope="module")
def params(console):
  return console.init(jax.random.key(0))


def test_build_resolves_groups(console):
  np.testing.assert_array_equal(console.track_group, [0, 0, 1])
  np.testing.assert_array_equal(console.track_exists, [True, True, True])
  np.testing.assert_array_equal(console.group_exists, [True, True])
  assert (console.max_tracks, console.max_groups, console.sample_rate) == (3, 2, SR)


def test_build_padding_and_gaps():
  c = mixjax.Console.build([2, None, 0], sample_rate=SR, max_tracks=5, max_groups=6)
  np.testing.assert_array_equal(c.track_group, [2, 3, 0, 0, 0])
  np.testing.assert_array_equal(c.track_exists, [True, True, True, False, False])
  np.testing.assert_array_equal(c.group_exists, [True, False, True, True, False, False])


def test_public_names():
  assert mixjax.PROCESSORS == ("eq", "compressor", "noisegate", "imager", "gain_pan", "delay", "reverb")
  for name in mixjax.PROCESSORS:
    module = getattr(mixjax.processors, name)
    for fn in ("init", "apply", "controls", "penalties", "context_samples"):
      assert callable(getattr(module, fn)), (name, fn)


def test_all_bypassed_console_is_the_plain_sum(console, params, tracks):
  mix = console.render(params, tracks, console.none_alive())
  np.testing.assert_allclose(mix, tracks.sum(0), atol=1e-6)


def test_alive_matches_tree_and_defaults(console):
  alive = console.all_alive()
  assert set(alive) == {"track", "group"}
  assert all(set(alive[level]) == set(PROCESSORS) for level in alive)


def reference_mix(console, params, tracks, alive):
  """The console's mix built node by node: each alive processor run alone on one node,
  the dry/wet blend, the group sums and the output sum in float64 NumPy; no masks,
  no vmap, no lax.cond."""
  sr = console.sample_rate

  def chain(level, index, x):
    for name in PROCESSORS:
      if not bool(alive[level][name][index]):
        continue  # bypassed: the signal passes unchanged
      node = jax.tree.map(lambda a: a[index], params.processors[level][name])
      wet = np.asarray(REGISTRY[name].apply(node, jnp.asarray(x, jnp.float32), sample_rate=sr),
                       np.float64)
      w = 1 / (1 + np.exp(-float(params.drywet_logits[level][name][index])))
      x = w * wet + (1 - w) * x
    return x

  track_group = np.asarray(console.track_group)
  group_in = np.zeros((console.max_groups, *tracks.shape[1:]))
  for t in range(len(tracks)):
    group_in[track_group[t]] += chain("track", t, np.asarray(tracks[t], np.float64))
  return sum(chain("group", g, group_in[g]) for g in range(console.max_groups))


def test_render_equals_the_node_by_node_reference(console, params, tracks):
  """Random dry/wet weights, one processor bypassed on a track and one on a group."""
  rng = np.random.default_rng(4)
  params = params.replace(drywet_logits=jax.tree.map(
      lambda l: jnp.asarray(rng.normal(0, 1.5, l.shape), jnp.float32), params.drywet_logits))
  alive = jax.tree.map(np.asarray, console.all_alive())
  alive["track"]["reverb"] = alive["track"]["reverb"].copy()
  alive["track"]["reverb"][1] = False
  alive["group"]["compressor"] = alive["group"]["compressor"].copy()
  alive["group"]["compressor"][0] = False
  expected = reference_mix(console, params, tracks, alive)
  mix = np.asarray(console.render(params, tracks, jax.tree.map(jnp.asarray, alive)))
  scale = np.max(np.abs(expected))
  np.testing.assert_allclose(mix, expected, atol=1e-5 * scale, rtol=0)
  # the bypass matters: the reference with every processor alive is far from this mix
  full = reference_mix(console, params, tracks, jax.tree.map(np.asarray, console.all_alive()))
  assert np.max(np.abs(full - expected)) > 100 * 1e-5 * scale


@pytest.mark.parametrize("name", PROCESSORS)
def test_zero_drywet_is_identity(console, params, tracks, name):
  """Only ``name`` alive, with w = sigmoid(-1e4) = 0 exactly: the plain sum."""
  alive = console.none_alive()
  alive = {level: {n: (console.level_exists()[level] if n == name else v) for n, v in d.items()}
           for level, d in alive.items()}
  logits = jax.tree.map(lambda z: jnp.full_like(z, -1e4), params.drywet_logits)
  mix = console.render(params.replace(drywet_logits=logits), tracks, alive)
  np.testing.assert_allclose(mix, tracks.sum(0), atol=1e-6)


def test_single_alive_processor_changes_the_mix(console, params, tracks):
  alive = console.none_alive()
  alive["track"]["eq"] = alive["track"]["eq"].at[0].set(True)
  eq_params = jax.tree.map(lambda p: p.at[0].set(jnp.linspace(-2, 1, p.shape[-1])),
                           params.processors["track"]["eq"])
  processors = dict(params.processors)
  processors["track"] = {**params.processors["track"], "eq": eq_params}
  p2 = params.replace(processors=processors)
  details = console.render_details(p2, tracks, alive)
  assert np.abs(np.asarray(details.mix) - tracks.sum(0)).max() > 1e-3
  # tracks 1 and 2 are untouched; the group chains are bypassed
  np.testing.assert_allclose(details.track_outputs[1:], tracks[1:], atol=1e-6)
  np.testing.assert_allclose(details.mix, details.group_outputs.sum(0), atol=1e-6)
  np.testing.assert_allclose(details.group_outputs[0], details.track_outputs[:2].sum(0), atol=1e-6)


def test_render_details_reports_penalties(console, params, tracks):
  details = console.render_details(params, tracks)
  assert set(details.penalties) == {"gain_staging", "radii"}
  assert all(np.isfinite(float(v)) and float(v) > 0 for v in details.penalties.values())
  off = console.render_details(params, tracks, console.none_alive())
  assert all(float(v) == 0.0 for v in off.penalties.values())


def test_padded_tracks_and_groups_change_nothing(console, params, tracks):
  padded = mixjax.Console.build(GROUPS, sample_rate=SR, max_tracks=5, max_groups=4)
  big = padded.init(jax.random.key(7))

  def embed(small, large):
    return large.at[:small.shape[0]].set(small)

  big = jax.tree.map(embed, params, big)
  rng = np.random.default_rng(3)
  noisy = np.concatenate([tracks, rng.standard_normal((2, 2, N)).astype(np.float32)])
  mix = padded.render(big, noisy)
  np.testing.assert_allclose(mix, console.render(params, tracks), atol=1e-5)
  details = padded.render_details(big, noisy)
  assert float(jnp.abs(details.track_outputs[3:]).max()) == 0.0
  assert float(jnp.abs(details.group_outputs[2:]).max()) == 0.0


def test_init_is_padding_invariant_and_compiles_once():
  from mixjax.console import _init_node
  key = jax.random.key(3)
  small = mixjax.Console.build(GROUPS, sample_rate=SR).init(key)
  compiled = _init_node._cache_size()
  padded = mixjax.Console.build(GROUPS, sample_rate=SR, max_tracks=5, max_groups=4).init(key)
  # A node's draw does not depend on the padding ...
  jax.tree.map(lambda a, b: np.testing.assert_array_equal(a, b[:a.shape[0]]), small, padded)
  # ... equals the jitted, vmapped draw fold_in(key_of(level, processor), i) (eager
  # op-by-op draws can differ in the last bit) ...
  level_key = jax.random.split(key, 2)[1]  # the group level
  for k, name in zip(jax.random.split(level_key, len(PROCESSORS)), PROCESSORS):
    nodes = jax.vmap(lambda i, k=k: jax.random.fold_in(k, i))(jnp.arange(4))
    jax.tree.map(np.testing.assert_array_equal, padded.processors["group"][name],
                 jax.jit(jax.vmap(REGISTRY[name].init))(nodes))
  # ... and every console size shares one compiled initialiser.
  assert _init_node._cache_size() == compiled
  assert float(jnp.abs(padded.drywet_logits["track"]["eq"]).max()) == 0.0


def test_init_runs_under_vmap_over_keys():
  """One console per key, as ``init`` draws each alone (``vmap`` over keys, and ``jit``)."""
  console = mixjax.Console.build(GROUPS, sample_rate=SR)
  keys = jax.random.split(jax.random.key(5), 3)
  batch = jax.vmap(console.init)(keys)
  for i in (0, 2):
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(lambda leaf, i=i: leaf[i], batch),
                 console.init(keys[i]))
  jax.tree.map(np.testing.assert_array_equal, jax.jit(console.init)(keys[1]),
               console.init(keys[1]))


def _random_params(console, seed, scale):
  params = console.init(jax.random.key(seed))
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed + 100), len(leaves))
  leaves = [p + scale * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)]
  return jax.tree.unflatten(treedef, leaves)


@pytest.mark.parametrize("seed,scale", [(0, 0.0), (1, 0.5), (2, 1.5)])
def test_gradient_is_finite_for_every_parameter(console, tracks, seed, scale):
  params = _random_params(console, seed, scale)
  alive = console.all_alive()
  target = jnp.asarray(np.random.default_rng(seed).standard_normal((2, N)), jnp.float32) * 0.1

  def loss(p):
    mix, penalties = console_lib.render(console, p, jnp.asarray(tracks), alive)
    return jnp.mean((mix - target) ** 2) + penalties["gain_staging"] + penalties["radii"]

  grads = jax.jit(jax.grad(loss))(params)
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    assert np.all(np.isfinite(np.asarray(g))), jax.tree_util.keystr(path)
  # every processor parameter and every dry/wet logit receives a gradient
  for level in ("track", "group"):
    for name in PROCESSORS:
      total = sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads.processors[level][name]))
      assert total > 0, (level, name)
      assert float(jnp.abs(grads.drywet_logits[level][name]).sum()) > 0, (level, name)


def test_masks_routing_and_params_never_recompile(console, params, tracks):
  x = jnp.asarray(tracks)
  console_lib.render_details(console, params, x, console.all_alive())
  before = console_lib.render_details._cache_size()
  alive = console.all_alive()
  alive["group"]["reverb"] = jnp.zeros(2, bool)
  alive["track"]["eq"] = jnp.array([True, False, True])
  rerouted = console.replace(track_group=jnp.array([1, 0, 0], jnp.int32))
  moved = jax.tree.map(lambda p: p + 0.3, params)
  for c, p, a in [(console, params, alive), (rerouted, params, console.all_alive()),
                  (console, moved, console.none_alive()), (rerouted, moved, alive)]:
    jax.block_until_ready(console_lib.render_details(c, p, x, a))
  assert console_lib.render_details._cache_size() == before


def test_rerouting_moves_a_track_between_groups(console, params, tracks):
  rerouted = console.replace(track_group=jnp.array([0, 1, 1], jnp.int32))
  details = rerouted.render_details(params, tracks, rerouted.none_alive())
  np.testing.assert_allclose(details.group_outputs[1], tracks[1:].sum(0), atol=1e-6)


def test_vmap_over_alive_masks(console, params, tracks):
  masks = [console.all_alive(), console.none_alive()]
  batch = jax.tree.map(lambda *m: jnp.stack(m), *masks)
  mixes = jax.vmap(lambda a: console_lib.render(console, params, jnp.asarray(tracks), a)[0])(batch)
  np.testing.assert_allclose(mixes[0], console.render(params, tracks), atol=1e-5)
  np.testing.assert_allclose(mixes[1], tracks.sum(0), atol=1e-6)


# -- bad input ---------------------------------------------------------------


@pytest.mark.parametrize("groups,kwargs,match", [
    ([], {}, "at least one track"),
    ([0, 5], {"max_groups": 3}, "out of range"),
    ([0, -1], {}, "integers >= 0"),
    ([0, 1.5], {}, "integers >= 0"),
    ([0, 0, 0], {"max_tracks": 2}, "console holds max_tracks=2"),
    ([None, None, None], {"max_groups": 2}, "max_groups=2"),
    ([0], {"sample_rate": 4000}, "too low"),
    ([0], {"sample_rate": 44100.0}, "integer"),
])
def test_build_rejects_bad_input(groups, kwargs, match):
  with pytest.raises(ValueError, match=match):
    mixjax.Console.build(groups, **kwargs)


@pytest.mark.parametrize("shape,match", [
    ((3, 2), "shape \\[3, 2, samples\\]"),
    ((2, 2, N), "shape \\[3, 2, samples\\]"),
    ((3, 1, N), "mono"),
    ((3, 3, N), "stereo"),
])
def test_render_rejects_bad_shapes(console, params, shape, match):
  with pytest.raises(ValueError, match=match):
    console.render(params, np.zeros(shape, np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_render_rejects_non_finite_samples(console, params, tracks, bad):
  x = tracks.copy()
  x[1, 0, 10] = bad
  with pytest.raises(ValueError, match="NaN or Inf"):
    console.render(params, x)


def _conds(jaxpr) -> int:
  """Number of ``cond`` equations in a jaxpr, nested ones included."""
  count = 0
  for eqn in jaxpr.eqns:
    count += eqn.primitive.name == "cond"
    for value in eqn.params.values():
      for sub in value if isinstance(value, (list, tuple)) else [value]:
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          count += _conds(inner)
  return count


def test_dead_types_are_skipped_under_vmap(console, params, tracks):
  """A batched predicate turns lax.cond into a select of both branches; ``active`` avoids it."""
  masks = jax.tree.map(lambda *m: jnp.stack(m), console.all_alive(), console.none_alive())
  x = jnp.asarray(tracks)

  def mixes(active):
    render = lambda a: console_lib.render_details(console, params, x, a, active).mix
    return jax.vmap(render)(masks)

  assert _conds(jax.make_jaxpr(lambda: mixes(None))().jaxpr) == 0
  active = console_lib.active_types(masks)
  assert _conds(jax.make_jaxpr(lambda: mixes(active))().jaxpr) == 2 * len(PROCESSORS)
  np.testing.assert_allclose(mixes(active), mixes(None), rtol=1e-5, atol=1e-6)
  # A type dead in every mask is skipped: the output equals the render without it.
  dead = jax.tree.map(lambda m: m.at[:].set(False), masks)
  np.testing.assert_allclose(
      jax.vmap(lambda a: console_lib.render_details(console, params, x, a,
                                                    console_lib.active_types(dead)).mix)(dead),
      jnp.broadcast_to(x.sum(0), (2,) + x.sum(0).shape), atol=1e-6)


def test_render_song_in_blocks_equals_one_render(console, params, monkeypatch):
  """Blocks with the chains' context equal one whole render; with too little context they
  do not (so the context is what makes them equal)."""
  before, after = console_lib.context_samples(SR)
  assert (before, after) == (2 * (1023 + 2 * 4368 + 2 * 15999), 2 * 1023)
  n = before + 3 * SR  # the last blocks start with a full context of real history
  rng = np.random.default_rng(5)
  long_tracks = (0.1 * rng.standard_normal((3, 2, n))).astype(np.float32)
  whole = np.asarray(console.render(params, long_tracks))
  blocks = console.render_song(params, long_tracks, block_seconds=2.0)
  assert blocks.shape == whole.shape and blocks.dtype == np.float32
  # The chain's own float32 noise: two whole renders of different lengths differ by about
  # 5e-4 of the peak here (the gates and compressors amplify FFT rounding in quiet parts).
  tolerance = 1e-3 * np.abs(whole).max()
  np.testing.assert_allclose(blocks, whole, atol=tolerance)
  # a song no longer than one block and its context is one plain render
  window = before + 2 * SR + after
  one_window = long_tracks[..., :window]
  np.testing.assert_array_equal(console.render_song(params, one_window, block_seconds=2.0),
                                console.render(params, one_window))
  monkeypatch.setattr(console_lib, "context_samples", lambda sr: (before // 4, after // 4))
  short = console_lib.render_in_blocks(console, params, long_tracks, console.all_alive(),
                                       block_samples=2 * SR)
  assert np.abs(short - whole).max() > 10 * tolerance


def test_render_song_rejects_a_short_block(console, params, tracks):
  with pytest.raises(ValueError, match="block_seconds must be at least 1"):
    console.render_song(params, tracks, block_seconds=0.5)


def test_prepared_render_equals_render(console, tracks):
  """Rendering with ``prepare``'s spectra (shared by chunks) equals a plain render."""
  params = _random_params(console, 3, 1.0)
  alive = console.all_alive()
  plain = console_lib.render_details(console, params, tracks, alive)
  prepared = console_lib.prepare(console, params, tracks.shape[-1])
  shared = console_lib.render_details(console, params, tracks, alive, None, prepared)
  np.testing.assert_allclose(shared.mix, plain.mix, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(shared.track_outputs, plain.track_outputs, rtol=1e-5, atol=1e-6)


def _kill(alive, level, names=PROCESSORS):
  """A copy of ``alive`` with the ``names`` processors of every ``level`` node dead."""
  alive = jax.tree.map(jnp.asarray, alive)
  alive[level] = {name: (jnp.zeros_like(on) if name in names else on)
                  for name, on in alive[level].items()}
  return alive


def test_both_forms_give_the_same_loss_and_gradients():
  # SearchConfig.skip_dead_types: a lax.cond per type (active flags) or every type on
  # every node, masks choosing (active=None). Padded slots hold noise: they must not leak.
  console = mixjax.Console.build([0, 0], sample_rate=SR, max_tracks=3, max_groups=2)
  params = _random_params(console, 1, 0.5)
  rng = np.random.default_rng(2)
  tracks = jnp.asarray(0.1 * rng.standard_normal((3, 2, N)), jnp.float32)
  target = jnp.asarray(0.1 * rng.standard_normal((2, N)), jnp.float32)

  def loss(p, alive, skip):
    active = console_lib.active_types(alive) if skip else None
    mix, penalties = console_lib.render(console, p, tracks, alive, active)
    return jnp.mean((mix - target) ** 2) + penalties["gain_staging"] + penalties["radii"]

  value_and_grad = jax.jit(jax.value_and_grad(loss), static_argnames="skip")
  every = console.all_alive()
  masks = {
      "every node": every,
      "reverb dead on all nodes, eq on all tracks": _kill(_kill(every, "group", ["reverb"]),
                                                           "track", ["reverb", "eq"]),
      "the group level dead": _kill(every, "group"),
      "nothing alive": console.none_alive(),
  }
  for what, alive in masks.items():
    (skip_loss, skip_grads), (loss_value, grads) = (value_and_grad(params, alive, skip)
                                                    for skip in (True, False))
    # The same arithmetic, fused differently by XLA: equal up to float32 rounding (the
    # losses were bit-equal, the gradients within 3.3e-5 of a leaf's largest: the delay
    # time's, the most ill-conditioned; 1e-6 elsewhere; jax 0.12, CPU).
    np.testing.assert_allclose(float(loss_value), float(skip_loss), rtol=1e-6, err_msg=what)
    for (path, g), g_skip in zip(jax.tree_util.tree_leaves_with_path(grads),
                                 jax.tree.leaves(skip_grads)):
      g, g_skip = np.asarray(g), np.asarray(g_skip)
      assert np.all(np.isfinite(g)), (what, jax.tree_util.keystr(path))
      np.testing.assert_allclose(g, g_skip, rtol=0, atol=1e-4 * np.abs(g_skip).max(),
                                 err_msg=f"{what} {jax.tree_util.keystr(path)}")
  # a dead type gets no gradient in either form
  dead = masks["reverb dead on all nodes, eq on all tracks"]
  _, grads = value_and_grad(params, dead, False)
  assert not any(np.any(np.asarray(g)) for g in jax.tree.leaves(grads.processors["group"]["reverb"]))
