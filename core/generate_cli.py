"""``swansphere generate`` and ``swansphere stream``: the pipeline from the command line.

Both check every path before any model runs (the CLI checks arguments typed with
:mod:`swansphere.cli_args`), so a typo fails in a second with one line: an output may not be a
folder, have the wrong suffix, sit in a missing or read-only folder, or name the input video or
another output.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import cli_args
from .errors import AudioFileError
from .registry import Registry

MAX_GENERATE_SECONDS = 3600.0
"""``generate`` holds the whole clip in memory (and writes one WAV): an hour at most."""
MAX_STREAM_SECONDS = 1e9
"""``stream`` runs as long as asked; past ~30 years a duration is a typo (and overflows)."""


def _common(parser: argparse.ArgumentParser, max_seconds: float, hint: str) -> None:
    parser.add_argument("--text", help="the prompt, e.g. 'a cello plays on the left'")
    parser.add_argument("--video", type=cli_args.input_file,
                        help="an equirectangular video (.npz or any file ffmpeg reads), read "
                             "frame by frame as generation needs it")
    parser.add_argument("--duration", type=cli_args.seconds(maximum=max_seconds, hint=hint),
                        help="seconds of audio (default: the video's length, or the model's "
                             "default)")
    parser.add_argument("--seed", type=cli_args.seed, default=0,
                        help=f"random seed, 0 .. {cli_args.MAX_SEED} (default 0)")
    parser.add_argument("--model", default=cli_args.DEFAULT_MODEL,
                        help=f"a shipped model name or a save_pretrained directory (default: "
                             f"{cli_args.DEFAULT_MODEL}; {cli_args.SHIPPED_MODELS_HELP})")
    parser.add_argument("--audio-prompt", type=cli_args.input_file, metavar="WAV",
                        help="AmbiX audio to continue (any rate): the output goes on from its "
                             "end, as if the model had made it (text only, one place)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="change the model's config before it is built, e.g. --set "
                             "sampler.type=heun --set sampler.steps=8 or --set guidance.w2=2 "
                             "(TOML values; repeatable)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` and ``stream`` commands."""
    generate = subparsers.add_parser("generate", help="generate AmbiX audio into a WAV file")
    _common(generate, MAX_GENERATE_SECONDS, "; use 'swansphere stream' for longer audio")
    generate.add_argument("-o", "--output", type=cli_args.output_file(".wav"), required=True,
                          help="AmbiX WAV to write")
    generate.add_argument("--binaural", type=cli_args.output_file(".wav"),
                          help="also write a headphone render (WAV)")
    generate.add_argument("--mp4", type=cli_args.output_file(".mp4"),
                          help="also write a 360° MP4 with spatial audio")
    generate.set_defaults(func=_run_generate)

    stream = subparsers.add_parser(
        "stream", help="stream raw interleaved float32 AmbiX PCM (W, Y, Z, X) to stdout")
    _common(stream, MAX_STREAM_SECONDS, "")
    stream.set_defaults(func=_run_stream)


def _pipeline(args: argparse.Namespace, registry: Registry):
    from .pipeline import Pipeline

    pipeline = Pipeline.from_pretrained(args.model, registry=registry,
                                        overrides=args.overrides)
    for module in pipeline.modules().values():
        module.eval()
    return pipeline


def _audio_prompt(args: argparse.Namespace, sample_rate: int):
    """The ``--audio-prompt`` file at the model's rate, or ``None``."""
    if args.audio_prompt is None:
        return None
    import torchaudio.functional

    from swansphere.spatial import read_foa

    audio, rate = read_foa(args.audio_prompt)
    return audio if rate == sample_rate else torchaudio.functional.resample(audio, rate,
                                                                            sample_rate)


def _run_generate(args: argparse.Namespace, registry: Registry) -> int:
    from tqdm import tqdm

    from swansphere.spatial import (
        binaural,
        read_panorama_video,
        write_360_mp4,
        write_foa,
        write_wav,
    )

    _check_tools(args)
    pipeline = _pipeline(args, registry)
    stream = pipeline.stream(args.text, args.video, args.duration, args.seed,
                             audio_prompt=_audio_prompt(args, pipeline.sample_rate))
    chunks = [next(stream).audio]  # the inputs are checked before the progress bar shows
    if args.text is not None:  # what the model makes of the words
        for reading in pipeline.read_prompt(args.text, with_video=args.video is not None,
                                            with_audio_prompt=args.audio_prompt is not None):
            print(f"reading: {reading.describe()}", file=sys.stderr)
    with tqdm(unit="s", unit_scale=True, desc="generating", file=sys.stderr,
              bar_format="{desc}: {n:.2f} s of audio [{elapsed}, {rate_fmt}]") as progress:
        progress.update(chunks[0].shape[-1] / pipeline.sample_rate)
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


def _check_tools(args: argparse.Namespace) -> None:
    """What the extra outputs need (an HRTF set, ffmpeg), found before any model runs."""
    if args.binaural is not None:
        from swansphere.spatial.hrtf import find_sofa

        find_sofa()
    if args.mp4 is not None:
        from swansphere.spatial.mp4 import require_ffmpeg

        require_ffmpeg()


def _run_stream(args: argparse.Namespace, registry: Registry) -> int:
    output = getattr(sys.stdout, "buffer", None)
    if output is None:  # started with stdout closed (`>&-`)
        raise AudioFileError("stdout is closed; pipe the stream into a player or a file")
    pipeline = _pipeline(args, registry)
    print(f"streaming float32 AmbiX (W, Y, Z, X interleaved) at {pipeline.sample_rate} Hz",
          file=sys.stderr)
    for chunk in pipeline.stream(args.text, args.video, args.duration, args.seed,
                                 audio_prompt=_audio_prompt(args, pipeline.sample_rate)):
        if not _write_pcm(output, chunk.audio.T.contiguous().numpy().astype("<f4").tobytes()):
            break
    return 0


def _write_pcm(output, data: bytes) -> bool:
    """Write one chunk to stdout; False when the reader has gone (a normal end of a stream)."""
    try:
        output.write(data)
        output.flush()
    except BrokenPipeError:  # the player stopped listening
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False
    except (OSError, ValueError) as error:  # a full disk, a closed or unwritable stdout
        reason = getattr(error, "strerror", None) or error
        raise AudioFileError(f"cannot write the stream to stdout ({reason}); check where "
                             "stdout goes (free space, permissions)") from None
    return True
