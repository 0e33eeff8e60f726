"""Configuration: frozen attrs classes, one library-owned cattrs converter, TOML files.

Component choices are tagged unions: a table ``{type = "<registered name>", ...fields}`` whose
fields are structured into the config class that the named component registered. Unknown keys
and unknown types are errors that name their dotted path.
"""

from __future__ import annotations

import enum
import tomllib
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs
import cattrs
import tomli_w
from cattrs.errors import ForbiddenExtraKeysError

from .components import ComponentKind
from .errors import ConfigError, UnknownComponentError

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class ComponentSpec:
    """A chosen component: its registered name and its structured config."""

    kind: ClassVar[ComponentKind]
    type: str
    config: Any


@attrs.frozen(kw_only=True)
class CodecSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.CODEC


@attrs.frozen(kw_only=True)
class BackboneSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.BACKBONE


@attrs.frozen(kw_only=True)
class ClipBackboneSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.CLIP_BACKBONE


@attrs.frozen(kw_only=True)
class SamplerSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.SAMPLER


@attrs.frozen(kw_only=True)
class ConditionerSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.CONDITIONER


@attrs.frozen(kw_only=True)
class PreferenceOptimizerSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.PREFERENCE_OPTIMIZER


@attrs.frozen(kw_only=True)
class RewardSpec(ComponentSpec):
    kind: ClassVar[ComponentKind] = ComponentKind.REWARD


_converters: weakref.WeakKeyDictionary[Any, cattrs.Converter] = weakref.WeakKeyDictionary()


def converter_for(registry: Any = None) -> cattrs.Converter:
    """The library's converter bound to ``registry`` (the default registry when None)."""
    if registry is None:
        from .registry import default_registry

        registry = default_registry()
    if registry not in _converters:
        _converters[registry] = _make_converter(registry)
    return _converters[registry]


def _make_converter(registry: Any) -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for scalar in (int, float, bool, str):
        converter.register_structure_hook(scalar, _strict_scalar)

    def structure_spec(data: Any, cls: type[ComponentSpec]) -> ComponentSpec:
        return _structure_spec(converter, registry, cls, data)

    def unstructure_spec(spec: ComponentSpec) -> dict[str, Any]:
        return {"type": spec.type, **converter.unstructure(spec.config)}

    def structure_any_backbone(data: Any, _cls: Any) -> ComponentSpec:
        return _structure_spec(converter, registry, backbone_spec_class(registry, data), data)

    is_spec = lambda cls: isinstance(cls, type) and issubclass(cls, ComponentSpec)  # noqa: E731
    converter.register_structure_hook_func(is_spec, structure_spec)
    converter.register_unstructure_hook_func(is_spec, unstructure_spec)
    converter.register_structure_hook(AnyBackboneSpec, structure_any_backbone)
    return converter


AnyBackboneSpec = BackboneSpec | ClipBackboneSpec
"""A pipeline's backbone: causal (it streams) or whole-clip (a baseline that cannot)."""


def backbone_spec_class(registry: Any, data: Any) -> type[ComponentSpec]:
    """Which kind of backbone a ``{type = ...}`` table names (causal unless the name is a
    whole-clip one); unknown names list both kinds."""
    name = data.get("type") if isinstance(data, Mapping) else None
    if name in registry.names(ComponentKind.CLIP_BACKBONE):
        return ClipBackboneSpec
    if isinstance(name, str) and name not in registry.names(ComponentKind.BACKBONE):
        valid = [*registry.names(ComponentKind.BACKBONE),
                 *(f"{clip} (whole-clip)" for clip in registry.names(ComponentKind.CLIP_BACKBONE))]
        raise UnknownComponentError(f"unknown backbone type {name!r}; valid: "
                                    f"{', '.join(valid) or 'none registered'}")
    return BackboneSpec


def _strict_scalar(value: Any, cls: type) -> Any:
    """Refuse silent coercions (``2.5`` to an int, ``true`` to 1, ``3`` to a string)."""
    accepted = (int, float) if cls is float else (cls,)
    if isinstance(value, bool) != (cls is bool) or not isinstance(value, accepted):
        raise ConfigError(f"expected {cls.__name__}, got {type(value).__name__} {value!r}")
    return cls(value)


_SPEC_BY_KIND = {cls.kind: cls for cls in ComponentSpec.__subclasses__()}


def _structure_spec(converter: cattrs.Converter, registry: Any, cls: type[ComponentSpec],
                    data: Any) -> ComponentSpec:
    if isinstance(data, ComponentSpec):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a table with a 'type' key, got {type(data).__name__}")
    if "type" not in data:
        raise ConfigError(f"missing 'type' (one of: {', '.join(registry.names(cls.kind))})")
    fields = dict(data)
    name = fields.pop("type")
    registered = registry.get(cls.kind, name)
    config = converter.structure(fields, registered.component.config_class)
    return cls(type=name, config=config)


def structure_component(registry: Any, kind: ComponentKind, data: Any, *,
                        path: str = "") -> ComponentSpec:
    """Structure one ``{type = ..., ...}`` table into a :class:`ComponentSpec`."""
    converter = converter_for(registry)
    try:
        return _structure_spec(converter, registry, _SPEC_BY_KIND[kind], data)
    except (cattrs.BaseValidationError, ConfigError) as error:
        raise _config_error(error, [path] if path else []) from None


