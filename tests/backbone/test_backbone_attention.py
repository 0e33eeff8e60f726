"""Both attention paths agree: our masks (dense, SDPA) equal masks built by hand and xformers'
own biases materialized."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.nn.attention import (
    AttentionMask,
    AttentionUnavailableError,
    attention,
    cached_mask,
    causal_mask,
    packed_causal_mask,
    packed_mask,
    sdpa_attention,
    xformers_attention,
    xformers_available,
)

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)
HEADS, KV_HEADS, HEAD_DIM = 4, 2, 8


def qkv(queries: int, keys: int, seed: int = 0, batch: int = 1,
        kv_heads: int = KV_HEADS) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, queries, HEADS, HEAD_DIM, generator=generator)
    k = torch.randn(batch, keys, kv_heads, HEAD_DIM, generator=generator)
    v = torch.randn(batch, keys, kv_heads, HEAD_DIM, generator=generator)
    return q, k, v


def reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              allowed: torch.Tensor) -> torch.Tensor:
    """Softmax attention in float64 with KV heads repeated by hand; ``allowed (M, N)`` bool."""
    group = q.shape[2] // k.shape[2]
    k, v = (x.double().repeat_interleave(group, dim=2) for x in (k, v))
    scores = torch.einsum("bmhk,bnhk->bhmn", q.double(), k) / q.shape[-1] ** 0.5
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    return torch.einsum("bhmn,bnhk->bmhk", weights, v).float()


def band(queries: int, keys: int, window: int) -> torch.Tensor:
    """Bottom-right aligned causal band: query i is key position keys - queries + i."""
    query_positions = torch.arange(queries)[:, None] + keys - queries
    key_positions = torch.arange(keys)[None]
    allowed = key_positions <= query_positions
    if window:
        allowed &= key_positions > query_positions - window
    return allowed


def block_diagonal(query_lengths: list[int], key_lengths: list[int], *, causal: bool,
                   window: int = 0) -> torch.Tensor:
    allowed = torch.zeros(sum(query_lengths), sum(key_lengths), dtype=torch.bool)
    row = col = 0
    for queries, keys in zip(query_lengths, key_lengths, strict=True):
        block = band(queries, keys, window) if causal else torch.ones(queries, keys).bool()
        allowed[row:row + queries, col:col + keys] = block
        row, col = row + queries, col + keys
    return allowed


@SETTINGS
@given(length=st.integers(1, 12), window=st.integers(0, 5), seed=st.integers(0, 99))
def test_causal_mask_matches_reference(length: int, window: int, seed: int) -> None:
    q, k, v = qkv(length, length, seed, batch=2)
    out = attention(q, k, v, causal_mask(window))
    torch.testing.assert_close(out, reference(q, k, v, band(length, length, window)))


@SETTINGS
@given(seqlens=st.lists(st.integers(1, 7), min_size=1, max_size=4), window=st.integers(0, 4),
       seed=st.integers(0, 99))
def test_packed_causal_mask_equals_per_sequence_causal_sdpa(seqlens: list[int], window: int,
                                                            seed: int) -> None:
    total = sum(seqlens)
    q, k, v = qkv(total, total, seed)
    packed = attention(q, k, v, packed_causal_mask(seqlens, window))
    torch.testing.assert_close(packed, reference(q, k, v, block_diagonal(
        seqlens, seqlens, causal=True, window=window)))
    if window == 0:  # and sequence by sequence with PyTorch's own causal kernel
        pieces, start = [], 0
        for length in seqlens:
            part = [x[:, start:start + length] for x in (q, k, v)]
            pieces.append(sdpa_attention(*part, causal_mask()))
            start += length
        torch.testing.assert_close(packed, torch.cat(pieces, 1), atol=1e-6, rtol=1e-5)


@SETTINGS
@given(cached=st.integers(0, 8), new=st.integers(1, 4), window=st.integers(0, 6),
       seed=st.integers(0, 99))
def test_cached_mask_is_the_bottom_right_band(cached: int, new: int, window: int,
                                              seed: int) -> None:
    keys = cached + new
    q, k, v = qkv(new, keys, seed, batch=2)
    out = attention(q, k, v, cached_mask(window))
    torch.testing.assert_close(out, reference(q, k, v, band(new, keys, window)))


@SETTINGS
@given(lengths=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6)), min_size=1,
                        max_size=4), seed=st.integers(0, 99))
def test_packed_cross_mask_is_block_diagonal(lengths: list[tuple[int, int]], seed: int) -> None:
    query_lengths, key_lengths = [q for q, _ in lengths], [k for _, k in lengths]
    q, k, v = qkv(sum(query_lengths), sum(key_lengths), seed)
    out = attention(q, k, v, packed_mask(query_lengths, key_lengths))
    torch.testing.assert_close(out, reference(q, k, v, block_diagonal(
        query_lengths, key_lengths, causal=False)))


def test_materialized_masks_equal_hand_built_masks() -> None:
    cases = [
        (causal_mask(), 5, 5, band(5, 5, 0)),
        (causal_mask(2), 5, 5, band(5, 5, 2)),
        (cached_mask(3), 2, 6, band(2, 6, 3)),
        (packed_causal_mask([3, 2]), 5, 5, block_diagonal([3, 2], [3, 2], causal=True)),
        (packed_mask([1, 2], [3, 1]), 3, 4, block_diagonal([1, 2], [3, 1], causal=False)),
    ]
    for mask, queries, keys, allowed in cases:
        dense = mask.dense(queries, keys, torch.float32, torch.device("cpu"))
        assert torch.equal(torch.isfinite(dense), allowed), mask
        assert mask.dense(queries, keys, torch.float32, torch.device("cpu")) is dense


def test_grouped_query_attention_equals_repeated_kv_heads() -> None:
    q, k, v = qkv(6, 6, seed=3, batch=2)
    grouped = attention(q, k, v, causal_mask())
    repeated = attention(q, k.repeat_interleave(2, 2), v.repeat_interleave(2, 2), causal_mask())
    torch.testing.assert_close(grouped, repeated, atol=1e-6, rtol=1e-5)


def test_fast_paths_need_no_mask() -> None:
    q, k, v = qkv(1, 5, seed=4)
    for mask in (cached_mask(), cached_mask(5)):
        assert mask.sdpa_arguments(1, 5, q.dtype, q.device) == {}
        torch.testing.assert_close(attention(q, k, v, mask), reference(q, k, v, band(1, 5, 0)))
    assert "attn_mask" in cached_mask(4).sdpa_arguments(1, 5, q.dtype, q.device)
    assert packed_mask([3], [5]).sdpa_arguments(3, 5, q.dtype, q.device) == {}
    assert "attn_mask" in packed_mask([1, 2], [3, 2]).sdpa_arguments(3, 5, q.dtype, q.device)


def test_cpu_attention_that_trains_in_bfloat16_computes_in_float32() -> None:
    """The CPU's bfloat16 SDPA kernels are several times slower than float32's forward and
    backward, so attention that autograd differentiates runs in float32 and rounds back."""
    q, k, v = (x.bfloat16().requires_grad_() for x in qkv(9, 9, seed=6, batch=3))
    with torch.no_grad():
        expected = sdpa_attention(q.float(), k.float(), v.float(), causal_mask()).bfloat16()
        served = sdpa_attention(q, k, v, causal_mask())  # no gradient: bfloat16 kernels
    out = sdpa_attention(q, k, v, causal_mask())
    assert out.dtype == torch.bfloat16 and torch.equal(out, expected)
    assert served.dtype == torch.bfloat16


def test_cpu_attention_under_autocast_trains_in_float32() -> None:
    """Autocast training (run.precision = "bfloat16") keeps attention in float32 on the CPU:
    values and gradients as float32 attention's, not bfloat16's (errors of about 1e-2)."""
    q, k, v = (x.requires_grad_() for x in qkv(9, 9, seed=7, batch=3))
    expected = sdpa_attention(q, k, v, causal_mask())
    expected_grads = torch.autograd.grad(expected.square().sum(), (q, k, v))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = sdpa_attention(q, k, v, causal_mask())
    grads = torch.autograd.grad(out.float().square().sum(), (q, k, v))
    torch.testing.assert_close(out.float(), expected, atol=1e-6, rtol=1e-5)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=1e-5)


def test_bad_shapes_are_rejected() -> None:
    q, k, v = qkv(3, 3)
    with pytest.raises(ValueError, match="multiple of kv_heads"):
        attention(q[:, :, :3], k, v)
    with pytest.raises(ValueError, match="expects"):
        attention(q[0], k, v)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="xformers kernels need CUDA")
@pytest.mark.parametrize("make_mask", [
    causal_mask, lambda: packed_causal_mask([5, 3], device="cuda"), lambda: cached_mask(4)])
def test_xformers_agrees_with_sdpa_on_cuda(make_mask) -> None:
    q, k, v = (x.cuda().half() for x in qkv(8, 8, seed=5))
    mask = make_mask()
    torch.testing.assert_close(xformers_attention(q, k, v, mask), sdpa_attention(q, k, v, mask),
                               atol=2e-3, rtol=2e-3)


XFORMERS_CASES = [
    (causal_mask(), 5, 5), (causal_mask(3), 6, 6), (cached_mask(), 2, 7), (cached_mask(3), 3, 8),
    (packed_causal_mask([3, 1, 4]), 8, 8), (packed_causal_mask([4, 5], 2), 9, 9),
    (packed_mask([2, 3]), 5, 5), (packed_mask([1, 2], [4, 3]), 3, 7),
]


@pytest.mark.skipif(not xformers_available(), reason="compares with xformers' own masks")
@pytest.mark.parametrize(("mask", "queries", "keys"), XFORMERS_CASES, ids=repr)
def test_dense_masks_equal_the_xformers_biases_materialized(mask, queries, keys) -> None:
    cpu = torch.device("cpu")
    theirs = mask.xformers_bias(cpu).materialize((queries, keys), dtype=torch.float32,
                                                 device=cpu)
    assert torch.equal(mask.dense(queries, keys, torch.float32, cpu), theirs)


def test_without_xformers_auto_uses_sdpa_and_xformers_says_why(monkeypatch) -> None:
    import swansphere.nn.attention as module

    monkeypatch.setattr(module, "xformers_available", lambda: False)
    module._xformers.cache_clear()
    q, k, v = qkv(4, 4)
    torch.testing.assert_close(attention(q, k, v, causal_mask()),
                               reference(q, k, v, band(4, 4, 0)))
    with pytest.raises(AttentionUnavailableError, match="not installed"):
        xformers_attention(q, k, v, causal_mask())
    module._xformers.cache_clear()


def test_a_packed_mask_must_fit_its_tokens_and_windows_need_causal_kinds() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        packed_mask([2, 3]).dense(4, 5, torch.float32, torch.device("cpu"))
    with pytest.raises(ValueError, match="no window"):
        AttentionMask("block", window=2, query_lengths=[3])
