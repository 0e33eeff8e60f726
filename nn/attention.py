"""Attention with one mask language on every device.

A mask is an :class:`AttentionMask`: a pattern (causal, bottom-right causal for a KV cache,
block-diagonal for packed sequences, each optionally windowed). On CUDA it becomes the matching
xformers ``AttentionBias`` for ``xformers.ops.memory_efficient_attention``; elsewhere, or where
xformers is not installed (it is imported only on that path), it becomes a dense additive mask
for PyTorch's ``scaled_dot_product_attention``. So a model trained with packed block-diagonal
batches on a GPU and streamed with a KV cache on a laptop uses exactly the same attention
pattern, and the two forms are tested against each other.

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

import functools
import importlib.util
import logging
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F

logging.getLogger("xformers").setLevel(logging.ERROR)  # silence its torch-version warning
_log = logging.getLogger(__name__)

Backend = Literal["auto", "xformers", "sdpa"]
BACKENDS: tuple[str, ...] = ("auto", "xformers", "sdpa")

MaskKind = Literal["top_left", "bottom_right", "block_causal", "block"]


class AttentionUnavailableError(RuntimeError):
    """The xformers path was asked for where xformers is not installed."""


def xformers_available() -> bool:
    """Whether xformers can be imported here (its kernels still need CUDA)."""
    return importlib.util.find_spec("xformers") is not None


@functools.cache
def _xformers() -> tuple[Any, Any]:
    """``(memory_efficient_attention, attn_bias)``, imported on first use."""
    if not xformers_available():
        raise AttentionUnavailableError(
            "attention backend 'xformers' needs the xformers package, which is not installed "
            "here; use backend 'auto' or 'sdpa'")
    from xformers.ops import memory_efficient_attention
    from xformers.ops.fmha import attn_bias

    return memory_efficient_attention, attn_bias


class AttentionMask:
    """One attention pattern, as a dense mask for SDPA or an xformers bias for its kernels.

    ``kind`` is ``top_left`` (causal, query i sees keys up to i), ``bottom_right`` (causal with
    the last query aligned to the last key: KV-cache decoding), ``block_causal`` (causal inside
    each packed sequence) or ``block`` (full attention inside each packed sequence, query and
    key lengths per sequence). ``window`` > 0 limits a ``bottom_right`` or ``block_causal``
    query to that many keys, itself included. Both forms are built once per shape (or device)
    and reused, so every layer of a forward pass shares them.
    """

    __slots__ = ("_biases", "_dense", "key_lengths", "kind", "query_lengths", "window")

    def __init__(self, kind: MaskKind, *, window: int = 0,
                 query_lengths: Sequence[int] = (), key_lengths: Sequence[int] = ()) -> None:
        if window and kind not in ("bottom_right", "block_causal"):
            raise ValueError(f"a {kind} mask has no window")
        self.kind, self.window = kind, int(window)
        self.query_lengths = tuple(int(n) for n in query_lengths)
        self.key_lengths = tuple(int(n) for n in key_lengths) or self.query_lengths
        self._dense: dict[tuple, torch.Tensor] = {}
        self._biases: dict[torch.device, Any] = {}

    def __repr__(self) -> str:
        window = f", window={self.window}" if self.window else ""
        return f"AttentionMask({self.kind}{window})"

    def allowed(self, queries: int, keys: int) -> torch.Tensor:
        """``(queries, keys)`` bool: True where query i may attend key j."""
        if self.kind == "top_left":
            return _band(queries, keys, 0, 0)
        if self.kind == "bottom_right":
            return _band(queries, keys, keys - queries, self.window)
        if (sum(self.query_lengths), sum(self.key_lengths)) != (queries, keys):
            raise ValueError(f"a mask of packed sequences {self.query_lengths} x "
                             f"{self.key_lengths} does not fit {queries} queries x {keys} keys")
        allowed = torch.zeros(queries, keys, dtype=torch.bool)
        row = col = 0
        for rows, cols in zip(self.query_lengths, self.key_lengths, strict=True):
            allowed[row:row + rows, col:col + cols] = (
                _band(rows, cols, 0, self.window) if self.kind == "block_causal" else True)
            row, col = row + rows, col + cols
        return allowed

    def dense(self, queries: int, keys: int, dtype: torch.dtype,
              device: torch.device) -> torch.Tensor:
        """The additive mask ``(queries, keys)``: 0 where attention is allowed, -inf elsewhere."""
        key = (queries, keys, dtype, device)
        if key not in self._dense:
            mask = torch.zeros(queries, keys, dtype=dtype)
            self._dense[key] = mask.masked_fill(~self.allowed(queries, keys),
                                                float("-inf")).to(device)
        return self._dense[key]

    def sdpa_arguments(self, queries: int, keys: int, dtype: torch.dtype,
                       device: torch.device) -> dict:
        """Keyword arguments for SDPA that reproduce this mask (a fast path where possible)."""
        if self.kind == "top_left" and queries == keys:
            return {"is_causal": True}
        if self._sees_all_keys(queries, keys):
            return {}
        return {"attn_mask": self.dense(queries, keys, dtype, device)}

    def xformers_bias(self, device: torch.device) -> Any:
        """The same pattern as an xformers ``AttentionBias`` (xformers imported on first use)."""
        if device not in self._biases:
            bias = _xformers()[1]
            if self.kind == "top_left":
                made = bias.LowerTriangularMask()
            elif self.kind == "bottom_right":
                made = (bias.LowerTriangularFromBottomRightLocalAttentionMask(self.window)
                        if self.window else bias.LowerTriangularFromBottomRightMask())
            elif self.kind == "block_causal":
                made = bias.BlockDiagonalCausalMask.from_seqlens(list(self.query_lengths),
                                                                 device=device)
                if self.window:
                    made = made.make_local_attention(self.window)
            else:
                made = bias.BlockDiagonalMask.from_seqlens(
                    list(self.query_lengths), list(self.key_lengths), device=device)
            self._biases[device] = made
        return self._biases[device]

    def _sees_all_keys(self, queries: int, keys: int) -> bool:
        """Whether the mask allows everything: one bidirectional packed sequence, or one newest
        query that sees the whole (cached) key sequence."""
        if self.kind == "block":
            return len(self.query_lengths) == 1
        return (queries == 1 and self.kind == "bottom_right"
                and (not self.window or keys <= self.window))


def _band(queries: int, keys: int, offset: int, window: int) -> torch.Tensor:
    """Causal band: query i (at key position i + offset) sees keys up to its position, and
    with ``window`` only the ``window`` newest of them."""
    query_positions = torch.arange(queries)[:, None] + offset
    key_positions = torch.arange(keys)[None]
    allowed = key_positions <= query_positions
    if window:
        allowed &= key_positions > query_positions - window
    return allowed


def causal_mask(window: int = 0) -> AttentionMask:
    """Causal self-attention over equal-length sequences, optionally limited to ``window`` keys
    (a windowed mask aligns bottom-right, the same for equal lengths)."""
    if window:
        return AttentionMask("bottom_right", window=window)
    return AttentionMask("top_left")


def cached_mask(window: int = 0) -> AttentionMask:
    """Causal mask for new queries at the end of a longer key sequence (KV-cache decoding).

    The last query is aligned with the last key (bottom-right), so ``m`` new tokens after ``n``
    cached ones see the cache plus the new tokens up to themselves.
    """
    return AttentionMask("bottom_right", window=window)


def packed_causal_mask(seqlens: Sequence[int], window: int = 0) -> AttentionMask:
    """Causal attention inside each of several sequences packed along one token axis."""
    return AttentionMask("block_causal", window=window, query_lengths=seqlens)


def packed_mask(query_seqlens: Sequence[int],
                key_seqlens: Sequence[int] | None = None) -> AttentionMask:
    """Full attention inside each packed sequence; query and key lengths may differ (cross)."""
    return AttentionMask("block", query_lengths=query_seqlens, key_lengths=key_seqlens or ())


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: AttentionMask | torch.Tensor | None = None, *,
              backend: Backend = "auto") -> torch.Tensor:
    """Scaled dot-product attention, ``(B, M, H, K)`` queries over ``(B, N, Hkv, K)`` keys.

    ``mask`` is an :class:`AttentionMask` or a boolean tensor broadcastable to ``(B, H, M, N)``
    (True = may attend) that can change between calls without a new mask object, as a ring
    KV cache's filled slots do in a captured step; a tensor always goes through SDPA.

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
    if backend == "sdpa" or isinstance(mask, torch.Tensor) or (backend == "auto" and (
            not q.is_cuda or needs_grad or not xformers_available())):
        return sdpa_attention(q, k, v, mask)
    if backend == "xformers":
        return xformers_attention(q, k, v, mask)
    try:
        return xformers_attention(q, k, v, mask)
    except (NotImplementedError, ValueError) as error:
        _warn_fallback(q, mask, error)
        return sdpa_attention(q, k, v, mask)


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   mask: AttentionMask | torch.Tensor | None = None) -> torch.Tensor:
    """PyTorch SDPA with the mask in dense form (any device).

    On the CPU, attention that autograd will differentiate computes in float32 when it would
    run in 16 bits (16-bit inputs, or CPU autocast): PyTorch's CPU kernels take several times
    longer forward and backward in bfloat16 than in float32, and autocast training spent a
    quarter of its step there (docs/training.md, "Precision"). The output keeps the inputs'
    dtype; inference keeps the 16-bit kernels, which are as fast forward.
    """
    if _slow_16_bit_backward(q, k, v):
        with torch.autocast("cpu", enabled=False):  # autocast would cast them back
            out = sdpa_attention(q.float(), k.float(), v.float(), mask)
        return out.to(q.dtype)
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    if mask is None:
        arguments = {}
    elif isinstance(mask, torch.Tensor):
        arguments = {"attn_mask": mask}
    else:
        arguments = mask.sdpa_arguments(q.shape[1], k.shape[1], q.dtype, q.device)
    out = F.scaled_dot_product_attention(qt, kt, vt, enable_gqa=k.shape[2] != q.shape[2],
                                         **arguments)
    return out.transpose(1, 2)


def _slow_16_bit_backward(*tensors: torch.Tensor) -> bool:
    """Whether this attention would run in 16 bits on the CPU (its inputs are 16-bit, or CPU
    autocast casts them) with autograd to differentiate it."""
    first = tensors[0]
    if first.device.type != "cpu" or not (torch.is_grad_enabled()
                                          and any(x.requires_grad for x in tensors)):
        return False
    half = (torch.bfloat16, torch.float16)
    return first.dtype in half or (torch.is_autocast_enabled("cpu")
                                   and torch.get_autocast_dtype("cpu") in half)


def xformers_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       mask: AttentionMask | None = None) -> torch.Tensor:
    """``xformers.ops.memory_efficient_attention``; grouped-query through the BMGHK layout."""
    memory_efficient_attention = _xformers()[0]
    bias = None if mask is None else mask.xformers_bias(q.device)
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
    case = (repr(mask) if mask else "no mask", q.dtype)
    if case not in _warned:
        _warned.add(case)
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        _log.warning("xformers has no kernel for %s with %s; using SDPA (%s)", *case, first_line)
