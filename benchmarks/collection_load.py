"""How long reading a large collection takes: ``load_collection`` and ``mixjax stats``.

Writes a ``collect`` output folder of ``--songs`` generated songs into a temporary folder:
a few template graphs (``--templates``, 2 to 8 tracks in 1 to 4 subgroups, random
parameters, a random 30 % of the console kept) written by ``graph_json`` as a search writes
them (settings, effective entries and raw parameters), copied under every song's name, and
an ``index.jsonl`` whose every 50th song failed. Then times ``load_collection``,
``Collection.nodes``, ``Collection.to_arrays``, ``collection_stats`` (the numbers) and
``write_stats`` (stats.md, stats.json and the pictures), each once (wall and process CPU
seconds), after a plain ``json.load`` of every graph.json (the floor any reader pays).
Prints a table, and one JSON object as its last line.

Usage:
  python benchmarks/collection_load.py [--songs 1000] [--templates 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import sys
import time
import types

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing


def template_graph(seed: int, sample_rate: int) -> dict:
  """A graph.json dict as ``graph_json.graph_to_json`` writes it, of random settings."""
  import jax
  import numpy as np

  from mixjax import console as console_lib
  from mixjax.io import graph_json
  from mixjax.processors import PROCESSORS

  rng = np.random.default_rng(seed)
  n_tracks = int(rng.integers(2, 9))
  n_groups = int(rng.integers(1, min(n_tracks, 4) + 1))
  track_groups = [i % n_groups for i in range(n_tracks)]
  console = console_lib.Console.build(track_groups, sample_rate=sample_rate)
  params = jax.tree.map(lambda x: np.asarray(x) + rng.normal(0, 0.5, np.shape(x)).astype(np.float32),
                        console.init(jax.random.key(seed)))
  sizes = console.level_sizes()
  alive = {level: {p: rng.random(size) < 0.3 for p in PROCESSORS} for level, size in sizes.items()}
  pruned = {p: 1 - np.mean(np.concatenate([alive[level][p] for level in sizes])) for p in PROCESSORS}
  result = types.SimpleNamespace(
      sample_rate=sample_rate, params=params, alive=alive,
      track_names=[f"track {i}" for i in range(n_tracks)],
      group_names=[f"group {g}" for g in range(n_groups)], track_groups=track_groups,
      loss_sum=float(rng.uniform(1, 3)), loss_console=float(rng.uniform(0.3, 0.6)),
      loss_pruned=float(rng.uniform(0.3, 0.7)),
      pruning_ratio=float(np.mean(list(pruned.values()))), pruning_ratio_per_type=pruned,
      seconds={"total": 1.0}, device="cpu:0", resolved={"trial_batch": 1, "skip_dead_types": True})
  return graph_json.graph_to_json(result)


def write_collection(folder: str, songs: int, templates: int, sample_rate: int = 30000) -> int:
  """The collection's files; returns the bytes of its graph.json files."""
  from mixjax import collect
  from mixjax.io import graph_json

  texts = [graph_json.dumps(template_graph(seed, sample_rate)) for seed in range(templates)]
  index, total = [], 0
  for i in range(songs):
    name = f"song{i:05d}"
    record = {"name": name, "path": f"../dataset/{name}", "status": "done"}
    if i % 50 == 49:
      record.update(status="error", error="ValueError: the mix is silent")
    else:
      os.makedirs(os.path.join(folder, name))
      with open(os.path.join(folder, name, "graph.json"), "w", encoding="utf-8") as f:
        f.write(texts[i % templates])
      total += len(texts[i % templates])
    index.append(json.dumps(record) + "\n")
  with open(os.path.join(folder, collect.INDEX), "w", encoding="utf-8") as f:
    f.writelines(index)
  return total


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--songs", type=int, default=1000)
  parser.add_argument("--templates", type=int, default=8)
  args = parser.parse_args()

  from mixjax import collection as collection_lib
  from mixjax.io import collection_plots, collection_stats

  root = tempfile.mkdtemp(prefix="mixjax-collection-")
  try:
    folder = os.path.join(root, "graphs")
    os.makedirs(folder)
    graph_bytes = write_collection(folder, args.songs, args.templates)
    loaded, times = {}, {}

    def measure(step, fn):
      cpu = time.process_time()
      wall = timing.seconds(fn)
      times[step] = (wall, time.process_time() - cpu)

    measure("json.load of every graph.json (the floor)", lambda: [
        json.load(open(os.path.join(folder, name, "graph.json"), encoding="utf-8"))
        for name in sorted(os.listdir(folder)) if os.path.isdir(os.path.join(folder, name))])
    measure("load_collection", lambda: loaded.update(c=collection_lib.load_collection(folder)))
    collection = loaded["c"]
    measure("nodes", collection.nodes)
    measure("to_arrays", collection.to_arrays)
    measure("collection_stats", lambda: collection_stats.collection_stats(collection))
    measure("write_stats", lambda: collection_plots.write_stats(collection,
                                                                os.path.join(root, "stats")))
  finally:
    shutil.rmtree(root, ignore_errors=True)

  print(f"{args.songs} songs ({len(collection)} finished, {len(collection.failed)} failed), "
        f"{graph_bytes / 2**20:.0f} MiB of graph.json, on {timing.machine()} "
        f"(load average {os.getloadavg()[0]:.1f})")
  print("| step | seconds | CPU seconds | ms per song |")
  print("|---|---|---|---|")
  for step, (wall, cpu) in times.items():
    print(f"| {step} | {wall:.2f} | {cpu:.2f} | {1000 * wall / args.songs:.2f} |")
  print(json.dumps({"songs": args.songs, "finished": len(collection),
                    "graph_mib": round(graph_bytes / 2**20, 1),
                    "seconds": {k: round(w, 3) for k, (w, _) in times.items()},
                    "cpu_seconds": {k: round(c, 3) for k, (_, c) in times.items()},
                    "load_average": os.getloadavg()[0], "machine": timing.machine()}))


if __name__ == "__main__":
  main()
