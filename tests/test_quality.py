"""The quality benchmark's scoring, on hand-made inputs (no search)."""

import itertools
import json

import pytest

from benchmarks import quality, scoring


def _effect(level, index, kind, mixjax_type):
  return {"level": level, "index": index, "owner": f"{level}{index}", "type": kind,
          "mixjax_type": mixjax_type, "position": 0, "settings": {}}


def _pedalboard_truth():
  effects = [
      _effect("track", 0, "LowShelfFilter", "eq"),
      _effect("track", 0, "PeakFilter", "eq"),
      _effect("group", 1, "Gain", "gain_pan"),
      _effect("group", 1, "Pan", "gain_pan"),
      _effect("group", 0, "Reverb", "reverb"),
      _effect("track", 2, "StereoWidth", "imager"),
  ]
  nodes = [{"level": e["level"], "index": e["index"], "owner": e["owner"],
            "processor": e["mixjax_type"]} for e in effects]
  unique = {(n["level"], n["index"], n["processor"]): n for n in nodes}
  return {"format": "mixjax.truth", "target": "pedalboard", "effects": effects,
          "nodes": list(unique.values())}


def test_ablation_order_is_the_papers():
  consoles = quality.ablation_consoles()
  assert "".join(quality.LETTERS[c[-1]] for c in consoles) == "gsercnd"
  assert consoles[0] == ("gain_pan",)
  assert consoles[2] == ("gain_pan", "imager", "eq")
  assert consoles[-1] == ("gain_pan", "imager", "eq", "reverb", "compressor", "noisegate", "delay")
  assert all(len(b) == len(a) + 1 and b[:-1] == a for a, b in itertools.pairwise(consoles))
  assert [quality.ablation_label(c) for c in consoles] == ["+g", "+s", "+e", "+r", "+c", "+n", "+d"]
  assert sorted(quality.ABLATION_ORDER) == sorted(quality.LETTERS)
  assert len(quality.PAPER_TABLE1) == len(consoles) + 1
  assert quality.is_decreasing(quality.PAPER_TABLE1)


def test_pedalboard_effects_matched_to_kept_nodes():
  truth = _pedalboard_truth()
  found = {("track", 0, "eq"),           # both EQ filters of track 0
           ("group", 1, "gain_pan"),     # Gain and Pan of group 1
           ("group", 0, "delay"),        # not the reverb pedalboard put there: extra
           ("track", 2, "eq"),           # right node, wrong type (imager expected): extra
           ("track", 1, "imager")}       # imager on the wrong track: extra
  scores = scoring.pedalboard_scores(truth, found)
  assert scores["per_type"] == {"LowShelfFilter": [1, 1], "PeakFilter": [1, 1], "Gain": [1, 1],
                                "Pan": [1, 1], "StereoWidth": [0, 1], "Reverb": [0, 1]}
  assert list(scores["per_type"]) == ["LowShelfFilter", "PeakFilter", "Gain", "Pan",
                                      "StereoWidth", "Reverb"]  # chain order
  assert (scores["effects_found"], scores["effects"]) == (4, 6)
  assert scores["extra"] == 3
  assert scores["extra_per_type"] == {"delay": 1, "eq": 1, "imager": 1}
  # distinct truth nodes: track0 eq, group1 gain_pan, group0 reverb, track2 imager
  assert scores["node_recall"] == pytest.approx(2 / 4)
  assert scores["node_precision"] == pytest.approx(2 / 5)


def test_pedalboard_nothing_kept_and_everything_kept():
  truth = _pedalboard_truth()
  none = scoring.pedalboard_scores(truth, set())
  assert none["effects_found"] == 0 and none["extra"] == 0 and none["node_recall"] == 0
  everything = scoring.truth_nodes(truth)
  full = scoring.pedalboard_scores(truth, everything)
  assert full["effects_found"] == full["effects"] == 6
  assert full["extra"] == 0 and full["node_recall"] == 1 and full["node_precision"] == 1


