"""``swansphere spatial ...``: the AmbiX toolkit on the command line.

Kept import-light: torch and the toolkit load inside the handlers, so ``swansphere --help``
and other commands stay fast.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from swansphere import cli_args

_FORMATS = ("ambix", "fuma", "n3d")
_BAR_WIDTH = 37  # columns of the panorama strip: back, left, front, right, back every 9


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``spatial`` command group."""
    parser = subparsers.add_parser(
        "spatial", help="AmbiX (FOA) toolkit: encode, analyse, rotate, convert, binaural",
        description="First-order ambisonics (AmbiX: ACN W,Y,Z,X, SN3D) tools. Angles are "
                    "degrees: azimuth counter-clockwise from the front (left +90), elevation "
                    "up positive.")
    commands = parser.add_subparsers(dest="spatial_command", metavar="COMMAND", required=True)
    _add_encode(commands)
    _add_track(commands)
    _add_direction(commands)
    _add_rotate(commands)
    _add_convert(commands)
    _add_binaural(commands)
    _add_map(commands)
    _add_overlay(commands)


def _add_encode(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "encode", help="write a static or moving test source as AmbiX WAV",
        description="Encode a test source as a plane wave. Two azimuth (or elevation) values "
                    "make the source move linearly from the first to the second over the clip.")
    parser.add_argument("--source", choices=("noise", "sine", "chirp"), default="noise",
                        help="test signal (default: noise)")
    parser.add_argument("--azimuth", type=cli_args.finite_float, nargs="+", default=[0.0],
                        metavar="DEG",
                        help="azimuth, or start and end azimuth of a move (default: 0)")
    parser.add_argument("--elevation", type=cli_args.finite_float, nargs="+", default=[0.0],
                        metavar="DEG",
                        help="elevation, or start and end elevation of a move (default: 0)")
    parser.add_argument("--duration", type=cli_args.seconds(maximum=3600.0), default=2.0,
                        help="seconds (default: 2)")
    parser.add_argument("--sample-rate", type=cli_args.integer(1000, 768000, "the sample rate"),
                        default=16000, help="Hz (default: 16000)")
    parser.add_argument("--frequency", type=cli_args.positive_float, default=440.0,
                        help="sine frequency in Hz (default: 440)")
    parser.add_argument("--seed", type=cli_args.seed, default=0, help="noise seed (default: 0)")
    parser.add_argument("-o", "--output", required=True, type=cli_args.output_file(".wav"),
                        help="output WAV (float32, AmbiX)")
    parser.set_defaults(func=_run_encode)


def _add_track(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "track", help="print the framewise direction track of an AmbiX file",
        description="Framewise intensity-vector direction and diffuseness (0: one plane "
                    "wave, 1: no net direction). The strip shows where the source sits in a "
                    "360-degree panorama: B(ack) L(eft) F(ront) R(ight) B(ack).")
    parser.add_argument("file", type=cli_args.input_file, help="AmbiX WAV/FLAC file")
    parser.add_argument("--frame", type=cli_args.seconds(maximum=60.0), default=0.1,
                        help="frame length in s (0.1)")
    parser.add_argument("--hop", type=cli_args.seconds(maximum=60.0), default=0.05,
                        help="frame hop in s (0.05)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=_run_track)


def _add_direction(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("direction", help="print the whole-clip direction of a file")
    parser.add_argument("file", type=cli_args.input_file, help="AmbiX WAV/FLAC file")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=_run_direction)


def _add_rotate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "rotate", help="rotate the sound field by yaw, pitch and roll",
        description="Yaw moves a source at azimuth a to a + yaw; pitch raises a source in "
                    "front; roll raises a source on the left; applied in that order.")
    parser.add_argument("input", type=cli_args.input_file, help="AmbiX file to read")
    parser.add_argument("output", type=cli_args.output_file(".wav"), help="AmbiX WAV to write")
    for name in ("yaw", "pitch", "roll"):
        parser.add_argument(f"--{name}", type=cli_args.finite_float, default=0.0, metavar="DEG",
                            help=f"{name} in degrees (default: 0)")
    parser.set_defaults(func=_run_rotate)


