"""``swansphere bench TARGET``: benchmarks that print a table and save JSON.

Targets come from plugins (``swansphere_register_bench_targets``): each names an
``add(targets)`` function like :func:`add_codec_target`; the built-in ones are registered by
:mod:`swansphere.plugins.bench_targets`. Import-light: torch loads inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from swansphere import ExtensionKind, cli_args
from swansphere.registry import default_registry

PATCH_BASELINES = {
    "patch-exact": {"type": "patch", "hop_length": 256},
    "patch-32d": {"type": "patch", "hop_length": 256, "coefficients": 8},
}
"""Training-free baselines at the tiny preset's frame rate (16 kHz, hop 256)."""

COMPILE_MODES = ("reduce-overhead", "default", "max-autotune", "max-autotune-no-cudagraphs",
                 "cudagraphs")
"""``bench pipeline --compile`` values: torch.compile modes, and ``cudagraphs`` (dynamo's
CUDA-graph backend: the step captured as it is, no generated kernels, quick to prepare)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command group."""
    parser = subparsers.add_parser(
        "bench", help="benchmarks (CPU/GPU speed, quality); print a table, save JSON",
        description="Run a benchmark; every figure is measured in one run, side by side, "
                    "and reported as a median.")
    targets = parser.add_subparsers(dest="bench_target", metavar="TARGET")
    default_registry().extend(ExtensionKind.BENCH_TARGET, lambda add: add(targets))
    parser.set_defaults(func=_missing_target)


def _missing_target(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.errors import ConfigError

    names = ",".join(item.name for item in registry.extensions(ExtensionKind.BENCH_TARGET))
    raise ConfigError(f"choose a benchmark: swansphere bench {{{names}}}")


def add_codec_target(targets: argparse._SubParsersAction) -> None:
    """Add ``swansphere bench codec``."""
    parser = targets.add_parser(
        "codec", help="codec speed (RTF, streaming steps) and round-trip quality",
        description="Benchmarks the shipped tiny model's codec, the foa-parametric codec and "
                    "the training-free patch baselines side by side: offline and streamed "
                    "real-time factors, streaming step latency; SI-SDR and direction error on "
                    "synthesised scenes; on the installed sound sets, identity (nearest class "
                    "in the aisfx embedding, FD, spectral distance) of held-out clips and "
                    "direction error and energy-map correlation of scenes.")
    parser.add_argument("--vae", metavar="DIR", type=cli_args.input_dir, default=None,
                        help="also a trained foa-vae directory (config.toml + "
                             "model.safetensors), e.g. <run>/codec")
    parser.add_argument("--parametric", metavar="DIR", type=cli_args.input_dir, default=None,
                        help="a fitted foa-parametric directory (default: the unfitted codec; "
                             "fitting only standardises the latents, the audio is the same)")
    parser.add_argument("--paper", action="store_true",
                        help="also time the paper preset (44.1 kHz, hop 2048, untrained)")
    parser.add_argument("--seconds", type=cli_args.seconds(maximum=3600.0), default=10.0,
                        help="audio length for the speed figures (default: 10)")
    parser.add_argument("--repeats", type=cli_args.positive_int, default=5,
                        help="timed repeats (default: 5)")
    parser.add_argument("--step-frames", type=cli_args.positive_int, default=4,
                        help="latent frames per streaming step (default: 4, the backbone's "
                             "patch)")
    parser.add_argument("--scenes", type=cli_args.positive_int, default=16,
                        help="scenes of each kind for quality (default: 16)")
    parser.add_argument("--scene-seconds", type=cli_args.seconds(maximum=600.0), default=2.0,
                        help="length of each synthesised quality scene (default: 2)")
    parser.add_argument("--sets", default=None,
                        help="comma-separated sound sets for the identity and sound-set scene "
                             "figures (default: every installed set)")
    parser.add_argument("--no-sound-sets", action="store_true",
                        help="skip the identity and sound-set scene figures")
    parser.add_argument("--streams", type=cli_args.positive_int, default=1, metavar="N",
                        help="also time N streams served together (Pipeline.stream_many) and "
                             "report the RTF per stream (default 1: not timed)")
    parser.add_argument("--threads", type=cli_args.threads, default=None,
                        help="torch CPU threads")
    parser.add_argument("--json", metavar="OUT", type=cli_args.output_file(".json", report=True),
                        default=None, help="write the report here")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=_run_codec)


