"""The ``swansphere`` command line.

Each layer contributes its subcommands through a small ``register(subparsers)`` function in a
light module, imported when the CLI starts (never when the library is imported). Errors caused
by the user's input print one line and exit with status 2; nothing prints a traceback unless
``SWANSPHERE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import SwanSphereError
from .registry import DISABLE_ENV, Registry, parse_disabled, set_default_registry

_COMMAND_MODULES = (
    "swansphere.generate_cli",
    "swansphere.training.cli",
    "swansphere.evaluation.eval_command",
    "swansphere.evaluation.cli",
    "swansphere.data.cli",
    "swansphere.spatial.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swansphere", description="Streaming spatial-audio (AmbiX FOA) generation.")
    parser.add_argument("--version", action="version", version=f"swansphere {__version__}")
    parser.add_argument(
        "--disable-plugins", metavar="NAMES", default=None,
        help=f"comma-separated plugin or distribution names not to load (adds to ${DISABLE_ENV})")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_plugins_command(subparsers)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _add_plugins_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugins", help="list installed components and plugins")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=_run_plugins)


def _plugins_report(registry: Registry) -> dict:
    components = [
        {"kind": item.kind.value, "name": item.name, "plugin": item.provider.plugin,
         "distribution": item.provider.distribution, "version": item.provider.version,
         "description": item.component.description}
        for item in registry.components()
    ]
    broken = [{"plugin": b.provider.plugin, "distribution": b.provider.distribution,
               "version": b.provider.version, "error": b.error} for b in registry.broken]
    disabled = [{"plugin": p.plugin, "distribution": p.distribution, "version": p.version}
                for p in registry.skipped]
    return {"components": components, "broken": broken, "disabled": disabled}


def _run_plugins(args: argparse.Namespace, registry: Registry) -> int:
    report = _plugins_report(registry)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = [(c["kind"], c["name"], f"{c['distribution'] or '-'} {c['version'] or ''}".strip(),
             c["description"]) for c in report["components"]]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in
              enumerate(("KIND", "NAME", "PROVIDER"))]
    print(f"{'KIND':<{widths[0]}}  {'NAME':<{widths[1]}}  {'PROVIDER':<{widths[2]}}  DESCRIPTION")
    for kind, name, provider, description in rows:
        print(f"{kind:<{widths[0]}}  {name:<{widths[1]}}  {provider:<{widths[2]}}  {description}")
    for item in report["broken"]:
        print(f"broken plugin {item['plugin']!r} from {item['distribution']} "
              f"{item['version']}: {item['error']}")
    for item in report["disabled"]:
        print(f"disabled plugin {item['plugin']!r} from {item['distribution']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swansphere`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    disabled = parse_disabled(os.environ.get(DISABLE_ENV)) | parse_disabled(args.disable_plugins)
    registry = Registry(disabled=disabled)
    set_default_registry(registry)
    try:
        return int(args.func(args, registry) or 0)
    except SwanSphereError as error:
        print(f"swansphere: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("swansphere: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("SWANSPHERE_DEBUG"):
            raise
        print(f"swansphere: internal error: {type(error).__name__}: {error} "
              "(set SWANSPHERE_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
        return 1
    finally:
        set_default_registry(None)


if __name__ == "__main__":
    sys.exit(main())
