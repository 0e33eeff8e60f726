"""What the benchmark scripts share: their ``--threads``, ``--json`` and ``--set`` options and the
writing of the JSON report (scripts import it from this folder, which Python puts first on
the path of a script it runs)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_run_options(parser: argparse.ArgumentParser, threads: int | None = None) -> None:
    """``--threads`` (torch CPU threads; ``threads`` by default, ``None``: torch's own) and
    ``--json`` (where to write the report)."""
    parser.add_argument("--threads", type=int, default=threads, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")


def add_override_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable, into ``args.set``): the model's config changed before
    it is built, as ``swansphere generate --set`` does (``Pipeline.from_pretrained(...,
    overrides=args.set)``)."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override the model's config, as swansphere generate --set does "
                             "(e.g. guidance.w1=2 or 'text.sounds=\"as-written\"'); repeatable")


def set_threads(threads: int | None) -> None:
    """Use ``threads`` torch CPU threads (``None`` or 0 leaves torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def write_report(path: Path | None, report: Any) -> None:
    """``report`` as indented JSON at ``path`` (its folder made), or nothing without one."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2), encoding="utf-8")