def test_pool_per_type_sums_songs():
  a = {"per_type": {"Reverb": [1, 2], "NoiseGate": [0, 1]}}
  b = {"per_type": {"Reverb": [2, 2], "Gain": [1, 1]}}
  assert scoring.pool_per_type([a, b]) == {"NoiseGate": [0, 1], "Gain": [1, 1], "Reverb": [3, 4]}
  assert list(scoring.pool_per_type([a, b])) == ["NoiseGate", "Gain", "Reverb"]


def test_precision_recall_of_console_truth():
  truth = {"nodes": [{"level": "track", "index": 0, "processor": "eq"},
                     {"level": "track", "index": 1, "processor": "compressor"},
                     {"level": "group", "index": 0, "processor": "reverb"},
                     {"level": "group", "index": 1, "processor": "gain_pan"}]}
  true = scoring.truth_nodes(truth)
  assert true == {("track", 0, "eq"), ("track", 1, "compressor"), ("group", 0, "reverb"),
                  ("group", 1, "gain_pan")}
  found = {("track", 0, "eq"), ("group", 0, "reverb"), ("group", 0, "eq"),
           ("track", 0, "compressor"), ("group", 1, "gain_pan")}  # 3 right, 2 wrong, 1 missed
  scores = scoring.recovery(true, found)
  assert (scores["tp"], scores["fp"], scores["fn"]) == (3, 2, 1)
  assert scores["precision"] == pytest.approx(3 / 5)
  assert scores["recall"] == pytest.approx(3 / 4)
  assert scoring.recovery(set(), set())["precision"] == 1.0
  assert scoring.recovery(true, set())["recall"] == 0.0
  audible = {("track", 0, "eq"), ("track", 1, "compressor")}
  assert scoring.audible_recall(audible, found) == pytest.approx(1 / 2)
  assert scoring.audible_recall(set(), found) == 1.0


def test_merge_series_counts_a_one_track_subgroup_on_its_track():
  truth = {"tracks": [{"name": "kick", "group": "drums"}, {"name": "snare", "group": "drums"},
                      {"name": "bass", "group": "bass"}],
           "groups": ["bass", "drums"]}
  single = scoring.single_track_groups(truth)
  assert single == {0: 2}  # group 0 (bass) holds track 2 only; drums holds two tracks
  true = {("track", 2, "eq"), ("group", 1, "reverb"), ("group", 0, "compressor")}
  found = {("group", 0, "eq"),           # bass EQ on the group instead of the track
           ("track", 2, "compressor"),   # and the compressor on the track instead of the group
           ("track", 0, "reverb")}       # drums reverb on a track of a two-track group: wrong
  assert scoring.merge_series(true, single) == {
      ("track", 2, "eq"), ("group", 1, "reverb"), ("track", 2, "compressor")}
  strict = scoring.recovery(true, found)
  merged = scoring.recovery(scoring.merge_series(true, single),
                            scoring.merge_series(found, single))
  assert (strict["tp"], strict["fp"], strict["fn"]) == (0, 3, 3)
  assert (merged["tp"], merged["fp"], merged["fn"]) == (2, 1, 1)
  truth["nodes"] = [{"level": l, "index": i, "processor": p} for l, i, p in true]
  assert scoring.merged_recovery(truth, found) == merged
  # the same type on both sides of the path counts once
  assert scoring.merge_series({("track", 2, "eq"), ("group", 0, "eq")}, single) == {
      ("track", 2, "eq")}


def test_is_decreasing():
  assert quality.is_decreasing([3.0, 2.0, 2.0, 1.0])
  assert not quality.is_decreasing([3.0, 2.0, 2.1])
  assert quality.is_decreasing([3.0, 2.0, 2.05], slack=0.1)


