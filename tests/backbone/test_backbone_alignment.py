"""Causal alignment of timestamped video frames to latent patches."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.conditioning.alignment import (
    causal_frame_index,
    frame_times,
    gather_aligned,
    patch_end_times,
)


def test_patch_sees_the_latest_frame_by_its_end_time() -> None:
    # Patches of 4 frames at 62.5 Hz end every 0.064 s; frames at 4 fps.
    ends = patch_end_times(0, 10, 4, 62.5)
    index = causal_frame_index(frame_times(3, 4.0), ends)
    # Frame 0 (0 s) serves patches ending before 0.25 s; frame 1 (0.25 s) from patch 3 on
    # (end 0.256 s); frame 2 (0.5 s) from patch 7 on (end 0.512 s).
    assert index.tolist() == [[0, 0, 0, 1, 1, 1, 1, 2, 2, 2]]


def test_a_frame_exactly_at_the_patch_end_counts_as_arrived() -> None:
    ends = patch_end_times(0, 4, 4, 16.0)  # 0.25, 0.5, 0.75, 1.0 s
    index = causal_frame_index(torch.tensor([0.25, 0.5, 1.0]), ends)
    assert index.tolist() == [[0, 1, 1, 2]]


def test_no_frame_yet_and_masked_frames_give_minus_one() -> None:
    times = torch.tensor([[0.3, 0.6], [0.0, 0.2]])
    valid = torch.tensor([[True, True], [False, True]])
    ends = torch.tensor([0.1, 0.25, 0.7])
    assert causal_frame_index(times, ends, valid).tolist() == [[-1, -1, 1], [-1, 1, 1]]
    assert causal_frame_index(torch.zeros(2, 0), ends).tolist() == [[-1, -1, -1]] * 2


def test_later_patches_start_from_first_patch() -> None:
    assert torch.equal(patch_end_times(5, 3, 4, 8.0), torch.tensor([3.0, 3.5, 4.0],
                                                                   dtype=torch.float64))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(gaps=st.lists(st.integers(0, 5), min_size=0, max_size=8),
       offset=st.integers(0, 4), patches=st.integers(1, 10))
def test_index_matches_a_brute_force_search(gaps: list[int], offset: int, patches: int) -> None:
    times = (offset + torch.tensor(gaps, dtype=torch.float64).cumsum(0)) / 10
    ends = patch_end_times(0, patches, 2, 8.0)
    index = causal_frame_index(times, ends)[0].tolist()
    for patch, end in enumerate(ends.tolist()):
        arrived = [i for i, time in enumerate(times.tolist()) if time <= end + 1e-9]
        assert index[patch] == (arrived[-1] if arrived else -1)


def test_gather_fills_missing_frames_with_the_null_embedding() -> None:
    features = torch.arange(6.0).view(1, 3, 2)
    null = torch.tensor([-1.0, -1.0])
    out = gather_aligned(features, torch.tensor([[-1, 0, 2]]), null)
    assert out.tolist() == [[[-1.0, -1.0], [0.0, 1.0], [4.0, 5.0]]]
    empty = gather_aligned(torch.zeros(1, 0, 2), torch.tensor([[-1, -1]]), null)
    assert empty.tolist() == [[[-1.0, -1.0], [-1.0, -1.0]]]


def test_frame_times_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="fps"):
        frame_times(3, 0.0)
