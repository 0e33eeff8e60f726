"""Built-in conditioners, registered through the ``swansphere.plugins`` entry point like any plugin.

``minilm`` and ``text-transformer`` encode captions; ``panorama-video`` encodes
equirectangular video (its ``weights`` may be an SVAC checkpoint). Config classes are light
attrs classes; torch-heavy modules load inside the factories.
"""

from __future__ import annotations

from typing import Any

from swansphere import Component, hookimpl
from swansphere.conditioning.config import (
    MiniLMTextConfig,
    PanoramaVideoConfig,
    TextTransformerConfig,
)


def _minilm(config: Any) -> Any:
    from swansphere.conditioning.text import MiniLMTextConditioner

    return MiniLMTextConditioner(config)


def _text_transformer(config: Any) -> Any:
    from swansphere.conditioning.text import TextTransformerConditioner

    return TextTransformerConditioner(config)


def _panorama_video(config: Any) -> Any:
    from swansphere.conditioning.video import PanoramaVideoConditioner

    return PanoramaVideoConditioner(config)


@hookimpl
def swansphere_register_conditioners() -> list[Component]:
    return [
        Component(name="minilm", kind="conditioner", factory=_minilm,
                  config_class=MiniLMTextConfig,
                  description="frozen packaged all-MiniLM-L6-v2 token states + trainable "
                              "projection (extra: swansphere[text])"),
        Component(name="text-transformer", kind="conditioner", factory=_text_transformer,
                  config_class=TextTransformerConfig,
                  description="hashed-word or byte tokenizer + small trainable transformer "
                              "(no extra dependency)"),
        Component(name="panorama-video", kind="conditioner", factory=_panorama_video,
                  config_class=PanoramaVideoConfig,
                  description="streaming ERP video encoder with spherical positions and "
                              "causal temporal aggregation (SVAC-trainable)"),
    ]