def _add_convert(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convert", help="convert between AmbiX, FuMa and ACN/N3D",
        description="ambix: ACN W,Y,Z,X with SN3D; fuma: W,X,Y,Z with W at -3 dB; n3d: ACN "
                    "order with N3D normalisation (Y, Z, X times sqrt(3)).")
    parser.add_argument("input", type=cli_args.input_file, help="4-channel file to read")
    parser.add_argument("output", type=cli_args.output_file(".wav"),
                        help="4-channel WAV to write")
    parser.add_argument("--from", dest="source_format", choices=_FORMATS, required=True)
    parser.add_argument("--to", dest="target_format", choices=_FORMATS, required=True)
    parser.set_defaults(func=_run_convert)


def _add_binaural(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "binaural", help="render an AmbiX file for headphones (stereo WAV)",
        description="Decode through virtual loudspeakers and a SOFA HRTF set (default: "
                    "$SWANSPHERE_SOFA, else the MIT KEMAR set of Debian's libmysofa1).")
    parser.add_argument("input", type=cli_args.input_file, help="AmbiX file to read")
    parser.add_argument("output", type=cli_args.output_file(".wav"),
                        help="stereo WAV to write (left, right)")
    parser.add_argument("--sofa", default=None, metavar="PATH", type=cli_args.input_file,
                        help="SOFA HRIR file")
    parser.set_defaults(func=_run_binaural)


def _add_map(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "map", help="draw the energy map and direction track of an AmbiX file (PNG)",
        description="The energy map (dB below the loudest direction) on the equirectangular "
                    "panorama (centre: front, left quarter: azimuth +90), with the framewise "
                    "direction track drawn over it from cyan (start) to magenta (end). Needs "
                    "matplotlib (pip install 'swansphere[plot]').")
    parser.add_argument("file", type=cli_args.input_file, help="AmbiX WAV/FLAC file")
    parser.add_argument("-o", "--output", required=True, type=cli_args.output_file(".png"),
                        help="PNG to write")
    parser.add_argument("--timeline", type=cli_args.output_file(".png"), default=None,
                        metavar="PNG", help="also draw the track against time into this PNG")
    parser.add_argument("--video", type=cli_args.input_file, default=None,
                        help="draw over the first frame of this panorama video (.npz or any "
                             "file ffmpeg reads)")
    parser.add_argument("--frame", type=cli_args.seconds(maximum=60.0), default=0.1,
                        help="track frame length in s (0.1)")
    parser.add_argument("--hop", type=cli_args.seconds(maximum=60.0), default=0.05,
                        help="track frame hop in s (0.05)")
    parser.set_defaults(func=_run_map)


def _add_overlay(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "overlay", help="lay the sound's energy over a 360° video (MP4)",
        description="Each frame of the panorama video gets the energy map of the audio heard "
                    "while it shows, as heat (dB below the clip's loudest moment); the result "
                    "is a 360° MP4 with the AmbiX file as its spatial audio, as long as the "
                    "audio. Needs matplotlib (pip install 'swansphere[plot]') and ffmpeg.")
    parser.add_argument("file", type=cli_args.input_file, help="AmbiX WAV/FLAC file")
    parser.add_argument("--video", type=cli_args.input_file, required=True,
                        help="equirectangular video (.npz or any file ffmpeg reads)")
    parser.add_argument("-o", "--output", required=True, type=cli_args.output_file(".mp4"),
                        help="MP4 to write")
    parser.add_argument("--fps", type=cli_args.positive_float, default=None,
                        help="frame rate of the output (default: the video's)")
    parser.add_argument("--max-width", type=cli_args.integer(2, 8192, "the width"),
                        default=1024, help="scale wider videos down to this (1024)")
    parser.add_argument("--opacity", type=_fraction, default=0.6,
                        help="opacity of the heat at the loudest point, 0..1 (0.6)")
    parser.set_defaults(func=_run_overlay)


