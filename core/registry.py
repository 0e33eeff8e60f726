"""The plugin registry: the one place that talks to pluggy.

``Registry`` reads the ``swansphere.plugins`` entry-point group through the ``entrypoints``
package, without importing anything, then imports the plugins that are not disabled (the
built-ins come from the same group, from the ``swansphere`` distribution itself). It calls
each plugin's hooks separately, so every record is attributed to its provider, and checks
each record on its own. Whatever is wrong (a plugin that fails to import, a plugin name or a
component name that is already taken, a misspelt ``swansphere_*`` hook, a module without any
hook implementation, a hook that raises, a malformed record) is reported in
:attr:`Registry.broken` and costs only itself: everything else keeps working.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import entrypoints
import pluggy

from . import hookspecs
from .components import (
    BrokenPlugin,
    Component,
    ComponentKind,
    Extension,
    ExtensionKind,
    Provider,
    RegisteredComponent,
    RegisteredExtension,
    record_problem,
)
from .errors import (
    DuplicateComponentError,
    PluginError,
    SwanSphereWarning,
    UnknownComponentError,
)

ENTRY_POINT_GROUP = "swansphere.plugins"
DISABLE_ENV = "SWANSPHERE_DISABLE_PLUGINS"
BUILTIN_DISTRIBUTION = "swansphere"

RecordKind = ComponentKind | ExtensionKind
Registered = RegisteredComponent | RegisteredExtension
RECORD_KINDS: tuple[RecordKind, ...] = (*ComponentKind, *ExtensionKind)
HOOK_NAMES = frozenset(kind.hook_name for kind in RECORD_KINDS)

PROTOCOLS: Mapping[ComponentKind, str] = {
    ComponentKind.CODEC: "LatentCodec",
    ComponentKind.BACKBONE: "CausalBackbone",
    ComponentKind.CLIP_BACKBONE: "WholeClipBackbone",
    ComponentKind.SAMPLER: "Sampler",
    ComponentKind.CONDITIONER: "Conditioner",
    ComponentKind.PREFERENCE_OPTIMIZER: "PreferenceOptimizer",
    ComponentKind.REWARD: "Reward",
}
"""The :mod:`swansphere.protocols` class that every component of a kind must follow (a video
conditioner: ``VideoConditioner``). :meth:`Registry.create` checks each component it builds."""


def parse_disabled(text: str | None) -> frozenset[str]:
    """Split a comma-separated list of plugin or distribution names."""
    if not text:
        return frozenset()
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def normalise(name: str) -> str:
    """A plugin or distribution name as compared (PEP 503: case, ``-``, ``_``, ``.`` folded)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@attrs.frozen
class _Found:
    """An entry point read from installed metadata; its module is not imported yet."""

    provider: Provider
    entry_point: entrypoints.EntryPoint


