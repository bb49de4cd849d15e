"""Tests of the mixjax command line: search, render, help and every bad input.

The searches run in-process (``mixjax.cli.main``) at tiny settings on
generated song folders of one shape (3 tracks in 2 groups, 2 s, searched at
8 kHz; the same as tests/test_graph.py), so they share compiled programs.
"""

import csv
import json
import os
import re
import shlex
import shutil
import signal as signals
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
import soundfile as sf
import yaml

import mixjax
from mixjax import cli
from mixjax.io import folder_lock
from mixjax.io import graph_json as graph_lib
from mixjax.io import report_text
from mixjax.io import results_folder
from mixjax.io.song_folder import load_song

SR = 8000
SECONDS = 2.0
TINY_ARGS = ["--preset", "quick", "--steps", "10", "--finetune-steps", "10", "--rounds", "1",
             "--crop-seconds", "1.5", "--warmup-seconds", "0.5", "--sample-rate", str(SR),
             "--no-progress"]
TINY = mixjax.SearchConfig.quick(console_steps=10, finetune_steps=10, rounds=1,
                                 crop_seconds=1.5, omit_seconds=0.5, eval_hop_seconds=1.0)


def signal(freq_hz, sample_rate, *, channels, seconds=SECONDS, seed=0):
  t = np.arange(int(round(seconds * sample_rate))) / sample_rate
  rng = np.random.default_rng(seed)
  x = 0.3 * np.sin(2 * np.pi * freq_hz * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
  x = x + 0.02 * rng.standard_normal(len(t))
  return np.stack([x, 0.7 * x][:channels], axis=1)


def write(path, audio, sample_rate, subtype):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sf.write(path, audio, sample_rate, subtype=subtype)


def make_plain(root, *, seconds=SECONDS):
  """kick: mono 16-bit 16 kHz; bass: stereo 24-bit 44.1 kHz; lead: mono 24-bit FLAC 8 kHz."""
  write(f"{root}/tracks/kick.wav", signal(60, 16000, channels=1, seconds=seconds), 16000,
        "PCM_16")
  write(f"{root}/tracks/bass.wav", signal(110, 44100, channels=2, seconds=seconds), 44100,
        "PCM_24")
  write(f"{root}/tracks/lead.flac", signal(440, SR, channels=1, seconds=seconds), SR, "PCM_24")
  write(f"{root}/mix.wav", signal(110, 44100, channels=2, seconds=seconds, seed=1), 44100,
        "FLOAT")
  with open(f"{root}/groups.yaml", "w") as f:
    f.write("rhythm: [kick.wav, bass]\n")
  return str(root)


def make_medleydb(root, name="Artist_Song"):
  """S01 drum set: RAW_01_01 (stereo float 16 kHz), RAW_01_02 (mono 16-bit 8 kHz);
  S02 electric bass: RAW_02_01 (mono 24-bit 44.1 kHz); the mix 16-bit 16 kHz."""
  raws = {"01_01": (16000, 2, "FLOAT"), "01_02": (SR, 1, "PCM_16"), "02_01": (44100, 1, "PCM_24")}
  for i, (raw, (rate, channels, subtype)) in enumerate(raws.items()):
    write(f"{root}/{name}_RAW/{name}_RAW_{raw}.wav",
          signal(80 * (i + 1), rate, channels=channels, seed=i), rate, subtype)
  write(f"{root}/{name}_MIX.wav", signal(160, 16000, channels=2, seed=5), 16000, "PCM_16")
  os.makedirs(f"{root}/{name}_STEMS", exist_ok=True)
  stems = {"S01": ("drum set", ["01_01", "01_02"]), "S02": ("electric bass", ["02_01"])}
  meta = {"mix_filename": f"{name}_MIX.wav", "raw_dir": f"{name}_RAW", "stems": {
      key: {"instrument": instrument, "filename": f"{name}_STEM_{k + 1:02d}.wav",
            "raw": {f"R{j + 1:02d}": {"filename": f"{name}_RAW_{raw}.wav"}
                    for j, raw in enumerate(raw_list)}}
      for k, (key, (instrument, raw_list)) in enumerate(stems.items())}}
  with open(f"{root}/{name}_METADATA.yaml", "w") as f:
    yaml.safe_dump(meta, f)
  return str(root)


def run(capsys, *argv):
  """``(exit code, stdout, stderr)`` of ``mixjax argv``."""
  code = cli.main([str(a) for a in argv])
  out, err = capsys.readouterr()
  return code, out, err


def assert_one_line_error(code, err, command, match):
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1, err
  assert lines[0].startswith(f"mixjax {command}: error: ")
  assert match in lines[0], lines[0]


def no_temp_files(folder):
  return not [f for _, _, names in os.walk(folder) for f in names if f.startswith(".tmp-")]


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
  root = tmp_path_factory.mktemp("songs")
  return {"plain": make_plain(root / "plain"), "medleydb": make_medleydb(root / "Artist_Song")}


@pytest.fixture(scope="module")
def plain_out(songs, tmp_path_factory):
  """The results folder of one CLI search of the plain song."""
  out = str(tmp_path_factory.mktemp("results") / "plain")
  assert cli.main(["search", songs["plain"], "--out", out, *TINY_ARGS]) == 0
  return out


# -- search ------------------------------------------------------------------------


def test_tiny_options_make_the_tiny_config():
  args = cli.build_parser().parse_args(["search", "x", "--out", "y", *TINY_ARGS])
  assert cli._config_from_args(args) == TINY  # the config tests/test_graph.py searches with


def test_options_override_the_preset():
  args = cli.build_parser().parse_args([
      "search", "x", "--out", "y", "--preset", "quick", "--rounds", "2", "--sampler", "brute",
      "--tolerance", "0.02", "--crop-seconds", "3", "--warmup-seconds", "0.8"])
  assert cli._config_from_args(args) == mixjax.SearchConfig.quick(
      rounds=2, sampler="brute", tolerance=0.02, crop_seconds=3.0, omit_seconds=0.8,
      eval_hop_seconds=2.2)


def test_paper_preset_is_the_default():
  args = cli.build_parser().parse_args(["search", "x", "--out", "y"])
  assert cli._config_from_args(args) == mixjax.SearchConfig()
  assert args.sample_rate == 30000 and args.seed == 0


@pytest.mark.parametrize("command", [["search", "x", "--out", "y"], ["demo"],
                                     ["collect", "x", "--out", "y"]])
@pytest.mark.parametrize("preset", ["paper", "quick"])
def test_the_options_defaults_are_the_presets(command, preset):
  args = cli.build_parser().parse_args(command + ["--preset", preset])
  assert cli._config_from_args(args) == getattr(mixjax.SearchConfig, preset)()
  options = {a.dest: a for a in next(
      a for a in cli.build_parser()._actions if a.dest == "command").choices[command[0]]._actions}
  from mixjax.graph_search import config as config_lib
  assert tuple(options["sampler"].choices) == config_lib.SAMPLERS
  assert tuple(options["method"].choices) == config_lib.METHODS


def test_help_shows_the_presets_settings(capsys):
  _, out, _ = run(capsys, "search", "--help")
  paper, quick = mixjax.SearchConfig.paper(), mixjax.SearchConfig.quick()
  text = " ".join(out.split())
  assert f"paper {paper.console_steps}, quick {quick.console_steps}" in text
  assert f"(default: {paper.tolerance}, the paper's)" in text
  assert "{paper." not in out and "{quick." not in out


def test_search_writes_every_file(plain_out):
  names = set(os.listdir(plain_out))
  assert set(results_folder.RESULT_FILES) | {results_folder.MARKER, "checkpoint"} == names
  assert no_temp_files(plain_out)

  graph = graph_lib.load_graph(os.path.join(plain_out, "graph.json"))
  assert [t["name"] for t in graph["tracks"]] == ["bass", "kick", "lead"]
  assert graph["groups"] == ["rhythm", "lead"] and graph["sample_rate"] == SR

  for name in ("graph.png", "processors.png", "spectrogram.png"):
    with open(os.path.join(plain_out, name), "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  svg = ElementTree.parse(os.path.join(plain_out, "graph.svg")).getroot()
  assert "rhythm" in " ".join(svg.itertext())

  for name in ("estimate.wav", "console.wav"):
    info = sf.info(os.path.join(plain_out, name))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (
        SR, 2, int(SECONDS * SR), "FLOAT")

  with open(os.path.join(plain_out, "losses.csv")) as f:
    rows = list(csv.DictReader(f))
  assert tuple(rows[0]) == report_text.LOSS_COLUMNS
  steps = [r for r in rows if r["kind"] == "step"]
  trials = [r for r in rows if r["kind"] == "trial"]
  assert [int(r["step"]) for r in steps] == list(range(20))  # 10 console + 10 fine-tune
  assert [int(r["phase"]) for r in steps] == [0] * 10 + [1] * 10
  assert all(np.isfinite(float(r[k])) for r in steps
             for k in ("loss", "regularizer", "sparsity", "total"))
  assert trials and all(r["round"] == "1" and r["accepted"] in ("0", "1") for r in trials)
  assert all(c.split(":")[0] in ("track", "group") for r in trials
             for c in r["candidates"].split())

  with open(os.path.join(plain_out, "report.md")) as f:
    text = f.read()
  for part in ("# mixjax search: plain", "## Losses", "## Pruning", "ρ = ", "![the pruned "
               "mixing graph](graph.png)", "(processors.png)", "(spectrogram.png)", "% wet)",
               "## Time", "console fit",
               "device: cpu:0", "## Settings", "| crop_seconds | 1.5 |", "kick, lead",
               "| subgroups | 2: rhythm (bass, kick), lead (lead) |",
               "| sampler | hybrid |",
               "| processors | eq, compressor, noisegate, imager, gain_pan, delay, reverb |",
               "| trial_batch | 1 (auto: 1 on CPU, 4 on GPU and TPU) |",
               "| full console (every processor) |", "the console fit (10 steps)",
               "1 pruning rounds with 10 fine-tune steps each (20 steps in all)",
               "The two losses are not measured at the same point",
               "counts the interrupted runs up to their last checkpoint"):
    assert part in text, part
  settings = text[text.index("## Settings"):text.index("## Files")]
  assert "'hybrid'" not in settings and "('eq'" not in settings, settings  # no Python reprs

  with open(os.path.join(plain_out, results_folder.MARKER)) as f:
    marker = json.load(f)
  assert marker["status"] == "complete" and marker["song"] == "plain"
  assert marker["track_names"] == ["bass", "kick", "lead"]
  assert marker["settings"]["console_steps"] == 10
  assert os.listdir(os.path.join(plain_out, "checkpoint"))


def test_estimate_is_the_graph_render(songs, plain_out):
  graph = graph_lib.load_graph(os.path.join(plain_out, "graph.json"))
  estimate, rate = sf.read(os.path.join(plain_out, "estimate.wav"), dtype="float32")
  rendered = graph_lib.render_graph(graph, load_song(songs["plain"], sample_rate=SR))
  np.testing.assert_allclose(rendered, estimate.T, atol=1e-6, rtol=0)


def test_render_command(songs, plain_out, tmp_path, capsys):
  target = str(tmp_path / "sub" / "again.wav")
  code, out, _ = run(capsys, "render", os.path.join(plain_out, "graph.json"), songs["plain"],
                     "--out", target)
  assert code == 0 and "to " + target in out
  again, _ = sf.read(target, dtype="float32")
  estimate, _ = sf.read(os.path.join(plain_out, "estimate.wav"), dtype="float32")
  np.testing.assert_allclose(again, estimate, atol=1e-6, rtol=0)


@pytest.mark.parametrize("mix", ["missing", "silent"])
def test_render_needs_only_the_tracks(songs, plain_out, tmp_path, capsys, mix):
  song = str(tmp_path / "other-take")
  shutil.copytree(songs["plain"], song)
  if mix == "missing":
    os.remove(os.path.join(song, "mix.wav"))
  else:
    write(os.path.join(song, "mix.wav"), np.zeros((int(SECONDS * SR), 2)), SR, "PCM_16")
  target = str(tmp_path / "again.wav")
  code, _, err = run(capsys, "render", os.path.join(plain_out, "graph.json"), song,
                     "--out", target)
  assert code == 0, err
  again, _ = sf.read(target, dtype="float32")
  estimate, _ = sf.read(os.path.join(plain_out, "estimate.wav"), dtype="float32")
  np.testing.assert_allclose(again, estimate, atol=1e-6, rtol=0)


def test_version(capsys):
  code, out, _ = run(capsys, "--version")
  assert code == 0 and out.strip() == f"mixjax {mixjax.__version__}"


def test_a_second_search_into_a_held_folder_is_refused(songs, plain_out, tmp_path, capsys):
  out = str(tmp_path / "busy")
  shutil.copytree(plain_out, out)
  listing = {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)}
  with folder_lock.hold(out):  # as a first search running into the folder does
    code, _, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS)
    assert_one_line_error(code, err, "search", f"{out} is in use by another mixjax run "
                          f"(process {os.getpid()})")
    code, _, err = run(capsys, "demo", "--out", out, "--tracks", "3", "--groups", "2",
                       "--seconds", "2", *TINY_ARGS)
    assert_one_line_error(code, err, "demo", "is in use by another mixjax run")
  assert {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)} == listing


