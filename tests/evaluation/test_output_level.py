"""Output-level figures: W level, latent spread, and what a sampler keeps of an exact flow."""

from __future__ import annotations

import math

import pytest
import torch

import swansphere
from swansphere.evaluation.level import (
    gaussian_spread,
    level_db,
    mean_level_db,
    spread_db,
    spread_ratio,
)

SPREADS = torch.tensor([0.5, 1.0, 1.5, 2.6])  # the shipped tiny model's latents span 1.0-2.6


def test_level_is_the_w_channel_rms_in_dbfs():
    t = torch.arange(16000) / 16000
    sine = torch.sin(2 * math.pi * 440 * t)
    foa = torch.stack([0.1 * sine, sine, sine, sine])  # loud directional channels, quiet W
    assert level_db(sine) == pytest.approx(-3.01, abs=0.01)
    assert level_db(foa) == pytest.approx(-23.01, abs=0.01)
    assert level_db(torch.zeros(4, 100)) == pytest.approx(-240.0)
    assert mean_level_db([sine, 0.1 * sine]) == pytest.approx(-13.01, abs=0.01)


def test_spread_ratio_is_per_dimension_and_pools_leading_axes():
    real = torch.randn(8, 50, 3, generator=torch.Generator().manual_seed(0))
    halved = real * torch.tensor([0.5, 1.0, 2.0])
    ratio = spread_ratio(halved, real)
    assert ratio.tolist() == pytest.approx([0.5, 1.0, 2.0])
    assert spread_db(torch.full((3,), 0.5)) == pytest.approx(-6.02, abs=0.01)
    with pytest.raises(ValueError, match="widths differ"):
        spread_ratio(real[..., :2], real)


def test_three_euler_steps_shrink_even_an_exact_flow_to_about_half():
    """The shipped sampler's loss with a perfect model: -5 dB of spread (docs/evaluation.md)."""
    euler3 = swansphere.create("sampler", {"type": "euler", "steps": 3, "grid": "cosine"})
    kept = gaussian_spread(euler3, SPREADS, samples=4000)
    assert kept.min() > 0.5 and kept.max() < 0.6
    assert spread_db(kept) == pytest.approx(-5.1, abs=0.4)
    many = swansphere.create("sampler", {"type": "euler", "steps": 64, "grid": "cosine"})
    assert gaussian_spread(many, SPREADS, samples=4000).tolist() == pytest.approx(
        [1.0] * 4, abs=0.05)


def test_adams_bashforth_keeps_the_spread_at_the_same_cost():
    euler3 = swansphere.create("sampler", {"type": "euler", "steps": 3, "grid": "cosine"})
    ab2 = swansphere.create("sampler", {"type": "adams_bashforth", "order": 2, "steps": 3,
                                        "grid": "cosine"})
    assert ab2.nfe() == euler3.nfe() == 3
    kept = gaussian_spread(ab2, SPREADS, samples=4000)
    assert abs(spread_db(kept)) < 1.0 < abs(spread_db(gaussian_spread(euler3, SPREADS, 4000)))
