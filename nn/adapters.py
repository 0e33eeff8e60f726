"""Condition adapters shared by the backbones: the caption encoder (a small bidirectional
transformer over text tokens, packed per item), the per-frame video adapter, and the packed
text memory that cross-attention reads."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import torch
from torch import nn

from .attention import Backend, packed_mask
from .configs import TransformerSize
from .layers import EncoderBlock, SwiGLU, rotary_tables


def packed_positions(lengths: Sequence[int], device: torch.device) -> torch.Tensor:
    """Positions ``(1, sum(lengths))`` that restart at 0 for every packed sequence."""
    counts = torch.tensor(list(lengths))
    starts = torch.cumsum(counts, 0) - counts
    total = int(counts.sum())
    return (torch.arange(total) - starts.repeat_interleave(counts)).unsqueeze(0)


@attrs.frozen(kw_only=True)
class TextMemory:
    """Cross-attention keys/values of the encoded text, per LM layer, packed per item.

    Shapes are ``(1, sum(lengths), kv_heads, head_dim)``; item ``b`` owns ``lengths[b]`` tokens
    (null-text tokens for items without text), so masks are block-diagonal. ``summary``
    ``(B, width)``, where a backbone has one, is a pooled embedding of each item's text that it
    adds to every output ``h`` of that item.
    """

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    lengths: tuple[int, ...]
    summary: torch.Tensor | None = None


class CaptionEncoder(nn.Module):
    """A small bidirectional transformer over text tokens, packed per item (no padding)."""

    def __init__(self, text_dim: int, size: TransformerSize, *, null_tokens: int, eps: float,
                 rope_base: float) -> None:
        super().__init__()
        self.size, self.rope_base = size, rope_base
        self.proj = nn.Linear(text_dim, size.width)
        self.blocks = nn.ModuleList(
            EncoderBlock(size.width, size.heads, size.kv_heads, size.mlp_hidden, eps=eps)
            for _ in range(size.layers))
        self.norm = nn.RMSNorm(size.width, eps=eps)
        self.null = nn.Parameter(torch.zeros(null_tokens, size.width))

    def forward(self, text: torch.Tensor, mask: torch.Tensor,
                backend: Backend = "auto") -> tuple[torch.Tensor, tuple[int, ...]]:
        """Encoded tokens packed ``(1, N, width)`` and tokens per item.

        Items whose mask has no True token get the learned null-text tokens.
        """
        counts = mask.sum(-1).tolist()
        present = [count for count in counts if count]
        pieces: list[torch.Tensor] = []
        if present:
            x = self.proj(text[mask]).unsqueeze(0)
            positions = packed_positions(present, x.device)
            rotary = rotary_tables(positions, self.size.head_dim, self.rope_base, x.dtype)
            packed = packed_mask(present)
            for block in self.blocks:
                x = block(x, rotary, packed, backend)
            pieces = list(self.norm(x)[0].split(present))
        null = self.null.to(text.dtype)
        ordered = [pieces.pop(0) if count else null for count in counts]
        lengths = tuple(count or null.shape[0] for count in counts)
        return torch.cat(ordered).unsqueeze(0), lengths

    def null_text(self, batch_size: int) -> tuple[torch.Tensor, tuple[int, ...]]:
        """The packed null-text memory source for a batch without any text."""
        return self.null.repeat(batch_size, 1).unsqueeze(0), (self.null.shape[0],) * batch_size


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean ``(B, dim)`` of each item's tokens ``(B, L, dim)`` where ``mask (B, L)`` is
    True; 0 for an item without any."""
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1)


class TextSummary(nn.Module):
    """One vector per item from the mean of its text features (a learned null vector for an
    item without text), projected to ``width``.

    Mean-pooled token states are how sentence encoders such as all-MiniLM-L6-v2 are trained
    to be read, so the pool carries the caption's meaning before any layer here has learned.
    """

    def __init__(self, text_dim: int, width: int, *, eps: float) -> None:
        super().__init__()
        self.null = nn.Parameter(torch.zeros(text_dim))
        self.norm = nn.RMSNorm(text_dim, eps=eps)
        self.proj = nn.Linear(text_dim, width)

    def forward(self, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, width)`` from ``text (B, L, text_dim)`` and its bool ``mask (B, L)``."""
        present = mask.any(1, keepdim=True)
        pooled = torch.where(present, masked_mean(text, mask), self.null.to(text.dtype))
        return self.proj(self.norm(pooled))


class VideoAdapter(nn.Module):
    """Per-frame projection of video features into the LM width (causal by construction)."""

    def __init__(self, video_dim: int, width: int, layers: int, mlp_hidden: int,
                 eps: float) -> None:
        super().__init__()
        self.proj = nn.Linear(video_dim, width)
        self.norms = nn.ModuleList(nn.RMSNorm(width, eps=eps) for _ in range(layers))
        self.mlps = nn.ModuleList(SwiGLU(width, mlp_hidden) for _ in range(layers))
        self.null = nn.Parameter(torch.zeros(width))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.proj(features)
        for norm, mlp in zip(self.norms, self.mlps, strict=True):
            x = x + mlp(norm(x))
        return x
