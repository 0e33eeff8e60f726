"""The base every trainer shares: set-up from a config with a ``run`` table, the config record,
checkpoints and the export, all around one method, :meth:`Trainer.write_model`.

A trainer subclasses :class:`Trainer`, calls ``super().__init__`` first (it sets ``config``,
``registry``, ``dist``, ``progress``, ``output_dir``, ``device`` and seeds torch), builds its
model and ``optimizer``, and supplies ``write_model``, ``train_step``, ``validate``,
``restore`` and ``run`` (usually :func:`~swansphere.training.loop.train_and_export`).
A trainer whose steps run under :func:`~swansphere.training.common.autocast` lists the
``run.precision`` values it supports in ``precisions``; others refuse all but float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from swansphere.config import dumps_toml
from swansphere.errors import ConfigError

from .common import warn_if_bfloat16_is_emulated
from .distributed import Distributed, current


class Trainer:
    """Shared state and the checkpoint/export methods of every trainer."""

    export_name: ClassVar[str]
    """The folder under ``run.output_dir`` that :meth:`export` writes."""
    precisions: ClassVar[tuple[str, ...]] = ("float32",)
    """The ``run.precision`` values this trainer's steps honour."""

    def __init__(self, config: Any, *, registry: Any = None, progress: bool = True,
                 distributed: Distributed | None = None) -> None:
        from swansphere.registry import default_registry

        if config.run.precision not in self.precisions:
            raise ConfigError(f"{type(self).__name__} trains in {' or '.join(self.precisions)} "
                              f"only; set run.precision = \"float32\" (got "
                              f"{config.run.precision!r})")
        warn_if_bfloat16_is_emulated(config.run)
        self.config = config
        self.registry = registry or default_registry()
        self.dist = distributed or current()
        self.progress = progress and self.dist.is_main
        self.output_dir = Path(config.run.output_dir)
        self.device = self.dist.device if self.dist.is_distributed else torch.device(
            config.run.device)
        self.optimizer: torch.optim.Optimizer
        torch.manual_seed(config.run.seed)

    @classmethod
    def train(cls, config: Any, *, resume: str | Path | None = None, registry: Any = None,
              progress: bool = True, distributed: Distributed | None = None) -> dict[str, Any]:
        """Build a trainer and run it (from a checkpoint when ``resume``): what a task's
        :class:`~swansphere.training.tasks.TrainingTask` calls."""
        trainer = cls(config, registry=registry, progress=progress, distributed=distributed)
        return trainer.run(resume=resume)

    def run(self, resume: str | Path | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def write_model(self, directory: Path) -> None:
        """Write the model, loadable on its own, into ``directory``."""
        raise NotImplementedError

    def config_text(self) -> str:
        return dumps_toml(self.config, registry=self.registry)

    def save_checkpoint(self, done: int) -> Path:
        """A complete checkpoint after ``done`` steps; older ones beyond ``keep`` go, but for
        the ``keep_every`` milestones."""
        from .checkpoint import prune_checkpoints, save_checkpoint, step_directory

        path = save_checkpoint(step_directory(self.output_dir, done), step=done,
                               save_model=self.write_model, optimizer=self.optimizer,
                               config_text=self.config_text())
        run = self.config.run
        prune_checkpoints(self.output_dir, run.keep_checkpoints, run.keep_every)
        return path

    def export(self) -> Path:
        """The trained model in ``<output_dir>/<export_name>``, written atomically."""
        from .checkpoint import write_directory_atomically

        return write_directory_atomically(self.output_dir / self.export_name, self.write_model)
