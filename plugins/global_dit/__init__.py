"""The whole-clip (non-causal) diffusion transformer, the streaming model's baseline.

Importing this package is light (configs only); the torch modules load on first use of the
names below, e.g. ``from swansphere.plugins.global_dit import GlobalDiT, same_size_config``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import GlobalDiTConfig as GlobalDiTConfig

_LAZY = {
    "GlobalDiT": "model",
    "GlobalDiTBlock": "model",
    "EncodedConditions": "model",
    "count_parameters": "model",
    "same_size_config": "model",
    "size_report": "model",
    "repeat_conditions": "model",
}

__all__ = sorted(["GlobalDiTConfig", *_LAZY])


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
