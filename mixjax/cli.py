"""The ``mixjax`` command line.

  mixjax search SONG --out DIR   search a song folder for its mixing graph
  mixjax render GRAPH SONG --out FILE.wav
                                 render a saved graph.json on a song's tracks
  mixjax demo [--out DIR]        a synthetic song with a known graph, a quick
                                 search, and a comparison with the ground truth
  mixjax collect DATASET --out DIR
                                 search every song of a data set, in batches
  mixjax stats COLLECTION --out DIR
                                 the paper's statistics of a collected data set

Every problem with the input is reported as one line on stderr with exit
code 2, before anything is written. Compiled programs are cached on disk
(``mixjax.enable_compilation_cache``; ``MIXJAX_CACHE_DIR=off`` disables it).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import glob
import os
import shlex
import sys
import warnings

from mixjax._version import __version__

PRESETS = ("paper", "quick")

SEARCH_HELP = """Searches a song for its mixing graph: fits a full mixing console to the
song's mix, prunes it to a sparse graph, and writes the results into --out:
graph.json, graph.png, graph.svg, processors.png, estimate.wav, console.wav, spectrogram.png,
losses.csv and report.md (see 'Reading the results' in the README).

SONG is a folder in one of two layouts:
  plain     tracks/ (one audio file per dry track), mix.wav (any audio
            extension) and optionally groups.yaml or groups.json mapping
            subgroup names to track files (unlisted tracks: a group each)
  MedleyDB  <Song>_METADATA.yaml, <Song>_MIX.wav, <Song>_RAW/ (its stems
            become the subgroups)
Every file is made stereo and resampled to --sample-rate.

The search checkpoints into DIR/checkpoint after the console fit and after
every pruning round; if it is interrupted, run the same command with --resume
(Ctrl-C prints it). One search at a time writes into DIR: another one is
refused while it runs."""

RENDER_HELP = """Renders a saved graph (the graph.json of a search) on a song's dry tracks
and writes the stereo result as a 32-bit float WAV. The song folder is read
as for 'mixjax search', at the graph's sample rate; its tracks must be the
graph's (matched by name). An existing FILE is replaced."""

DEMO_HELP = """Runs the whole method on a synthetic song whose mixing graph is known:
generates dry tracks and a sparse ground-truth graph, renders the target mix,
searches for the graph (the quick preset by default: a few minutes on a
laptop CPU), writes the results folder (as 'mixjax search' does, plus
target.wav and dry_sum.wav) into --out, and prints the found graph next to
the ground truth."""


COLLECT_HELP = """Searches every song of a data set for its mixing graph, many songs at once:
finds every song folder under DATASET_DIR (plain or MedleyDB layout, as for
'mixjax search'), groups the songs into shape buckets (track and group counts
up the ladder 1, 2, 3, 4, 6, 8, 12, 16, ..., length up to a multiple of
--bucket-seconds), and searches each bucket in batches of --batch-size songs
(sharing compiled programs), the songs of a batch side by side, one per local
device (each TPU core, each GPU). A song's result depends on the song, --seed,
--sample-rate and the search settings only, never on the batch size, the
device or the host count (--songs-per-call above 1 changes its rounding).
Writes one results folder per song (the files of 'mixjax search'),
index.jsonl (one line per song: name, status, losses, pruning ratio, seconds,
device) and summary.md into --out.

Run the same command again to resume: songs finished with the same settings
are skipped and an interrupted batch continues from its checkpoint. A song
that cannot be read or searched is recorded in index.jsonl with its error;
the others go on.

Several hosts: run the same command on every host with --distributed; each
host takes its own slice of the songs."""


