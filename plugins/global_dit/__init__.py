"""The whole-clip (non-causal) diffusion transformer, the streaming model's baseline.

Importing this package is light (configs only); the torch modules load on first use of the
names below, e.g. ``from swansphere.plugins.global_dit import GlobalDiT, same_size_config``.
"""

from __future__ import annotations

from swansphere.lazy import lazy_exports

from .config import GlobalDiTConfig as GlobalDiTConfig

_EXPORTS = {"model": ["GlobalDiT", "GlobalDiTBlock", "EncodedConditions", "count_parameters",
                      "same_size_config", "size_report", "repeat_conditions"]}

__all__ = sorted(["GlobalDiTConfig", *_EXPORTS["model"]])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