def _fraction(text: str) -> float:
    value = cli_args.finite_float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1; got {text}")
    return value


def _endpoints(values: list[float], option: str) -> list[float]:
    from swansphere.errors import ConfigError

    if len(values) > 2:
        raise ConfigError(f"{option} takes one value (static) or two (start and end of a "
                          f"move); got {len(values)}")
    return values if len(values) == 2 else values * 2


def _run_encode(args: argparse.Namespace, registry: Any) -> int:
    import torch

    from swansphere.spatial import encode, source_signal, write_foa

    generator = torch.Generator().manual_seed(args.seed)
    signal = source_signal(args.source, args.duration, args.sample_rate,
                           frequency=args.frequency, generator=generator)
    azimuth = _endpoints(args.azimuth, "--azimuth")
    elevation = _endpoints(args.elevation, "--elevation")
    path = torch.linspace(0.0, 1.0, signal.shape[-1], dtype=torch.float64)
    foa = encode(signal, azimuth[0] + (azimuth[1] - azimuth[0]) * path,
                 elevation[0] + (elevation[1] - elevation[0]) * path)
    write_foa(args.output, foa, args.sample_rate)
    where = f"azimuth {azimuth[0]:+.1f}, elevation {elevation[0]:+.1f}"
    if azimuth[0] != azimuth[1] or elevation[0] != elevation[1]:
        where = f"moving from {where} to azimuth {azimuth[1]:+.1f}, elevation {elevation[1]:+.1f}"
    print(f"wrote {args.output}: {args.source}, {signal.shape[-1] / args.sample_rate:.2f} s at "
          f"{args.sample_rate} Hz, {where} (degrees)")
    return 0