STATS_HELP = """Reads every finished song of COLLECTION (the --out folder of 'mixjax collect')
and writes into --out: stats.md and stats.json (rho overall and per processor type
in the paper's Table 3 columns g s e r c n d, next to the paper's 1129 songs; the
console and pruned losses; processors per song before and after pruning; per
instrument label, or per track name where the songs have none, how often each
type survives; the distributions of the kept settings, as report.md describes
them) and pictures of them (pruning.png, survival.png, settings.png).

Songs that failed in the search, or whose results cannot be read, are listed
and left out; the command fails only when no song can be read."""


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are one line (and exit code 2)."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@functools.cache
def _presets() -> dict:
  """``{"paper": SearchConfig.paper(), "quick": SearchConfig.quick()}``: where every
  search option's default comes from (imported on first use: it loads JAX)."""
  from mixjax.graph_search import SearchConfig
  return {"paper": SearchConfig.paper(), "quick": SearchConfig.quick()}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
  """Keeps the descriptions' line breaks; wraps option help; fills in the presets' settings.

  An option's help names a preset's setting as ``{paper.tolerance}``; it is read
  from ``SearchConfig`` only when help is shown, so that parsing a command line
  (and ``mixjax --help``) does not wait for JAX.
  """

  def _get_help_string(self, action):
    text = super()._get_help_string(action)
    return text.format(**_presets()) if text and "{" in text else text


