"""``swansphere generate`` and ``swansphere stream``: the pipeline from the command line.

Both check every path before any model runs, so a typo fails in a second with one line.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from .errors import AudioFileError, ResourceNotFoundError
from .registry import Registry


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"the duration must be > 0 seconds, got {text}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", help="the prompt, e.g. 'a dog barks on the left'")
    parser.add_argument("--video", type=Path, help="an equirectangular video (.npz or any file "
                                                   "ffmpeg reads)")
    parser.add_argument("--duration", type=_positive_seconds,
                        help="seconds of audio (default: the video's length, or the model's "
                             "default)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--model", default="tiny",
                        help="a shipped model name or a save_pretrained directory "
                             "(default: tiny)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` and ``stream`` commands."""
    generate = subparsers.add_parser("generate", help="generate AmbiX audio into a WAV file")
    _common(generate)
    generate.add_argument("-o", "--output", type=Path, required=True, help="AmbiX WAV to write")
    generate.add_argument("--binaural", type=Path, help="also write a headphone render (WAV)")
    generate.add_argument("--mp4", type=Path, help="also write a 360° MP4 with spatial audio")
    generate.set_defaults(func=_run_generate)

    stream = subparsers.add_parser(
        "stream", help="stream raw interleaved float32 AmbiX PCM (W, Y, Z, X) to stdout")
    _common(stream)
    stream.set_defaults(func=_run_stream)


def _check_inputs(args: argparse.Namespace, outputs: list[Path | None]) -> None:
    if args.video is not None and not args.video.is_file():
        raise ResourceNotFoundError(f"video {args.video} does not exist; check the path")
    for path in outputs:
        if path is not None and not path.parent.is_dir():
            raise AudioFileError(f"cannot write {path}: folder {path.parent} does not exist")


def _pipeline(args: argparse.Namespace, registry: Registry):
    from .pipeline import Pipeline

    pipeline = Pipeline.from_pretrained(args.model, registry=registry)
    for module in pipeline.modules().values():
        module.eval()
    return pipeline


def _run_generate(args: argparse.Namespace, registry: Registry) -> int:
    _check_inputs(args, [args.output, args.binaural, args.mp4])
    from tqdm import tqdm

    from swansphere.spatial import (
        binaural,
        read_panorama_video,
        write_360_mp4,
        write_foa,
        write_wav,
    )

    pipeline = _pipeline(args, registry)
    chunks = []
    stream = pipeline.stream(args.text, args.video, args.duration, args.seed)
    with tqdm(unit="s", unit_scale=True, desc="generating", file=sys.stderr,
              bar_format="{desc}: {n:.2f} s of audio [{elapsed}, {rate_fmt}]") as progress:
        for chunk in stream:
            chunks.append(chunk.audio)
            progress.update(chunk.audio.shape[-1] / pipeline.sample_rate)
    import torch

    audio = torch.cat(chunks, dim=-1)
    write_foa(args.output, audio, pipeline.sample_rate)
    print(f"wrote {args.output}: {audio.shape[-1] / pipeline.sample_rate:.2f} s of AmbiX at "
          f"{pipeline.sample_rate} Hz")
    if args.binaural is not None:
        write_wav(args.binaural, binaural(audio, pipeline.sample_rate), pipeline.sample_rate)
        print(f"wrote {args.binaural}: binaural render")
    if args.mp4 is not None:
        frames, fps = args.video, None
        if args.video is not None and args.video.suffix == ".npz":  # ffmpeg cannot read it
            frames, _, fps = read_panorama_video(args.video)
        write_360_mp4(args.mp4, audio, pipeline.sample_rate, frames=frames, fps=fps)
        print(f"wrote {args.mp4}: 360° video with ambisonic audio")
    return 0


def _run_stream(args: argparse.Namespace, registry: Registry) -> int:
    _check_inputs(args, [])
    pipeline = _pipeline(args, registry)
    print(f"streaming float32 AmbiX (W, Y, Z, X interleaved) at {pipeline.sample_rate} Hz",
          file=sys.stderr)
    output = sys.stdout.buffer
    try:
        for chunk in pipeline.stream(args.text, args.video, args.duration, args.seed):
            output.write(chunk.audio.T.contiguous().numpy().astype("<f4").tobytes())
            output.flush()
    except BrokenPipeError:  # the player stopped listening: a normal end of a stream
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
