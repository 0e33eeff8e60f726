"""The ``swansphere`` command line.

Subcommands come from plugins (``swansphere_register_commands``; the built-ins from
:mod:`swansphere.plugins.commands`): each names a ``register(subparsers)`` function in a light
module, imported when the CLI starts (never when the library is imported); one that fails is
reported by ``swansphere plugins`` and left out. Errors caused
by the user's input (a bad argument, a missing or unwritable path, a full disk, a closed
output) print one line and exit with status 2; "internal error" (status 1) is kept for bugs,
and nothing prints a traceback unless ``SWANSPHERE_DEBUG=1``. Every path argument typed with
:mod:`swansphere.cli_args` is checked before the command's handler runs.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .cli_args import check_parsed
from .components import ExtensionKind, Provider, RegisteredComponent, RegisteredExtension
from .errors import SwanSphereError, SwanSphereWarning
from .registry import (
    DISABLE_ENV,
    Registry,
    default_registry,
    parse_disabled,
    set_default_registry,
)

ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                                errno.EPERM, errno.EPIPE, errno.EBADF, errno.EFBIG,
                                errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.ENOENT})
"""OS errors that describe the user's machine or paths (a full disk, a read-only folder, a
closed pipe), not a bug: reported as user errors."""
SIGPIPE_EXIT = 141
"""The exit status of a command whose reader closed its output (128 + SIGPIPE, as a shell
reports a tool the pipe stopped): no message, the reader asked for no more."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"swansphere: error: {self.prog.removeprefix('swansphere ')}: {message} "
                     f"(see {self.prog} --help)\n")


class _PreParseError(Exception):
    pass


class _PreParser(argparse.ArgumentParser):
    """Reads ``--disable-plugins`` before the plugins (and so the commands) load."""

    def error(self, message: str) -> NoReturn:
        raise _PreParseError(message)


def build_parser(registry: Registry | None = None) -> argparse.ArgumentParser:
    """The ``swansphere`` parser with ``plugins`` and every command the registry's plugins
    register (the default registry when None)."""
    parser = OneLineParser(
        prog="swansphere", description="Streaming spatial-audio (AmbiX FOA) generation.")
    parser.add_argument("--version", action="version", version=f"swansphere {__version__}")
    _add_disable_option(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_plugins_command(subparsers)
    (registry or default_registry()).extend(ExtensionKind.COMMAND,
                                            lambda register: register(subparsers))
    return parser


def _add_disable_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--disable-plugins", metavar="NAMES", default=None,
        help=f"comma-separated plugin or distribution names not to load (adds to ${DISABLE_ENV})")


def _disabled_plugins(argv: Sequence[str]) -> frozenset[str]:
    """Names from ``$SWANSPHERE_DISABLE_PLUGINS`` and a ``--disable-plugins`` given before
    the command (a malformed command line is left for the full parser to report)."""
    pre = _PreParser(add_help=False)
    _add_disable_option(pre)
    pre.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        option = pre.parse_known_args(argv)[0].disable_plugins
    except _PreParseError:
        option = None
    return parse_disabled(os.environ.get(DISABLE_ENV)) | parse_disabled(option)


def _add_plugins_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugins", help="list installed components and plugins")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(func=_run_plugins)


def _plugins_report(registry: Registry) -> dict:
    def entry(item: RegisteredComponent | RegisteredExtension) -> dict[str, Any]:
        return {"kind": item.kind.value, "name": item.name, **_provider(item.provider),
                "description": item.description}

    return {"components": [entry(item) for item in registry.components()],
            "extensions": [entry(item) for item in registry.extensions()],
            "broken": [{**_provider(b.provider), "error": b.error} for b in registry.broken],
            "disabled": [_provider(p) for p in registry.skipped],
            "unmatched_disabled": list(registry.unmatched_disabled)}


def _provider(provider: Provider) -> dict[str, str | None]:
    return {"plugin": provider.plugin, "distribution": provider.distribution,
            "version": provider.version}


def _run_plugins(args: argparse.Namespace, registry: Registry) -> int:
    """List components and extensions; broken plugins make the exit status 2."""
    report = _plugins_report(registry)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_plugins(report)
    if report["broken"]:
        print(f"swansphere: error: {len(report['broken'])} plugin problem(s) (listed as "
              "'broken'); fix or disable those plugins", file=sys.stderr)
        return 2
    return 0


def _print_plugins(report: dict) -> None:
    rows = [(c["kind"], c["name"], f"{c['distribution'] or '-'} {c['version'] or ''}".strip(),
             c["description"]) for c in [*report["components"], *report["extensions"]]]
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``swansphere`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    registry = Registry(disabled=_disabled_plugins(argv))
    set_default_registry(registry)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            parser = build_parser(registry)
            try:
                args = parser.parse_args(argv)
            except SystemExit as exit_:  # --help, --version or a bad argument (printed)
                return exit_.code if isinstance(exit_.code, int) else 2
            check_parsed(args)
            return int(args.func(args, registry) or 0)
    except SwanSphereError as error:
        print(f"swansphere: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (``| head``): stop as the shell's tools do
        _silence_stdout()
        return SIGPIPE_EXIT
    except OSError as error:
        if error.errno not in ENVIRONMENT_ERRNOS:
            return _internal(error)
        where = f"{error.filename}: " if error.filename else ""
        print(f"swansphere: error: {where}{error.strerror or error}; free space or fix the "
              "path's permissions and run again", file=sys.stderr)
        return 2
    except UnicodeDecodeError as error:  # a text file that is not UTF-8, wherever it is read
        print(f"swansphere: error: a file that should be UTF-8 text is not ({error}); save it "
              "as UTF-8", file=sys.stderr)
        return 2
    except MemoryError:
        print("swansphere: error: out of memory; ask for less (a shorter --duration, a smaller "
              "batch) or use a machine with more memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("swansphere: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        return _internal(error)
    finally:
        set_default_registry(None)


def _silence_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush at exit
    does not fail on the closed pipe as well."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)
    except (AttributeError, OSError, ValueError):  # no real stdout: nothing left to flush
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, SwanSphereWarning):
        print(f"swansphere: warning: {_one_line(message)}", file=sys.stderr)
    else:
        warnings._showwarning_orig(message, category, filename, lineno, file, line)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _internal(error: BaseException) -> int:
    if os.environ.get("SWANSPHERE_DEBUG"):
        raise error
    print(f"swansphere: internal error: {type(error).__name__}: {_one_line(error)} "
          "(set SWANSPHERE_DEBUG=1 for the traceback and please report it)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