def test_the_lock_of_a_killed_search_does_not_block_resume(songs, plain_out, tmp_path, capsys):
  out = str(tmp_path / "killed")
  shutil.copytree(plain_out, out)
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from mixjax.io import folder_lock\n"
       "with folder_lock.hold(sys.argv[1]):\n  print('held', flush=True); time.sleep(600)", out],
      stdout=subprocess.PIPE, text=True,
      env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(mixjax.__file__))))
  try:
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ValueError, match="in use by another mixjax run"):
      folder_lock.check_free(out)
  finally:
    holder.send_signal(signals.SIGKILL)
    holder.wait()
  assert os.path.exists(os.path.join(out, folder_lock.LOCK_FILE))  # left behind
  code, stdout, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS, "--resume")
  assert code == 0, err
  assert "resuming from" in stdout
  assert not os.path.exists(os.path.join(out, folder_lock.LOCK_FILE))


def test_resume_without_a_checkpoint_says_so_and_notes_reach_the_report(songs, plain_out,
                                                                        tmp_path, capsys):
  song = str(tmp_path / "song")
  shutil.copytree(songs["plain"], song)
  write(f"{song}/tracks/kick.wav", signal(60, 16000, channels=1, seconds=0.5), 16000, "PCM_16")
  out = str(tmp_path / "no-checkpoint")
  shutil.copytree(plain_out, out)
  shutil.rmtree(os.path.join(out, "checkpoint"))
  code, stdout, err = run(capsys, "search", song, "--out", out, *TINY_ARGS, "--resume")
  assert code == 0, err
  checkpoint_dir = os.path.join(out, "checkpoint")
  assert f"no checkpoint in {checkpoint_dir}; starting from the beginning" in stdout
  note = f"{song}/tracks/kick.wav is 1.5 s shorter than the mix; padded with silence at the end."
  assert note in err
  with open(os.path.join(out, "report.md")) as f:
    text = f.read()
  assert "## Notes from loading the song" in text and f"- {note}" in text


