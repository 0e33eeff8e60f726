"""The causal autoregressive diffusion transformer (Spatial LM + LocEnc + LocDiT).

Importing this package is light (configs only); the torch modules load on first use of the
names below, e.g. ``from swansphere.plugins.causal_dit import CausalDiT, Conditions``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import CausalDiTConfig as CausalDiTConfig
from .config import TransformerSize as TransformerSize

_LAZY = {
    "CausalDiT": "model",
    "CausalDiTState": "cache",
    "KVCache": "cache",
    "Conditions": "conditions",
    "BackboneInputError": "conditions",
    "generate": "generation",
    "generate_patch": "generation",
    "patch_velocity": "generation",
    "stream_patches": "generation",
    "PRESETS": "presets",
    "preset": "presets",
    "count_parameters": "presets",
}

__all__ = sorted(["CausalDiTConfig", "TransformerSize", *_LAZY])


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
