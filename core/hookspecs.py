"""Hook specifications of the ``swansphere`` plugin system.

A plugin is a module (or object) with functions marked :data:`swansphere.hookimpl`, found
through the ``swansphere.plugins`` entry-point group. Each contribution hook yields
:class:`swansphere.Component` records of one kind (or, for the tables that plugins extend,
:class:`swansphere.Extension` records); the registry attributes each record to the
distribution that provides it. A name that is already taken stays with its first provider
(the built-ins come first) and the newcomer is reported broken. Components are chosen by
name from configuration, never by call order, so no hook here is ``firstresult``.

Every module attribute named ``swansphere_*`` must be one of these hooks: a misspelt hook is
reported broken, as is a plugin that implements none of them.

Hooks take no arguments today. Implementations must not declare parameters with default values:
pluggy never passes them. New arguments will be added as opt-in parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

PROJECT = "swansphere"

_spec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marker for hook implementations: ``@swansphere.hookimpl``."""

if TYPE_CHECKING:
    from .components import Component, Extension


# --------------------------------------------------------------------------------------------
# Contribution hooks: each yields (or returns an iterable of) Component records of one kind.
# --------------------------------------------------------------------------------------------


@_spec
def swansphere_register_codecs() -> Iterable[Component]:
    """Register latent codecs (kind ``"codec"``).

    A codec factory returns an object following :class:`swansphere.protocols.LatentCodec`:
    offline ``encode``/``decode`` plus the explicit-state streaming forms.
    """


@_spec
def swansphere_register_backbones() -> Iterable[Component]:
    """Register causal autoregressive backbones (kind ``"backbone"``).

    The factory returns an object following :class:`swansphere.protocols.CausalBackbone`.
    """


@_spec
def swansphere_register_clip_backbones() -> Iterable[Component]:
    """Register whole-clip backbones (kind ``"clip_backbone"``): models that sample a clip at
    once, such as the global-DiT baseline, and so cannot stream.

    The factory returns an object following :class:`swansphere.protocols.WholeClipBackbone`;
    a pipeline built on one generates whole clips (its stream has one chunk).
    """


@_spec
def swansphere_register_samplers() -> Iterable[Component]:
    """Register flow-matching samplers (kind ``"sampler"``).

    The factory returns an object following :class:`swansphere.protocols.Sampler`: a stateless
    ``sample(velocity, noise, steps, generator=None)`` integrating from t = 0 (noise) to 1 (data).
    """


@_spec
def swansphere_register_conditioners() -> Iterable[Component]:
    """Register text and video conditioners (kind ``"conditioner"``).

    The factory returns an object following :class:`swansphere.protocols.Conditioner`.
    """


@_spec
def swansphere_register_preference_optimizers() -> Iterable[Component]:
    """Register post-training preference optimizers (kind ``"preference_optimizer"``)."""


@_spec
def swansphere_register_rewards() -> Iterable[Component]:
    """Register reward functions for preference optimization (kind ``"reward"``)."""


# --------------------------------------------------------------------------------------------
# Extension hooks: each yields Extension records whose target is imported only when used.
# --------------------------------------------------------------------------------------------


@_spec
def swansphere_register_commands() -> Iterable[Extension]:
    """Register ``swansphere`` subcommands (kind ``"command"``).

    The target is ``register(subparsers)``: it adds the command with
    ``subparsers.add_parser(name, ...)`` and sets ``func(args, registry) -> int`` as the
    parser's default. Keep its module light (torch imports inside ``func``): every CLI start
    imports it. A command that fails to load or clashes with an existing one is reported by
    ``swansphere plugins`` and left out; the others work.
    """


@_spec
def swansphere_register_training_tasks() -> Iterable[Extension]:
    """Register what ``swansphere train`` can train (kind ``"training_task"``).

    The target is a :class:`swansphere.training.tasks.TrainingTask`; a training config names
    it in its top-level ``task`` key.
    """


@_spec
def swansphere_register_bench_targets() -> Iterable[Extension]:
    """Register ``swansphere bench`` targets (kind ``"bench_target"``).

    The target is ``add(targets)``: it adds the target with ``targets.add_parser(name, ...)``
    and sets ``func(args, registry) -> int`` as its default, like a command.
    """