def test_ctrl_c_says_what_was_saved_and_how_to_resume(songs, tmp_path, capsys, monkeypatch):
  from mixjax.graph_search import batch as batch_lib
  out = str(tmp_path / "interrupted")
  original = batch_lib.BatchSearch.prune

  def stop(*args, **kwargs):
    raise KeyboardInterrupt  # Ctrl-C in round 1, after the console fit's checkpoint

  monkeypatch.setattr(batch_lib.BatchSearch, "prune", stop)
  code, _, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS)
  assert code == 130
  lines = err.strip().splitlines()
  assert len(lines) == 1, err
  checkpoint_dir = os.path.join(out, "checkpoint")
  command = shlex.join(["mixjax", "search", songs["plain"], "--out", out, *TINY_ARGS,
                        "--resume"])
  assert lines[0] == (f"mixjax search: interrupted; {checkpoint_dir} holds the console fit and "
                      f"0 of 1 pruning rounds. Resume with: {command}")
  assert not os.path.exists(os.path.join(out, folder_lock.LOCK_FILE))  # let go
  monkeypatch.setattr(batch_lib.BatchSearch, "prune", original)
  code, stdout, err = run(capsys, *shlex.split(command)[1:])
  assert code == 0, err
  assert f"resuming from {checkpoint_dir}" in stdout