def _run_codec(args: argparse.Namespace, registry: Any) -> int:
    import torch

    from swansphere.errors import ConfigError

    from .codec_bench import RealSoundSettings, format_table, run_benchmark

    if args.seconds <= 0 or min(args.repeats, args.scenes, args.step_frames) < 1:
        raise ConfigError("--seconds must be > 0; --repeats, --scenes and --step-frames >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    codecs = _codecs(args, registry)
    real = None
    if not args.no_sound_sets:
        from swansphere.metrics.embedding import AisfxEmbedding

        real = RealSoundSettings(sets=args.sets.split(",") if args.sets else None,
                                 scenes=args.scenes, embedding=AisfxEmbedding.load())
    report = run_benchmark(codecs, seconds=args.seconds, repeats=args.repeats,
                           step_frames=args.step_frames, scenes=args.scenes,
                           scene_seconds=args.scene_seconds, real=real,
                           progress=not args.no_progress)
    report["command"] = "swansphere " + " ".join(sys.argv[1:])
    report["vae"], report["parametric"] = (str(path) if path else None
                                           for path in (args.vae, args.parametric))
    print(format_table(report))
    _write_json(args.json, report)
    return 0


def _codecs(args: argparse.Namespace, registry: Any) -> dict[str, tuple[Any, bool]]:
    import torch

    from swansphere.codecs.weights import load_codec
    from swansphere.pipeline import Pipeline

    torch.manual_seed(0)
    # The shipped weights are float16 (package size); on a CPU they are timed in float32.
    shipped = Pipeline.from_pretrained("tiny").codec.float()
    codecs = {"foa-vae (shipped tiny)": (shipped, True)}
    if args.vae:
        codecs["foa-vae"] = (load_codec(args.vae, registry=registry), True)
    codecs["foa-parametric"] = (load_codec(args.parametric, registry=registry)
                                if args.parametric else
                                registry.create("codec", {"type": "foa-parametric"}), True)
    codecs.update({name: (registry.create("codec", spec), True)
                   for name, spec in PATCH_BASELINES.items()})
    if args.paper:
        codecs["foa-vae paper"] = (registry.create("codec", {"type": "foa-vae",
                                                             "preset": "paper"}), False)
    return codecs


def add_pipeline_target(targets: argparse._SubParsersAction) -> None:
    """Add ``swansphere bench pipeline``."""
    parser = targets.add_parser(
        "pipeline", help="streaming first-chunk latency, RTF and peak memory vs the global "
                         "baseline's time to first audio",
        description="Times the streaming pipeline (first-chunk latency from the stream() call, "
                    "steady-state real-time factor, peak memory) and a same-size whole-clip "
                    "global-dit baseline (time to first audio) in one run, interleaved, and "
                    "reports medians. The baseline has random weights (timing only).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="DIR_OR_NAME", default=None,
                        help=f"a pipeline saved with save_pretrained, or a shipped model "
                             f"name (default: {cli_args.DEFAULT_MODEL})")
    source.add_argument("--config", metavar="TOML", type=cli_args.input_file, default=None,
                        help="time a pipeline config with random weights instead: a "
                             "pipeline.toml or a training recipe with a [pipeline] table")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="change the pipeline's config before it is built, as generate "
                             "--set does (e.g. --set sampler.steps=4 or --set "
                             "exemplar_anchor=0; repeatable)")
    parser.add_argument("--duration", type=cli_args.seconds(maximum=3600.0), default=10.0,
                        help="seconds of audio per run (default: 10)")
    parser.add_argument("--repeats", type=cli_args.positive_int, default=3,
                        help="timed repeats (default: 3)")
    parser.add_argument("--text", default=None,
                        help=f"prompt (default: {cli_args.BENCH_PROMPT!r} when the model has "
                             f"a text conditioner)")
    parser.add_argument("--video", metavar="PATH", type=cli_args.input_file, default=None,
                        help="panorama video (.npz or a file ffmpeg reads) to condition on")
    parser.add_argument("--seed", type=cli_args.seed, default=0,
                        help="generation seed (default: 0)")
    parser.add_argument("--baseline-patch-frames", type=cli_args.positive_int, default=1,
                        metavar="K",
                        help="latent frames per token of the global baseline (default: 1, a "
                             "token per frame; the streaming patch size gives the LM's grid)")
    parser.add_argument("--streams", type=cli_args.positive_int, default=1, metavar="N",
                        help="also time N streams served together (Pipeline.stream_many) and "
                             "report the RTF per stream (default 1: not timed)")
    parser.add_argument("--threads", type=cli_args.threads, default=None,
                        help="torch CPU threads")
    parser.add_argument("--device", type=cli_args.device, default="cpu",
                        help="cpu or cuda[:N] (default: cpu)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=None,
                        help="cast the weights (default: as loaded)")
    parser.add_argument("--compile", nargs="?", const="reduce-overhead", default=None,
                        choices=COMPILE_MODES, metavar="MODE",
                        help="run each patch step as one compiled call (Pipeline.compile); "
                             "MODE is a torch.compile mode, default reduce-overhead (CUDA "
                             "graphs on CUDA; on the CPU it needs a C++ compiler), or "
                             "cudagraphs (capture only, CUDA)")
    parser.add_argument("--json", metavar="OUT", type=cli_args.output_file(".json", report=True),
                        default=None, help="write the report here")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=_run_pipeline)


