"""One run per folder: a lock, a refusal to train afresh over another run, and clean-up of the
temporaries a killed write leaves behind.

``swansphere train`` claims ``run.output_dir`` (:func:`claim_run_folder`) before it trains:

- an advisory lock (``fcntl.flock`` on ``.swansphere-run.lock``) held for the whole run and
  removed at its end; the kernel drops the lock when the process dies, so ``kill -9`` never
  leaves a stale lock (only an unlocked file, which the next run takes over). A second writer
  gets a one-line error naming the holder.
- a fresh run (no ``--resume``) into a folder that holds another run (checkpoints, logs,
  events files or a config record: a fitted codec and a run killed before its first
  checkpoint count too) is refused unless ``overwrite``: the old run's files are then
  removed first, so pruning and a later ``--resume`` only ever see this run's checkpoints.
- hidden temporaries of interrupted atomic writes (``.<name>.<hex>.tmp`` / ``.old``, see
  :mod:`swansphere.fileio`) are removed: no writer can own them while we hold the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

from swansphere.errors import SwanSphereError, SwanSphereWarning

from .checkpoint import CHECKPOINTS, CONFIG_FILE, list_checkpoints
from .logs import CSV_FILE, EVENTS_PREFIX
from .loop import METRICS_FILE

LOCK_FILE = ".swansphere-run.lock"
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{12}\.(tmp|old)$")
_held: dict[Path, int] = {}


class RunFolderError(SwanSphereError, OSError):
    """The run folder is in use by another run, or holds a run this one would destroy."""


def run_files(directory: Path) -> list[Path]:
    """What a run leaves in its folder: checkpoints, logs, events files, its config record."""
    if not directory.is_dir():
        return []
    names = {CHECKPOINTS, METRICS_FILE, CSV_FILE, CONFIG_FILE}
    return sorted(path for path in directory.iterdir()
                  if path.name in names or path.name.startswith(EVENTS_PREFIX))


@contextlib.contextmanager
def claim_run_folder(directory: str | Path, *, resume: bool | str | Path,
                     overwrite: bool = False) -> Iterator[Path]:
    """Own ``directory`` for one run (see the module docstring); re-entrant in a process.

    ``resume`` is False for a fresh run, else the checkpoint or run folder it continues from
    (True when unknown): resuming another folder's run into one that holds checkpoints of its
    own would mix two runs, and is refused like a fresh run.
    """
    directory = Path(directory)
    if overwrite and resume:
        raise RunFolderError("--overwrite starts a run afresh and --resume continues one; "
                             "give only one")
    key = directory.resolve()
    if key in _held:
        yield directory
        return
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = _lock(directory)
    try:
        _held[key] = descriptor
        remove_stale_temporaries(directory)
        _refuse_or_clear_old_run(directory, resume=resume, overwrite=overwrite)
        yield directory
    finally:
        _held.pop(key, None)
        (directory / LOCK_FILE).unlink(missing_ok=True)  # while held: no window for others
        if created and not any(directory.iterdir()):
            directory.rmdir()  # a run that failed before writing anything
        os.close(descriptor)  # releases the lock


def _lock(directory: Path) -> int:
    """An exclusively locked descriptor of ``directory/LOCK_FILE``.

    The lock file is removed at the end of a run, so a writer that opened it just before may
    hold a lock on a file no longer in the folder: after locking, the file must still be the
    one at the path (the usual inode check), else the attempt is repeated.
    """
    path = directory / LOCK_FILE
    for _ in range(5):
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode(errors="replace").strip() or "?"
            os.close(descriptor)
            raise RunFolderError(f"run folder {directory} is in use by another training run "
                                 f"({holder}); wait for it to end or choose another "
                                 "output_dir") from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(descriptor).st_ino:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
            return descriptor
        os.close(descriptor)  # the previous owner removed it meanwhile: try the new one
    raise RunFolderError(f"could not lock run folder {directory}; try again")


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Remove what interrupted atomic writes left in ``directory`` and its checkpoints."""
    removed = []
    for folder in (directory, directory / CHECKPOINTS):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if _TEMPORARY.match(path.name):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
    if removed:
        warnings.warn(f"removed {len(removed)} temporary file(s) left by an interrupted write "
                      f"in {directory}", SwanSphereWarning, stacklevel=3)
    return removed


def _inside_or_same(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _refuse_or_clear_old_run(directory: Path, *, resume: bool | str | Path,
                             overwrite: bool) -> None:
    if resume and (resume is True or _inside_or_same(Path(resume), directory)
                   or not list_checkpoints(directory)):
        return
    if resume:
        raise RunFolderError(f"{directory} holds checkpoints of another run than {resume}; "
                             "resume into the run's own folder or an empty one")
    if not overwrite:
        if list_checkpoints(directory):
            raise RunFolderError(f"{directory} already holds a training run with checkpoints; "
                                 "continue it with --resume, pass --overwrite to replace it, "
                                 "or choose another output_dir")
        if run_files(directory):
            raise RunFolderError(f"{directory} already holds a run (logs, no checkpoint to "
                                 "resume); pass --overwrite to replace it, or choose another "
                                 "output_dir")
        return
    for path in run_files(directory):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
