"""SwanSphere: streaming spatial-audio (first-order ambisonics, AmbiX) generation.

The package root is the small core: protocols, value types, errors, the plugin registry and
configuration. Components live in subpackages and register through plugins.
"""

from __future__ import annotations

from .components import (
    BrokenPlugin,
    Component,
    ComponentKind,
    Extension,
    ExtensionKind,
    Provider,
    RegisteredComponent,
    RegisteredExtension,
)
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
from .lazy import lazy_exports
from .registry import Registry, create, default_registry

__version__ = "0.1.0"

# ``Pipeline`` and friends load on first use, so ``import swansphere`` stays torch-free.
__getattr__, __dir__ = lazy_exports(
    __name__, {"pipeline": ("Chunk", "Pipeline", "PipelineConfig", "Takes")}, globals())

__all__ = [
    "AudioFileError",
    "AudioFormatError",
    "BrokenPlugin",
    "Chunk",
    "Component",
    "ComponentKind",
    "ConfigError",
    "DuplicateComponentError",
    "Extension",
    "ExtensionKind",
    "Pipeline",
    "PipelineConfig",
    "PluginError",
    "Provider",
    "RegisteredComponent",
    "RegisteredExtension",
    "Registry",
    "ResourceNotFoundError",
    "SwanSphereError",
    "Takes",
    "UnknownComponentError",
    "__version__",
    "create",
    "default_registry",
    "hookimpl",
]
