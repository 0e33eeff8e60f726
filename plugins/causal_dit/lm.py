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
                self_mask: AttentionMask | None, cache: tuple[KVCache, int] | None,
                text: tuple[torch.Tensor, torch.Tensor] | None, cross_mask: AttentionMask | None,
                backend: Backend) -> torch.Tensor:
        """The new hidden states; with ``cache = (kv_cache, layer)`` this layer's keys and
        values are stored in it and the queries also see the cached ones."""
        normed = self.attn_norm(x)
        keys, values = self.attn.keys_values(normed, rotary)
        if cache is not None:
            keys, values, in_window = cache[0].extend(cache[1], keys, values)
            if in_window:
                self_mask = None
        x = x + self.attn(normed, keys, values, self_mask, rotary, backend)
        return self._text_and_mlp(x, text, cross_mask, backend)

    def decode_in_place(self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor],
                        buffers: tuple[torch.Tensor, torch.Tensor], slot: torch.Tensor,
                        filled: torch.Tensor, text: tuple[torch.Tensor, torch.Tensor] | None,
                        cross_mask: torch.Tensor | None) -> torch.Tensor:
        """One token ``x (B, 1, width)`` with fixed shapes: its key and value are written to
        ring ``slot`` (a device tensor) and it attends to every slot, masked by ``filled``."""
        normed = self.attn_norm(x)
        keys, values = self.attn.keys_values(normed, rotary)
        buffers[0].index_copy_(1, slot, keys)
        buffers[1].index_copy_(1, slot, values)
        x = x + self.attn(normed, *buffers, filled, rotary, "sdpa")
        return self._text_and_mlp(x, text, cross_mask, "sdpa")

    def _text_and_mlp(self, x: torch.Tensor, text: tuple[torch.Tensor, torch.Tensor] | None,
                      cross_mask: AttentionMask | torch.Tensor | None,
                      backend: Backend) -> torch.Tensor:
        if self.cross is not None and text is not None:
            flat = self.cross_norm(x).reshape(1, -1, x.shape[-1])  # packed: one row per token
            x = x + self.cross(flat, *text, cross_mask, None, backend).view_as(x)
        return x + self.mlp(self.mlp_norm(x))


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
                    dtype: torch.dtype, position: int = 0) -> KVCache:
        return KVCache.empty(len(self.blocks), batch_size, self.size.kv_heads,
                             self.size.head_dim, window=window, device=device, dtype=dtype,
                             position=position)

    def forward(self, x: torch.Tensor, positions: torch.Tensor,
                self_mask: AttentionMask | None, *, text: TextMemory | None,
                query_seqlens: Sequence[int], cache: KVCache | None = None,
                backend: Backend = "auto") -> tuple[torch.Tensor, KVCache | None]:
        """Hidden states ``h`` for tokens ``x (B, M, width)`` at integer ``positions``.

        ``query_seqlens`` are the tokens per item (``[M] * B``, or the packed lengths when
        ``B == 1`` holds several sequences) for the block-diagonal text cross-attention. With a
        ``cache``, ``x`` continues it: the new keys are written into its buffers in place and
        the returned cache is the advanced one (the one passed in becomes stale).
        """
        rotary = rotary_tables(positions, self.size.head_dim, self.rope_base, x.dtype)
        cross_mask = (None if text is None
                      else packed_mask(query_seqlens, text.lengths))
        if cache is not None:
            cache = cache.ready_for(x.shape[1])
        for index, block in enumerate(self.blocks):
            layer_text = None if text is None else (text.keys[index], text.values[index])
            layer_cache = None if cache is None else (cache, index)
            x = block(x, rotary, self_mask, layer_cache, layer_text, cross_mask, backend)
        h = self.head(self.norm(x))
        return h, None if cache is None else cache.advanced(x.shape[1])

    def text_mask(self, text: TextMemory | None, batch_size: int, dtype: torch.dtype,
                  device: torch.device) -> torch.Tensor | None:
        """The cross-attention mask of one token per item over packed ``text``, as a tensor
        (None where every query may see every text token)."""
        if text is None or len(text.lengths) == 1:
            return None
        return packed_mask([1] * batch_size, text.lengths).dense(
            batch_size, sum(text.lengths), dtype, device)

    def decode_in_place(self, x: torch.Tensor, position: torch.Tensor,
                        keys: Sequence[torch.Tensor], values: Sequence[torch.Tensor], start: int,
                        filled: torch.Tensor,
                        text: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]] | None,
                        text_mask: torch.Tensor | None) -> torch.Tensor:
        """``h`` for one token per item, ``x (B, 1, width)`` at ``position`` (a ``(1,)`` int64
        device tensor), with shapes and addresses that never change along a stream.

        ``keys``/``values`` are a :class:`KVCache`'s ring buffers (its ``start`` too): the
        token's keys and values go to slot ``(position - start) % slots`` of every layer,
        ``filled`` (bool ``(1, 1, 1, slots)``) marks that slot, and attention runs over all
        slots under that mask. ``text`` is a :class:`TextMemory`'s ``(keys, values)`` and
        ``text_mask`` :meth:`text_mask`. Nothing is read back to the host and no mask is built,
        so the call can be captured in a CUDA graph. Advancing the cache
        (:meth:`KVCache.advanced`) and ``position`` is the caller's.
        """
        rotary = rotary_tables(position, self.size.head_dim, self.rope_base, x.dtype)
        slot = (position - start) % keys[0].shape[1]
        filled.index_fill_(-1, slot, True)
        for index, block in enumerate(self.blocks):
            layer_text = None if text is None else (text[0][index], text[1][index])
            x = block.decode_in_place(x, rotary, (keys[index], values[index]), slot, filled,
                                      layer_text, text_mask)
        return self.head(self.norm(x))
