"""The reference comparison's plumbing (benchmarks/vs_reference.py, benchmarks/grafx_search.py)
on hand-made inputs: no search, no torch."""

import argparse

from benchmarks import grafx_search, vs_reference


def test_search_config_follows_the_reference_epochs():
  args = argparse.Namespace(epoch_steps=250, console_epochs=8, rounds=4,
                            sparsity_raise_epochs=2, tolerance=0.02, sampler="drywet")
  config = vs_reference.search_config(args)
  assert (config.console_steps, config.finetune_steps, config.rounds) == (2000, 250, 4)
  assert config.reset_every == 250  # the reference re-creates AdamW every epoch
  assert config.sparsity_ramp_steps == 500
  assert (config.tolerance, config.sampler) == (0.02, "drywet")
  assert vs_reference.SAMPLERS["drywet"] == "weight"


def test_console_metadata_puts_each_track_in_its_group():
  meta = grafx_search.console_metadata([1, 0, 1])
  assert meta["matched_dry_dirs"] == [f"/song/track_{t:05d}.wav" for t in range(3)]
  assert list(meta["correspondence"]["matched"].values()) == [
      ["track_00001.wav"], ["track_00000.wav", "track_00002.wav"]]


class _NodeView(dict):
  """``graph.nodes[n]`` and ``graph.nodes(data=True)``, as networkx spells them."""

  def __call__(self, data=False):
    return list(self.items()) if data else list(self)


class _Graph:
  """The calls of networkx's MultiDiGraph that ``tag_origins`` makes. GRAFX's graphs are
  networkx graphs, but networkx belongs to the GRAFX environment, not to mixjax's."""

  def __init__(self):
    self.nodes, self._heads = _NodeView(), {}

  def add_node(self, node, **attrs):
    self.nodes[node] = dict(attrs)

  def add_edge(self, tail, head):
    self._heads.setdefault(tail, []).append(head)

  def successors(self, node):
    return iter(self._heads.get(node, []))


def _console_graph(track_groups, chain=("eq", "compressor", "gain_panning")):
  """in -> chain -> mix -> chain -> out, node ids shuffled against the track order."""
  graph = _Graph()
  ids = iter(range(1000, 0, -1))

  def add_chain(start):
    node = start
    for kind in chain:
      nxt = next(ids)
      graph.add_node(nxt, node_type=kind)
      graph.add_edge(node, nxt)
      node = nxt
    return node

  out = next(ids)
  graph.add_node(out, node_type="out")
  mixes = {}
  for group in sorted(set(track_groups)):
    mixes[group] = next(ids)
    graph.add_node(mixes[group], node_type="mix")
    graph.add_edge(add_chain(mixes[group]), out)
  for track, group in enumerate(track_groups):
    source = next(ids)
    graph.add_node(source, node_type="in", name=f"{track:05d}")
    graph.add_edge(add_chain(source), mixes[group])
  return graph


def test_tag_origins_names_every_processor_by_its_chain():
  graph = _console_graph([1, 0, 1])
  grafx_search.tag_origins(graph, [1, 0, 1])
  origins = sorted(a["origin"] for _, a in graph.nodes(data=True) if "origin" in a)
  expected = sorted((level, i, kind) for level, n in (("track", 3), ("group", 2))
                    for i in range(n) for kind in ("eq", "compressor", "gain_pan"))
  assert origins == expected
  # the first processor after track 0's input is track 0's EQ
  (source,) = [n for n, a in graph.nodes(data=True) if a.get("name") == "00000"]
  (first,) = graph.successors(source)
  assert graph.nodes[first]["origin"] == ("track", 0, "eq")


def test_score_reads_kept_processors_against_the_truth():
  truth = {"target": "console", "groups": ["a", "b"],
           "tracks": [{"group": "b"}, {"group": "b"}, {"group": "a"}],
           "nodes": [{"level": "track", "index": 0, "processor": "eq"},
                     {"level": "group", "index": 1, "processor": "reverb"},
                     {"level": "track", "index": 2, "processor": "imager"}]}
  run = {"alive": [["track", 0, "eq"], ["track", 1, "delay"], ["group", 0, "imager"]]}
  scores = vs_reference.score(run, truth)
  assert scores["kept"] == 3
  assert (scores["precision"], scores["recall"]) == (1 / 3, 1 / 3)
  # group 0 holds track 2 only: its imager stands on track 2's path
  assert (scores["precision_merged"], scores["recall_merged"]) == (2 / 3, 2 / 3)
  assert vs_reference.score(run, None) == {"kept": 3}