def test_ctrl_c_before_the_first_checkpoint(songs, tmp_path, capsys, monkeypatch):
  from mixjax.graph_search import batch as batch_lib

  def stop(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(batch_lib.BatchSearch, "fit", stop)
  code, _, err = run(capsys, "search", songs["plain"], "--out", tmp_path / "early", *TINY_ARGS)
  assert code == 130
  assert err.strip() == ("mixjax search: interrupted before the first checkpoint (written when "
                         "the console fit ends); nothing to resume: run the same command to "
                         "start again")


def test_no_steps_and_no_rounds(songs, tmp_path, capsys):
  out = str(tmp_path / "nothing")
  code, stdout, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS,
                          "--steps", "0", "--rounds", "0")
  assert code == 0, err
  with open(os.path.join(out, "losses.csv")) as f:
    assert list(csv.DictReader(f)) == []
  with open(os.path.join(out, "report.md")) as f:
    text = f.read()
  assert "0 optimisation steps, 0 pruning trials" in text
  assert ("The console was not fitted (0 steps): every loss, file and picture here comes from "
          "its initial parameters, not from a search. No pruning round ran: the pruned graph "
          "is the full console.") in text
  assert stdout.splitlines()[1] == ("note: --steps 0 --rounds 0: the console is not fitted; "
                                    "the results are its initial parameters, not a search")


