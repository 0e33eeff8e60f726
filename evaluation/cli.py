"""``swansphere bench TARGET``: benchmarks that print a table and save JSON.

Targets are a small table (:data:`_TARGETS`) so that other benchmarks (the streaming
pipeline) add one entry. Import-light: torch loads inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PATCH_BASELINES = {
    "patch-exact": {"type": "patch", "hop_length": 256},
    "patch-32d": {"type": "patch", "hop_length": 256, "coefficients": 8},
}
"""Training-free baselines at the tiny preset's frame rate (16 kHz, hop 256)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command group."""
    parser = subparsers.add_parser(
        "bench", help="benchmarks (CPU/GPU speed, quality); print a table, save JSON",
        description="Run a benchmark; every figure is measured in one run, side by side, "
                    "and reported as a median.")
    targets = parser.add_subparsers(dest="bench_target", metavar="TARGET")
    for add in _TARGETS.values():
        add(targets)
    parser.set_defaults(func=_missing_target)


def _missing_target(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.errors import ConfigError

    raise ConfigError(f"choose a benchmark: swansphere bench {{{','.join(_TARGETS)}}}")


def _add_codec(targets: argparse._SubParsersAction) -> None:
    parser = targets.add_parser(
        "codec", help="codec speed (RTF, streaming step latency) and round-trip quality",
        description="Benchmarks the foa-vae codec beside the training-free patch baselines: "
                    "offline encode/decode real-time factors, the latency of one streaming "
                    "decode step (one latent frame), and per-channel SI-SDR and direction "
                    "error (delta angular) on held-out synthesised FOA scenes.")
    parser.add_argument("--vae", metavar="DIR", default=None,
                        help="trained foa-vae directory (config.toml + model.safetensors), "
                             "e.g. <run>/codec; without it an untrained tiny foa-vae is timed "
                             "and its quality is not reported")
    parser.add_argument("--paper", action="store_true",
                        help="also time the paper preset (44.1 kHz, hop 2048, untrained)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="audio length for the speed figures (default: 10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default: 5)")
    parser.add_argument("--step-frames", type=int, default=1,
                        help="latent frames per streaming step (default: 1; the backbone "
                             "emits patches of 4)")
    parser.add_argument("--scenes", type=int, default=16,
                        help="synthesised scenes for quality (default: 16)")
    parser.add_argument("--scene-seconds", type=float, default=2.0,
                        help="length of each quality scene (default: 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", metavar="OUT", default=None, help="write the report here")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=_run_codec)


def _run_codec(args: argparse.Namespace, registry: Any) -> int:
    import torch

    from swansphere.errors import ConfigError

    from .codec_bench import format_table, run_benchmark

    if args.seconds <= 0 or min(args.repeats, args.scenes, args.step_frames) < 1:
        raise ConfigError("--seconds must be > 0; --repeats, --scenes and --step-frames >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    codecs = _codecs(args, registry)
    report = run_benchmark(codecs, seconds=args.seconds, repeats=args.repeats,
                           step_frames=args.step_frames, scenes=args.scenes,
                           scene_seconds=args.scene_seconds,
                           progress=not args.no_progress)
    report["command"] = "swansphere " + " ".join(sys.argv[1:])
    report["vae"] = args.vae
    print(format_table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _codecs(args: argparse.Namespace, registry: Any) -> dict[str, tuple[Any, bool]]:
    import torch

    from swansphere.codecs.weights import load_codec

    torch.manual_seed(0)
    if args.vae:
        codecs = {"foa-vae": (load_codec(args.vae, registry=registry), True)}
    else:
        codecs = {"foa-vae (untrained)": (registry.create("codec", {"type": "foa-vae"}), False)}
    codecs.update({name: (registry.create("codec", spec), True)
                   for name, spec in PATCH_BASELINES.items()})
    if args.paper:
        codecs["foa-vae paper"] = (registry.create("codec", {"type": "foa-vae",
                                                             "preset": "paper"}), False)
    return codecs


_TARGETS = {"codec": _add_codec}
