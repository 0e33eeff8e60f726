"""Typed records that plugins yield, and what the registry knows about their providers."""

from __future__ import annotations

import enum
import importlib
import re
from collections.abc import Callable
from typing import Any

import attrs


class ComponentKind(enum.StrEnum):
    """The kinds of component a plugin can contribute; each has one registration hook."""

    CODEC = "codec"
    BACKBONE = "backbone"
    CLIP_BACKBONE = "clip_backbone"
    SAMPLER = "sampler"
    CONDITIONER = "conditioner"
    PREFERENCE_OPTIMIZER = "preference_optimizer"
    REWARD = "reward"

    @property
    def hook_name(self) -> str:
        """The pluggy hook that contributes components of this kind."""
        return f"swansphere_register_{self.value}s"


class ExtensionKind(enum.StrEnum):
    """Named tables that plugins extend: CLI commands, training tasks, bench targets."""

    COMMAND = "command"
    TRAINING_TASK = "training_task"
    BENCH_TARGET = "bench_target"

    @property
    def hook_name(self) -> str:
        """The pluggy hook that contributes entries of this table."""
        return f"swansphere_register_{self.value}s"

    @property
    def label(self) -> str:
        """How messages name the kind (``"training task"``)."""
        return self.value.replace("_", " ")


def _known_kind(value: Any) -> Any:
    """The kind as an enum member when it is one; any other value is kept for the registry
    to report (so one malformed record costs only itself, not the hook that yields it)."""
    for kinds in (ComponentKind, ExtensionKind):
        try:
            return kinds(value)
        except ValueError:
            continue
    return value


@attrs.frozen(kw_only=True)
class Component:
    """One registrable component.

    ``factory(config)`` builds the component from an instance of ``config_class`` (a frozen,
    keyword-only attrs class). Keep plugin modules light: import heavy libraries inside the
    factory, not at module level. The registry checks each record (:func:`record_problem`)
    and reports a malformed one as broken instead of registering it.
    """

    name: str
    kind: ComponentKind = attrs.field(converter=_known_kind)
    factory: Callable[[Any], Any]
    config_class: type
    description: str


@attrs.frozen(kw_only=True)
class Extension:
    """One entry of a table that plugins extend (kind :class:`ExtensionKind`).

    ``target`` is ``"package.module:attribute"``, imported only when the entry is used, so
    the plugin module that yields the record stays light. What it names depends on the kind:

    - ``command``: ``register(subparsers)``, which adds the subcommand to the ``swansphere``
      parser and sets ``func(args, registry) -> int`` as its default;
    - ``training_task``: a :class:`swansphere.training.tasks.TrainingTask`;
    - ``bench_target``: ``add(targets)``, which adds ``swansphere bench <name>`` the same way.
    """

    name: str
    kind: ExtensionKind = attrs.field(converter=_known_kind)
    target: str
    description: str


_TARGET = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def record_problem(record: Any, kind: ComponentKind | ExtensionKind) -> str | None:
    """What is wrong with a record that the hook of ``kind`` yielded (None: nothing)."""
    expected = Component if isinstance(kind, ComponentKind) else Extension
    if not isinstance(record, expected):
        return (f"{kind.hook_name} yielded {type(record).__name__} {record!r:.80}, not a "
                f"swansphere.{expected.__name__}")
    name = record.name
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        return f"{kind.hook_name}: record name {name!r} must be non-empty, without whitespace"
    if record.kind is not kind:
        where = (f"through {record.kind.hook_name}" if hasattr(record.kind, "hook_name")
                 else f"with a kind of {', '.join(type(kind))}")
        return (f"{kind.hook_name} yielded {record.kind!r} record {name!r}; register it "
                f"{where}")
    if not isinstance(record.description, str):
        return f"{kind.value} {name!r}: description must be a string"
    if isinstance(record, Component):
        return _component_problem(record)
    if not isinstance(record.target, str) or not _TARGET.match(record.target):
        return (f"{kind.value} {name!r}: target {record.target!r} must be "
                "\"package.module:attribute\"")
    return None


def _component_problem(record: Component) -> str | None:
    if not callable(record.factory):
        return f"{record.kind.value} {record.name!r}: factory {record.factory!r} is not callable"
    if not (isinstance(record.config_class, type) and attrs.has(record.config_class)):
        return (f"{record.kind.value} {record.name!r}: config_class must be an attrs class, "
                f"got {record.config_class!r}")
    return None


@attrs.frozen(kw_only=True)
class Provider:
    """Where a plugin comes from: its entry-point (or registration) name and distribution."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution is None:
            return f"plugin {self.plugin!r}"
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})"


@attrs.frozen(kw_only=True)
class RegisteredComponent:
    """A component record together with the provider it came from."""

    component: Component
    provider: Provider

    @property
    def name(self) -> str:
        return self.component.name

    @property
    def kind(self) -> ComponentKind:
        return self.component.kind

    @property
    def description(self) -> str:
        return self.component.description


@attrs.frozen(kw_only=True)
class RegisteredExtension:
    """An extension record together with the provider it came from."""

    extension: Extension
    provider: Provider

    @property
    def name(self) -> str:
        return self.extension.name

    @property
    def kind(self) -> ExtensionKind:
        return self.extension.kind

    @property
    def description(self) -> str:
        return self.extension.description

    def load(self) -> Any:
        """Import the record's target; a failure is a PluginError naming the provider."""
        from .errors import PluginError

        module_name, _, attribute = self.extension.target.partition(":")
        try:
            value: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                value = getattr(value, part)
        except Exception as error:
            raise PluginError(f"{self.kind.label} {self.name!r} from {self.provider}: cannot "
                              f"load {self.extension.target} ({type(error).__name__}: "
                              f"{error})") from None
        return value


@attrs.frozen(kw_only=True)
class BrokenPlugin:
    """A plugin, or one part of it (a hook, a record, an extension), that was skipped.

    ``error`` says what went wrong; everything else the plugin provides keeps working.
    """

    provider: Provider
    error: str