def _count(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
  if value < 0:
    raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
  return value


def _finite_float(text: str, *, allow_zero: bool) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
  if not (value >= 0 if allow_zero else value > 0) or value == float("inf"):
    raise argparse.ArgumentTypeError(
        f"must be {'0 or more' if allow_zero else 'a positive number'}, got {text}")
  return value


def _positive_float(text: str) -> float:
  return _finite_float(text, allow_zero=False)


def _non_negative_float(text: str) -> float:
  return _finite_float(text, allow_zero=True)


def _sample_rate(text: str) -> int:
  value = _count(text)
  if value < 8000:
    raise argparse.ArgumentTypeError(f"must be at least 8000 Hz, got {value}")
  return value


def _add_search_options(parser, *, preset: str) -> None:
  """The options shared by ``search`` and ``demo``."""
  group = parser.add_argument_group("search settings")
  group.add_argument(
      "--preset", choices=PRESETS, default=preset,
      help="starting settings: 'paper' (the paper's: {paper.console_steps} console steps, "
           "{paper.rounds} rounds of {paper.finetune_steps} fine-tune steps; hours on a CPU, "
           "best on a GPU) or 'quick' ({quick.console_steps} steps, {quick.rounds} rounds of "
           "{quick.finetune_steps}; minutes on a CPU). The options below override it. "
           f"Default: {preset}.")
  group.add_argument(
      "--steps", type=_count, metavar="N",
      help="optimisation steps of the full console before pruning; 0 only with --rounds 0 "
           "(the initial console, unfitted) (default: the preset's, paper "
           "{paper.console_steps}, quick {quick.console_steps})")
  group.add_argument(
      "--finetune-steps", type=_count, metavar="N",
      help="optimisation steps after each pruning round (default: the preset's, paper "
           "{paper.finetune_steps}, quick {quick.finetune_steps})")
  group.add_argument(
      "--rounds", type=_count, metavar="N",
      help="pruning rounds; 0 fits the console only (default: the preset's, paper "
           "{paper.rounds}, quick {quick.rounds})")
  group.add_argument(
      "--sampler", choices=("hybrid", "drywet", "brute"),
      help="how pruning picks candidates: 'drywet' tries removing growing fractions of the "
           "processors with the smallest dry/wet weight, type by type (fast); 'brute' tries "
           "every processor alone (thorough, one trial each); 'hybrid' is drywet with brute "
           "force every {paper.brute_every}th round (default: {paper.sampler}, the paper's)")
  group.add_argument(
      "--method", choices=("paper", "precise"),
      help="'paper' (the paper's pruning, as its reference code runs it) or 'precise' "
           "(sparsity during the console fit with per-type costs, removed processors may "
           "return, one-track subgroups' processors moved to their track: sparser graphs, "
           "lower recall; see benchmarks/RESULTS.md) (default: {paper.method})")
  group.add_argument(
      "--tolerance", type=_non_negative_float, metavar="T",
      help="τ: a processor is pruned if the loss without it is at most the lowest loss so "
           "far + T (default: {paper.tolerance}, the paper's)")
  group.add_argument(
      "--crop-seconds", type=_positive_float, metavar="S",
      help="length of the training crops and of the whole-song loss chunks; the song must "
           "be at least this long. Shorter crops let you search short clips, with less "
           "context per step (default: {paper.crop_seconds}, the paper's)")
  group.add_argument(
      "--warmup-seconds", type=_positive_float, metavar="S",
      help="start of every crop that is rendered but left out of the loss, so reverbs and "
           "delays can build up; must be shorter than --crop-seconds. Loss chunks hop by "
           "crop minus warm-up (default: {paper.omit_seconds}, the paper's)")
  group.add_argument("--seed", type=_count, default=0, metavar="S",
                     help="random seed: the same seed gives the same result (default: 0)")
  group.add_argument("--no-progress", action="store_true",
                     help="hide the progress bars (default: shown)")


def _config_from_args(args):
  """The ``SearchConfig`` that the options describe: the preset's, with each option given.

  Loss chunks always hop by crop minus warm-up.

  Raises:
    ValueError: for settings that do not fit together, such as pruning an
      unfitted console (``--steps 0`` with pruning rounds).
  """
  base = _presets()[args.preset]
  crop = base.crop_seconds if args.crop_seconds is None else args.crop_seconds
  warmup = base.omit_seconds if args.warmup_seconds is None else args.warmup_seconds
  if not warmup < crop:
    raise ValueError(
        f"--warmup-seconds ({warmup:g}) must be shorter than --crop-seconds ({crop:g}).")
  changes = {"crop_seconds": crop, "omit_seconds": warmup,
             "eval_hop_seconds": round(crop - warmup, 9)}
  for option, field in (("steps", "console_steps"), ("finetune_steps", "finetune_steps"),
                        ("rounds", "rounds"), ("sampler", "sampler"), ("method", "method"),
                        ("tolerance", "tolerance")):
    if getattr(args, option) is not None:
      changes[field] = getattr(args, option)
  config = base.replace(**changes)
  if config.console_steps == 0 and config.rounds:
    raise ValueError(
        f"--steps 0 leaves the console unfitted, and pruning it ({config.rounds} "
        f"round{'s' if config.rounds > 1 else ''}"
        f"{f', from --preset {args.preset}' if args.rounds is None else ''}) would remove "
        f"processors by their initial settings: give --steps N above 0, or --rounds 0 to "
        f"write the initial console on purpose.")
  return config


def _say_if_unfitted(config) -> None:
  """Prints a note before a search that fits nothing (``--steps 0 --rounds 0``)."""
  if not (config.console_steps or config.rounds):
    print("note: --steps 0 --rounds 0: the console is not fitted; the results are its initial "
          "parameters, not a search")


def _check_settings(song, config, what: str) -> None:
  """Every check of the settings against the song that the search would make later."""
  from mixjax.graph_search import run
  run.check_song_length(song, config, name=what,
                        fix="a shorter --crop-seconds (and --warmup-seconds)")
  run.check_loss_window(config, song.sample_rate,
                        fix="a longer --crop-seconds or a shorter --warmup-seconds")


def _load_song(path: str, *, sample_rate: int, command: str, tracks_only: bool = False):
  """``load_song`` (or ``load_tracks``) with its warnings printed as one-line notes.

  Returns:
    ``(song, notes)``: the notes as printed, for report.md.
  """
  from mixjax.io import song_folder
  load = song_folder.load_tracks if tracks_only else song_folder.load_song
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", song_folder.LoadWarning)
    song = load(path, sample_rate=sample_rate)
  notes = []
  for warning in caught:
    if issubclass(warning.category, song_folder.LoadWarning):
      notes.append(str(warning.message))
      print(f"mixjax {command}: note: {warning.message}", file=sys.stderr)
    else:
      warnings.showwarning(warning.message, warning.category, warning.filename,
                           warning.lineno)
  return song, notes


def _check_not_a_data_set(path: str) -> None:
  """Refuses a folder of song folders (up to two levels down) given as one song."""
  from mixjax.io import song_folder
  if not os.path.isdir(path) or song_folder.is_song_folder(path):
    return
  songs = sorted(p for pattern in ("*", "*/*") for p in glob.glob(os.path.join(path, pattern))
                 if song_folder.is_song_folder(p))
  if songs:
    raise ValueError(
        f"{path} is not a song folder but holds {len(songs)} (e.g. {songs[0]}): search every "
        f"song with 'mixjax collect {path} --out DIR', or give one song's folder.")


def _settings(args, config) -> dict:
  import dataclasses
  return {"seed": args.seed, **{k: (list(v) if isinstance(v, tuple) else v)
                                for k, v in dataclasses.asdict(config).items()}}


def _search(args) -> int:
  from mixjax.graph_search import checkpoint as checkpoint_lib
  from mixjax.io import folder_lock
  from mixjax.io import report_text
  from mixjax.io import results_folder
  from mixjax.io import song_folder

  config = _config_from_args(args)
  _check_not_a_data_set(args.song)
  found = song_folder.find_song_files(args.song)
  song, notes = _load_song(args.song, sample_rate=args.sample_rate, command="search")
  _check_settings(song, config, args.song)
  folder_lock.check_free(args.out)
  fingerprint = results_folder.files_fingerprint(found.mix, song.track_names)
  label = os.path.basename(os.path.normpath(os.path.abspath(args.song)))
  checkpoint_dir = os.path.join(args.out, results_folder.CHECKPOINT_DIR)
  foreign = results_folder.check_output_dir(args.out, fingerprint=fingerprint,
                                            overwrite=args.overwrite)
  if not foreign:
    results_folder.check_checkpoint(checkpoint_dir, song, config, args.seed,
                                    resume=args.resume, overwrite=args.overwrite)
  # -- the input is valid: from here on, files are written ------------------
  with folder_lock.hold(args.out):
    results_folder.prepare_output(args.out, fingerprint=fingerprint, overwrite=args.overwrite)
    import mixjax
    mixjax.enable_compilation_cache()
    settings = _settings(args, config)
    results_folder.write_marker(args.out, fingerprint=fingerprint, song=label,
                                track_names=song.track_names, status="searching",
                                settings=settings)
    print(f"mixjax {__version__} on {results_folder.default_device()}: {label}, "
          f"{song.n_tracks} tracks in {song.n_groups} groups, {song.seconds:.1f} s at "
          f"{song.sample_rate} Hz ({found.layout} layout)")
    _say_if_unfitted(config)
    if args.resume:
      if os.path.exists(os.path.join(checkpoint_dir, checkpoint_lib.FILENAME)):
        print(f"resuming from {checkpoint_dir}")
      else:
        print(f"no checkpoint in {checkpoint_dir}; starting from the beginning")
    result = mixjax.search(song, config, seed=args.seed, progress=not args.no_progress,
                           checkpoint_dir=checkpoint_dir, resume=args.resume)
    print(result.summary())
    print(f"writing the results (the whole song rendered twice, pictures) to {args.out} ...",
          flush=True)
    results_folder.write_results(result, song, args.out, fingerprint=fingerprint,
                                 song_label=label, settings=settings,
                                 notes=report_text.loading_notes_markdown(notes))
  print(f"wrote {', '.join(results_folder.RESULT_FILES)} to {args.out}")
  return 0


def _render(args) -> int:
  from mixjax.io.audio import write_wav
  from mixjax.io import graph_json as graph_lib
  if not args.out.lower().endswith(".wav"):
    raise ValueError(f"--out must name a .wav file, got {args.out!r}.")
  if os.path.isdir(args.out):
    raise ValueError(f"--out {args.out} is a folder; give a file name ending in .wav.")
  import mixjax
  graph = graph_lib.load_graph(args.graph)
  tracks, _ = _load_song(args.song, sample_rate=graph["sample_rate"], command="render",
                         tracks_only=True)
  mixjax.enable_compilation_cache()
  audio = graph_lib.render_graph(graph, tracks)
  write_wav(args.out, audio, tracks.sample_rate)
  print(f"rendered {graph_lib.processor_count(graph)} processors on {tracks.n_tracks} tracks "
        f"({tracks.seconds:.1f} s at {tracks.sample_rate} Hz) to {args.out}")
  return 0


def _demo(args) -> int:
  import jax

  import mixjax
  from mixjax.io import folder_lock
  from mixjax.io import results_folder

  if args.groups > args.tracks:
    raise ValueError(f"--groups ({args.groups}) cannot exceed --tracks ({args.tracks}).")
  config = _config_from_args(args)
  mixjax.enable_compilation_cache()
  song, truth = mixjax.synthetic_song(
      jax.random.key(args.seed), n_tracks=args.tracks, n_groups=args.groups,
      seconds=args.seconds, sample_rate=args.sample_rate)
  _check_settings(song, config, "the synthetic song (--seconds)")
  folder_lock.check_free(args.out)
  fingerprint = results_folder.song_fingerprint(song)
  results_folder.check_output_dir(args.out, fingerprint=fingerprint, overwrite=args.overwrite)
  with folder_lock.hold(args.out):
    results_folder.prepare_output(args.out, fingerprint=fingerprint, overwrite=args.overwrite)
    _demo_search(args, config, song, truth, fingerprint)
  print(f"wrote {', '.join(results_folder.RESULT_FILES)}, target.wav, dry_sum.wav to {args.out}")
  return 0


def _demo_search(args, config, song, truth, fingerprint) -> None:
  """The demo's search, its comparison with the ground truth, and its results folder."""
  import mixjax
  from mixjax.io.audio import write_wav
  from mixjax.io import report_text
  from mixjax.io import results_folder

  print(f"mixjax {__version__} on {results_folder.default_device()}")
  print(f"synthetic song: {song.n_tracks} tracks in {song.n_groups} groups, "
        f"{song.seconds:.1f} s at {song.sample_rate} Hz; ground truth has "
        f"{len(truth.alive_nodes())} processors")
  _say_if_unfitted(config)
  result = mixjax.search(song, config, seed=args.seed, progress=not args.no_progress)
  printed, notes = report_text.ground_truth_text(song, truth, result)
  print(result.summary() + "\n\n" + printed)
  results_folder.write_results(result, song, args.out, fingerprint=fingerprint,
                               song_label=f"synthetic song (seed {args.seed})", notes=notes,
                               settings=_settings(args, config))
  write_wav(os.path.join(args.out, "target.wav"), song.mix, song.sample_rate)
  write_wav(os.path.join(args.out, "dry_sum.wav"), song.dry_sum(),
                         song.sample_rate)


def _collect(args) -> int:
  if args.distributed:
    import jax
    jax.distributed.initialize()  # coordinator, process count and id from the environment
  from mixjax import collect as collect_lib

  config = _config_from_args(args)
  if not os.path.isdir(args.dataset):
    raise ValueError(f"{args.dataset}: no such folder; give the folder that holds the songs.")
  if not collect_lib.find_song_folders(args.dataset):
    raise ValueError(
        f"{args.dataset} holds no song folder (a tracks/ folder with a mix file, or a MedleyDB "
        f"<Song>_METADATA.yaml); see 'Your own song' in the README.")
  for flag, value in (("--batch-size", args.batch_size), ("--songs-per-call", args.songs_per_call)):
    if value < 1:
      raise ValueError(f"{flag} must be at least 1, got {value}.")
  import mixjax
  from mixjax.io import results_folder
  mixjax.enable_compilation_cache()
  print(f"mixjax {__version__} on {results_folder.default_device()}")
  _say_if_unfitted(config)
  index = collect_lib.collect(args.dataset, args.out, config=config, batch_size=args.batch_size,
                              sample_rate=args.sample_rate, seed=args.seed,
                              bucket_seconds=args.bucket_seconds, progress=not args.no_progress,
                              songs_per_call=args.songs_per_call)
  print(collect_lib.summary_markdown(index), end="")
  failed = sum(1 for r in index.values() if r["status"] != "done")
  print(f"{len(index) - failed} songs done, {failed} failed; see {args.out}/index.jsonl")
  return 0


def _stats(args) -> int:
  from mixjax import collection as collection_lib
  from mixjax.io import collection_plots

  if os.path.exists(args.out) and not os.path.isdir(args.out):
    raise ValueError(f"--out {args.out} is a file; give a folder for stats.md and the pictures.")
  collection = collection_lib.load_collection(args.collection, progress=not args.no_progress)
  for record in collection.broken:
    print(f"mixjax stats: note: {record['name']} left out: {record['error']}", file=sys.stderr)
  paths = collection_plots.write_stats(collection, args.out, progress=not args.no_progress)
  print(f"{len(collection)} songs read ({len(collection.failed)} failed in the search, "
        f"{len(collection.broken)} unreadable); wrote {', '.join(paths)} to {args.out}")
  return 0


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog="mixjax", description="Reverse-engineer music mixing graphs (JAX). "
      "Run 'mixjax COMMAND --help' for a command's options.")
  parser.add_argument("--version", action="version", version=f"mixjax {__version__}",
                      help="print mixjax's version and exit")
  sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
  parser.commands = sub.choices  # name -> the command's parser

  search = sub.add_parser("search", help="search a song folder for its mixing graph",
                          description=SEARCH_HELP, formatter_class=_HelpFormatter)
  search.add_argument("song", metavar="SONG", help="the song's folder (plain or MedleyDB "
                      "layout, see above)")
  search.add_argument("--out", required=True, metavar="DIR",
                      help="results folder (created if needed; required)")
  search.add_argument("--sample-rate", type=_sample_rate, default=30000, metavar="HZ",
                      help="rate the song is resampled to and searched at; lower is faster, "
                           "at least 8000 (default: 30000, the paper's)")
  _add_search_options(search, preset="paper")
  search.add_argument("--resume", action="store_true",
                      help="continue an interrupted search from DIR/checkpoint (same song, "
                           "settings and seed); it ends with the result an uninterrupted run "
                           "would give (default: start from the beginning)")
  search.add_argument("--overwrite", action="store_true",
                      help="write into DIR even if it holds another song's results or other "
                           "files, replacing mixjax's files there (default: refuse)")
  search.set_defaults(run=_search)

  render = sub.add_parser("render", help="render a saved graph.json on a song's tracks",
                          description=RENDER_HELP, formatter_class=_HelpFormatter)
  render.add_argument("graph", metavar="GRAPH_JSON", help="a graph.json written by a search")
  render.add_argument("song", metavar="SONG", help="the song's folder (as for search)")
  render.add_argument("--out", required=True, metavar="FILE.wav",
                      help="the WAV file to write (required)")
  render.set_defaults(run=_render)

  demo = sub.add_parser("demo", help="search a synthetic song with a known graph",
                        description=DEMO_HELP, formatter_class=_HelpFormatter)
  demo.add_argument("--out", default="mixjax-demo", metavar="DIR",
                    help="results folder (default: mixjax-demo)")
  demo.add_argument("--tracks", type=_count, default=4, metavar="N",
                    help="number of dry tracks (default: 4)")
  demo.add_argument("--groups", type=_count, default=2, metavar="N",
                    help="number of subgroups (default: 2)")
  demo.add_argument("--seconds", type=_positive_float, default=8.0, metavar="S",
                    help="song length (default: 8.0)")
  demo.add_argument("--sample-rate", type=_sample_rate, default=16000, metavar="HZ",
                    help="Hz; the paper uses 30000, lower is faster on a CPU (default: 16000)")
  _add_search_options(demo, preset="quick")
  demo.add_argument("--overwrite", action="store_true",
                    help="write into DIR even if it holds another song's results or other "
                         "files (default: refuse)")
  demo.set_defaults(run=_demo)

  collect = sub.add_parser("collect", help="search every song of a data set, in batches",
                           description=COLLECT_HELP, formatter_class=_HelpFormatter)
  collect.add_argument("dataset", metavar="DATASET_DIR", help="folder holding song folders")
  collect.add_argument("--out", required=True, metavar="DIR",
                       help="results folder: one sub-folder per song, index.jsonl, summary.md "
                            "(required)")
  collect.add_argument("--batch-size", type=_count, default=8, metavar="N",
                       help="songs loaded and searched per batch, side by side on the local "
                            "devices: a multiple of the device count keeps every device busy "
                            "(default: 8)")
  collect.add_argument("--songs-per-call", type=_count, default=1, metavar="N",
                       help="songs of one bucket searched in lockstep in one program sharded "
                            "over the devices: more than 1 can fill a large accelerator "
                            "better, but rounds differently from a song searched alone, so "
                            "results differ slightly (default: 1, each song alone on one "
                            "device, bit for bit as 'mixjax search')")
  collect.add_argument("--bucket-seconds", type=_positive_float, default=30.0, metavar="S",
                       help="song lengths are padded up to a multiple of this, so that few "
                            "compiled programs cover the data set (default: 30)")
  collect.add_argument("--sample-rate", type=_sample_rate, default=30000, metavar="HZ",
                       help="rate every song is resampled to and searched at, at least 8000 "
                            "(default: 30000, the paper's)")
  collect.add_argument("--distributed", action="store_true",
                       help="several hosts: call jax.distributed.initialize() first (on Cloud "
                            "TPU it finds the hosts itself; elsewhere set JAX_COORDINATOR_ADDRESS, "
                            "JAX_NUM_PROCESSES and JAX_PROCESS_ID); each host searches its own "
                            "slice of the songs (default: one host)")
  _add_search_options(collect, preset="paper")
  collect.set_defaults(run=_collect)

  stats = sub.add_parser("stats", help="the paper's statistics of a collected data set",
                         description=STATS_HELP, formatter_class=_HelpFormatter)
  stats.add_argument("collection", metavar="COLLECTION",
                     help="the --out folder of 'mixjax collect'")
  stats.add_argument("--out", required=True, metavar="DIR",
                     help="folder for stats.md, stats.json and the pictures (created if "
                          "needed; required)")
  stats.add_argument("--no-progress", action="store_true",
                     help="hide the progress bars (default: shown)")
  stats.set_defaults(run=_stats)
  return parser


