"""``swansphere demo``: serve the web demo on this machine.

Import-light like every command module: Gradio and torch load in the handler, and a missing
Gradio is one line that names the extra to install.
"""

from __future__ import annotations

import argparse
from typing import Any

from swansphere import cli_args

DEFAULT_PORT = 7860


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo", help="web demo: prompt or 360° video in, spatial audio and pictures out",
        description="Serve a local web page (Gradio) to try a model: type a prompt and/or "
                    "upload a 360° video; hear the binaural render as it streams, download "
                    "the AmbiX WAV and the 360° MP4, see the energy map and direction track. "
                    "Needs the demo extra: pip install 'swansphere[demo]'.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=cli_args.integer(1, 65535, "the port"),
                        default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument("--model", default=cli_args.DEFAULT_MODEL,
                        help=f"the model chosen when the page opens: a shipped name or a "
                             f"save_pretrained directory (default: {cli_args.DEFAULT_MODEL})")
    parser.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace, registry: Any) -> int:
    from swansphere.errors import ResourceNotFoundError

    try:
        from .app import serve
    except ImportError as error:
        if error.name is None or error.name.split(".")[0] != "gradio":
            raise
        raise ResourceNotFoundError("the demo needs Gradio: pip install 'swansphere[demo]'"
                                    ) from None
    serve(host=args.host, port=args.port, model=args.model, registry=registry)
    return 0