def test_a_mono_mix_the_crop_loss_and_the_dry_wet_are_said(songs, tmp_path, capsys,
                                                              monkeypatch):
  """Notes on stderr and in report.md, the bar's crop loss, the chains' dry/wet in stdout."""
  from mixjax import progress
  monkeypatch.setattr(progress, "PLAIN_SECONDS", 0.0)  # draw every update into the capture
  song = str(tmp_path / "mono")
  shutil.copytree(songs["plain"], song)
  os.remove(f"{song}/mix.wav")
  write(f"{song}/mix.flac", signal(110, SR, channels=1, seed=1), SR, "PCM_24")
  out = str(tmp_path / "out")
  args = [a for a in TINY_ARGS if a != "--no-progress"]
  code, stdout, err = run(capsys, "search", song, "--out", out, *args, "--rounds", "0")
  assert code == 0, err
  note = (f"{song}/mix.flac is mono (its side channel, left minus right, is silent); the search "
          f"fits a mono mix: centred pans, no stereo width. Use the stereo mix if there is one.")
  assert f"mixjax search: note: {note}" in err.splitlines()
  with open(os.path.join(out, "report.md")) as f:
    assert f"- {note}" in f.read()
  assert "console fit: " in err and "crop loss=" in err and "loss=" not in err.replace(
      "crop loss=", "")
  assert "whole-song loss  sum of dry tracks" in stdout
  chains = [l for l in stdout.splitlines() if l.startswith("  track ") or l.startswith("  group ")]
  assert len(chains) == 5 and all(
      re.fullmatch(r"  (track|group) \w+: \w+ \(\d+ % wet\)( -> \w+ \(\d+ % wet\))*", l)
      for l in chains), chains


def test_search_medleydb_layout(songs, tmp_path, capsys):
  out = str(tmp_path / "medley")
  code, stdout, _ = run(capsys, "search", songs["medleydb"], "--out", out, *TINY_ARGS,
                        "--seed", "3")
  assert code == 0
  assert "3 tracks in 2 groups, 2.0 s at 8000 Hz (medleydb layout)" in stdout
  graph = graph_lib.load_graph(os.path.join(out, "graph.json"))
  assert [t["name"] for t in graph["tracks"]] == ["RAW_01_01", "RAW_01_02", "RAW_02_01"]
  assert graph["groups"] == ["S01 drum set", "S02 electric bass"]
  assert set(os.listdir(out)) == (set(results_folder.RESULT_FILES)
                                  | {results_folder.MARKER, "checkpoint"})


def test_refuses_another_songs_results_then_overwrites(songs, plain_out, tmp_path, capsys):
  out = str(tmp_path / "copy")
  shutil.copytree(plain_out, out)
  before = {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)}
  code, _, err = run(capsys, "search", songs["medleydb"], "--out", out, *TINY_ARGS)
  assert_one_line_error(code, err, "search", "holds the results of another song (plain); "
                        "choose another --out folder, or pass --overwrite")
  assert {n: os.path.getmtime(os.path.join(out, n)) for n in os.listdir(out)} == before

  code, _, _ = run(capsys, "search", songs["medleydb"], "--out", out, *TINY_ARGS, "--overwrite")
  assert code == 0
  with open(os.path.join(out, results_folder.MARKER)) as f:
    assert json.load(f)["song"] == "Artist_Song"
  graph = graph_lib.load_graph(os.path.join(out, "graph.json"))
  assert graph["tracks"][0]["name"] == "RAW_01_01"


