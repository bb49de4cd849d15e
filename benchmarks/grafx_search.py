"""Run the reference's own pruning search (grafx-prune's solver on GRAFX) on one song, on CPU.

Run with the GRAFX environment's python (``benchmarks/setup_grafx_env.sh``), never with
mixjax's, as a module from the repository root (it imports ``benchmarks.grafx_driver``);
``benchmarks/vs_reference.py`` prepares the song and calls it:

    $MIXJAX_GRAFX_PYTHON -m benchmarks.grafx_search song.npz --out result.json \
        --epoch-steps 100 --console-epochs 4 --rounds 4

``song.npz`` holds ``tracks`` (T, 2, n) and ``mix`` (2, n) float32, ``track_groups`` (T,) int
and ``sample_rate``. The search is grafx-prune's ``MusicMixingConsoleSolver`` itself: its
``on_train_epoch_start`` (pruning rounds with its samplers, L_min, tolerance, the optimiser
re-created every epoch), ``training_step`` (render, loss, regularisers, sparsity ramp, AdamW),
``evaluate`` and ``compute_prune_mask``. What this script supplies instead of PyTorch
Lightning and the data module:

* the loop over epochs and steps (``current_epoch``, one random crop per step, uniform over
  the song as the reference's dataset draws it; the whole-song chunks every ``crop - 1 s``);
* stand-ins for the pieces the solver imports but a CPU run does not use: ``pytorch_lightning``
  (``LightningModule`` with ``optimizers``, ``manual_backward``, ``log_dict``),
  ``pyloudnorm`` (used only when writing test audio), ``data.load`` (returns this song's
  console metadata);
* the solver's source with its device strings ``"cuda"`` / ``.cuda()`` rewritten to the CPU;
* processors sized for the song's rate as mixjax sizes them (delay segment 0.1 s, reverb 2 s,
  dynamics smoother 16384 · sr / 30000 taps; the reference's defaults at 30 kHz) and the loss
  at the song's rate (``MRSTFTLoss(sr=...)``; the solver builds it at 30 kHz). FlashFFTConv off.

Python's ``random`` (the samplers' choices) and torch (parameter init) are seeded with
``--seed``; the reference seeds only torch (42). The JSON written to ``--out`` has the losses
(plain sum, console, pruned), the surviving processors as ``[level, index, type]`` in mixjax's
names, the trial log and the seconds per phase.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
import types
import warnings

import numpy as np

if not __package__:  # run as `python benchmarks/x.py`: `benchmarks` from the repository root
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import grafx_driver  # the GRAFX-side helpers: grafx-prune export, processors

MIXJAX_NAMES = {
    "eq": "eq",
    "compressor": "compressor",
    "noisegate": "noisegate",
    "stereo_imager": "imager",
    "gain_panning": "gain_pan",
    "delay": "delay",
    "reverb": "reverb",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("song", help="song .npz (tracks, mix, track_groups, sample_rate)")
    p.add_argument("--out", required=True, help="result JSON (written when the search ends)")
    p.add_argument("--epoch-steps", type=int, default=500, help="steps per epoch (paper: 500)")
    p.add_argument("--console-epochs", type=int, default=12, help="epochs before pruning (12)")
    p.add_argument("--rounds", type=int, default=12, help="pruning rounds, one per epoch (12)")
    p.add_argument(
        "--sparsity-raise-epochs", type=int, default=4, help="sparsity ramp length in epochs (4)"
    )
    p.add_argument("--tolerance", type=float, default=1e-2)
    p.add_argument("--policy", choices=["hybrid", "weight", "brute_force"], default="hybrid")
    p.add_argument("--crop-seconds", type=float, default=3.8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args(argv)


# --------------------------------------------------------------------------- the solver


def install_stand_ins(metadata: dict) -> None:
    """Modules the solver imports that a CPU run replaces (see the module docstring)."""
    import torch.nn as nn

    class LightningModule(nn.Module):
        current_epoch = 0
        trainer = None

        def save_hyperparameters(self):
            pass

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            return batch  # everything stays on the CPU

        def optimizers(self):
            return self.trainer.optimizers[0]

        def manual_backward(self, loss):
            loss.backward()

        def log_dict(self, values, **_):
            self.logged.append({k: float(getattr(v, "detach", lambda: v)()) for k, v in values.items()})

    lightning = types.ModuleType("pytorch_lightning")
    lightning.LightningModule = LightningModule
    sys.modules["pytorch_lightning"] = lightning
    sys.modules["pyloudnorm"] = types.ModuleType("pyloudnorm")
    data = types.ModuleType("data")
    load = types.ModuleType("data.load")
    load.load_metadata = lambda dataset, song: metadata
    data.load = load
    sys.modules["data"], sys.modules["data.load"] = data, load


def load_solver_class(code_dir: str):
    """grafx-prune's ``solver.py`` with its CUDA device strings pointed at the CPU."""
    path = os.path.join(code_dir, "solver.py")
    with open(path) as f:
        source = f.read()
    source = source.replace('"cuda"', '"cpu"').replace(".cuda()", ".cpu()")
    module = types.ModuleType("solver")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)
    return module.MusicMixingConsoleSolver