class Registry:
    """Typed facade over a pluggy ``PluginManager``.

    Args:
        disabled: entry-point names or distribution names never to load (they are not even
            imported). Defaults to the ``SWANSPHERE_DISABLE_PLUGINS`` environment variable.
            Names that match no installed plugin or distribution are reported with a
            :class:`~swansphere.errors.SwanSphereWarning` (see :attr:`unmatched_disabled`).
        entry_points: discover plugins from installed distributions. Turn off for a registry
            that only holds what :meth:`register` adds.

    When two plugins claim one name (a plugin name or a component name of one kind), the
    first keeps it: the built-ins first, then other distributions by name, then plugins
    registered by hand in the order of :meth:`register` calls.
    """

    def __init__(
        self, *, disabled: Iterable[str] | None = None, entry_points: bool = True
    ) -> None:
        if disabled is None:
            disabled = parse_disabled(os.environ.get(DISABLE_ENV))
        self._disabled_names = tuple(sorted(disabled))
        self.disabled = frozenset(normalise(name) for name in self._disabled_names)
        self._use_entry_points = entry_points
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._providers: dict[str, Provider] = {}
        self._load_problems: list[BrokenPlugin] = []
        self._collect_problems: list[BrokenPlugin] = []
        self._use_problems: list[BrokenPlugin] = []
        self._skipped: list[Provider] = []
        self._found: list[_Found] | None = None
        self._tables: dict[RecordKind, dict[str, Registered]] | None = None
        self._loaded = False
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- plugin discovery

    def register(self, plugin: Any, name: str, *, distribution: str | None = None,
                 version: str | None = None) -> None:
        """Register a plugin object or module by hand (notebooks, tests, applications).

        Its problems (a misspelt hook, no hook at all, bad records) are reported in
        :attr:`broken` like an installed plugin's; a plugin name already in use is an error.
        """
        with self._lock:
            self._load()
            if name in self._providers:
                raise DuplicateComponentError(f"a plugin named {name!r} is already registered "
                                  f"({self._providers[name]}); choose another name")
            self._add_plugin(plugin, Provider(plugin=name, distribution=distribution,
                                              version=version))
            self._tables = None

    def _find(self) -> list[_Found]:
        """Installed entry points of the group, read without importing them (built-ins first,
        then by distribution and name); a distribution seen twice on the path counts once."""
        if self._found is None:
            self._found = _installed_plugins() if self._use_entry_points else []
        return self._found

    @property
    def unmatched_disabled(self) -> tuple[str, ...]:
        """Disabled names that match no installed plugin or distribution (a misspelling?)."""
        if not self._use_entry_points:
            return ()
        known = {normalise(name) for found in self._find()
                 for name in (found.provider.plugin, found.provider.distribution or "")}
        return tuple(name for name in self._disabled_names if normalise(name) not in known)

    def _is_disabled(self, provider: Provider) -> bool:
        names = (provider.plugin, provider.distribution or "")
        return any(normalise(name) in self.disabled for name in names if name)

    def _load(self) -> None:
        """Import every enabled plugin once; failures are reported, never raised."""
        if self._loaded:
            return
        self._loaded = True
        unmatched = self.unmatched_disabled
        if unmatched:
            installed = sorted({name for found in self._find() for name in
                                (found.provider.plugin, found.provider.distribution) if name})
            warnings.warn(f"disabled plugin name(s) {', '.join(map(repr, unmatched))} match no "
                          f"installed plugin or distribution (installed: "
                          f"{', '.join(installed)})", SwanSphereWarning, stacklevel=3)
        for found in self._find():
            provider = found.provider
            if self._is_disabled(provider):
                self._skipped.append(provider)
            elif provider.plugin in self._providers:
                self._load_problems.append(BrokenPlugin(provider=provider, error=(
                    f"the plugin name {provider.plugin!r} is already taken by "
                    f"{self._providers[provider.plugin]}; this one is skipped: rename its "
                    f"entry point or disable one with {DISABLE_ENV} or --disable-plugins")))
            else:
                try:
                    plugin = found.entry_point.load()
                except Exception as error:  # a broken plugin must not break the host
                    self._load_problems.append(BrokenPlugin(provider=provider,
                                                            error=_describe(error)))
                    continue
                self._add_plugin(plugin, provider)

    def _add_plugin(self, plugin: Any, provider: Provider) -> None:
        try:
            self._pm.register(plugin, name=provider.plugin)
        except Exception as error:  # pluggy refuses an implementation that fits no spec
            self._load_problems.append(BrokenPlugin(provider=provider, error=_describe(error)))
            return
        self._providers[provider.plugin] = provider
        problems = _hook_problems(plugin, self._implemented_hooks(provider.plugin))
        self._load_problems.extend(BrokenPlugin(provider=provider, error=problem)
                                   for problem in problems)

    def _implemented_hooks(self, plugin_name: str) -> set[str]:
        return {kind.hook_name for kind in RECORD_KINDS
                if plugin_name in self._implementations(kind)}

    def _implementations(self, kind: RecordKind) -> dict[str, Any]:
        hook = getattr(self._pm.hook, kind.hook_name)
        return {impl.plugin_name: impl for impl in hook.get_hookimpls()}

    # ---------------------------------------------------------------- record collection

    def _collect(self) -> dict[RecordKind, dict[str, Registered]]:
        with self._lock:
            self._load()
            if self._tables is None:
                self._collect_problems = []
                self._tables = {kind: self._collect_kind(kind) for kind in RECORD_KINDS}
            return self._tables

    def _collect_kind(self, kind: RecordKind) -> dict[str, Registered]:
        """Every plugin's records of one kind, in plugin order; the first of a name wins."""
        table: dict[str, Registered] = {}
        implementations = self._implementations(kind)
        for plugin_name, provider in self._providers.items():
            if plugin_name not in implementations:
                continue
            try:
                records = list(implementations[plugin_name].function() or ())
            except Exception as error:
                self._report(provider, f"{kind.hook_name} raised {_describe(error)}")
                continue
            for record in records:
                problem = record_problem(record, kind) or _clash(table, record, kind)
                if problem:
                    self._report(provider, problem)
                else:
                    table[record.name] = _registered(record, provider)
        return table

    def _report(self, provider: Provider, problem: str) -> None:
        self._collect_problems.append(BrokenPlugin(provider=provider, error=problem))

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
        return _lookup(self._collect()[kind], name, f"{kind.value} type")

    def extensions(self, kind: ExtensionKind | str | None = None) -> list[RegisteredExtension]:
        """Registered extensions in registration order (built-ins first; all kinds when
        ``kind`` is None)."""
        table = self._collect()
        kinds = list(ExtensionKind) if kind is None else [ExtensionKind(kind)]
        return [item for k in kinds for item in table[k].values()]

    def extension(self, kind: ExtensionKind | str, name: str) -> RegisteredExtension:
        """Look an extension up by kind and name; unknown names list the valid ones."""
        kind = ExtensionKind(kind)
        return _lookup(self._collect()[kind], name, kind.label)

    def extend(self, kind: ExtensionKind | str, apply: Callable[[Any], None]) -> None:
        """Load every extension of ``kind`` and call ``apply`` on what its target names.

        One that fails to load or to apply (say, a command whose name is taken) is reported
        in :attr:`broken` and skipped; the others are applied.
        """
        for item in self.extensions(kind):
            try:
                apply(item.load())
            except Exception as error:
                reason = str(error) if isinstance(error, PluginError) else (
                    f"{item.kind.label} {item.name!r}: {_describe(error)}")
                problem = BrokenPlugin(provider=item.provider, error=reason)
                if problem not in self._use_problems:  # a parser built twice reports once
                    self._use_problems.append(problem)

    @property
    def broken(self) -> list[BrokenPlugin]:
        """What was skipped and why: plugins that failed to import, taken names, misspelt or
        missing hooks, hooks that raised, malformed records, extensions that failed."""
        self._collect()
        return [*self._load_problems, *self._collect_problems, *self._use_problems]

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
        """Build a component from a ``{"type": name, ...fields}`` mapping or a ComponentSpec.

        The result must follow its kind's protocol (:data:`PROTOCOLS`); one that lacks
        members is a :class:`~swansphere.errors.PluginError` that names them.
        """
        from .config import ComponentSpec, structure_component

        kind = ComponentKind(kind)
        spec = config if isinstance(config, ComponentSpec) else structure_component(
            self, kind, config, path=kind.value)
        registered = self.get(kind, spec.type)
        component = registered.component.factory(spec.config)
        check_protocol(registered, component)
        return component


