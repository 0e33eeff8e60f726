"""The SVAC objective and its hard negatives, including the yaw/roll convention."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.panorama import PanoramaRenderer
from swansphere.data.synthetic import SyntheticFOADataset
from swansphere.nn.contrastive import (
    column_yaw,
    random_yaw,
    sequence_similarity,
    shift_frames,
    svac_loss,
    time_shifts,
    turn_pair,
)
from swansphere.plugins.svac.config import SVACLossConfig, SVACModelConfig
from swansphere.spatial import direction, rotate

FEW = settings(max_examples=15, deadline=None, derandomize=True)


def orthogonal_sequences(items: int, steps: int, dim: int) -> torch.Tensor:
    """Items whose frames are distinct basis vectors: every cross-item cosine is 0."""
    basis = torch.eye(dim)[: items * steps]
    return basis.view(items, steps, dim)


def test_sequence_similarity_is_the_mean_frame_cosine_over_common_frames():
    generator = torch.Generator().manual_seed(0)
    video, audio = torch.randn(2, 3, 5, generator=generator), torch.randn(4, 3, 5,
                                                                          generator=generator)
    mask_v = torch.tensor([[True, True, True], [True, False, True]])
    mask_a = torch.ones(4, 3, dtype=torch.bool)
    mask_a[3, 2] = False
    similarity = sequence_similarity(video, audio, mask_v, mask_a)
    cos = F.cosine_similarity(video[1, [0]], audio[3, [0]], dim=-1)   # frames valid in both
    assert similarity.shape == (2, 4)
    torch.testing.assert_close(similarity[1, 3], cos.mean())
    manual = F.cosine_similarity(video[0], audio[2], dim=-1).mean()
    torch.testing.assert_close(similarity[0, 2], manual)


def test_aligned_pairs_give_a_low_symmetric_loss():
    features = orthogonal_sequences(4, 2, 8)
    mask = torch.ones(4, 2, dtype=torch.bool)
    loss, metrics = svac_loss(features, features, mask, 0.07)
    assert metrics["accuracy"] == 1.0
    assert loss < 1e-3
    swapped, _ = svac_loss(features.flip(0), features.flip(0), mask, 0.07)
    torch.testing.assert_close(loss, swapped)


def test_hard_negatives_enter_the_right_direction_of_the_loss():
    features = orthogonal_sequences(3, 2, 6)
    mask = torch.ones(3, 2, dtype=torch.bool)
    base, _ = svac_loss(features, features, mask, 0.07)
    copy = features.unsqueeze(1)                                  # as good as the positive
    with_audio, metrics = svac_loss(features, features, mask, 0.07, hard_audio=copy)
    assert metrics["hard_audio_wins"] == 0.0                      # ties do not win
    assert metrics["v2a_loss"] == pytest.approx(math.log(2), abs=1e-3)
    assert metrics["a2v_loss"] < 1e-3                             # audio anchors unaffected
    assert with_audio > base
    with_video, metrics = svac_loss(features, features, mask, 0.07, hard_video=-copy)
    assert metrics["hard_video_wins"] == 0.0
    torch.testing.assert_close(with_video, base, atol=1e-4, rtol=0)   # an easy negative


def test_temperature_defaults_to_the_paper_value_and_sharpens():
    assert SVACModelConfig().temperature == 0.07
    generator = torch.Generator().manual_seed(1)
    video, audio = torch.randn(4, 3, 8, generator=generator), torch.randn(4, 3, 8,
                                                                          generator=generator)
    mask = torch.ones(4, 3, dtype=torch.bool)
    hot, _ = svac_loss(video, audio, mask, 10.0)
    assert hot == pytest.approx(math.log(4), abs=0.05)            # flat logits: log N
    cold, _ = svac_loss(video, audio, mask, 0.07)
    assert not torch.isclose(hot, cold)


@FEW
@given(st.integers(0, 2**31 - 1), st.sampled_from([32, 64, 256]),
       st.floats(1.0, 120.0))
def test_random_yaws_keep_their_distance_on_whole_columns(seed, width, minimum):
    yaw = random_yaw(16, minimum, width, torch.Generator().manual_seed(seed))
    columns = yaw * width / 360.0
    torch.testing.assert_close(columns, columns.round())
    distance = torch.minimum(yaw % 360, 360 - yaw % 360)
    assert (distance >= minimum - 360.0 / width - 1e-9).all()
    assert (yaw > 0).all()


def test_time_shifts_roll_each_item_by_its_own_amount():
    features = torch.arange(2 * 5 * 1, dtype=torch.float32).view(2, 5, 1)
    shifted = shift_frames(features, torch.tensor([1, 3]))
    torch.testing.assert_close(shifted[0], torch.roll(features[0], 1, dims=0))
    torch.testing.assert_close(shifted[1], torch.roll(features[1], 3, dims=0))
    shifts = time_shifts(100, 8, 2, torch.Generator().manual_seed(0))
    assert shifts.min() >= 2 and shifts.max() <= 6
    assert time_shifts(4, 3, 2, torch.Generator()).numel() == 0   # too short to shift


def test_turned_pairs_stay_true_scenes():
    """turn_pair must turn the sound and the picture the same way (docs/conventions.md)."""
    dataset = SyntheticFOADataset(clip_seconds=0.5, size=1, seed=3, max_sources=1,
                                  moving_probability=0.0, diffuse_probability=0.0)
    scene, foa = dataset.scene(0), dataset[0]["foa"]
    renderer = PanoramaRenderer(width=64, height=32, fps=4.0, use_sprites=False)
    frames, _ = renderer.render(scene)
    frames = torch.from_numpy(frames).permute(0, 3, 1, 2).float().unsqueeze(0)
    yaw = torch.tensor([95.0], dtype=torch.float64)               # rounded to whole columns
    turned_foa, turned_frames = turn_pair(foa.unsqueeze(0), frames, yaw)
    exact = float(column_yaw(yaw, 64))
    redrawn, _ = renderer.render(scene, yaw=exact)
    redrawn = torch.from_numpy(redrawn).permute(0, 3, 1, 2).float()
    differing = (turned_frames[0] - redrawn).abs().amax(dim=1) > 1
    assert differing.float().mean() < 0.01                        # seam rounding at most
    azimuth, _ = direction(foa)
    turned_azimuth, _ = direction(turned_foa[0])
    change = (float(turned_azimuth - azimuth) + 180) % 360 - 180
    assert change == pytest.approx((exact + 180) % 360 - 180, abs=0.5)
    torch.testing.assert_close(turned_foa[0], rotate(foa, yaw=exact), atol=1e-5, rtol=0)


def test_semantic_only_config_has_no_hard_negatives():
    ablation = SVACLossConfig(time_negatives=0, rotation_negatives=0, roll_negatives=0)
    assert ablation.augment_yaw and SVACLossConfig().rotation_negatives > 0
    assert np.isclose(SVACLossConfig().min_rotation_degrees, 45.0)
