"""The node vocabulary: the four forms of an alive mask convert into each other without loss."""

import jax
import numpy as np
import pytest

import mixjax
from mixjax import nodes
from mixjax.processors import PROCESSORS


@pytest.fixture(scope="module")
def console():
  # 5 tracks (one padded slot), 3 groups of which one skipped (0, 1, 2 used; slot 3 padded).
  return mixjax.Console.build([0, 0, 1, None, 1], sample_rate=8000, max_tracks=6, max_groups=4)


@pytest.fixture(scope="module")
def table(console):
  return nodes.NodeTable.of(console)


def test_node_table_numbers_only_existing_slots(table):
  assert len(table.nodes) == (5 + 3) * len(PROCESSORS)
  assert table.nodes[0] == nodes.Node("track", 0, PROCESSORS[0])
  assert table.of_type("eq").sum() == 8
  np.testing.assert_array_equal(table.of_types(("eq", "reverb")),
                                table.of_type("eq") | table.of_type("reverb"))


def test_flat_flags_round_trip_through_the_pytree(table):
  flags = np.random.default_rng(0).random(len(table.nodes)) < 0.5
  alive = table.to_alive(flags)
  np.testing.assert_array_equal(table.from_alive(alive), flags)
  assert not alive["track"]["eq"][5] and not alive["group"]["reverb"][3]  # padding is False


def test_alive_set_names_the_true_flags(table):
  flags = np.zeros(len(table.nodes), bool)
  flags[[0, 7, len(table.nodes) - 1]] = True
  assert nodes.alive_set(table.to_alive(flags)) == {table.nodes[i] for i in (0, 7, len(table.nodes) - 1)}


def test_alive_set_skips_padded_slots_given_exists(console):
  alive = {level: {name: np.ones(size, bool) for name in PROCESSORS}
           for level, size in console.level_sizes().items()}
  every = nodes.alive_set(alive)
  existing = nodes.alive_set(alive, console.level_exists())
  assert len(every) == (6 + 4) * len(PROCESSORS)
  assert len(existing) == (5 + 3) * len(PROCESSORS)
  assert nodes.Node("track", 2, "eq") in existing and ("track", 2, "eq") in existing  # a tuple


def test_rows_round_trip_and_stack(table):
  rng = np.random.default_rng(1)
  masks = [table.to_alive(rng.random(len(table.nodes)) < 0.5) for _ in range(3)]
  rows = nodes.alive_rows(masks[0])
  assert rows["track"].shape == (6, len(PROCESSORS))
  for level in ("track", "group"):
    back = nodes.level_alive(rows[level])
    for name in PROCESSORS:
      np.testing.assert_array_equal(back[name], masks[0][level][name])
  stacked = nodes.stack(masks)
  np.testing.assert_array_equal(stacked["group"]["delay"], np.stack([m["group"]["delay"] for m in masks]))


def test_values_and_position_follow_the_table_order(table, console):
  params = console.init(jax.random.key(0))
  logits = {level: {name: np.array(v) for name, v in d.items()}
            for level, d in params.drywet_logits.items()}
  logits["group"]["delay"][2] = 7.5
  values = table.values(logits)
  assert values.dtype == np.float32 and values.shape == (len(table.nodes),)
  for i, node in enumerate(table.nodes):
    assert table.position(*node) == i
    assert values[i] == logits[node.level][node.processor][node.index]
  assert values[table.position("group", 2, "delay")] == 7.5
