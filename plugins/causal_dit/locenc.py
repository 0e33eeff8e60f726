"""LocEnc: pools one latent patch into the Spatial LM's input vector."""

from __future__ import annotations

import torch
from torch import nn

from swansphere.nn.attention import Backend
from swansphere.nn.layers import EncoderBlock, rotary_tables

from .config import TransformerSize


class LocEnc(nn.Module):
    """A small bidirectional transformer over ``[CLS ; patch frames]``; the CLS output is the
    patch summary, projected to the LM width."""

    def __init__(self, latent_dim: int, size: TransformerSize, out_dim: int, *, eps: float,
                 rope_base: float) -> None:
        super().__init__()
        self.size, self.rope_base = size, rope_base
        self.proj = nn.Linear(latent_dim, size.width)
        self.cls = nn.Parameter(torch.zeros(size.width))
        self.blocks = nn.ModuleList(
            EncoderBlock(size.width, size.heads, size.kv_heads, size.mlp_hidden, eps=eps)
            for _ in range(size.layers))
        self.norm = nn.RMSNorm(size.width, eps=eps)
        self.out = nn.Linear(size.width, out_dim)

    def forward(self, patches: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
        """``(N, patch_frames, latent_dim)`` -> ``(N, out_dim)``."""
        frames = self.proj(patches)
        x = torch.cat((self.cls.to(frames.dtype).expand(len(frames), 1, -1), frames), dim=1)
        positions = torch.arange(x.shape[1], device=x.device)
        rotary = rotary_tables(positions, self.size.head_dim, self.rope_base, x.dtype)
        for block in self.blocks:
            x = block(x, rotary, None, backend)
        return self.out(self.norm(x[:, 0]))