def _run_track(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.errors import AudioFormatError
    from swansphere.spatial import direction_track, read_foa

    foa, sample_rate = read_foa(args.file)
    if foa.shape[-1] < round(args.frame * sample_rate):  # one padded frame of a sliver
        raise AudioFormatError(f"{args.file} lasts {foa.shape[-1] / sample_rate:.3g} s, less "
                               f"than one --frame of {args.frame:g} s; give a shorter --frame")
    track = direction_track(foa, sample_rate, frame_seconds=args.frame, hop_seconds=args.hop)
    if args.json:
        print(json.dumps({"file": str(args.file), "sample_rate": sample_rate,
                          "frame_seconds": args.frame, "hop_seconds": args.hop,
                          **track.to_dict()}, indent=2))
        return 0
    print(f"{args.file}: AmbiX, {sample_rate} Hz, {foa.shape[-1] / sample_rate:.2f} s; "
          f"{len(track)} frames of {args.frame:g} s every {args.hop:g} s (angles in degrees)")
    for line in _track_table(track.to_dict()):
        print(line)
    return 0


def _track_table(track: dict[str, list]) -> list[str]:
    ticks = "B        L        F        R        B"
    lines = [f"{'time_s':>7}  {'azimuth':>8}  {'elevation':>9}  {'diffuseness':>11}  {ticks}"]
    for time, azimuth, elevation, diffuseness in zip(
            track["times"], track["azimuth"], track["elevation"], track["diffuseness"],
            strict=True):
        if azimuth is None:  # a silent frame has no direction
            lines.append(f"{time:7.2f}  {'-':>8}  {'-':>9}  {diffuseness:11.2f}  {_strip(None)}")
            continue
        lines.append(f"{time:7.2f}  {azimuth:+8.1f}  {elevation:+9.1f}  {diffuseness:11.2f}  "
                     f"{_strip(azimuth)}")
    return lines


def _strip(azimuth: float | None) -> str:
    """A panorama strip (back, left, front, right, back) with ``o`` at the azimuth."""
    cells = ["|" if i % 9 == 0 else "." for i in range(_BAR_WIDTH)]
    if azimuth is not None:
        position = (180.0 - azimuth) % 360.0 / 360.0 * (_BAR_WIDTH - 1)
        cells[round(position)] = "o"
    return "".join(cells)


def _run_direction(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.spatial import direction, read_foa

    foa, _ = read_foa(args.file)
    azimuth, elevation = (float(value) for value in direction(foa))
    if args.json:
        print(json.dumps({"file": str(args.file), "azimuth": azimuth, "elevation": elevation}))
    else:
        print(f"{args.file}: azimuth {azimuth:+.1f}, elevation {elevation:+.1f} (degrees)")
    return 0


def _run_rotate(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.spatial import read_foa, rotate, write_foa

    foa, sample_rate = read_foa(args.input)
    write_foa(args.output, rotate(foa, yaw=args.yaw, pitch=args.pitch, roll=args.roll),
              sample_rate)
    print(f"wrote {args.output}: rotated by yaw {args.yaw:+g}, pitch {args.pitch:+g}, "
          f"roll {args.roll:+g} (degrees)")
    return 0


def _run_convert(args: argparse.Namespace, registry: Any) -> int:
    from swansphere import spatial

    to_ambix = {"ambix": lambda foa: foa, "fuma": spatial.fuma_to_ambix,
                "n3d": spatial.n3d_to_sn3d}
    from_ambix = {"ambix": lambda foa: foa, "fuma": spatial.ambix_to_fuma,
                  "n3d": spatial.sn3d_to_n3d}
    audio, sample_rate = spatial.read_foa(args.input)
    converted = from_ambix[args.target_format](to_ambix[args.source_format](audio))
    spatial.write_wav(args.output, converted, sample_rate)
    print(f"wrote {args.output}: {args.source_format} -> {args.target_format}")
    return 0


def _run_binaural(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.spatial import binaural, find_sofa, read_foa, write_wav

    foa, sample_rate = read_foa(args.input)
    sofa = find_sofa(args.sofa)
    stereo = binaural(foa, sample_rate, hrtf=sofa)
    write_wav(args.output, stereo, sample_rate)
    peak = float(stereo.abs().max())
    note = f"; peak {peak:.2f} exceeds 1.0, lower the level before a fixed-point export" \
        if peak > 1 else ""
    print(f"wrote {args.output}: binaural (left, right) through {sofa}{note}")
    return 0


def _run_map(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.spatial import read_foa
    from swansphere.spatial.plot import map_figure, require_matplotlib, save_figure, track_figure

    require_matplotlib()
    foa, sample_rate = read_foa(args.file)
    backdrop = _first_frame(args.video) if args.video is not None else None
    save_figure(map_figure(foa, sample_rate, backdrop=backdrop, frame_seconds=args.frame,
                           hop_seconds=args.hop, title=args.file.name), args.output)
    print(f"wrote {args.output}: energy map and direction track")
    if args.timeline is not None:
        save_figure(track_figure(foa, sample_rate, frame_seconds=args.frame,
                                 hop_seconds=args.hop, title=args.file.name), args.timeline)
        print(f"wrote {args.timeline}: direction track against time")
    return 0


def _first_frame(video: Any) -> Any:
    from swansphere.spatial.mp4 import VideoFormatError
    from swansphere.spatial.video_io import iter_panorama_video

    frames = iter_panorama_video(video)
    try:
        first, _ = next(frames)
    except StopIteration:
        raise VideoFormatError(f"the video {video} has no frames") from None
    finally:
        frames.close()
    return first[0]


def _run_overlay(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.spatial import read_foa, write_360_mp4
    from swansphere.spatial.mp4 import require_ffmpeg
    from swansphere.spatial.plot import overlay_video, require_matplotlib

    require_matplotlib()
    require_ffmpeg()
    foa, sample_rate = read_foa(args.file)
    frames, fps = overlay_video(foa, sample_rate, args.video, fps=args.fps,
                                max_width=args.max_width, opacity=args.opacity)
    write_360_mp4(args.output, foa, sample_rate, frames=frames, fps=fps)
    print(f"wrote {args.output}: {len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} "
          f"at {fps:g} fps with the energy laid over, and the AmbiX audio")
    return 0
