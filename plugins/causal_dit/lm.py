"""The Spatial LM (a causal transformer, one token per patch) and its condition encoders."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .attention import AttentionMask, Backend, packed_mask
from .cache import KVCache, TextMemory
from .config import TransformerSize
from .layers import Attention, EncoderBlock, SwiGLU, rotary_tables


def packed_positions(lengths: Sequence[int], device: torch.device) -> torch.Tensor:
    """Positions ``(1, sum(lengths))`` that restart at 0 for every packed sequence."""
    counts = torch.tensor(list(lengths), device=device)
    starts = torch.cumsum(counts, 0) - counts
    total = int(counts.sum())
    return (torch.arange(total, device=device) - starts.repeat_interleave(counts)).unsqueeze(0)


class LMBlock(nn.Module):
    """Causal self-attention (KV-cacheable), gated text cross-attention, SwiGLU."""

    def __init__(self, size: TransformerSize, *, gated: bool, cross_attention: bool,
                 eps: float) -> None:
        super().__init__()
        dim = size.width
        self.attn_norm = nn.RMSNorm(dim, eps=eps)
        self.attn = Attention(dim, size.heads, size.kv_heads, gated=gated, eps=eps)
        self.cross_norm = nn.RMSNorm(dim, eps=eps) if cross_attention else None
        self.cross = (Attention(dim, size.heads, size.kv_heads, gated=True, eps=eps)
                      if cross_attention else None)
        self.mlp_norm = nn.RMSNorm(dim, eps=eps)
        self.mlp = SwiGLU(dim, size.mlp_hidden)

    def forward(self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor],
                self_mask: AttentionMask | None, past: tuple[torch.Tensor, torch.Tensor] | None,
                text: tuple[torch.Tensor, torch.Tensor] | None, cross_mask: AttentionMask | None,
                backend: Backend) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns the new hidden states and this layer's keys/values including ``past``."""
        normed = self.attn_norm(x)
        keys, values = self.attn.keys_values(normed, rotary)
        if past is not None:
            keys, values = torch.cat((past[0], keys), 1), torch.cat((past[1], values), 1)
        x = x + self.attn(normed, keys, values, self_mask, rotary, backend)
        if self.cross is not None and text is not None:
            flat = self.cross_norm(x).reshape(1, -1, x.shape[-1])  # packed: one row per token
            x = x + self.cross(flat, *text, cross_mask, None, backend).view_as(x)
        return x + self.mlp(self.mlp_norm(x)), keys, values


class SpatialLM(nn.Module):
    """Causal decoder over patch tokens; ``h_t`` is its output at token ``t``."""

    def __init__(self, size: TransformerSize, *, gated: bool, cross_attention: bool,
                 eps: float, rope_base: float) -> None:
        super().__init__()
        self.size, self.rope_base = size, rope_base
        self.blocks = nn.ModuleList(
            LMBlock(size, gated=gated, cross_attention=cross_attention, eps=eps)
            for _ in range(size.layers))
        self.norm = nn.RMSNorm(size.width, eps=eps)
        self.head = nn.Linear(size.width, size.width)

    def text_memory(self, encoded: torch.Tensor, lengths: Sequence[int]) -> TextMemory | None:
        """Per-layer cross-attention keys/values of packed encoded text ``(1, N, width)``."""
        if not self.blocks or self.blocks[0].cross is None:
            return None
        pairs = [block.cross.keys_values(encoded) for block in self.blocks]
        return TextMemory(keys=tuple(k for k, _ in pairs), values=tuple(v for _, v in pairs),
                          lengths=tuple(lengths))

    def empty_cache(self, batch_size: int, window: int, device: torch.device,
                    dtype: torch.dtype) -> KVCache:
        return KVCache.empty(len(self.blocks), batch_size, self.size.kv_heads,
                             self.size.head_dim, window=window, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, positions: torch.Tensor,
                self_mask: AttentionMask | None, *, text: TextMemory | None,
                query_seqlens: Sequence[int], cache: KVCache | None = None,
                backend: Backend = "auto") -> tuple[torch.Tensor, KVCache | None]:
        """Hidden states ``h`` for tokens ``x (B, M, width)`` at integer ``positions``.

        ``query_seqlens`` are the tokens per item (``[M] * B``, or the packed lengths when
        ``B == 1`` holds several sequences) for the block-diagonal text cross-attention. With a
        ``cache``, ``x`` continues it and the returned cache is the rolled one.
        """
        rotary = rotary_tables(positions, self.size.head_dim, self.rope_base, x.dtype)
        cross_mask = (None if text is None
                      else packed_mask(query_seqlens, text.lengths, device=x.device))
        new_keys, new_values = [], []
        for index, block in enumerate(self.blocks):
            past = None if cache is None else (cache.keys[index], cache.values[index])
            layer_text = None if text is None else (text.keys[index], text.values[index])
            x, keys, values = block(x, rotary, self_mask, past, layer_text, cross_mask, backend)
            if cache is not None:
                new_keys.append(cache.trimmed(keys))
                new_values.append(cache.trimmed(values))
        h = self.head(self.norm(x))
        if cache is None:
            return h, None
        return h, KVCache(keys=tuple(new_keys), values=tuple(new_values),
                          position=cache.position + x.shape[1], window=cache.window)


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
            packed = packed_mask(present, device=x.device)
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
