"""Errors raised on bad input or configuration.

Every error the library raises because of something a user gave it derives from
:class:`SwanSphereError`, carries a one-line message that says what to do, and is printed by
the CLI without a traceback.
"""

from __future__ import annotations


class SwanSphereError(Exception):
    """Base of every error raised on bad input or configuration."""


class ConfigError(SwanSphereError, ValueError):
    """A configuration value, key or component type is invalid."""


class UnknownComponentError(ConfigError, KeyError):
    """A component name is not registered for its kind."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PluginError(SwanSphereError):
    """The set of plugins is inconsistent (for example, two provide the same name)."""


class DuplicateComponentError(PluginError):
    """A plugin is registered by hand under a name already in use. (Installed plugins never
    raise it: a taken name stays with its first provider and the newcomer is reported.)"""


class AudioFormatError(SwanSphereError, ValueError):
    """Audio has the wrong shape, channel count or non-finite samples."""


class AudioFileError(SwanSphereError, OSError):
    """An audio file is missing, empty, unreadable or cannot be written."""


class GenerationError(SwanSphereError, ValueError):
    """Generation arguments are invalid (a duration, a prompt without a text model, …)."""


class ResourceNotFoundError(SwanSphereError, FileNotFoundError):
    """A data resource (an HRTF set, a model, a sound bank) is not installed."""


class SwanSphereWarning(UserWarning):
    """Something was repaired or skipped on the way (a torn log line, a corrupt checkpoint):
    the CLI prints it as one ``swansphere: warning:`` line."""
