"""``swansphere spatial ...`` subcommands (filled in by the spatial toolkit)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``spatial`` command group."""
