"""Training logs for spreadsheets and TensorBoard: ``metrics.csv`` and ``events.out.tfevents.*``.

Both sit next to ``metrics.jsonl`` (the source of truth, :class:`~swansphere.training.loop.
MetricsLog`) and carry the same entries:

- :class:`CSVLog`: one table, one row per logged entry, columns ``step, split`` then the metric
  names in the order they first appeared. Train and validation rows share the table (a
  validation row leaves the train columns empty and the other way round). When an entry brings
  a name the header lacks, the whole file is rewritten atomically with the union of the
  columns, so the file is a valid CSV at every moment.
- :class:`EventsLog`: TensorBoard scalars, tag ``<split>/<name>`` (``train/loss``,
  ``validation/val_loss``), written by :class:`torch.utils.tensorboard.SummaryWriter`. It needs
  the ``tensorboard`` package (extra ``train``); without it a run writes no events file and
  says so once with a :class:`~swansphere.errors.SwanSphereWarning`.

Resume: each run (fresh or resumed) writes a new events file whose ``purge_step`` is the first
step the run will log after its checkpoint. The writer opens the file with a
``SessionLog.START`` at that step, TensorBoard's own restart signal: it discards every scalar at
that step or later read from the older files (what a crashed run logged past its last
checkpoint), so the curves stay those of one uninterrupted run. :func:`read_scalars` reads them
back through TensorBoard's ``EventAccumulator``, as TensorBoard shows them.
"""

from __future__ import annotations

import csv
import io
import re
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swansphere.codecs.weights import atomic_write
from swansphere.errors import SwanSphereWarning

CSV_FILE = "metrics.csv"
EVENTS_PREFIX = "events.out.tfevents."
_KEY_COLUMNS = ("step", "split")
_STAMP = re.compile(re.escape(EVENTS_PREFIX) + r"(\d+)")
# ------------------------------------------------------------------------------ CSV


class CSVLog:
    """``metrics.csv``: a row per entry; new metric names widen the header atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def columns(self) -> list[str]:
        """The header of the file (``step, split`` only when there is no file yet)."""
        if not self.path.is_file():
            return list(_KEY_COLUMNS)
        with self.path.open(newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), list(_KEY_COLUMNS))

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        row = {"step": step, "split": split, **metrics}
        columns = self.columns()
        if self.path.is_file() and set(row) <= set(columns):
            with self.path.open("a", newline="", encoding="utf-8") as handle:
                csv.DictWriter(handle, columns, lineterminator="\n").writerow(row)
            return
        widened = columns + [name for name in row if name not in columns]
        self._rewrite(widened, [*self.read_raw(), row])

    def read_raw(self) -> list[dict[str, str]]:
        """Rows as written (strings; empty cells left out)."""
        if not self.path.is_file():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            return [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]

    def read(self) -> list[dict[str, Any]]:
        """Rows with ``step`` as int, ``split`` as str and metrics as floats."""
        return [{"step": int(row.pop("step")), "split": row.pop("split"),
                 **{name: float(value) for name, value in row.items()}}
                for row in self.read_raw()]

    def replace(self, entries: list[Mapping[str, Any]]) -> None:
        """Rewrite the file to hold exactly ``entries`` (``step``, ``split`` and metrics)."""
        columns = list(_KEY_COLUMNS)
        for entry in entries:
            columns += [name for name in entry if name not in columns]
        self._rewrite(columns, list(entries))

    def truncate_after(self, step: int) -> None:
        """Drop rows past ``step``, as :meth:`MetricsLog.truncate_after` does for JSON lines."""
        if self.path.is_file():
            self._rewrite(self.columns(), [row for row in self.read_raw()
                                           if int(row["step"]) <= step])

    def _rewrite(self, columns: list[str], rows: list[Mapping[str, Any]]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda temp: temp.write_text(buffer.getvalue(), "utf-8"))


# ------------------------------------------------------------------------------ events files


class EventsLog:
    """TensorBoard scalars of one run directory; each instance writes its own new file.

    ``start_step`` is the first step this writer will log (the writer's ``purge_step``), so
    TensorBoard drops older files' scalars from there on. The file is made at the first
    :meth:`write`, and flushed after every write, so a crash loses nothing that was logged.
    """

    def __init__(self, directory: str | Path, *, start_step: int = 0) -> None:
        self.directory = Path(directory)
        self.start_step = start_step
        self._writer: Any = None
        self._unavailable = False

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        writer = self._open()
        if writer is None:
            return
        for name, value in metrics.items():
            if isinstance(value, int | float):
                writer.add_scalar(f"{split}/{name}", float(value), global_step=step)
        writer.flush()

    def close(self) -> None:
        """Flush and close the events file (a later :meth:`write` starts a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self) -> Any:
        if self._writer is not None or self._unavailable:
            return self._writer
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self._unavailable = True
            warnings.warn("the tensorboard package is not installed, so this run writes no "
                          "TensorBoard events (metrics.jsonl and metrics.csv hold the same); "
                          "pip install 'swansphere[train]'", SwanSphereWarning, stacklevel=3)
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        _wait_for_a_new_second(self.directory)
        self._writer = SummaryWriter(str(self.directory), purge_step=self.start_step)
        return self._writer


def _wait_for_a_new_second(directory: Path) -> None:
    """Let the new file sort after every events file already here.

    TensorBoard reads a run's files in name order, and the writer names its file by the
    current second, then host, process id and a counter; two files of one second (a resume
    right after a crash) could sort the wrong way, so wait for the next second then.
    """
    stamps = [int(match.group(1)) for path in directory.glob(EVENTS_PREFIX + "*")
              if (match := _STAMP.match(path.name))]
    now = time.time()
    if stamps and max(stamps) <= now < max(stamps) + 1:
        time.sleep(max(stamps) + 1 - now)


def events_files(directory: str | Path) -> list[Path]:
    """The events files of a run directory, in the order TensorBoard reads them."""
    return sorted(Path(directory).glob(EVENTS_PREFIX + "*"), key=lambda path: path.name)


def read_scalars(directory: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Scalars of a run directory as TensorBoard shows them (restarts applied): tag ->
    ``[(step, value)]``, read by TensorBoard's ``EventAccumulator`` (needs ``tensorboard``)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}