def console_metadata(track_groups) -> dict:
    """grafx-prune's loader layout: track t in its subgroup, groups in index order."""
    groups = max(track_groups) + 1
    dry = [f"/song/track_{t:05d}.wav" for t in range(len(track_groups))]
    matched = {f"/song/group_{k:05d}.wav": [] for k in range(groups)}
    names = list(matched)
    for t, k in enumerate(track_groups):
        matched[names[k]].append(os.path.basename(dry[t]))
    return {
        "dataset": "medley",
        "matched_dry_dirs": dry,
        "correspondence": {"matched": matched},
        "unmatched_dirs": [],
    }


def tag_origins(graph, track_groups) -> None:
    """Mark every processor node with ``origin = (level, index, mixjax type)``.

    Track t's chain runs from the ``in`` node named ``f"{t:05d}"`` to its subgroup's ``mix``
    node, whose chain runs to ``out``. The attribute survives pruning and re-ordering.
    """

    def walk(start, level, index):
        (node,) = graph.successors(start)
        while graph.nodes[node]["node_type"] in MIXJAX_NAMES:
            kind = MIXJAX_NAMES[graph.nodes[node]["node_type"]]
            graph.nodes[node]["origin"] = (level, index, kind)
            (node,) = graph.successors(node)
        return node

    mixes = {}
    for node, attrs in list(graph.nodes(data=True)):
        if attrs["node_type"] == "in":
            track = int(attrs["name"])
            mixes[walk(node, "track", track)] = track_groups[track]
    for mix, group in mixes.items():
        walk(mix, "group", group)


def make_solver(solver_class, args, sample_rate, audio_len, code_dir, save_dir):
    from loss import MRSTFTLoss  # grafx-prune, code/loss.py
    import torch.nn as nn

    class Solver(solver_class):
        def init_audio_processors(self):
            self.audio_processors = nn.ModuleDict(
                {
                    kind: grafx_driver.make_processor(kind, self.audio_len, sample_rate)
                    for kind in set(self.processors)
                }
            )

        def evaluate(self, weight, desc):
            loss = super().evaluate(weight, desc)
            self.evaluations.append({"desc": desc, "loss": float(loss)})
            return loss

    settings = {
        "id": "reference",
        "save_dir": save_dir,
        "debug": False,
        "dataset": "song",
        "song": "song",
        "sr": sample_rate,
        "audio_len": audio_len,
        "batch_size": 1,
        "steps_per_epoch": args.epoch_steps,
        "total_epochs": args.console_epochs + args.rounds,
        "processors": list(grafx_driver.PROCESSORS),
        "flashfftconv": False,
        "lr": grafx_driver.LR,
        "gain_reg_weight": grafx_driver.GAIN_REG_WEIGHT,
        "prune": True,
        "prune_policy": args.policy,
        "tolerance": args.tolerance,
        "prune_start_epoch": args.console_epochs,
        "sparsity_loss_weight": 1e-4,
        "sparsity_raise_epoch": args.sparsity_raise_epochs,
        "num_steps_per_log": 50,
        "save_intermediate_graphs": False,
    }
    solver = Solver(settings)
    solver.logged, solver.evaluations = [], []  # log_dict's and evaluate's records
    solver.match_loss = MRSTFTLoss(sr=sample_rate)
    return solver