def test_summary_checks_and_markdown():
  rho = {t: 0.5 for t in quality.ABLATION_ORDER}
  common = {"tracks": 2, "groups": 1, "seconds_audio": 8.0, "loss_sum": 2.0,
            "pruning_ratio": 0.7, "pruning_ratio_per_type": rho,
            "seconds": {"total": 10.0}, "compilations": {"fit": 0, "song_loss": 0},
            "compiled": False,
            "cost": {"nodes": 3, "console_fit_s_per_step": 0.1, "finetune_s_per_step": 0.1,
                     "trials": 5, "trials_s": 2.0}}
  console_row = dict(common, dataset="console", song="a", path="c/a", loss_console=0.3,
                     loss_pruned=0.31, recall_audible=1.0,
                     recovery={"precision": 1.0, "recall": 0.8, "tp": 4, "fp": 0, "fn": 1},
                     recovery_merged={"precision": 1.0, "recall": 1.0, "tp": 3, "fp": 0,
                                      "fn": 0})
  pedal = scoring.pedalboard_scores(_pedalboard_truth(), {("track", 0, "eq")})
  pedal_row = dict(common, dataset="pedalboard", song="a", path="p/a", loss_console=0.4,
                   loss_pruned=0.405, pedalboard=pedal)
  summary = quality.summarise([console_row, pedal_row])
  assert summary["console"]["recall_pooled"] == pytest.approx(0.8)
  assert summary["console"]["recovery_merged"] == {"precision": 1.0, "recall": 1.0}
  assert summary["pedalboard"]["effects_found"] == 2
  ablation = {"labels": ["sum", "+g", "+s", "+e", "+r", "+c", "+n", "+d"], "steps": 10,
              "songs": [{"dataset": "pedalboard", "song": "a",
                         "losses": [2.0, 1, .9, .8, .7, .6, .5, .4], "seconds": []}],
              "mean": [2.0, 1, .9, .8, .7, .6, .5, .4], "paper": list(quality.PAPER_TABLE1),
              "decreasing": True}
  checks = {c["what"]: c["reached"] for c in quality.paper_checks(summary, ablation,
                                                                   tolerance=0.01)}
  assert checks["pedalboard: console loss ≤ 0.409"]
  assert checks["pedalboard: pruned loss ≤ console loss + τ"]
  assert checks["pedalboard: ρ ≥ 0.67"]
  assert checks["console: precision ≥ 0.9"] and not checks["console: recall ≥ 0.9"]
  assert checks["ablation: mean console loss decreases as types are added"]
  settings = {"preset": "reduced", "sample_rate": 16000, "console_steps": 200, "rounds": 2,
              "sampler": "hybrid", "tolerance": 0.01, "finetune_steps": 50, "seed": 0,
              "mode": "loop", "ablation_steps": 10, "ablation_mode": "batch"}
  report = {"settings": settings, "songs": [console_row, pedal_row], "summary": summary,
            "ablation": ablation, "wall_seconds": 60.0, "date": "today",
            "machine": {"nproc": 2, "cpu": "cpu", "device": "cpu", "jax": "0",
                        "load_avg_start": (1.0, 1.0, 1.0)},
            "checks": quality.paper_checks(summary, ablation, tolerance=0.01)}
  text = quality.markdown(report)
  assert "| pedalboard | a | 2/1 |" in text and "2/6" in text
  assert "| 1.00 | 0.80 | 1.00 | 1.00 / 1.00 |" in text  # P, R, R audible, P / R merged
  assert "| *paper* | *19.7* |" in text
  assert "| console | a | 3 | 8.0 | 0.10 | 0.10 | 5 | 2 |" in text