def protocol_for(kind: ComponentKind, component: Any) -> type:
    """The protocol class ``component`` must follow as a component of ``kind``."""
    from . import protocols

    if kind is ComponentKind.CONDITIONER and getattr(component, "modality", None) == "video":
        return protocols.VideoConditioner
    return getattr(protocols, PROTOCOLS[kind])


def protocol_members(protocol: type) -> list[str]:
    """The attributes and methods a protocol class declares, its bases' included."""
    members = {name for base in protocol.__mro__ if getattr(base, "_is_protocol", False)
               for name in (*vars(base), *getattr(base, "__annotations__", {}))
               if not name.startswith("_") or name == "__call__"}
    return sorted(members)


def check_protocol(registered: RegisteredComponent, component: Any) -> None:
    """Raise PluginError unless ``component`` has every member of its kind's protocol."""
    protocol = protocol_for(registered.kind, component)
    if isinstance(component, protocol):
        return
    missing = [name for name in protocol_members(protocol) if not hasattr(component, name)]
    raise PluginError(f"{registered.kind.value} {registered.name!r} from {registered.provider} "
                      f"built a {type(component).__name__} that is not a {protocol.__name__}: "
                      f"it lacks {', '.join(missing)}")


def _installed_plugins() -> list[_Found]:
    found: dict[tuple[str | None, str], _Found] = {}
    for entry_point in entrypoints.get_group_all(ENTRY_POINT_GROUP):
        distro = entry_point.distro
        distribution = normalise(distro.name) if distro is not None else None
        version = distro.version if distro is not None else None
        if distribution is not None and version is None:  # an egg-info folder names none
            version = _installed_version(distribution)
        provider = Provider(plugin=entry_point.name, distribution=distribution, version=version)
        found.setdefault((distribution, entry_point.name), _Found(provider, entry_point))
    return sorted(found.values(), key=lambda item: (
        item.provider.distribution != BUILTIN_DISTRIBUTION, item.provider.distribution or "",
        item.provider.plugin))


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _hook_problems(plugin: Any, implemented: set[str]) -> list[str]:
    """Misspelt hooks, hooks without the marker, and a plugin that implements nothing."""
    problems = []
    for name in sorted(n for n in dir(plugin) if n.startswith("swansphere_")):
        if name in implemented or not callable(getattr(plugin, name, None)):
            continue
        if name in HOOK_NAMES:
            problems.append(f"{name} is not marked with @swansphere.hookimpl, so it is never "
                            "called")
        else:
            close = difflib.get_close_matches(name, sorted(HOOK_NAMES), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name} is not a swansphere hook{hint}; hooks are "
                            f"{', '.join(sorted(HOOK_NAMES))}")
    if not implemented and not problems:
        problems.append("implements no swansphere hook: mark functions named "
                        "swansphere_register_<kind>s with @swansphere.hookimpl")
    return problems


def _clash(table: Mapping[str, Registered], record: Component | Extension,
           kind: RecordKind) -> str | None:
    existing = table.get(record.name)
    if existing is None:
        return None
    label = kind.label if isinstance(kind, ExtensionKind) else kind.value
    return (f"{label} {record.name!r} is already registered by {existing.provider}; this one "
            f"is skipped: rename it, or disable one plugin with {DISABLE_ENV} or "
            "--disable-plugins")


def _registered(record: Component | Extension, provider: Provider) -> Registered:
    if isinstance(record, Component):
        return RegisteredComponent(component=record, provider=provider)
    return RegisteredExtension(extension=record, provider=provider)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"



def _lookup(table: Mapping[str, Any], name: str, label: str) -> Any:
    """``table[name]``; an unknown name lists the valid ones."""
    if name not in table:
        valid = ", ".join(sorted(table)) or "none registered"
        raise UnknownComponentError(f"unknown {label} {name!r}; valid: {valid}")
    return table[name]

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
