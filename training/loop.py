"""The step loop every trainer shares: progress bar, validation, checkpoints, metrics logs.

A trainer supplies three callbacks; :func:`run_steps` calls them in order and owns the
bookkeeping, so resuming, logging and the "last step always validates and checkpoints" rule
behave the same for every trainer. In a multi-process run (:mod:`~swansphere.training.
distributed`) every rank steps, training metrics are averaged over ranks, and only rank 0
validates and writes logs, checkpoints and the progress bar.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from swansphere.codecs.weights import atomic_write
from swansphere.errors import SwanSphereError, SwanSphereWarning

from .common import RunConfig
from .distributed import Distributed, current
from .logs import CSV_FILE, CSVLog, EventsLog

METRICS_FILE = "metrics.jsonl"


class TrainingDivergedError(SwanSphereError, FloatingPointError):
    """The training loss or another training metric became NaN or infinite."""


class MetricsLog:
    """The metrics of a run, in three forms next to each other in ``output_dir``.

    ``metrics.jsonl`` (append-only JSON lines ``{"step": ..., "split": "train" |
    "validation", ...}``, the source of truth), ``metrics.csv`` (:class:`~swansphere.training.
    logs.CSVLog`) and TensorBoard ``events.out.tfevents.*`` (:class:`~swansphere.training.logs.
    EventsLog`).
    """

    def __init__(self, output_dir: str | Path) -> None:
        self.directory = Path(output_dir)
        self.path = self.directory / METRICS_FILE
        self.csv = CSVLog(self.directory / CSV_FILE)
        self.events = EventsLog(self.directory)

    def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": step, "split": split, **metrics}) + "\n")
        self.csv.write(step, split, metrics)
        self.events.write(step, split, metrics)

    def read(self) -> list[dict[str, Any]]:
        """The entries; a line that is not a whole entry (torn by a power loss or a full disk)
        is skipped with a :class:`~swansphere.errors.SwanSphereWarning`."""
        if not self.path.is_file():
            return []
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        entries, torn = [], 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and isinstance(entry.get("step"), int) \
                    and isinstance(entry.get("split"), str):
                entries.append(entry)
            else:
                torn += 1
        if torn:
            warnings.warn(f"{self.path}: skipped {torn} incomplete line(s) (a write was cut "
                          "off)", SwanSphereWarning, stacklevel=2)
        return entries

    def truncate_after(self, step: int) -> None:
        """Forget entries past ``step`` (what a crashed run logged after its last checkpoint)
        and torn lines in the JSON lines, and rebuild the CSV from what is kept (the JSON lines
        are the source of truth); events files are append-only, see :meth:`begin`."""
        kept = [entry for entry in self.read() if entry["step"] <= step]
        text = "".join(json.dumps(entry) + "\n" for entry in kept)
        if self.path.is_file():
            atomic_write(self.path, lambda temp: temp.write_text(text, encoding="utf-8"))
            self.csv.replace(kept)
        else:
            self.csv.truncate_after(step)

    def begin(self, start: int) -> None:
        """Prepare the logs for a run that starts after ``start`` completed steps.

        A resumed run (``start`` > 0) keeps what was logged up to its checkpoint and drops the
        rest; a fresh run (0) starts the logs empty. TensorBoard gets a new events file whose
        ``SessionLog.START`` at the first step to come hides the older files' later points.
        """
        keep = start if start > 0 else -1
        self.truncate_after(keep)
        self.events.close()
        self.events = EventsLog(self.directory, start_step=keep + 1)

    def close(self) -> None:
        """Close the events file (the other two are closed after every write)."""
        self.events.close()


def run_steps(*, run: RunConfig, start_step: int, train_step: Callable[[int], Mapping[str, float]],
              validate: Callable[[int], Mapping[str, float]], checkpoint: Callable[[int], Any],
              log: MetricsLog, description: str = "train", progress: bool = True,
              dist: Distributed | None = None) -> dict[str, dict[str, float]]:
    """Run steps ``start_step .. run.steps - 1``; returns the last train and validation metrics.

    ``train_step(step)`` does one optimizer step (step is 0-based) and returns scalars;
    ``validate(done)`` and ``checkpoint(done)`` get the number of completed steps. With several
    processes (``dist``, default :func:`~swansphere.training.distributed.current`) every rank
    calls ``train_step``; the metrics are averaged over ranks, and only rank 0 validates,
    checkpoints, logs and shows the bar (the other ranks return no validation metrics).
    """
    dist = dist or current()
    main = dist.is_main
    last: dict[str, dict[str, float]] = {"train": {}, "validation": {}}
    with tqdm(total=run.steps, initial=start_step, desc=description, unit="step",
              disable=None if progress and main else True, dynamic_ncols=True) as bar:
        for step in range(start_step, run.steps):
            metrics = dist.mean(train_step(step))
            if not all(math.isfinite(v) for v in metrics.values()):
                bad = ", ".join(f"{k}={v}" for k, v in metrics.items() if not math.isfinite(v))
                raise TrainingDivergedError(
                    f"training diverged at step {step + 1} ({bad}); lower "
                    "optimizer.learning_rate (or raise optimizer.warmup_steps) and train again "
                    "(--overwrite replaces this run)")
            done = step + 1
            last["train"] = metrics
            bar.update(1)
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(metrics.items())[:4]})
            if not main:
                continue
            log.write(done, "train", metrics)
            final = done == run.steps
            if done % run.validate_every == 0 or final:
                last["validation"] = dict(validate(done))
                log.write(done, "validation", last["validation"])
                bar.write(f"step {done}: " + ", ".join(
                    f"{k}={v:.4g}" for k, v in last["validation"].items()), file=sys.stderr)
            if done % run.checkpoint_every == 0 or final:
                checkpoint(done)
    return last


def train_and_export(trainer: Any, *, task: str, resume: str | Path | None, description: str,
                     export_key: str, validate_first: bool = False) -> dict[str, Any]:
    """The whole run of a trainer: restore, record its config, step, export, summarise.

    ``trainer`` has ``output_dir``, ``config.run``, ``progress`` and the methods ``restore``,
    ``config_text``, ``train_step``, ``validate``, ``save_checkpoint`` and ``export``; its
    ``dist`` attribute (default: :func:`~swansphere.training.distributed.current`) says which
    process it is. Only rank 0 writes files; the other ranks report ``export_key: None``.
    ``validate_first`` logs a validation at step 0 of a fresh run (the untrained baseline).
    """
    dist = getattr(trainer, "dist", None) or current()
    start = trainer.restore(resume) if resume is not None else 0
    log = MetricsLog(trainer.output_dir)
    if dist.is_main:
        log.begin(start)
        if validate_first and start == 0:
            log.write(0, "validation", trainer.validate(0))
        trainer.output_dir.mkdir(parents=True, exist_ok=True)
        text = trainer.config_text()
        atomic_write(trainer.output_dir / "train.toml",
                     lambda temp: temp.write_text(text, encoding="utf-8"))
    try:
        last = run_steps(run=trainer.config.run, start_step=start,
                         train_step=trainer.train_step, validate=trainer.validate,
                         checkpoint=trainer.save_checkpoint, log=log, description=description,
                         progress=trainer.progress, dist=dist)
    finally:
        log.close()
    exported = str(trainer.export()) if dist.is_main else None
    return {"task": task, "steps": trainer.config.run.steps, "resumed_from": start,
            "output_dir": str(trainer.output_dir), export_key: exported, **last}
