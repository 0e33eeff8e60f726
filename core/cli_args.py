"""Command-line values checked where they enter: argument types and the paths a command touches.

Argument types (``seconds``, ``seed``, ``threads``, ``device``, …) turn a bad value into one
argparse error line before anything loads. Path roles mark what a command reads and writes:
an argument typed :func:`output_file`, :func:`output_dir`, :func:`input_file` or
:func:`input_dir` yields a ``Path`` of a marker class, and :func:`check_paths` (run by
``swansphere.cli.main`` on every parsed command, before its handler) refuses an output that
cannot be written, that names an input, or that names another output. A new command gets
these checks by typing its path arguments; nothing else to remember.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import ConfigError, SwanSphereError

DEFAULT_MODEL = "tiny-next"
"""The shipped model that commands generate with unless ``--model`` names another."""
BENCH_PROMPT = "a bell rings on the left"
"""What benchmarks time by default: a sound the default model knows, so that its start from
the sound's exemplar is part of the time (a sound it does not know starts sooner)."""
SHIPPED_MODELS_HELP = ("tiny-next: 104 sounds from words, placed by the words or the video; "
                       "tiny: ten synthesised sounds, text and video")
"""What ``--model`` says of the shipped models."""

MAX_SEED = 2**63 - 1
"""Seeds are ``0 .. 2**63 - 1``: what ``torch.Generator.manual_seed`` takes without wrapping."""


class PathError(SwanSphereError, OSError):
    """An input is missing, or an output cannot be written or would destroy another file."""


_PathBase = type(Path())


class InputFile(_PathBase):
    """A file the command reads (must exist)."""


class InputDir(_PathBase):
    """A folder the command reads (must exist)."""


class OutputFile(_PathBase):
    """A file the command writes (its folder must exist and be writable)."""


class ReportFile(OutputFile):
    """An output file whose missing folders the command creates (a JSON or Markdown report)."""


class OutputDir(_PathBase):
    """A folder the command writes into (created if missing; never an existing file)."""


# ------------------------------------------------------------------ argument types


def seconds(*, maximum: float | None = None, hint: str = "") -> Callable[[str], float]:
    """A positive, finite number of seconds, at most ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text} s is more than the {maximum:g} s this "
                                             f"command allows{hint}")
        return value

    return parse


def integer(minimum: int | None = None, maximum: int | None = None,
            what: str = "an integer") -> Callable[[str], int]:
    """An integer within ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f"{minimum}"
            high = "" if maximum is None else f"{maximum}"
            raise argparse.ArgumentTypeError(f"{what} must lie in [{low}, {high}], got {text}")
        return value

    return parse


seed = integer(0, MAX_SEED, "the seed")
threads = integer(1, 4096, "the number of threads")
positive_int = integer(1, None, "the value")


def finite_float(text: str) -> float:
    """Any finite number (angles, offsets): ``nan`` and ``inf`` are typos here."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def device(text: str) -> str:
    """A torch device that exists here (``cpu``, ``cuda``, ``cuda:1``)."""
    try:
        check_device(text)
    except SwanSphereError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def check_device(name: str) -> None:
    """Refuse a device torch does not know or that this machine lacks (imports torch)."""
    import torch

    try:
        parsed = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"device {name!r}: no CUDA GPU is available here; use cpu")
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(f"device {name!r}: this machine has {count} CUDA GPU(s) "
                            f"(cuda:0 .. cuda:{count - 1})")
    elif parsed.type != "cpu":
        raise ConfigError(f"device {name!r} is not supported; use cpu or cuda[:N]")
    elif parsed.index not in (None, 0):
        raise ConfigError(f"device {name!r}: there is one CPU device; use cpu")


def input_file(text: str) -> InputFile:
    return InputFile(text)


def input_dir(text: str) -> InputDir:
    return InputDir(text)


def output_dir(text: str) -> OutputDir:
    return OutputDir(text)


def output_file(*suffixes: str, report: bool = False) -> Callable[[str], OutputFile]:
    """An output file whose name must end in one of ``suffixes`` (case-insensitive);
    ``report`` files may sit in folders the command creates."""

    def parse(text: str) -> OutputFile:
        path = (ReportFile if report else OutputFile)(text)
        if suffixes and path.suffix.lower() not in suffixes:
            names = " or ".join(f"*{s}" for s in suffixes)
            raise argparse.ArgumentTypeError(f"{text}: name the file {names}")
        return path

    return parse


# ------------------------------------------------------------------ path checks


def check_paths(inputs: Iterable[Path] = (), outputs: Iterable[Path] = ()) -> None:
    """Refuse a missing input, an unwritable output, or an output naming any other path.

    Outputs are :class:`OutputDir` (a folder) or any other path (a file). Runs before any
    model loads, so a typo costs a second, never a run's work.
    """
    inputs = [path if isinstance(path, Path) else Path(path)
              for path in inputs if path is not None]
    outputs = [path if isinstance(path, Path) else Path(path)
               for path in outputs if path is not None]
    for path in inputs:
        _check_input(path)
    for path in outputs:
        if isinstance(path, OutputDir):
            _check_output_dir(path)
        else:
            _check_output_file(path)
    for index, path in enumerate(outputs):
        for other in inputs:
            if _same(path, other):
                raise PathError(f"output {path} is the input {other}; writing it would "
                                "destroy the input: choose another name")
            if isinstance(other, InputDir) and not isinstance(path, OutputDir) \
                    and path.exists() and _inside(path, other):
                raise PathError(f"output {path} would replace a file inside the input folder "
                                f"{other}; write it somewhere else")
        for other in outputs[index + 1:]:
            if _same(path, other):
                raise PathError(f"{path} is given as two outputs; each output needs its own "
                                "name")


def check_parsed(args: argparse.Namespace) -> None:
    """:func:`check_paths` over every path argument a parsed command carries."""
    values = []
    for value in vars(args).values():
        values.extend(value if isinstance(value, list | tuple) else [value])
    check_paths(inputs=[v for v in values if isinstance(v, InputFile | InputDir)],
                outputs=[v for v in values if isinstance(v, OutputFile | OutputDir)])


def _check_input(path: Path) -> None:
    if isinstance(path, InputDir):
        if not path.is_dir():
            raise PathError(f"{path}: no such folder; check the path")
    elif not path.exists():
        raise PathError(f"{path}: no such file; check the path")
    elif isinstance(path, InputFile) and path.is_dir():
        raise PathError(f"{path} is a folder; give a file")
    if not os.access(path, os.R_OK):
        raise PathError(f"{path} is not readable (permission denied)")


def _check_output_file(path: Path) -> None:
    if path.is_dir():
        raise PathError(f"{path} is a folder; give a file name to write")
    if path.name in ("", ".", ".."):
        raise PathError(f"{path} is not a file name")
    if isinstance(path, ReportFile):
        _check_output_dir(OutputDir(path.parent))
        return
    parent = path.parent
    if not parent.is_dir():
        raise PathError(f"cannot write {path}: folder {parent} does not exist; create it first")
    _check_writable(parent, path)


def _check_output_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise PathError(f"{path} is a file, not a folder; give a folder for the output")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise PathError(f"cannot create folder {path}: {existing} is a file")
    _check_writable(existing, path)


def _check_writable(folder: Path, target: Path) -> None:
    """Create and remove a file in ``folder``: the only test that also holds for root and
    read-only mounts."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise PathError(f"cannot write {target}: folder {folder} is not writable "
                        f"({error.strerror or error})") from None


def _inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()