def test_resume_checks(songs, plain_out, tmp_path, capsys):
  out = str(tmp_path / "interrupted")
  shutil.copytree(plain_out, out)
  with open(os.path.join(out, results_folder.MARKER)) as f:
    marker = json.load(f)
  results_folder.write_marker(out, fingerprint=marker["fingerprint"], song="plain",
                      track_names=marker["track_names"], status="searching")  # as if killed
  listing = sorted(os.listdir(out))

  # the same search without --resume would throw the checkpoint away: refused
  code, _, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS)
  assert_one_line_error(code, err, "search", "holds an interrupted run of this very search "
                        "(same song, settings and seed); pass --resume to continue it")
  # --resume with other settings cannot continue it: refused before anything is written
  code, _, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS, "--seed", "9",
                     "--resume")
  assert_one_line_error(code, err, "search", "belongs to another run")
  assert sorted(os.listdir(out)) == listing
  with open(os.path.join(out, results_folder.MARKER)) as f:
    assert json.load(f)["status"] == "searching"


def test_check_output_dir(tmp_path):
  out = str(tmp_path / "out")
  assert results_folder.check_output_dir(out, fingerprint="a") is False  # missing: fine
  os.makedirs(out)
  assert results_folder.check_output_dir(out, fingerprint="a") is False  # empty: fine
  results_folder.write_marker(out, fingerprint="a", song="A", track_names=["x"], status="complete")
  assert results_folder.check_output_dir(out, fingerprint="a") is False  # this song's: fine
  with pytest.raises(ValueError, match=r"holds the results of another song \(A\)"):
    results_folder.check_output_dir(out, fingerprint="b")
  assert results_folder.check_output_dir(out, fingerprint="b", overwrite=True) is True
  os.remove(os.path.join(out, results_folder.MARKER))
  open(os.path.join(out, "thesis.tex"), "w").close()
  with pytest.raises(ValueError, match=r"is not empty and holds no mixjax results"):
    results_folder.check_output_dir(out, fingerprint="a")


# -- bad input: one line, exit code 2, nothing written ---------------------------------


def damage(kind, root):
  """Writes a plain song folder with one problem."""
  make_plain(root)
  if kind == "missing mix":
    os.remove(f"{root}/mix.wav")
  elif kind == "no tracks":
    shutil.rmtree(f"{root}/tracks")
    os.makedirs(f"{root}/tracks")
  elif kind == "not audio":
    with open(f"{root}/tracks/readme.txt", "w") as f:
      f.write("hello")
  elif kind == "nan":
    audio = signal(200, SR, channels=2)
    audio[100, 0] = np.nan
    write(f"{root}/tracks/broken.wav", audio, SR, "FLOAT")
  elif kind == "silent mix":
    write(f"{root}/mix.wav", np.zeros((int(SECONDS * SR), 2)), SR, "PCM_16")
  elif kind == "too short":
    shutil.rmtree(root)
    make_plain(root, seconds=1.0)
  elif kind == "groups missing track":
    with open(f"{root}/groups.yaml", "w") as f:
      f.write("rhythm: [kick.wav, snare.wav]\n")
  elif kind == "groups malformed":
    with open(f"{root}/groups.yaml", "w") as f:
      f.write("rhythm: [kick.wav\n")
  return str(root)


@pytest.mark.parametrize("kind, message", [
    ("missing folder", "no such folder"),
    ("missing mix", "has no mix file"),
    ("no tracks", "holds no tracks"),
    ("not audio", "readme.txt is not an audio file"),
    ("nan", "broken.wav contains NaN or Inf samples"),
    ("silent mix", "mix.wav is silent"),
    ("too short", "is 1.00 s long, shorter than one training crop (1.5 s)"),
    ("groups missing track", "names 'snare.wav', which is not in tracks/"),
    ("groups malformed", "groups.yaml is not valid YAML"),
])
def test_bad_song(tmp_path, capsys, kind, message):
  song = str(tmp_path / "song") if kind == "missing folder" else damage(kind, tmp_path / "song")
  out = str(tmp_path / "out")
  code, _, err = run(capsys, "search", song, "--out", out, *TINY_ARGS)
  assert_one_line_error(code, err, "search", message)
  assert not os.path.exists(out)


