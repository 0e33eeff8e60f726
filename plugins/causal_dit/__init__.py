"""The causal autoregressive diffusion transformer (Spatial LM + LocEnc + LocDiT).

Importing this package is light (configs only); the torch modules load on first use of the
names below, e.g. ``from swansphere.plugins.causal_dit import CausalDiT, Conditions``.
"""

from __future__ import annotations

from swansphere.lazy import lazy_exports
from swansphere.nn.configs import TransformerSize as TransformerSize

from .config import CausalDiTConfig as CausalDiTConfig

_EXPORTS = {
    "model": ["CausalDiT", "HeadContext"],
    "cache": ["CausalDiTState", "KVCache", "StaleStateError"],
    "swansphere.nn.conditions": ["Conditions", "BackboneInputError"],
    "generation": ["generate", "generate_patch", "patch_velocity", "stream_patches"],
    "presets": ["PRESETS", "preset", "count_parameters"],
}

__all__ = sorted(["CausalDiTConfig", "TransformerSize",
                  *(name for names in _EXPORTS.values() for name in names)])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
