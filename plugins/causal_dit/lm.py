"""The Spatial LM: a causal transformer, one token per patch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from swansphere.nn.adapters import TextMemory
from swansphere.nn.attention import AttentionMask, Backend, packed_mask
from swansphere.nn.configs import TransformerSize
from swansphere.nn.layers import Attention, SwiGLU, rotary_tables

from .cache import KVCache


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
                      else packed_mask(query_seqlens, text.lengths))
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
