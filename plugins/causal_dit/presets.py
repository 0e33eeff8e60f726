"""Model sizes: ``tiny`` (real time on 2 CPU cores), ``small`` (one GPU), ``paper-l`` (1.09 B).

``paper-l`` follows the published configuration: a 36-layer, 1024-wide Spatial LM with 16
query / 8 KV heads, 6×1024 LocEnc and LocDiT, 128-d latents at 44.1 kHz / 2048 (21.53 Hz).
"""

from __future__ import annotations

from typing import Any

from swansphere.errors import ConfigError

from .config import CausalDiTConfig, TransformerSize

PRESETS: dict[str, CausalDiTConfig] = {
    # LocDiT runs sampling steps × guidance branches times per patch: a 2× MLP keeps it lean.
    "tiny": CausalDiTConfig(),
    "small": CausalDiTConfig(
        latent_dim=64, latent_frame_rate=24_000 / 480,
        lm=TransformerSize(layers=16, width=768, heads=12, kv_heads=4),
        locenc=TransformerSize(layers=4, width=768, heads=12, kv_heads=4),
        locdit=TransformerSize(layers=4, width=768, heads=12, kv_heads=4),
        video_adapter_layers=2, attention_window=256),
    "paper-l": CausalDiTConfig(
        latent_dim=128, latent_frame_rate=44_100 / 2048, text_dim=1024, video_dim=1024,
        lm=TransformerSize(layers=36, width=1024, heads=16, kv_heads=8),
        locenc=TransformerSize(layers=6, width=1024, heads=16, kv_heads=8),
        locdit=TransformerSize(layers=6, width=1024, heads=16, kv_heads=8),
        video_adapter_layers=4, attention_window=64),
}
"""Name -> configuration. Adjust with ``attrs.evolve(PRESETS[name], field=...)``."""


def preset(name: str) -> CausalDiTConfig:
    """The configuration of a named preset."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown causal-dit preset {name!r}; use one of: "
                          f"{', '.join(PRESETS)}") from None


def count_parameters(config: CausalDiTConfig | str) -> dict[str, Any]:
    """Parameters per part and in total, counted on the meta device (no memory allocated)."""
    import torch

    from .model import CausalDiT

    if isinstance(config, str):
        config = preset(config)
    with torch.device("meta"):
        model = CausalDiT(config)
    parts = {name: sum(p.numel() for p in child.parameters())
             for name, child in model.named_children()}
    parts["tokens"] = sum(p.numel() for p in model.parameters(recurse=False))
    return {"total": sum(p.numel() for p in model.parameters()), **parts}