def _run_pipeline(args: argparse.Namespace, registry: Any) -> int:
    import torch

    from swansphere.errors import ConfigError, ResourceNotFoundError

    from .pipeline_bench import (
        format_table,
        load_pipeline,
        run_pipeline_benchmark,
        shipped_model_exists,
    )

    if args.duration <= 0 or min(args.repeats, args.baseline_patch_frames) < 1:
        raise ConfigError("--duration must be > 0; --repeats and --baseline-patch-frames >= 1")
    if args.model is None and args.config is None and not shipped_model_exists(
            cli_args.DEFAULT_MODEL):
        raise ResourceNotFoundError(f"no shipped '{cli_args.DEFAULT_MODEL}' model in this "
                                    f"install yet: pass --model DIR (saved with "
                                    f"save_pretrained) or --config TOML (random weights, "
                                    f"timing only)")
    if args.threads:
        torch.set_num_threads(args.threads)
    pipeline, info = load_pipeline(args.model, args.config, registry=registry,
                                   overrides=args.overrides)
    report = run_pipeline_benchmark(pipeline, info=info, duration=args.duration,
                                    repeats=args.repeats, text=args.text or cli_args.BENCH_PROMPT,
                                    video=args.video, seed=args.seed, device=args.device,
                                    dtype=args.dtype and getattr(torch, args.dtype),
                                    baseline_patch_frames=args.baseline_patch_frames,
                                    stream_count=args.streams,
                                    compile_options=_compile_options(args.compile),
                                    progress=not args.no_progress)
    report["command"] = "swansphere " + " ".join(sys.argv[1:])
    print(format_table(report))
    _write_json(args.json, report)
    return 0


def _compile_options(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"backend": value} if value == "cudagraphs" else {"mode": value}


def _write_json(path: str | None, report: dict[str, Any]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")


def add_clips_target(targets: argparse._SubParsersAction) -> None:
    """Add ``swansphere bench clips``."""
    parser = targets.add_parser(
        "clips", help="generate a folder of clips (streaming model or a baseline) for "
                      "'swansphere eval'",
        description="Generate one AmbiX WAV (plus a JSON sidecar with the prompt) per prompt "
                    "or per simulated scene, with the streaming model or a baseline, into a "
                    "folder that 'swansphere eval --generated' scores. Scene clips are named "
                    "<scene>/foa.wav, so '--reference' can be the scene folder itself.")
    parser.add_argument("--generator", choices=("streaming", "global", "cascade"),
                        default="streaming",
                        help="streaming: the model as is; global: a trained global-dit "
                             "pipeline given by --model; cascade: --model's (or --mono-model's) "
                             "W channel panned toward the video's salient direction, else the "
                             "prompt's (default: streaming)")
    parser.add_argument("--model", metavar="DIR_OR_NAME", default=cli_args.DEFAULT_MODEL,
                        help=f"the pipeline to generate with (default: "
                             f"{cli_args.DEFAULT_MODEL})")
    parser.add_argument("--mono-model", metavar="DIR_OR_NAME", default=None,
                        help="cascade only: generate the mono signal with this pipeline "
                             "instead (a global-dit one is run as the global baseline)")
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--prompts", metavar="FILE", type=cli_args.input_file,
                        help="text file, one prompt per line (blank lines and # comments "
                             "skipped); clips prompt-000.wav, ...")
    inputs.add_argument("--scenes", metavar="DIR", type=cli_args.input_dir,
                        help="simulated scenes (swansphere data simulate) to condition on")
    parser.add_argument("--scene-text", action="store_true",
                        help="with --scenes: also give each scene's caption as the prompt")
    parser.add_argument("--no-video", action="store_true",
                        help="with --scenes: do not give the scenes' videos")
    parser.add_argument("--duration", type=cli_args.seconds(maximum=3600.0), default=None,
                        help="seconds per prompt clip (default: the model's default)")
    parser.add_argument("--seed", type=cli_args.seed, default=0,
                        help="first seed (one more per clip)")
    parser.add_argument("--out", type=cli_args.output_dir, required=True, metavar="DIR",
                        help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run_clips)


def _run_clips(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.errors import ConfigError

    from .baselines import generate_clips, load_generator, prompt_requests, scene_requests

    if args.scenes:
        if args.no_video and not args.scene_text:
            raise ConfigError("--no-video without --scene-text leaves nothing to condition on")
        requests = scene_requests(args.scenes, with_video=not args.no_video,
                                  with_text=args.scene_text, seed=args.seed)
    else:
        requests = prompt_requests(_read_prompts(Path(args.prompts)), duration=args.duration,
                                   seed=args.seed)
    generator = load_generator(args.generator, args.model, mono_model=args.mono_model,
                               registry=registry)
    written = generate_clips(generator, requests, args.out, name=args.generator,
                             progress=not args.no_progress)
    print(f"wrote {len(written)} clip(s) to {args.out} with the {args.generator} generator")
    return 0


def _read_prompts(path: Path) -> list[str]:
    from swansphere.errors import ConfigError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read prompts from {path} (one UTF-8 line per prompt): "
                          f"{error}") from None
    prompts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not prompts:
        raise ConfigError(f"{path} holds no prompts (one per line)")
    return prompts

