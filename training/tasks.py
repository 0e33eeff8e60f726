"""What ``swansphere train`` can train: tasks that plugins register by name.

A training config is one TOML file whose top-level ``task`` key names the task; the rest of
the file is that task's config class (which must have a ``run`` table of
:class:`~swansphere.training.common.RunConfig`). A plugin adds a task with the
``swansphere_register_training_tasks`` hook: an :class:`swansphere.Extension` whose target is
a :class:`TrainingTask`, imported only when a config names it (the built-ins are registered
by :mod:`swansphere.plugins.training_tasks`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from swansphere import ExtensionKind
from swansphere.config import apply_overrides, structure
from swansphere.errors import ConfigError, PluginError
from swansphere.registry import Registry, default_registry


@attrs.frozen(kw_only=True)
class TrainingTask:
    """One trainable task: its config class and ``run(config, resume, registry, progress)``."""

    name: str
    config_class: type
    run: Callable[..., dict[str, Any]]
    description: str


def task_names(registry: Registry | None = None) -> list[str]:
    """The registered training tasks, sorted."""
    return sorted(item.name for item in
                  (registry or default_registry()).extensions(ExtensionKind.TRAINING_TASK))


def get_task(name: str, registry: Registry | None = None) -> TrainingTask:
    """The task registered as ``name``; unknown names list the valid ones."""
    registered = (registry or default_registry()).extension(ExtensionKind.TRAINING_TASK, name)
    task = registered.load()
    if not isinstance(task, TrainingTask) or task.name != name:
        raise PluginError(f"training task {name!r} from {registered.provider}: "
                          f"{registered.extension.target} is {task!r:.80}, not a TrainingTask "
                          f"named {name!r}")
    return task


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
    if not isinstance(data.get("task"), str):
        problem = "'task' must be a string" if "task" in data else "missing top-level key 'task'"
        raise ConfigError(f"{path}: {problem} (one of: {', '.join(task_names(registry))})")
    task = get_task(data["task"], registry)
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