# --------------------------------------------------------------------------- the run


def alive(solver) -> list:
    return sorted(
        list(a["origin"]) for _, a in solver.G.nodes(data=True) if "origin" in a
    )


def run(args) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch
        import grafx  # noqa: F401

    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("medium")  # as grafx-prune's train.py
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)

    song = np.load(args.song)
    tracks = np.asarray(song["tracks"], np.float32)
    mix = np.asarray(song["mix"], np.float32)
    track_groups = [int(g) for g in song["track_groups"]]
    sr = int(song["sample_rate"])
    audio_len = round(args.crop_seconds * sr)
    hop = audio_len - round(grafx_driver.EVAL_WARMUP_SECONDS * sr)
    if tracks.shape[-1] <= audio_len:
        sys.exit(f"grafx_search: {args.song} is shorter than one {args.crop_seconds} s crop")

    code_dir = grafx_driver.grafx_prune_on_path()
    if code_dir is None:
        sys.exit("grafx_search: grafx-prune's code is not available (set MIXJAX_GRAFX_PRUNE_DIR)")
    install_stand_ins(console_metadata(track_groups))
    solver_class = load_solver_class(code_dir)

    import tempfile

    seconds = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as save_dir, contextlib.redirect_stdout(sys.stderr):
        solver = make_solver(solver_class, args, sr, audio_len, code_dir, save_dir)
        tag_origins(solver.G, track_groups)
        eval_batches = grafx_driver.song_chunks(tracks, mix, audio_len, hop)
        solver.trainer = types.SimpleNamespace(
            optimizers=None,
            datamodule=types.SimpleNamespace(val_dataloader=lambda: eval_batches),
        )
        num_processors = len(alive(solver))
        solver.eval_batches = eval_batches
        loss_sum = solver.evaluate(torch.zeros_like(solver.soft_mask), "plain sum")
        loss_console = None
        for epoch in range(args.console_epochs + args.rounds):
            if epoch == args.console_epochs:
                seconds["console"] = time.perf_counter() - t0
                loss_console = solver.evaluate(solver.get_weight(), "console")
            solver.current_epoch = epoch
            solver.on_train_epoch_start()  # a pruning round when due; a new optimiser
            for step in range(args.epoch_steps):
                start = int(rng.integers(0, tracks.shape[-1] - audio_len))
                batch = {
                    "source": torch.from_numpy(tracks[None, :, :, start : start + audio_len]),
                    "mix": torch.from_numpy(mix[None, :, start : start + audio_len]),
                }
                solver.training_step(batch, step)
            print(f"epoch {epoch} done, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        solver.training = False
        loss_pruned = solver.evaluate(solver.get_weight(), "pruned")
    seconds["total"] = time.perf_counter() - t0
    found = alive(solver)
    trials = [e for e in solver.evaluations if e["desc"].startswith(("search", ))
              or e["desc"][:1].isdigit()]
    return {
        "loss_sum": loss_sum,
        "loss_console": loss_console,
        "loss_pruned": loss_pruned,
        "num_processors": num_processors,
        "alive": found,
        "pruning_ratio": 1 - len(found) / num_processors,
        "trials": len(trials),
        "evaluations": solver.evaluations,
        "logged": solver.logged,
        "seconds": seconds,
        "settings": vars(args) | {"sample_rate": sr, "audio_len": audio_len},
        "torch": torch.__version__,
    }


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, args.out)
    print(json.dumps({k: result[k] for k in ("loss_sum", "loss_console", "loss_pruned",
                                               "pruning_ratio", "trials", "seconds")}))


if __name__ == "__main__":
    main()
