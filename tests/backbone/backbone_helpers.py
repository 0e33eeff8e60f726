"""Small models and inputs for the backbone tests (CPU, float32, milliseconds per call)."""

from __future__ import annotations

import attrs
import torch

from swansphere.conditioning.alignment import frame_times
from swansphere.plugins.causal_dit import CausalDiTConfig, TransformerSize
from swansphere.plugins.causal_dit.conditions import Conditions
from swansphere.plugins.causal_dit.model import CausalDiT

VIDEO_FPS = 6.0
"""Frames every 1/6 s against 1/4 s patches: frames and patch ends interleave irregularly."""


def micro_config(**changes) -> CausalDiTConfig:
    base = CausalDiTConfig(
        latent_dim=6, latent_frame_rate=8.0, patch_frames=2, context_patches=2, text_dim=5,
        video_dim=7, lm=TransformerSize(layers=2, width=32, heads=4, kv_heads=2),
        locenc=TransformerSize(layers=1, width=16, heads=2, kv_heads=1),
        locdit=TransformerSize(layers=2, width=16, heads=2, kv_heads=1), caption_layers=1,
        video_adapter_layers=1, attention_window=0)
    return attrs.evolve(base, **changes)


def make_model(seed: int = 0, **changes) -> CausalDiT:
    """A micro model whose parameters (zero-initialised ones included) are all perturbed, so
    that every path carries signal."""
    torch.manual_seed(seed)
    model = CausalDiT(micro_config(**changes)).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))
    return model


def latents(batch: int, patches: int, model: CausalDiT, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, patches * model.patch_frames, model.latent_dim,
                       generator=generator)


def conditions(batch: int, model: CausalDiT, *, frames: int = 12, tokens: int = 4,
               seed: int = 1, shared: bool = False) -> Conditions:
    """Text and video for ``batch`` items (identical items when ``shared``)."""
    generator = torch.Generator().manual_seed(seed)
    rows = 1 if shared else batch
    text = torch.randn(rows, tokens, model.config.text_dim, generator=generator)
    video = torch.randn(rows, frames, model.config.video_dim, generator=generator)
    mask = torch.ones(rows, tokens, dtype=torch.bool)
    mask[:, tokens - 1] = False  # one padding token
    return Conditions(text=text.expand(batch, -1, -1), text_mask=mask.expand(batch, -1),
                      video=video.expand(batch, -1, -1), video_times=frame_times(frames,
                                                                                 VIDEO_FPS))
