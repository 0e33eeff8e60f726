"""Small models and inputs for the backbone tests (CPU, float32, milliseconds per call)."""

from __future__ import annotations

import attrs
import torch

from swansphere.conditioning.alignment import frame_times
from swansphere.nn.conditions import Conditions
from swansphere.plugins.causal_dit import CausalDiTConfig, TransformerSize
from swansphere.plugins.causal_dit.model import CausalDiT

VIDEO_FPS = 6.0
"""Frames every 1/6 s against 1/4 s patches: frames and patch ends interleave irregularly."""


def micro_config(**changes) -> CausalDiTConfig:
    base = CausalDiTConfig(
        latent_dim=6, latent_frame_rate=8.0, patch_frames=2, context_patches=2, text_dim=5,
        video_dim=7, lm=TransformerSize(layers=2, width=32, heads=4, kv_heads=2),
        locenc=TransformerSize(layers=1, width=16, heads=2, kv_heads=1),
        locdit=TransformerSize(layers=2, width=16, heads=2, kv_heads=1), caption_layers=1,
        video_adapter_layers=1, attention_window=0, text_summary=True)
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


def reference_context(model: CausalDiT, latents: torch.Tensor,
                      patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The LocDiT context of ``patch`` built by hand from the whole sequence: the (up to)
    ``context_patches`` patches just before it, in time order, left-padded with invalid
    frames. Returns ``(context (B, context_frames, D), valid (B, context_frames))``."""
    frames, size = model.patch_frames, model.config.context_frames
    first = max(0, patch - model.context_patches) * frames
    previous = latents[:, first:patch * frames]
    missing = size - previous.shape[1]
    context = torch.cat((previous.new_zeros(previous.shape[0], missing, previous.shape[2]),
                         previous), 1)
    valid = torch.arange(size) >= missing
    return context, valid.expand(latents.shape[0], size)


def reference_guided_velocity(model: CausalDiT, latents: torch.Tensor, h: torch.Tensor,
                              patch: int, x: torch.Tensor, t: torch.Tensor, w1: float,
                              w2: float) -> torch.Tensor:
    """The paper's v_u + w1(v_c1 − v_u) + w2(v_all − v_c1) for ``patch``, each branch one
    training-time LocDiT call: v_u sees neither ``h_t`` nor the context, v_c1 the context
    only, v_all both (``h`` ``(B, width)`` is the teacher-forced ``h_t``)."""
    context, valid = reference_context(model, latents, patch)
    keep, drop = torch.ones(x.shape[0], dtype=torch.bool), torch.zeros(x.shape[0],
                                                                        dtype=torch.bool)
    v_u = model.locdit(x, t, h, drop, context, valid & False)
    v_c1 = model.locdit(x, t, h, drop, context, valid)
    v_all = model.locdit(x, t, h, keep, context, valid)
    return v_u + w1 * (v_c1 - v_u) + w2 * (v_all - v_c1)


class RecordingSampler:
    """A sampler that remembers every velocity field it integrated (to probe them later)."""

    def __init__(self, inner) -> None:
        self.inner, self.fields = inner, []

    def sample(self, velocity, noise, steps=None, generator=None):
        self.fields.append(velocity)
        return self.inner.sample(velocity, noise, steps, generator=generator)