def test_bad_medleydb_metadata(tmp_path, capsys):
  song = make_medleydb(tmp_path / "Artist_Song")
  os.remove(f"{song}/Artist_Song_RAW/Artist_Song_RAW_02_01.wav")
  out = str(tmp_path / "out")
  code, _, err = run(capsys, "search", song, "--out", out, *TINY_ARGS)
  assert_one_line_error(code, err, "search", "Artist_Song_METADATA.yaml does not match "
                        "Artist_Song_RAW/")
  assert not os.path.exists(out)


def test_foreign_output_folder(songs, tmp_path, capsys):
  out = tmp_path / "out"
  out.mkdir()
  (out / "notes.txt").write_text("mine")
  code, _, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS)
  assert_one_line_error(code, err, "search", "is not empty and holds no mixjax results")
  assert os.listdir(out) == ["notes.txt"]


@pytest.mark.parametrize("options, message", [
    (["--steps", "-1"], "argument --steps: must be 0 or more, got -1"),
    (["--steps", "many"], "argument --steps: expected a whole number, got 'many'"),
    (["--sample-rate", "4000"], "argument --sample-rate: must be at least 8000 Hz"),
    (["--sampler", "random"], "argument --sampler: invalid choice: 'random'"),
    (["--tolerance", "-0.1"], "argument --tolerance: must be 0 or more"),
    (["--crop-seconds", "1.5", "--warmup-seconds", "2"],
     "--warmup-seconds (2) must be shorter than --crop-seconds (1.5)"),
    (["--crop-seconds", "0.01", "--warmup-seconds", "0.005"],
     "leaves 40 samples at 8000 Hz to score, but the loss's largest FFT (4096) needs at least "
     "2049 (0.256 s); use a longer --crop-seconds or a shorter --warmup-seconds"),
    (["--steps", "0"], "--steps 0 leaves the console unfitted, and pruning it (1 round) would "
     "remove processors by their initial settings: give --steps N above 0, or --rounds 0 to "
     "write the initial console on purpose."),
])
def test_bad_options(songs, tmp_path, capsys, options, message):
  out = str(tmp_path / "out")
  code, _, err = run(capsys, "search", songs["plain"], "--out", out, *TINY_ARGS, *options)
  assert code == 2
  assert len(err.strip().splitlines()) == 1 and message in err, err
  assert not os.path.exists(out)


def test_steps_0_with_the_presets_rounds_names_the_preset(songs, tmp_path, capsys):
  code, _, err = run(capsys, "demo", "--out", tmp_path / "demo", "--steps", "0")
  assert_one_line_error(code, err, "demo", "pruning it (4 rounds, from --preset quick)")
  assert not os.path.exists(tmp_path / "demo")


@pytest.mark.parametrize("options, hint", [
    (["--presest", "quick"], "unrecognized arguments: --presest quick; did you mean --preset?"),
    (["--seeds=3"], "unrecognized arguments: --seeds=3; did you mean --seed?"),
    (["--bucket-seconds", "3"], "--bucket-seconds is an option of mixjax collect"),
])
def test_an_unknown_flag_gets_the_command_help_and_a_hint(songs, tmp_path, capsys, options,
                                                          hint):
  code, _, err = run(capsys, "search", songs["plain"], "--out", tmp_path / "out", *options)
  assert_one_line_error(code, err, "search", hint)
  assert err.strip().endswith("(see mixjax search --help)")
  assert not os.path.exists(tmp_path / "out")


def test_a_data_set_given_to_search_points_to_collect(songs, tmp_path, capsys):
  for name in ("a", "b"):
    shutil.copytree(songs["plain"], tmp_path / "dataset" / "rock" / name)
  dataset = str(tmp_path / "dataset")
  code, _, err = run(capsys, "search", dataset, "--out", tmp_path / "out", *TINY_ARGS)
  assert_one_line_error(
      code, err, "search", f"{dataset} is not a song folder but holds 2 (e.g. {dataset}/rock/a): "
      f"search every song with 'mixjax collect {dataset} --out DIR', or give one song's folder.")
  assert not os.path.exists(tmp_path / "out")


def test_missing_out_option(songs, capsys):
  code, _, err = run(capsys, "search", songs["plain"])
  assert code == 2 and "the following arguments are required: --out" in err
  assert len(err.strip().splitlines()) == 1


