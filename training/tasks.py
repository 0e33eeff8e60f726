"""What ``swansphere train`` can train: a small name -> task table.

A training config is one TOML file whose top-level ``task`` key names the task; the rest of
the file is that task's config class (which must have a ``run`` table of
:class:`~swansphere.training.common.RunConfig`). New trainers add one entry to
:data:`TASKS`, pointing at a :class:`TrainingTask` by import path so that the CLI stays light.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from swansphere.config import apply_overrides, structure
from swansphere.errors import ConfigError


@attrs.frozen(kw_only=True)
class TrainingTask:
    """One trainable task: its config class and ``run(config, resume, registry, progress)``."""

    name: str
    config_class: type
    run: Callable[..., dict[str, Any]]
    description: str


TASKS: dict[str, str] = {
    "codec": "swansphere.training.codec:TASK",
    "svac": "swansphere.plugins.svac.trainer:TASK",
    "pipeline": "swansphere.training.pipeline:TASK",
    "odpo": "swansphere.plugins.odpo.trainer:TASK",
}
"""Task name -> ``"module:attribute"`` of its :class:`TrainingTask`."""


def get_task(name: str) -> TrainingTask:
    """The task registered as ``name``; unknown names list the valid ones."""
    if name not in TASKS:
        raise ConfigError(f"unknown training task {name!r}; valid: {', '.join(sorted(TASKS))}")
    module_name, attribute = TASKS[name].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def load_training_config(path: str | Path, *, registry: Any = None,
                         overrides: Sequence[str] = ()) -> tuple[TrainingTask, Any]:
    """Read a training TOML file: the task it names and its structured config.

    ``overrides`` are ``"dotted.key=value"`` strings (the value in TOML syntax, a bare word
    taken as a string) applied to the file's table before it is checked.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read training config {path}: "
                          f"{error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text (byte {error.start}); save the config as "
                          "UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    apply_overrides(data, overrides)
    if "task" not in data:
        raise ConfigError(f"{path}: missing top-level key 'task' (one of: "
                          f"{', '.join(sorted(TASKS))})")
    if not isinstance(data.get("task", ""), str):
        raise ConfigError(f"{path}: 'task' must be a string (one of: "
                          f"{', '.join(sorted(TASKS))})")
    task = get_task(data["task"])
    try:
        return task, structure(data, task.config_class, registry=registry)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def with_run_overrides(config: Any, **overrides: Any) -> Any:
    """A copy of ``config`` whose ``run`` table has the given (non-None) fields replaced."""
    changes = {key: value for key, value in overrides.items() if value is not None}
    if not changes:
        return config
    return attrs.evolve(config, run=attrs.evolve(config.run, **changes))
