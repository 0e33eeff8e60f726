"""Typed records that plugins yield, and what the registry knows about their providers."""

from __future__ import annotations

import enum
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


def _is_attrs_class(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, type) and attrs.has(value)):
        raise TypeError(f"{attribute.name} must be an attrs class, got {value!r}")


def _check_name(_instance: Any, _attribute: attrs.Attribute, value: str) -> None:
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"component name {value!r} must be non-empty and contain no whitespace")


@attrs.frozen(kw_only=True)
class Component:
    """One registrable component.

    ``factory(config)`` builds the component from an instance of ``config_class`` (a frozen,
    keyword-only attrs class). Keep plugin modules light: import heavy libraries inside the
    factory, not at module level.
    """

    name: str = attrs.field(validator=_check_name)
    kind: ComponentKind = attrs.field(converter=ComponentKind)
    factory: Callable[[Any], Any] = attrs.field(validator=attrs.validators.is_callable())
    config_class: type = attrs.field(validator=_is_attrs_class)
    description: str = attrs.field(validator=attrs.validators.instance_of(str))


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


@attrs.frozen(kw_only=True)
class BrokenPlugin:
    """A plugin that failed to import or to register; it was skipped."""

    provider: Provider
    error: str
