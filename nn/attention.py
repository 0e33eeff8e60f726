"""Attention with one mask language on every device.

Masks are xformers ``AttentionBias`` objects wrapped in :class:`AttentionMask`. On CUDA they go
to ``xformers.ops.memory_efficient_attention`` unchanged; on the CPU (where xformers has no
kernels) the same objects are materialized into dense additive masks for PyTorch's
``scaled_dot_product_attention``. So a model trained with packed block-diagonal batches on a GPU
and streamed with a KV cache on a laptop uses exactly the same attention pattern.

Layout is xformers' BMHK: ``q`` is ``(batch, queries, heads, head_dim)``, ``k`` and ``v`` are
``(batch, keys, kv_heads, head_dim)``. Grouped-query attention (``kv_heads < heads``, query head
``h`` reads KV head ``h // (heads // kv_heads)``) maps to xformers' 5-D BMGHK form and to SDPA's
``enable_gqa``. Block-diagonal masks require ``batch == 1`` (sequences packed along the token
axis).

Mask vocabulary (``window`` = how many keys a query may see, itself included; 0 = unlimited):

=======================  ==================================  ======================================
builder                  use                                  xformers bias
=======================  ==================================  ======================================
``causal_mask``          equal-length training batches        ``LowerTriangularMask`` (or local)
``packed_causal_mask``   packed variable-length batches       ``BlockDiagonalCausal[Local]Mask``
``cached_mask``          decoding with a KV cache (offset)    ``LowerTriangularFromBottomRight...``
``packed_mask``          bidirectional / cross attention      ``BlockDiagonalMask``
=======================  ==================================  ======================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

logging.getLogger("xformers").setLevel(logging.ERROR)  # silence its torch-version warning

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from xformers.ops import memory_efficient_attention  # noqa: E402
from xformers.ops.fmha import attn_bias as xbias  # noqa: E402

_log = logging.getLogger(__name__)

Backend = Literal["auto", "xformers", "sdpa"]
BACKENDS: tuple[str, ...] = ("auto", "xformers", "sdpa")


class AttentionMask:
    """An xformers attention bias plus its dense forms, built once per shape and reused.

    One mask object is shared by every layer of a forward pass, so on the CPU the dense mask is
    materialized once, not once per layer.
    """

    __slots__ = ("_dense", "bias")

    def __init__(self, bias: xbias.AttentionBias) -> None:
        self.bias = bias
        self._dense: dict[tuple, torch.Tensor] = {}

    def __repr__(self) -> str:
        return f"AttentionMask({type(self.bias).__name__})"

    def sdpa_arguments(self, queries: int, keys: int, dtype: torch.dtype,
                       device: torch.device) -> dict:
        """Keyword arguments for SDPA that reproduce this mask (a fast path where possible)."""
        kind = type(self.bias)
        if kind is xbias.LowerTriangularMask and queries == keys:
            return {"is_causal": True}
        if _sees_all_keys(self.bias, queries, keys):
            return {}
        return {"attn_mask": self.dense(queries, keys, dtype, device)}

    def dense(self, queries: int, keys: int, dtype: torch.dtype,
              device: torch.device) -> torch.Tensor:
        """The additive mask ``(queries, keys)``: 0 where attention is allowed, -inf elsewhere."""
        key = (queries, keys, dtype, device)
        if key not in self._dense:
            self._dense[key] = self.bias.materialize((queries, keys), dtype=dtype, device=device)
        return self._dense[key]


def _sees_all_keys(bias: xbias.AttentionBias, queries: int, keys: int) -> bool:
    """Whether the mask allows everything: one bidirectional packed sequence, or one newest
    query that sees the whole (cached) key sequence."""
    kind = type(bias)
    if kind is xbias.BlockDiagonalMask:
        return len(bias.k_seqinfo.seqstart_py) == 2
    if queries != 1:
        return False
    if kind is xbias.LowerTriangularFromBottomRightMask:
        return True
    return (kind is xbias.LowerTriangularFromBottomRightLocalAttentionMask
            and keys <= bias._window_size)


def causal_mask(window: int = 0) -> AttentionMask:
    """Causal self-attention over equal-length sequences, optionally limited to ``window`` keys."""
    if window:
        return AttentionMask(xbias.LowerTriangularFromBottomRightLocalAttentionMask(window))
    return AttentionMask(xbias.LowerTriangularMask())


def cached_mask(window: int = 0) -> AttentionMask:
    """Causal mask for new queries at the end of a longer key sequence (KV-cache decoding).

    The last query is aligned with the last key (bottom-right), so ``m`` new tokens after ``n``
    cached ones see the cache plus the new tokens up to themselves.
    """
    if window:
        return AttentionMask(xbias.LowerTriangularFromBottomRightLocalAttentionMask(window))
    return AttentionMask(xbias.LowerTriangularFromBottomRightMask())


def packed_causal_mask(seqlens: Sequence[int], window: int = 0, *,
                       device: torch.device | str = "cpu") -> AttentionMask:
    """Causal attention inside each of several sequences packed along one token axis.

    ``device`` is where the tokens are (xformers keeps sequence offsets there).
    """
    bias = xbias.BlockDiagonalCausalMask.from_seqlens(list(seqlens), device=torch.device(device))
    if window:
        bias = bias.make_local_attention(window)
    return AttentionMask(bias)


def packed_mask(query_seqlens: Sequence[int], key_seqlens: Sequence[int] | None = None, *,
                device: torch.device | str = "cpu") -> AttentionMask:
    """Full attention inside each packed sequence; query and key lengths may differ (cross)."""
    keys = None if key_seqlens is None else list(key_seqlens)
    return AttentionMask(xbias.BlockDiagonalMask.from_seqlens(list(query_seqlens), keys,
                                                              device=torch.device(device)))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: AttentionMask | None = None, *, backend: Backend = "auto") -> torch.Tensor:
    """Scaled dot-product attention, ``(B, M, H, K)`` queries over ``(B, N, Hkv, K)`` keys.

    ``backend="auto"`` uses xformers on CUDA (falling back to SDPA, with one logged warning per
    case, for inputs no xformers kernel supports) and SDPA elsewhere, and SDPA whenever
    autograd needs the attention's gradient: the xformers 0.0.35 wheel has forward kernels
    for torch 2.11 on Hopper but no backward ones, and a missing backward kernel would only
    fail inside ``loss.backward()``, past any fallback. ``"xformers"`` and ``"sdpa"`` force
    one path (the GPU agreement check compares the two).
    """
    _check_shapes(q, k, v)
    needs_grad = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad
                                              or v.requires_grad)
    if backend == "sdpa" or (backend == "auto" and (not q.is_cuda or needs_grad)):
        return sdpa_attention(q, k, v, mask)
    if backend == "xformers":
        return xformers_attention(q, k, v, mask)
    try:
        return xformers_attention(q, k, v, mask)
    except (NotImplementedError, ValueError) as error:
        _warn_fallback(q, mask, error)
        return sdpa_attention(q, k, v, mask)


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   mask: AttentionMask | None = None) -> torch.Tensor:
    """PyTorch SDPA with the mask in dense form (any device)."""
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    arguments = {} if mask is None else mask.sdpa_arguments(q.shape[1], k.shape[1], q.dtype,
                                                              q.device)
    out = F.scaled_dot_product_attention(qt, kt, vt, enable_gqa=k.shape[2] != q.shape[2],
                                         **arguments)
    return out.transpose(1, 2)


def xformers_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       mask: AttentionMask | None = None) -> torch.Tensor:
    """``xformers.ops.memory_efficient_attention``; grouped-query through the BMGHK layout."""
    bias = None if mask is None else mask.bias
    batch, queries, heads, head_dim = q.shape
    kv_heads = k.shape[2]
    if kv_heads == heads:
        return memory_efficient_attention(q, k, v, attn_bias=bias)
    group = heads // kv_heads
    keys = k.shape[1]
    q5 = q.reshape(batch, queries, kv_heads, group, head_dim)
    k5 = k.unsqueeze(3).expand(batch, keys, kv_heads, group, head_dim)
    v5 = v.unsqueeze(3).expand(batch, keys, kv_heads, group, head_dim)
    out = memory_efficient_attention(q5, k5, v5, attn_bias=bias)
    return out.reshape(batch, queries, heads, head_dim)


def _check_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() != 4 or k.shape != v.shape or k.dim() != 4:
        raise ValueError(f"attention expects (B, M, H, K) tensors, got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    if q.shape[2] % k.shape[2] or q.shape[3] != k.shape[3] or q.shape[0] != k.shape[0]:
        raise ValueError(f"incompatible query {tuple(q.shape)} and key {tuple(k.shape)} shapes: "
                         "heads must be a multiple of kv_heads, batch and head_dim equal")


_warned: set[tuple[str, torch.dtype]] = set()


def _warn_fallback(q: torch.Tensor, mask: AttentionMask | None, error: Exception) -> None:
    case = (type(mask.bias).__name__ if mask else "no mask", q.dtype)
    if case not in _warned:
        _warned.add(case)
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        _log.warning("xformers has no kernel for %s with %s; using SDPA (%s)", *case, first_line)
