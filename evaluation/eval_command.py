"""``swansphere eval``: score generated AmbiX clips against references, scenes and prompts.

Import-light: torch and the metrics load inside the handler.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from swansphere import cli_args


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` command."""
    parser = subparsers.add_parser(
        "eval", help="evaluate generated FOA: direction errors, energy maps, FD, accuracy",
        description="Score generated AmbiX clips. With --reference: the paper's delta theta, "
                    "delta phi and delta angular (radians), the correlation of spherical "
                    "energy maps and the Frechet distance of aisfx embeddings (W channel). "
                    "With scene metadata or prompts (metadata.json / <clip>.json with a "
                    "'prompt', 'text' or 'caption'): the accuracy of the generated direction. "
                    "Clips pair up by their path relative to each folder, without suffix. "
                    "See docs/evaluation.md.")
    parser.add_argument("--generated", required=True, metavar="DIR", type=cli_args.input_dir,
                        help="folder of generated AmbiX WAV/FLAC files (searched recursively)")
    parser.add_argument("--reference", metavar="DIR", type=cli_args.input_dir, default=None,
                        help="folder of reference clips with the same relative names")
    parser.add_argument("--metadata", metavar="DIR", type=cli_args.input_dir, default=None,
                        help="folder of per-clip JSON (default: beside the reference, else "
                             "beside the generated clip)")
    parser.add_argument("--tolerance", type=float, default=None, metavar="DEG",
                        help="cone half-angle for direction accuracy (default: 30)")
    parser.add_argument("--silent", choices=("exclude", "worst"), default="exclude",
                        help="generated clips without a direction: leave out of the delta "
                             "means (exclude, default; still counted) or score them pi (worst)")
    parser.add_argument("--uniform-map-weights", action="store_true",
                        help="correlate energy maps with equal pixel weights instead of "
                             "cos(elevation) (solid angle)")
    parser.add_argument("--no-fd", action="store_true",
                        help="skip the Frechet distance (no aisfx embedding needed)")
    parser.add_argument("--json", metavar="OUT", default=None,
                        type=cli_args.output_file(".json", report=True),
                        help="write the full report (per clip and aggregate) as JSON")
    parser.add_argument("--markdown", metavar="OUT", default=None,
                        type=cli_args.output_file(".md", report=True),
                        help="also write the table to this Markdown file")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run_eval)


def _run_eval(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.errors import ConfigError, ResourceNotFoundError

    from .harness import EvalSettings, evaluate, find_clips, format_markdown
    from .metrics import DEFAULT_TOLERANCE_DEGREES

    tolerance = DEFAULT_TOLERANCE_DEGREES if args.tolerance is None else args.tolerance
    if not 0 < tolerance <= 180:
        raise ConfigError(f"--tolerance must lie in (0, 180] degrees, got {tolerance}")
    settings = EvalSettings(tolerance=tolerance, silent=args.silent,
                            solid_angle=not args.uniform_map_weights, fd=not args.no_fd)
    clips = find_clips(Path(args.generated), args.reference and Path(args.reference),
                       args.metadata and Path(args.metadata))
    try:
        report = evaluate(clips, settings, progress=not args.no_progress)
    except ResourceNotFoundError as error:
        raise ResourceNotFoundError(f"{error}; or pass --no-fd to skip the Frechet "
                                    "distance") from error
    table = format_markdown(report)
    print(table, end="")
    for path, text in ((args.json, json.dumps(report, indent=2) + "\n"),
                       (args.markdown, table)):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0
