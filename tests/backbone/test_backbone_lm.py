"""The Spatial LM: KV-cached decoding, the rolling window and RoPE at far positions."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.nn.attention import cached_mask, causal_mask
from swansphere.plugins.causal_dit import StaleStateError, TransformerSize
from swansphere.plugins.causal_dit import cache as cache_module
from swansphere.plugins.causal_dit.lm import SpatialLM

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)
WIDTH = 32


def make_lm(layers: int = 2, seed: int = 0) -> SpatialLM:
    torch.manual_seed(seed)
    size = TransformerSize(layers=layers, width=WIDTH, heads=4, kv_heads=2)
    return SpatialLM(size, gated=True, cross_attention=True, eps=1e-6, rope_base=10_000.0)


def text_memory(lm: SpatialLM, batch: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    lengths = [2 + item for item in range(batch)]
    encoded = torch.randn(1, sum(lengths), WIDTH, generator=generator)
    return lm.text_memory(encoded, lengths)


def tokens(batch: int, length: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, length, WIDTH, generator=torch.Generator().manual_seed(seed))


def offline(lm: SpatialLM, x: torch.Tensor, text, window: int) -> torch.Tensor:
    batch, length = x.shape[:2]
    h, _ = lm(x, torch.arange(length), causal_mask(window), text=text,
              query_seqlens=[length] * batch)
    return h


def streamed(lm: SpatialLM, x: torch.Tensor, text, window: int, chunks: list[int],
             start: int = 0) -> tuple[torch.Tensor, object]:
    batch = x.shape[0]
    cache = lm.empty_cache(batch, window, x.device, x.dtype, position=start)
    outputs, offset = [], 0
    for size in chunks:
        positions = torch.arange(cache.position, cache.position + size)
        h, cache = lm(x[:, offset:offset + size], positions, cached_mask(window), text=text,
                      query_seqlens=[size] * batch, cache=cache)
        outputs.append(h)
        offset += size
    return torch.cat(outputs, 1), cache


def partition(data: st.DataObject, length: int) -> list[int]:
    cuts = sorted(data.draw(st.sets(st.integers(1, length - 1))) if length > 1 else [])
    edges = [0, *cuts, length]
    return [b - a for a, b in itertools.pairwise(edges)]


@SETTINGS
@given(length=st.integers(1, 14), window=st.sampled_from([0, 1, 3, 5]), data=st.data(),
       seed=st.integers(0, 999))
def test_cached_incremental_decoding_equals_full_recomputation(length: int, window: int,
                                                               data: st.DataObject,
                                                               seed: int) -> None:
    lm = make_lm()
    x = tokens(2, length, seed)
    text = text_memory(lm, 2, seed)
    with torch.no_grad():
        full = offline(lm, x, text, window)
        chunks = partition(data, length)
        incremental, cache = streamed(lm, x, text, window, chunks)
    torch.testing.assert_close(incremental, full, atol=1e-5, rtol=1e-4)
    assert cache.position == length
    assert cache.length == (length if window == 0 else min(length, window))


@SETTINGS
@given(length=st.integers(1, 12), window=st.integers(1, 5), seed=st.integers(0, 999))
def test_one_layer_window_equals_full_attention_over_the_window_alone(length: int, window: int,
                                                                      seed: int) -> None:
    """With one layer, h_t from the rolling cache is plain causal attention run afresh on the
    last ``window`` tokens only (their absolute positions kept)."""
    lm = make_lm(layers=1)
    x = tokens(1, length, seed)
    with torch.no_grad():
        rolled, _ = streamed(lm, x, None, window, [1] * length)
        for t in range(length):
            first = max(0, t - window + 1)
            alone, _ = lm(x[:, first:t + 1], torch.arange(first, t + 1), causal_mask(),
                          text=None, query_seqlens=[t + 1 - first])
            torch.testing.assert_close(rolled[:, t], alone[:, -1], atol=1e-5, rtol=1e-4)


def test_receptive_field_of_a_windowed_stack_is_layers_times_window_minus_one() -> None:
    layers, window, length = 2, 3, 10
    lm = make_lm(layers=layers)
    x = tokens(1, length, 7).requires_grad_(True)
    h = offline(lm, x, None, window)
    (grad,) = torch.autograd.grad(h[:, -1].sum(), x)
    reach = layers * (window - 1)
    touched = grad.abs().sum(-1)[0] > 0
    assert not touched[:length - 1 - reach].any()
    assert touched[length - 1 - reach:].all()


def test_rolling_cache_memory_is_constant() -> None:
    lm = make_lm()
    x = tokens(1, 40, 3)
    with torch.no_grad():
        _, early = streamed(lm, x[:, :5], None, 4, [1] * 5)
        _, late = streamed(lm, x, None, 4, [1] * 40)
    assert early.length == late.length == 4
    assert early.nbytes() == late.nbytes()


def test_far_absolute_positions_give_the_same_hidden_states() -> None:
    """Keys keep absolute RoPE positions; scores depend only on distances, so a stream that has
    run for 10^9 patches computes what a fresh one does."""
    lm = make_lm()
    x = tokens(2, 6, 11)
    text = text_memory(lm, 2, 11)
    with torch.no_grad():
        near, _ = streamed(lm, x, text, 3, [1] * 6)
        far, cache = streamed(lm, x, text, 3, [1] * 6, start=10**9)
    torch.testing.assert_close(far, near, atol=1e-4, rtol=1e-4)
    assert cache.position == 10**9 + 6


def test_text_memory_shapes_follow_item_lengths() -> None:
    lm = make_lm()
    memory = text_memory(lm, 3)
    assert memory.lengths == (2, 3, 4)
    assert all(k.shape == (1, 9, 2, WIDTH // 4) for k in memory.keys)


def test_ring_buffers_are_written_in_place_and_keep_their_addresses() -> None:
    """A windowed stream allocates its buffers once: every step writes one slot per layer."""
    lm = make_lm()
    x = tokens(1, 12, 4)
    cache = lm.empty_cache(1, 4, x.device, x.dtype)
    addresses = [buffer.data_ptr() for buffer in (*cache.keys, *cache.values)]
    with torch.no_grad():
        for t in range(12):
            _, cache = lm(x[:, t:t + 1], torch.tensor([t]), cached_mask(4), text=None,
                          query_seqlens=[1], cache=cache)
            assert [buffer.data_ptr() for buffer in (*cache.keys, *cache.values)] == addresses
    assert cache.slots == 4 and cache.position == 12


def test_unwindowed_cache_grows_past_its_first_buffer(monkeypatch) -> None:
    monkeypatch.setattr(cache_module, "GROWING_SLOTS", 3)
    lm = make_lm()
    x = tokens(2, 11, 5)
    text = text_memory(lm, 2, 5)
    with torch.no_grad():
        full = offline(lm, x, text, 0)
        incremental, cache = streamed(lm, x, text, 0, [1, 1, 1, 1, 4, 1, 2])
    torch.testing.assert_close(incremental, full, atol=1e-5, rtol=1e-4)
    assert cache.length == 11 and cache.slots >= 11


def step_once(lm: SpatialLM, token: torch.Tensor, cache):
    position = torch.tensor([cache.position])
    return lm(token, position, cached_mask(cache.window), text=None, query_seqlens=[1],
              cache=cache)


def test_a_consumed_cache_cannot_be_stepped_or_copied_but_a_copy_taken_before_can() -> None:
    from swansphere.plugins.causal_dit.cache import _copy_tensors

    lm = make_lm()
    x = tokens(1, 6, 8)
    with torch.no_grad():
        _, cache = streamed(lm, x[:, :3], None, 3, [1, 1, 1])
        saved = _copy_tensors(cache)
        h_first, newer = step_once(lm, x[:, 3:4], cache)
        with pytest.raises(StaleStateError, match="clone"):
            step_once(lm, x[:, 4:5], cache)
        h_again, _ = step_once(lm, x[:, 3:4], saved)
        step_once(lm, x[:, 4:5], newer)
    assert torch.equal(h_again, h_first)


def test_buffers_made_in_inference_mode_can_be_stepped_outside_it() -> None:
    lm = make_lm()
    x = tokens(1, 5, 9)
    with torch.inference_mode():
        _, cache = streamed(lm, x[:, :2], None, 3, [2])
    with torch.no_grad():
        h, cache = step_once(lm, x[:, 2:3], cache)
        reference = offline(lm, x[:, :3], None, 3)
    torch.testing.assert_close(h[:, 0], reference[:, -1], atol=1e-5, rtol=1e-4)
