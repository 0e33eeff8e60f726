"""Built-in backbones, registered through the ``swansphere.plugins`` entry point like any plugin."""

from __future__ import annotations

from typing import Any

from swansphere import Component, hookimpl
from swansphere.plugins.causal_dit.config import CausalDiTConfig


def _causal_dit(config: CausalDiTConfig) -> Any:
    from swansphere.plugins.causal_dit.model import CausalDiT

    return CausalDiT(config)


@hookimpl
def swansphere_register_backbones() -> list[Component]:
    return [
        Component(name="causal-dit", kind="backbone", factory=_causal_dit,
                  config_class=CausalDiTConfig,
                  description="causal autoregressive diffusion transformer (Spatial LM + LocEnc "
                              "+ LocDiT, xformers attention), the paper's model"),
    ]
