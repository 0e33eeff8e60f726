"""The plugin registry: the one place that talks to pluggy.

``Registry`` discovers plugins through the ``swansphere.plugins`` entry-point group (built-ins
come through the same group, from the ``swansphere`` distribution itself), calls each plugin's
contribution hooks separately so that every record is attributed to its provider, rejects
duplicate names, and keeps going when a plugin is broken.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from . import hookspecs
from .components import BrokenPlugin, Component, ComponentKind, Provider, RegisteredComponent
from .errors import DuplicateComponentError, UnknownComponentError

ENTRY_POINT_GROUP = "swansphere.plugins"
DISABLE_ENV = "SWANSPHERE_DISABLE_PLUGINS"


def parse_disabled(text: str | None) -> frozenset[str]:
    """Split a comma-separated list of plugin or distribution names."""
    if not text:
        return frozenset()
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


class Registry:
    """Typed facade over a pluggy ``PluginManager``.

    Args:
        disabled: entry-point names or distribution names never to load (they are not even
            imported). Defaults to the ``SWANSPHERE_DISABLE_PLUGINS`` environment variable.
        entry_points: discover plugins from installed distributions. Turn off for a registry
            that only holds what :meth:`register` adds.
    """

    def __init__(
        self, *, disabled: Iterable[str] | None = None, entry_points: bool = True
    ) -> None:
        if disabled is None:
            disabled = parse_disabled(os.environ.get(DISABLE_ENV))
        self.disabled = frozenset(_normalise(name) for name in disabled)
        self._use_entry_points = entry_points
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._providers: dict[str, Provider] = {}
        self._broken: list[BrokenPlugin] = []
        self._skipped: list[Provider] = []
        self._components: dict[ComponentKind, dict[str, RegisteredComponent]] | None = None
        self._discovered = False
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- plugin discovery

    def register(self, plugin: Any, name: str, *, distribution: str | None = None,
                 version: str | None = None) -> None:
        """Register a plugin object or module by hand (notebooks, tests, applications)."""
        with self._lock:
            self._discover()
            self._add_plugin(plugin, Provider(plugin=name, distribution=distribution,
                                              version=version))
            self._components = None

    def _is_disabled(self, provider: Provider) -> bool:
        names = {provider.plugin, provider.distribution or ""}
        return any(_normalise(n) in self.disabled for n in names if n)

    def _add_plugin(self, plugin: Any, provider: Provider) -> None:
        if provider.plugin in self._providers:
            raise DuplicateComponentError(
                f"two plugins are named {provider.plugin!r}: {self._providers[provider.plugin]} "
                f"and {provider}; rename one or disable it with {DISABLE_ENV}"
            )
        self._pm.register(plugin, name=provider.plugin)
        self._providers[provider.plugin] = provider

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        if not self._use_entry_points:
            return
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            provider = Provider(
                plugin=entry_point.name,
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            if self._is_disabled(provider):
                self._skipped.append(provider)
                continue
            try:
                plugin = entry_point.load()
            except Exception as error:  # a broken plugin must not break the host
                self._broken.append(BrokenPlugin(provider=provider, error=_describe(error)))
                continue
            self._add_plugin(plugin, provider)

    # ---------------------------------------------------------------- component collection

    def _collect(self) -> dict[ComponentKind, dict[str, RegisteredComponent]]:
        with self._lock:
            self._discover()
            if self._components is not None:
                return self._components
            table: dict[ComponentKind, dict[str, RegisteredComponent]] = {k: {} for k in
                                                                            ComponentKind}
            failed: set[str] = set()
            for kind in ComponentKind:
                for plugin_name, records in self._call_per_plugin(kind, failed):
                    provider = self._providers[plugin_name]
                    for record in records:
                        self._add_record(table[kind], record, kind, provider)
            self._components = table
            return table

    def _call_per_plugin(self, kind: ComponentKind, failed: set[str]):
        """Call one hook on each plugin separately, so records can be attributed."""
        hook = getattr(self._pm.hook, kind.hook_name)
        for impl in hook.get_hookimpls():
            if impl.plugin_name in failed:
                continue
            try:
                records = list(impl.function() or ())
                for record in records:
                    _check_record(record, kind)
            except Exception as error:
                failed.add(impl.plugin_name)
                provider = self._providers[impl.plugin_name]
                self._broken.append(BrokenPlugin(provider=provider, error=_describe(error)))
                continue
            yield impl.plugin_name, records

    @staticmethod
    def _add_record(table: dict[str, RegisteredComponent], record: Component,
                    kind: ComponentKind, provider: Provider) -> None:
        existing = table.get(record.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{kind.value} {record.name!r} is registered twice: by {existing.provider} and "
                f"by {provider}; disable one with {DISABLE_ENV} or --disable-plugins"
            )
        table[record.name] = RegisteredComponent(component=record, provider=provider)

    # ---------------------------------------------------------------- queries

    def components(self, kind: ComponentKind | str | None = None) -> list[RegisteredComponent]:
        """Registered components, sorted by kind then name (all kinds when ``kind`` is None)."""
        table = self._collect()
        kinds = list(ComponentKind) if kind is None else [ComponentKind(kind)]
        return [table[k][name] for k in kinds for name in sorted(table[k])]

    def names(self, kind: ComponentKind | str) -> list[str]:
        return sorted(self._collect()[ComponentKind(kind)])

    def get(self, kind: ComponentKind | str, name: str) -> RegisteredComponent:
        """Look a component up by kind and name; unknown names list the valid ones."""
        kind = ComponentKind(kind)
        table = self._collect()[kind]
        if name not in table:
            valid = ", ".join(sorted(table)) or "none registered"
            raise UnknownComponentError(f"unknown {kind.value} type {name!r}; valid: {valid}")
        return table[name]

    @property
    def broken(self) -> list[BrokenPlugin]:
        """Plugins that failed to import or register, with their errors."""
        self._collect()
        return list(self._broken)

    @property
    def skipped(self) -> list[Provider]:
        """Plugins that were disabled and never imported."""
        self._collect()
        return list(self._skipped)

    @property
    def providers(self) -> list[Provider]:
        """Plugins that loaded."""
        self._collect()
        return list(self._providers.values())

    def create(self, kind: ComponentKind | str, config: Mapping[str, Any] | Any) -> Any:
        """Build a component from a ``{"type": name, ...fields}`` mapping or a ComponentSpec."""
        from .config import ComponentSpec, structure_component

        spec = config if isinstance(config, ComponentSpec) else structure_component(
            self, ComponentKind(kind), config, path=str(ComponentKind(kind).value))
        registered = self.get(kind, spec.type)
        return registered.component.factory(spec.config)


def _check_record(record: Any, kind: ComponentKind) -> None:
    if not isinstance(record, Component):
        raise TypeError(f"{kind.hook_name} yielded {type(record).__name__}, not a Component")
    if record.kind is not kind:
        raise TypeError(f"{kind.hook_name} yielded a {record.kind.value} component "
                        f"{record.name!r}; register it through its own hook")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry, created on first use (honours SWANSPHERE_DISABLE_PLUGINS)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def set_default_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (``None`` recreates it on next use)."""
    global _default
    with _default_lock:
        _default = registry


def create(kind: ComponentKind | str, config: Mapping[str, Any] | Any) -> Any:
    """Build a component of ``kind`` from ``{"type": "<registered name>", ...fields}``."""
    return default_registry().create(kind, config)