def bad_graph(plain_out, tmp_path, edit):
  with open(os.path.join(plain_out, "graph.json")) as f:
    graph = json.load(f)
  edit(graph)
  path = str(tmp_path / "graph.json")
  with open(path, "w") as f:
    json.dump(graph, f)
  return path


@pytest.mark.parametrize("edit, message", [
    (lambda g: g.update(format="other.tool"), "is not a mixjax graph (format 'other.tool'"),
    (lambda g: g.update(version=7), "version 7, but this mixjax reads version 1"),
])
def test_render_refuses_other_formats(songs, plain_out, tmp_path, capsys, edit, message):
  target = str(tmp_path / "x.wav")
  code, _, err = run(capsys, "render", bad_graph(plain_out, tmp_path, edit), songs["plain"],
                     "--out", target)
  assert_one_line_error(code, err, "render", message)
  assert not os.path.exists(target)


def test_render_refuses_another_song(songs, plain_out, tmp_path, capsys):
  target = str(tmp_path / "x.wav")
  code, _, err = run(capsys, "render", os.path.join(plain_out, "graph.json"), songs["medleydb"],
                     "--out", target)
  assert_one_line_error(code, err, "render", "the song's 3 tracks do not match the graph's 3")
  assert not os.path.exists(target)


@pytest.mark.parametrize("graph, out, message", [
    ("nope.json", "x.wav", "nope.json: no such file"),
    ("graph.json", "x.mp3", "--out must name a .wav file"),
])
def test_render_bad_paths(songs, plain_out, tmp_path, capsys, graph, out, message):
  graph = os.path.join(plain_out, graph)
  code, _, err = run(capsys, "render", graph, songs["plain"], "--out", tmp_path / out)
  assert_one_line_error(code, err, "render", message)
  assert not os.listdir(tmp_path)


# -- help -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["search", "render", "demo"])
def test_help_explains_every_option_and_its_default(capsys, command):
  code, out, _ = run(capsys, command, "--help")
  assert code == 0
  subparsers = next(a for a in cli.build_parser()._actions if a.dest == "command")
  parser = subparsers.choices[command]
  for action in parser._actions:
    if action.dest == "help":
      continue
    assert action.help and len(action.help) > 10, action.dest
    if action.option_strings:
      assert action.option_strings[0] in out
      assert "default" in action.help.lower() or "required" in action.help, action.dest


def test_top_level_help(capsys):
  code, out, _ = run(capsys, "--help")
  assert code == 0
  for command in ("search", "render", "demo"):
    assert command in out


# -- demo -----------------------------------------------------------------------------


def test_demo_writes_the_results_folder_and_the_comparison(tmp_path, capsys):
  out = str(tmp_path / "demo")
  code, stdout, _ = run(capsys, "demo", "--out", out, "--tracks", "3", "--groups", "2",
                        "--seconds", "2", *TINY_ARGS)
  assert code == 0
  assert "ground truth vs found (what each processor does at its dry/wet" in stdout
  assert "recovery: precision" in stdout and "    truth: " in stdout
  assert set(os.listdir(out)) == (set(results_folder.RESULT_FILES)
                                  | {results_folder.MARKER, "target.wav", "dry_sum.wav"})
  with open(os.path.join(out, "report.md")) as f:
    text = f.read()
  assert "## Ground truth" in text
  assert "| node | processor | truth | found | settings error |" in text
  assert "Waveform null (the energy of mix \u2212 estimate re the mix's): mid " in text
  assert "`target.wav` is the synthetic mix (peak " in text and "(peak " in text
  assert "| group 1 |" in text or "| group 2 |" in text  # synthetic groups: "group 1", ...
  assert "group group" not in text and "group group" not in stdout
  graph_lib.load_graph(os.path.join(out, "graph.json"))


def test_help_quotes_the_presets_values():
  text = cli.build_parser()._actions[-1].choices["search"].format_help()
  paper, quick = mixjax.SearchConfig.paper(), mixjax.SearchConfig.quick()
  assert f"paper {paper.console_steps}, quick {quick.console_steps}" in text
  assert f"paper {paper.finetune_steps}, quick {quick.finetune_steps}" in text
  assert f"paper {paper.rounds}, quick {quick.rounds}" in text