def structure(data: Mapping[str, Any], cls: type[T], *, registry: Any = None) -> T:
    """Build a config of class ``cls`` from plain data; errors name the dotted path."""
    try:
        return converter_for(registry).structure(data, cls)
    except (cattrs.BaseValidationError, ConfigError) as error:
        raise _config_error(error, []) from None


def unstructure(config: Any, *, registry: Any = None) -> dict[str, Any]:
    """Plain data (TOML-ready: no ``None``, enums as values) from a config object."""
    return _tomlable(converter_for(registry).unstructure(config))


def loads_toml(text: str, cls: type[T], *, registry: Any = None,
               overrides: Iterable[str] = ()) -> T:
    """Parse TOML text into a config of class ``cls`` (``overrides`` as :func:`apply_overrides`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {error}") from None
    return structure(apply_overrides(data, overrides), cls, registry=registry)


def load_toml(path: str | Path, cls: type[T], *, registry: Any = None,
              overrides: Iterable[str] = ()) -> T:
    """Read a TOML file into a config of class ``cls``, ``--set``-style ``overrides`` applied
    to its table first."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text (byte {error.start}); save the config as "
                          "UTF-8 TOML") from None
    try:
        return loads_toml(text, cls, registry=registry, overrides=overrides)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def dumps_toml(config: Any, *, registry: Any = None) -> str:
    return tomli_w.dumps(unstructure(config, registry=registry))


def dump_toml(config: Any, path: str | Path, *, registry: Any = None) -> None:
    """Write ``config`` as TOML; loading the file gives back an equal config."""
    Path(path).write_text(dumps_toml(config, registry=registry), encoding="utf-8")


def _tomlable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_tomlable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _config_error(error: BaseException, prefix: list[str]) -> ConfigError:
    """One ConfigError listing every problem; a lone typed problem keeps its class."""
    leaves = list(_leaves(error, prefix))
    message = "; ".join(_describe_leaf(path, leaf) for path, leaf in leaves)
    only = leaves[0][1] if len(leaves) == 1 else None
    return (type(only) if isinstance(only, ConfigError) else ConfigError)(message)


def _leaves(error: BaseException, path: list[str]):
    if isinstance(error, BaseExceptionGroup):
        for sub in error.exceptions:
            yield from _leaves(sub, path + _note_path(sub))
    else:
        yield path, error


def _note_path(error: BaseException) -> list[str]:
    for note in getattr(error, "__notes__", ()):
        if isinstance(note, cattrs.AttributeValidationNote):
            return [note.name]
        if isinstance(note, cattrs.IterableValidationNote):
            return [str(note.index)]
    return []


def _describe_leaf(path: list[str], leaf: BaseException) -> str:
    where = ".".join(path)
    if isinstance(leaf, ForbiddenExtraKeysError):
        keys = ", ".join(".".join([*path, key]) for key in sorted(leaf.extra_fields))
        return f"unknown key {keys}"
    if isinstance(leaf, ConfigError):
        return _at(where, str(leaf))
    if isinstance(leaf, KeyError):
        return f"missing required key {where}"
    return f"invalid value for {where or 'config'}: {_message(leaf)}"


def _at(where: str, message: str) -> str:
    """``message`` prefixed with its dotted path, unless it already starts with it (an error
    raised by a nested structuring, or a validator that names its own table)."""
    if not where or message.startswith((f"{where}:", f"{where}.")):
        return message
    return f"{where}: {message}"


def _message(error: BaseException) -> str:
    """The text of an error; attrs validators pass (message, attribute, ...) as arguments."""
    first = error.args[0] if error.args else ""
    return first if len(error.args) > 1 and isinstance(first, str) else str(error)


def apply_overrides(table: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Set ``"a.b.c=value"`` strings (``--set``) in a nested TOML table, in place.

    The value is TOML (``8``, ``"x"``, ``[1, 2]``); a bare word is taken as a string. Tables on
    the way are created. Setting a component's ``type`` to another name starts that table
    afresh (the old component's fields would not fit the new one), before the other overrides
    apply, so ``sampler.type=heun`` and ``sampler.steps=8`` work in either order.
    """
    parsed = [_parse_override(override) for override in overrides]
    for names, value in sorted(parsed, key=lambda item: item[0][-1] != "type"):
        parent = _table_at(table, names)
        if names[-1] == "type" and parent.get("type") not in (None, value):
            parent.clear()
        parent[names[-1]] = value
    return table


def _parse_override(override: str) -> tuple[list[str], Any]:
    key, separator, text = override.partition("=")
    names = [name.strip() for name in key.split(".")]
    if not separator or not all(names):
        raise ConfigError(f"--set needs KEY=VALUE with a dotted key, got {override!r}")
    try:
        return names, tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        return names, text.strip()


def _table_at(table: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The table that holds ``names[-1]``, creating tables on the way."""
    for depth, name in enumerate(names[:-1]):
        table = table.setdefault(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"--set {'.'.join(names)}: {'.'.join(names[:depth + 1])} is "
                              "not a table")
    return table
