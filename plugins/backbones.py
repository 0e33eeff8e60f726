"""Built-in backbones, registered through the ``swansphere.plugins`` entry point like any plugin:
the causal model (kind ``backbone``) and the global-DiT baseline, a whole-clip model (kind
``clip_backbone``)."""

from __future__ import annotations

from typing import Any

from swansphere import Component, hookimpl
from swansphere.plugins.causal_dit.config import CausalDiTConfig
from swansphere.plugins.global_dit.config import GlobalDiTConfig


def _causal_dit(config: CausalDiTConfig) -> Any:
    from swansphere.plugins.causal_dit.model import CausalDiT

    return CausalDiT(config)


def _global_dit(config: GlobalDiTConfig) -> Any:
    from swansphere.plugins.global_dit.model import GlobalDiT

    return GlobalDiT(config)


@hookimpl
def swansphere_register_backbones() -> list[Component]:
    return [
        Component(name="causal-dit", kind="backbone", factory=_causal_dit,
                  config_class=CausalDiTConfig,
                  description="causal autoregressive diffusion transformer (Spatial LM + LocEnc "
                              "+ LocDiT, xformers attention), the paper's model"),
    ]


@hookimpl
def swansphere_register_clip_backbones() -> list[Component]:
    return [
        Component(name="global-dit", kind="clip_backbone", factory=_global_dit,
                  config_class=GlobalDiTConfig,
                  description="whole-clip (non-causal) diffusion transformer, the same-size "
                              "baseline of causal-dit: no audio before the whole clip is "
                              "sampled"),
    ]
