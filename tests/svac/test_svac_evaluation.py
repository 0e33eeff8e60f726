"""Evaluation figures: strict top-1, and an oracle that knows directions scores perfectly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from swansphere.plugins.svac.evaluation import evaluate_svac, strict_top1
from swansphere.spatial import encode, erp_to_direction, intensity_vector
from swansphere.spatial.encoding import degrees_to_radians, unit_vectors

HEIGHT, WIDTH, RATE = 16, 32, 8000


class DirectionOracle(nn.Module):
    """Embeds audio by its intensity direction and video by its brightest pixel's direction."""

    def embed_audio(self, foa: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        vector = intensity_vector(foa).float()
        return vector.unsqueeze(1).expand(-1, times.shape[0], -1)

    def embed_video(self, frames: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        brightness = frames.sum(dim=2)                                     # (N, T, H, W)
        flat = brightness.flatten(2).argmax(-1)
        azimuth, elevation = erp_to_direction(flat % WIDTH, flat // WIDTH, WIDTH, HEIGHT)
        return unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation)).float()


class Blind(DirectionOracle):
    """Sees nothing: every candidate scores the same."""

    def embed_audio(self, foa, times):
        return torch.ones(foa.shape[0], times.shape[0], 3)

    def embed_video(self, frames, times):
        return torch.ones(frames.shape[0], frames.shape[1], 3)


def scenes(count: int = 6):
    """One plane wave per clip and a panorama with one bright pixel where it comes from."""
    azimuths = [-157.5 + 45.0 * k + 11.25 * (k % 2) for k in range(count)]
    elevations = [-20.0 + 10.0 * (k % 3) for k in range(count)]
    generator = torch.Generator().manual_seed(0)
    foa = torch.stack([encode(torch.randn(RATE, generator=generator), az, el)
                       for az, el in zip(azimuths, elevations, strict=True)])
    frames = torch.zeros(count, 2, 3, HEIGHT, WIDTH)
    for index, (az, el) in enumerate(zip(azimuths, elevations, strict=True)):
        x = round((WIDTH * (1 - az / 180.0) / 2 - 0.5) % WIDTH)
        y = round(HEIGHT * (0.5 - el / 180.0) - 0.5)
        frames[index, :, :, y, x] = 1.0
    return foa, frames, torch.tensor([0.25, 0.5], dtype=torch.float64)


def test_strict_top1_gives_no_credit_for_ties():
    scores = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    assert strict_top1(scores, torch.tensor([0, 0, 0])) == pytest.approx(1 / 3)


def test_direction_oracle_is_perfect_and_a_blind_model_scores_zero():
    foa, frames, times = scenes()
    oracle = evaluate_svac(DirectionOracle(), foa, frames, times, rotations=8, batch_size=4)
    assert oracle["v2a_r1"] == oracle["a2v_r1"] == 1.0
    assert oracle["rotation_accuracy"] == oracle["roll_accuracy"] == 1.0
    assert oracle["retrieval_chance"] == 1 / 6 and oracle["rotation_chance"] == 1 / 8
    assert oracle["time_accuracy"] == 0.0 and oracle["time_chance"] == 1 / 2   # static: ties
    blind = evaluate_svac(Blind(), foa, frames, times, rotations=8)
    assert blind["v2a_r1"] == blind["rotation_accuracy"] == blind["roll_accuracy"] == 0.0