def _unrecognized_message(unknown: list[str], command: str, commands: dict) -> str:
  """argparse's message for arguments ``command`` does not know, with a hint: the
  command that has the flag, or the closest flag of this one."""
  flags = {name: [f for action in p._actions for f in action.option_strings]
           for name, p in commands.items()}
  message = f"unrecognized arguments: {' '.join(unknown)}"
  for flag in (a.split("=")[0] for a in unknown if a.startswith("--")):
    elsewhere = [f"mixjax {name}" for name in commands if flag in flags[name]]
    if elsewhere:
      return f"{message}; {flag} is an option of {', '.join(elsewhere)}"
    close = difflib.get_close_matches(flag, flags[command], n=1)
    if close:
      return f"{message}; did you mean {close[0]}?"
  return message


def _interrupted_message(args, argv: list[str], interrupt: KeyboardInterrupt) -> str:
  """What Ctrl-C left behind, and how to go on."""
  if args.command == "collect":
    return ("interrupted; finished songs and the interrupted batch's checkpoint are kept: run "
            "the same command again to resume")
  if args.command != "search":
    return "interrupted"
  again = shlex.join(["mixjax", *argv, *([] if args.resume else ["--resume"])])
  if getattr(interrupt, "saved_round", None) is None:
    return (f"interrupted before the first checkpoint (written when the console fit ends); "
            f"nothing to resume: run the same command to start again")
  return f"interrupted; {interrupt.saved}. Resume with: {again}"


def main(argv=None) -> int:
  parser = build_parser()
  argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
  try:
    args, unknown = parser.parse_known_args(argv)
    if unknown:
      parser.commands[args.command].error(
          _unrecognized_message(unknown, args.command, parser.commands))
  except SystemExit as exit_:
    return int(exit_.code or 0)
  try:
    return args.run(args)
  except ValueError as error:
    message = " ".join(str(error).split())
    print(f"mixjax {args.command}: error: {message}", file=sys.stderr)
    return 2
  except KeyboardInterrupt as interrupt:
    print(f"mixjax {args.command}: {_interrupted_message(args, argv, interrupt)}",
          file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
