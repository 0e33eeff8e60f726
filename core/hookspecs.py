"""Hook specifications of the ``swansphere`` plugin system.

A plugin is a module (or object) with functions marked :data:`swansphere.hookimpl`, found
through the ``swansphere.plugins`` entry-point group. Each contribution hook yields
:class:`swansphere.Component` records of one kind; the registry attributes each record to the
distribution that provides it and rejects duplicate names. Components are chosen by name from
configuration, never by call order, so no hook here is ``firstresult``.

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
    from .components import Component


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
