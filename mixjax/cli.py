"""The ``mixjax`` command line.

  mixjax demo [--out DIR]   a synthetic song with a known graph, a quick search,
                            the audio, and a comparison with the ground truth
"""

from __future__ import annotations

import argparse
import os
import sys

DEMO_HELP = """Runs the whole method on a synthetic song whose mixing graph is known:
generates dry tracks and a sparse ground-truth graph, renders the target mix,
searches for the graph (SearchConfig.quick() by default: a few minutes on a
laptop CPU), writes target.wav, estimate.wav, dry_sum.wav and summary.txt
into --out, and prints the found graph next to the ground truth."""


def _demo(args) -> int:
  import jax
  import numpy as np

  import mixjax
  from mixjax import files
  from mixjax.synthetic import recovery_scores

  print(f"mixjax {mixjax.__version__} on {jax.default_backend()} "
        f"({jax.device_count()} device{'s' if jax.device_count() > 1 else ''})")
  song, truth = mixjax.synthetic_song(
      jax.random.key(args.seed), n_tracks=args.tracks, n_groups=args.groups,
      seconds=args.seconds, sample_rate=args.sample_rate)
  print(f"synthetic song: {song.n_tracks} tracks in {song.n_groups} groups, "
        f"{song.seconds:.1f} s at {song.sample_rate} Hz; ground truth has "
        f"{len(truth.alive_nodes())} processors")
  config = mixjax.SearchConfig.quick() if args.preset == "quick" else mixjax.SearchConfig()
  result = mixjax.search(song, config, seed=args.seed, progress=not args.no_progress)
  scores = recovery_scores(truth.alive_nodes(), result.alive_nodes())

  lines = [result.summary(), "", "ground truth vs found (level index processor: truth/found):"]
  for node in sorted(truth.alive_nodes() | result.alive_nodes()):
    lines.append(f"  {node[0]:5s} {node[1]:2d} {node[2]:10s}  "
                 f"{'yes' if node in truth.alive_nodes() else ' no'}/"
                 f"{'yes' if node in result.alive_nodes() else ' no'}")
  lines.append(f"recovery: precision {scores['precision']:.2f}, recall {scores['recall']:.2f}, "
               f"f1 {scores['f1']:.2f}")
  report = "\n".join(lines)
  print(report)

  os.makedirs(args.out, exist_ok=True)
  estimate = result.render(song)
  files.write_wav(os.path.join(args.out, "target.wav"), song.mix, song.sample_rate)
  files.write_wav(os.path.join(args.out, "estimate.wav"), estimate, song.sample_rate)
  files.write_wav(os.path.join(args.out, "dry_sum.wav"), song.dry_sum(), song.sample_rate)
  files.write_text(os.path.join(args.out, "summary.txt"), report + "\n")
  print(f"wrote target.wav, estimate.wav, dry_sum.wav, summary.txt to {args.out}")
  return 0


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="mixjax", description="Reverse-engineer music mixing graphs (JAX).")
  sub = parser.add_subparsers(dest="command", required=True)
  demo = sub.add_parser("demo", help="search a synthetic song with a known graph",
                        description=DEMO_HELP,
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  demo.add_argument("--out", default="mixjax-demo", help="output folder")
  demo.add_argument("--seed", type=int, default=0, help="random seed (song, graph and search)")
  demo.add_argument("--tracks", type=int, default=4, help="number of dry tracks")
  demo.add_argument("--groups", type=int, default=2, help="number of subgroups")
  demo.add_argument("--seconds", type=float, default=8.0, help="song length")
  demo.add_argument("--sample-rate", type=int, default=16000,
                    help="Hz (the paper uses 30000; lower is faster on a CPU)")
  demo.add_argument("--preset", choices=("quick", "paper"), default="quick",
                    help="search settings: quick (minutes on a CPU) or paper (hours)")
  demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
  demo.set_defaults(run=_demo)
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  try:
    return args.run(args)
  except ValueError as error:
    print(f"mixjax {args.command}: error: {error}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
