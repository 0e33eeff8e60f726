"""SwanSphere: streaming spatial-audio (first-order ambisonics, AmbiX) generation.

The package root is the small core: protocols, value types, errors, the plugin registry and
configuration. Components live in subpackages and register through plugins.
"""

from __future__ import annotations

from .components import BrokenPlugin, Component, ComponentKind, Provider, RegisteredComponent
from .errors import (
    AudioFileError,
    AudioFormatError,
    ConfigError,
    DuplicateComponentError,
    PluginError,
    ResourceNotFoundError,
    SwanSphereError,
    UnknownComponentError,
)
from .hookspecs import hookimpl
from .registry import Registry, create, default_registry

__version__ = "0.1.0"

__all__ = [
    "AudioFileError",
    "AudioFormatError",
    "BrokenPlugin",
    "Component",
    "ComponentKind",
    "ConfigError",
    "DuplicateComponentError",
    "PluginError",
    "Provider",
    "RegisteredComponent",
    "Registry",
    "ResourceNotFoundError",
    "SwanSphereError",
    "UnknownComponentError",
    "__version__",
    "create",
    "default_registry",
    "hookimpl",
]
