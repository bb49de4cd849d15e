"""Time GRAFX (the PyTorch reference) on the paper's full mixing console.

Run with the GRAFX environment's python (see ``benchmarks/setup_grafx_env.sh``), never with
mixjax's: this script imports torch and grafx and must not import jax or mixjax.

    $MIXJAX_GRAFX_PYTHON -m benchmarks.grafx_driver --mode render \
        --tracks 16 --groups 4 --seconds 3.8 --sample-rate 30000 --repeats 5 --threads 2

Modes:

``render``
    Median wall time of one forward render (no autograd, as the reference's evaluation renders)
    and of forward + backward of an MSE loss to every parameter (processor parameters and
    dry/wet logits).
``step``
    Median wall time of one optimisation step as the reference trains: render, grafx-prune's
    multi-resolution mel-STFT loss, gain-staging (x1e-3) and delay-radii (x0.5) regularisers,
    backward, AdamW (lr 1e-2, weight decay 0, eps 1e-8).
``evaluate``
    Median wall time of one whole-song evaluation: a ``--seconds`` long song cut into chunks of
    ``--chunk-seconds`` starting every ``chunk - 1 s``, each rendered without gradients and
    scored with the loss (first second of each chunk skipped), then averaged.

The console is T dry tracks spread evenly (in contiguous blocks) over G subgroups, each track
and each subgroup carrying the chain eq, compressor, noisegate, stereo_imager, gain_panning,
delay, reverb, every processor wrapped in ``DryWet`` (EQ and reverb also in
``GainStagingRegularization``), FlashFFTConv off, parameters drawn from N(0, 0.01^2) after
``torch.manual_seed(seed)``, dry/wet logits 0. The graph is built by grafx-prune's own
``construct_mixing_console`` and the loss is grafx-prune's ``MRSTFTLoss``; both are imported at
run time from an export of the grafx-prune repository (nothing of it is kept in mixjax):

* ``MIXJAX_GRAFX_PRUNE_DIR`` (default ``/tmp/grafx-prune``): a directory holding ``code/``;
* if it is missing, ``code/`` is exported there with ``git archive`` from the git repository
  (a bare mirror will do) named by ``MIXJAX_GRAFX_PRUNE_GIT`` (no default).

Without grafx-prune, ``render`` still runs (with an equivalent graph built here through the
GRAFX API; the JSON line says which builder was used); ``step`` and ``evaluate`` need its loss.

The last line printed is one JSON object with the timings (seconds), the peak resident memory
of the process (MB), and the torch / GRAFX versions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

PROCESSORS = [
    "eq",
    "compressor",
    "noisegate",
    "stereo_imager",
    "gain_panning",
    "delay",
    "reverb",
]
PRUNE_FILES = [
    "code/loss.py",
    "code/auraloss_opt",
    "code/mixing_console.py",
    "code/solver.py",
    "code/prune.py",
    "code/utils.py",
]
DEFAULT_PRUNE_DIR = "/tmp/grafx-prune"

LR = 1e-2
GAIN_REG_WEIGHT = 1e-3
RADII_REG_SCALE = 0.5
EVAL_WARMUP_SECONDS = 1.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["render", "step", "evaluate"], required=True)
    p.add_argument("--tracks", type=int, default=4)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument(
        "--seconds",
        type=float,
        default=3.8,
        help="crop length (render, step) or song length (evaluate)",
    )
    p.add_argument(
        "--chunk-seconds",
        type=float,
        default=3.8,
        help="evaluation chunk length (evaluate only)",
    )
    p.add_argument("--sample-rate", type=int, default=30000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device: cpu (default) or cuda; timings synchronise the device",
    )
    p.add_argument(
        "--builder",
        choices=["auto", "grafx-prune", "local"],
        default="auto",
        help="who builds the graph: grafx-prune's construct_mixing_console, or this script",
    )
    args = p.parse_args(argv)
    if not 1 <= args.groups <= args.tracks:
        p.error("need 1 <= groups <= tracks")
    if args.repeats < 1:
        p.error("need repeats >= 1")
    return args


# --------------------------------------------------------------------------- grafx-prune import


def grafx_prune_on_path() -> str | None:
    """grafx-prune's ``code/`` directory, exported if needed and put first on the import path.

    grafx-prune is not a package: its modules (``loss``, ``mixing_console``, ``solver``...)
    are imported top-level from there. ``None`` when it is not available.
    """
    code = _grafx_prune_code_dir()
    if code is not None and code not in sys.path:
        sys.path.insert(0, code)
    return code


def _grafx_prune_code_dir() -> str | None:
    """A directory holding grafx-prune's ``code/`` modules, exporting it if needed."""
    root = os.environ.get("MIXJAX_GRAFX_PRUNE_DIR", DEFAULT_PRUNE_DIR)
    code = os.path.join(root, "code")
    if all(os.path.exists(os.path.join(root, f)) for f in PRUNE_FILES):
        return code
    git_dir = os.environ.get("MIXJAX_GRAFX_PRUNE_GIT")
    if not git_dir or not os.path.isdir(git_dir):
        return code if os.path.isfile(os.path.join(code, "loss.py")) else None
    shutil.rmtree(root, ignore_errors=True)  # an older export without the solver's files
    os.makedirs(os.path.dirname(os.path.abspath(root)) or ".", exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".grafx-prune-", dir=os.path.dirname(os.path.abspath(root)))
    try:
        archive = subprocess.run(
            ["git", "-C", git_dir, "archive", "--format=tar", "HEAD", *PRUNE_FILES],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        try:
            os.rename(tmp, root)  # atomic: concurrent runs cannot see a half export
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another run got there first
    except (OSError, subprocess.CalledProcessError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"grafx_driver: could not export grafx-prune: {e}", file=sys.stderr)
        return None
    return code if os.path.isfile(os.path.join(code, "loss.py")) else None


def import_grafx_prune():
    """Return (construct_mixing_console, MRSTFTLoss), either of which may be None."""
    if grafx_prune_on_path() is None:
        return None, None
    from loss import MRSTFTLoss  # noqa: E402  (grafx-prune, code/loss.py)
    from mixing_console import construct_mixing_console  # noqa: E402

    return construct_mixing_console, MRSTFTLoss


# --------------------------------------------------------------------------- console


def group_of_track(track: int, tracks: int, groups: int) -> int:
    """Contiguous, even assignment: track t goes to subgroup floor(t * G / T)."""
    return track * groups // tracks


def synthetic_metadata(tracks: int, groups: int) -> dict:
    """Metadata in the layout grafx-prune's loaders produce, for T tracks over G subgroups."""
    dry = [f"/synthetic/track_{t:05d}.wav" for t in range(tracks)]
    matched = {f"/synthetic/group_{k:05d}.wav": [] for k in range(groups)}
    names = list(matched)
    for t, path in enumerate(dry):
        matched[names[group_of_track(t, tracks, groups)]].append(os.path.basename(path))
    return {
        "dataset": "medley",
        "matched_dry_dirs": dry,
        "correspondence": {"matched": matched},
        "unmatched_dirs": [],
    }


def build_graph_locally(tracks, groups, node_configs):
    """The same console through the GRAFX API: in -> chain -> mix -> chain -> out."""
    from grafx.data import GRAFX

    graph = GRAFX(config=node_configs, invalid_op="error")
    track_ends = []
    for _ in range(tracks):
        source = graph.add("in")
        first, last = graph.add_serial_chain(PROCESSORS)
        graph.connect(source, first)
        track_ends.append(last)
    group_ends = []
    for k in range(groups):
        mix = graph.add("mix")
        for t in range(tracks):
            if group_of_track(t, tracks, groups) == k:
                graph.connect(track_ends[t], mix)
        first, last = graph.add_serial_chain(PROCESSORS)
        graph.connect(mix, first)
        group_ends.append(last)
    out = graph.add("out")
    for last in group_ends:
        graph.connect(last, out)
    return graph


# processor type -> (GRAFX class name, whether it convolves with a long FIR, whether the
# solver adds gain-staging regularisation to it)
PROCESSOR_TABLE = {
    "eq": ("ZeroPhaseFIREqualizer", False, True),
    "compressor": ("Compressor", True, False),
    "noisegate": ("NoiseGate", True, False),
    "stereo_imager": ("SideGainImager", False, False),
    "gain_panning": ("StereoGain", False, False),
    "delay": ("MultitapDelay", True, False),
    "reverb": ("STFTMaskedNoiseReverb", True, True),
}


def rate_sizes(kind, sample_rate):
    """GRAFX constructor sizes at ``sample_rate``, scaled from its 30 kHz defaults as mixjax
    scales them: delay segments of 0.1 s, a 2 s reverb, a 16384 · sr / 30000-tap smoother."""
    if kind == "delay":
        return {"segment_len": round(0.1 * sample_rate)}
    if kind == "reverb":
        return {"ir_len": round(2.0 * sample_rate)}
    if kind in ("compressor", "noisegate"):
        return {"iir_len": round(16384 * sample_rate / 30000)}
    return {}


def make_processor(kind, audio_len, sample_rate=30000):
    """One node type of the console, FlashFFTConv off, wrapped in DryWet; at 30 kHz the GRAFX
    defaults, at other rates the sizes of ``rate_sizes``."""
    from grafx import processors

    class_name, convolves, gain_staged = PROCESSOR_TABLE[kind]
    kwargs = {"flashfftconv": False, "max_input_len": audio_len} if convolves else {}
    kwargs |= rate_sizes(kind, sample_rate)
    processor = getattr(processors, class_name)(**kwargs)
    if gain_staged:
        processor = processors.GainStagingRegularization(processor)
    return processors.DryWet(processor)


class Console:
    """State the reference solver keeps: processors, graph, render data, parameters, logits."""

    def __init__(
        self, tracks, groups, audio_len, seed, builder, construct_mixing_console, sample_rate
    ):
        import torch
        import torch.nn as nn
        from grafx.data import NodeConfigs, convert_to_tensor
        from grafx.render import prepare_render, reorder_for_fast_render
        from grafx.utils import count_nodes_per_type, create_empty_parameters

        torch.manual_seed(seed)
        self.module = nn.Module()  # holds everything the reference's optimiser sees
        self.module.audio_processors = nn.ModuleDict(
            {kind: make_processor(kind, audio_len, sample_rate) for kind in set(PROCESSORS)}
        )
        node_configs = NodeConfigs(PROCESSORS)
        if builder == "grafx-prune":
            graph = construct_mixing_console(
                metadata=synthetic_metadata(tracks, groups),
                dry_insert_processors=PROCESSORS,
                multi_insert_processors=PROCESSORS,
                node_configs=node_configs,
            )
        else:
            graph = build_graph_locally(tracks, groups, node_configs)
        order = ["in"] + PROCESSORS + ["mix"] + PROCESSORS + ["out"]
        order = [node_configs.node_type_to_index[t] for t in order]
        self.graph = reorder_for_fast_render(graph, method="fixed", fixed_order=order)
        self.num_processors = sum(count_nodes_per_type(self.graph, PROCESSORS).values())
        self.graph_tensor = convert_to_tensor(self.graph)
        self.render_data = prepare_render(self.graph_tensor)
        self.module.graph_parameters = create_empty_parameters(
            self.module.audio_processors, self.graph
        )
        self.module.soft_mask = nn.Parameter(torch.zeros(self.graph_tensor.num_nodes))
        self.num_nodes = int(self.graph_tensor.num_nodes)

    def render(self, sources, grad):
        """sources: (1, T, 2, L). Returns the mix (1, 1, 2, L) and the intermediates."""
        import torch
        from grafx.render import render_grafx

        weight = torch.sigmoid(self.module.soft_mask)
        mix, intermediates, _ = render_grafx(
            self.module.audio_processors,
            sources,
            self.module.graph_parameters,
            self.render_data,
            common_parameters={"drywet_weight": weight},
            parameters_grad=grad,
        )
        return mix, intermediates


def regularisers(intermediates):
    """Sum the per-type intermediates and weight them as the reference's solver does."""
    total = {}
    for item in intermediates:
        for key, value in item.items():
            total[key] = total[key] + value if key in total else value
    if "gain_reg" in total:
        total["gain_reg"] = total["gain_reg"] * GAIN_REG_WEIGHT
    if "radii_reg" in total:
        total["radii_reg"] = total["radii_reg"] * RADII_REG_SCALE
    return total


def song_chunks(tracks, mix, audio_len, hop):
    """The reference's evaluation batches of a song (tracks (T, 2, n), mix (2, n)): chunk i
    starts at i·hop, ``ceil(n / hop)`` chunks, zero-filled past the end."""
    import torch

    tracks, mix = torch.as_tensor(tracks), torch.as_tensor(mix)
    total = tracks.shape[-1]
    batches = []
    for i in range(math.ceil(total / hop)):
        start, stop = i * hop, min(i * hop + audio_len, total)
        source = torch.zeros(1, tracks.shape[0], 2, audio_len)
        target = torch.zeros(1, 2, audio_len)
        source[0, :, :, : stop - start] = tracks[:, :, start:stop]
        target[0, :, : stop - start] = mix[:, start:stop]
        batches.append({"source": source, "mix": target})
    return batches


# --------------------------------------------------------------------------- timing


def to_device(obj, device):
    """Tensors, dicts, lists and dataclasses (grafx's ``RenderData``) moved to ``device``."""
    import dataclasses

    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_device(o, device) for o in obj]
    if isinstance(obj, tuple):
        return tuple(to_device(o, device) for o in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            setattr(obj, field.name, to_device(getattr(obj, field.name), device))
    return obj


def _synchronize(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, repeats, warmup, device="cpu"):
    for _ in range(warmup):
        fn()
    _synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main(argv=None):
    args = parse_args(argv)
    with warnings.catch_warnings():
        # grafx warns at import about torchaudio's lfilter (an IIR option the console never uses)
        warnings.simplefilter("ignore")
        import torch
        import grafx  # noqa: F401
    from importlib.metadata import version

    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("medium")  # as grafx-prune's train.py

    construct_mixing_console, MRSTFTLoss = import_grafx_prune()
    builder = args.builder
    if builder == "auto":
        builder = "grafx-prune" if construct_mixing_console is not None else "local"
    if builder == "grafx-prune" and construct_mixing_console is None:
        sys.exit("grafx_driver: grafx-prune's code is not available (set MIXJAX_GRAFX_PRUNE_DIR)")
    if args.mode in ("step", "evaluate") and MRSTFTLoss is None:
        sys.exit("grafx_driver: step/evaluate need grafx-prune's loss (set MIXJAX_GRAFX_PRUNE_DIR)")

    sr = args.sample_rate
    crop_len = round(args.seconds * sr)
    audio_len = round(args.chunk_seconds * sr) if args.mode == "evaluate" else crop_len

    t0 = time.perf_counter()
    console = Console(
        args.tracks, args.groups, audio_len, args.seed, builder, construct_mixing_console, sr
    )
    build_s = time.perf_counter() - t0
    device = torch.device(args.device)
    console.module.to(device)
    console.render_data = to_device(console.render_data, device)

    gen = torch.Generator().manual_seed(args.seed + 1)
    result = {
        "mode": args.mode,
        "tracks": args.tracks,
        "groups": args.groups,
        "seconds": args.seconds,
        "sample_rate": sr,
    }

    if args.mode == "render":
        sources = (0.1 * torch.randn(1, args.tracks, 2, crop_len, generator=gen)).to(device)
        target = (0.1 * torch.randn(1, 2, crop_len, generator=gen)).to(device)
        params = list(console.module.parameters())

        def forward():
            with torch.no_grad():
                console.render(sources, grad=False)

        def forward_backward():
            for p in params:
                p.grad = None
            mix, _ = console.render(sources, grad=True)
            loss = torch.mean((mix.view(1, 2, crop_len) - target) ** 2)
            loss.backward()

        result["fwd_s"], result["fwd_times"] = timed(forward, args.repeats, args.warmup, device)
        result["fwd_bwd_s"], result["fwd_bwd_times"] = timed(
            forward_backward, args.repeats, args.warmup, device
        )

    elif args.mode == "step":
        sources = (0.1 * torch.randn(1, args.tracks, 2, crop_len, generator=gen)).to(device)
        target = (0.1 * torch.randn(1, 2, crop_len, generator=gen)).to(device)
        console.module.match_loss = MRSTFTLoss(sr=sr).to(device)
        optimiser = torch.optim.AdamW(
            params=console.module.parameters(), lr=LR, weight_decay=0, eps=1e-8
        )
        losses = []

        def step():
            mix, intermediates = console.render(sources, grad=True)
            reg = regularisers(intermediates)
            # argument order as the reference solver: match_loss(mix, mix_pred)
            match = console.module.match_loss(target, mix)
            total = match["match/full"] + sum(reg.values())
            optimiser.zero_grad()
            total.backward()
            optimiser.step()
            losses.append(
                {"total": total.detach().item(), "match": match["match/full"].detach().item()}
                | {k: v.detach().item() for k, v in reg.items()}
            )

        result["step_s"], result["step_times"] = timed(step, args.repeats, args.warmup, device)
        result["first_loss"] = losses[0]

    else:  # evaluate
        total_len = round(args.seconds * sr)
        hop = audio_len - round(EVAL_WARMUP_SECONDS * sr)
        song = 0.1 * torch.randn(args.tracks, 2, total_len, generator=gen)
        mix_song = 0.1 * torch.randn(2, total_len, generator=gen)
        match_loss = MRSTFTLoss(sr=sr, omit_sec=EVAL_WARMUP_SECONDS).to(device)
        # pre-loaded, as the reference pre-loads its evaluation batches
        chunks = to_device(song_chunks(song, mix_song, audio_len, hop), device)
        song_losses = []

        def evaluate():
            with torch.no_grad():
                losses = []
                for chunk in chunks:
                    pred, _ = console.render(chunk["source"], grad=False)
                    # argument order as the reference solver: match_loss(mix, mix_pred)
                    losses.append(match_loss(chunk["mix"], pred)["match/full"].item())
                song_losses.append(sum(losses) / len(losses))

        result["evaluate_s"], result["evaluate_times"] = timed(
            evaluate, args.repeats, args.warmup, device
        )
        result["chunks"] = len(chunks)
        result["chunk_seconds"] = args.chunk_seconds
        result["song_loss"] = song_losses[0]

    result |= {
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "device": str(device),
        "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                        else "cpu"),
        "peak_device_mb": (torch.cuda.max_memory_allocated(device) / 2**20
                           if device.type == "cuda" else None),
        "torch": torch.__version__,
        "grafx": version("GRAFX"),
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "build_s": build_s,
        "num_nodes": console.num_nodes,
        "num_processors": console.num_processors,
        "console_builder": builder,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