def test_methods_side_by_side():
  rho = {t: 0.5 for t in quality.ABLATION_ORDER}
  common = {"dataset": "console", "song": "a", "path": "c/a", "tracks": 2, "groups": 1,
            "seconds_audio": 8.0, "loss_sum": 2.0, "loss_console": 0.3, "loss_pruned": 0.31,
            "pruning_ratio_per_type": rho, "seconds": {"total": 10.0}, "compiled": False,
            "cost": {"nodes": 3, "console_fit_s_per_step": 0.1, "finetune_s_per_step": 0.1,
                     "trials": 5, "trials_s": 2.0}, "truth_ratio": 0.76}
  paper = dict(common, method="paper", pruning_ratio=0.5, processors_kept=10, method_log={},
               recovery={"precision": 0.4, "recall": 0.8, "tp": 4, "fp": 6, "fn": 1})
  precise = dict(common, method="precise", pruning_ratio=0.7, processors_kept=6,
                 method_log={"returned": [(1, ("track", 0, "eq"), 0.5, 0.4)], "moved": []},
                 recovery={"precision": 0.67, "recall": 0.8, "tp": 4, "fp": 2, "fn": 1})
  summary = quality.summarise([paper, precise])
  assert set(summary) == {"console (paper)", "console (precise)"}
  assert summary["console (precise)"]["precision"] == pytest.approx(0.67)
  assert set(quality.summarise([paper])) == {"console"}  # one method: no suffix
  lines = quality.methods_table([paper, precise])
  assert lines[2] == "| console | a | paper | 0.300 | 0.310 | 0.50 (0.76) | 10 | 0.40 / 0.80 | – | – | – | – | 10 |"
  assert lines[3] == "| console | a | precise | 0.300 | 0.310 | 0.70 (0.76) | 6 | 0.67 / 0.80 | – | – | 1 | 0 | 10 |"
  truth = {"nodes": [{"level": "track", "index": 0, "processor": "eq"},
                     {"level": "group", "index": 0, "processor": "gain_pan"}]}
  assert scoring.truth_ratio(truth, 21) == pytest.approx(1 - 2 / 21)
  with pytest.raises(SystemExit, match="--methods"):
    quality.main(["/nonexistent", "--methods", "paper,fast"])


def test_find_songs(tmp_path):
  song = tmp_path / "set" / "001_song"
  (song / "tracks").mkdir(parents=True)
  (song / "tracks" / "kick.wav").write_bytes(b"")
  (song / "mix.wav").write_bytes(b"")
  (tmp_path / "set" / "notes").mkdir()
  (tmp_path / "set" / "000_empty").mkdir()
  songs, skipped = quality.find_songs(str(tmp_path / "set"))
  assert songs == [str(song)]
  assert [line.split(":")[0] for line in skipped] == [str(tmp_path / "set" / "000_empty"),
                                                      str(tmp_path / "set" / "notes")]
  assert quality.find_songs(str(song)) == ([str(song)], [])
  entries = quality.song_entries([str(tmp_path / "set"), str(song) + "/"], max_songs=1)
  assert [(e["dataset"], e["name"]) for e in entries] == [("set", "001_song"), ("set", "001_song")]


def test_audible_nodes_scores_every_truth_removal_with_the_search_loss(tmp_path):
  import jax
  import numpy as np

  import mixjax
  from benchmarks.songs import targets

  song, _ = mixjax.synthetic_song(jax.random.key(0), n_tracks=2, n_groups=1, seconds=2.5,
                                  sample_rate=8000)
  _, truth = targets.console_mix(song, key=jax.random.key(1), density=0.6)
  np.savez(tmp_path / "params.npz", **targets.console_params_arrays(truth))
  (tmp_path / "truth.json").write_text(json.dumps(targets.console_truth_json(
      song, truth, density=0.6, params_file="params.npz")))
  config = mixjax.SearchConfig(crop_seconds=1.5, eval_hop_seconds=1.0, omit_seconds=0.5)
  score = lambda tolerance: scoring.audible_nodes(song, str(tmp_path / "truth.json"),
                                                  config=config, tolerance=tolerance,
                                                  masks_per_call=4)
  audible, losses = score(0.01)
  alive = {(level, int(i), name) for level, names in truth.alive.items()
           for name, a in names.items() for i in np.flatnonzero(np.asarray(a))}
  assert set(losses) == alive and len(alive) > 4  # more removals than one call's masks
  assert all(np.isfinite(v) and v >= 0 for v in losses.values())
  assert audible <= alive
  assert score(-1.0)[0] == alive and score(1e9)[0] == set()


def test_search_numbers_are_the_results_losses_ratio_trials_and_seconds():
  import types
  result = types.SimpleNamespace(loss_sum=3.0, loss_console=0.5, loss_pruned=0.6,
                                 pruning_ratio=0.4, pruning_ratio_per_type={"eq": 0.5},
                                 trials=[1, 2, 3], seconds={"total": 9.0})
  assert scoring.search_numbers(result) == {
      "loss_sum": 3.0, "loss_console": 0.5, "loss_pruned": 0.6, "pruning_ratio": 0.4,
      "pruning_ratio_per_type": {"eq": 0.5}, "trials": 3, "seconds": {"total": 9.0}}
