"""Space-keeping losses: each term is zero on identity and sees what it is meant to see."""

from __future__ import annotations

import math

import pytest
import torch

from swansphere.codecs.losses import (
    kl_divergence,
    multi_resolution_stft_loss,
    normalised_intensity,
    relative_waveform_loss,
    spatial_intensity_loss,
    stft,
)
from swansphere.spatial import encode

SAMPLE_RATE = 8000


def noise(length: int = 4096, seed: int = 0) -> torch.Tensor:
    return torch.randn(length, generator=torch.Generator().manual_seed(seed))


def plane_wave(azimuth: float, elevation: float = 0.0, seed: int = 0) -> torch.Tensor:
    return encode(noise(seed=seed), azimuth, elevation).to(torch.float32)[None]


def test_losses_vanish_on_identical_signals():
    foa = plane_wave(40.0, 10.0)
    assert multi_resolution_stft_loss(foa, foa).item() == pytest.approx(0.0, abs=1e-6)
    assert spatial_intensity_loss(foa, foa).item() == pytest.approx(0.0, abs=1e-6)


def test_stft_loss_sees_each_channel():
    foa = plane_wave(40.0, 10.0)
    damaged = foa.clone()
    damaged[:, 2] *= 0.5  # only Z, the quietest channel here
    assert multi_resolution_stft_loss(foa, damaged).item() > 0.05


def test_spatial_loss_sees_a_mirror_image_that_spectra_miss():
    left, right = plane_wave(30.0), plane_wave(-30.0)  # Y flips sign, spectra are equal
    assert multi_resolution_stft_loss(left, right).item() == pytest.approx(0.0, abs=1e-5)
    # unit vectors (cos 30, ±sin 30, 0) differ by 1 in y: squared distance 1
    assert spatial_intensity_loss(left, right).item() == pytest.approx(1.0, abs=0.02)
    opposite = spatial_intensity_loss(plane_wave(0.0), plane_wave(180.0)).item()
    assert opposite == pytest.approx(4.0, abs=0.05)


def test_normalised_intensity_is_the_unit_direction_of_a_plane_wave():
    azimuth, elevation = math.radians(120.0), math.radians(-20.0)
    spec = stft(plane_wave(120.0, -20.0), 256, 64)
    intensity, energy = normalised_intensity(spec)
    weights = energy / energy.sum()
    mean = (intensity * weights[:, None]).sum(dim=(-2, -1))[0]
    expected = torch.tensor([math.cos(azimuth) * math.cos(elevation),
                             math.sin(azimuth) * math.cos(elevation), math.sin(elevation)])
    torch.testing.assert_close(mean, expected, atol=1e-3, rtol=0)


def test_spatial_loss_is_differentiable():
    target = plane_wave(60.0)
    estimate = plane_wave(20.0, seed=1).requires_grad_(True)
    spatial_intensity_loss(target, estimate).backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0


def test_kl_matches_the_closed_form():
    assert kl_divergence(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)).item() == 0.0
    mean, logvar = torch.full((1, 1, 2), 1.0), torch.full((1, 1, 2), math.log(2.0))
    per_dim = 0.5 * (1.0 + 2.0 - 1.0 - math.log(2.0))
    assert kl_divergence(mean, logvar).item() == pytest.approx(2 * per_dim)


def test_relative_waveform_loss_is_gain_invariant_and_safe_on_silence():
    foa = plane_wave(40.0, 10.0)
    shifted = torch.roll(foa, 3, dims=-1)
    assert relative_waveform_loss(foa, foa).item() == 0.0
    loss = relative_waveform_loss(foa, shifted).item()
    assert loss > 0.1
    assert relative_waveform_loss(0.01 * foa, 0.01 * shifted).item() == pytest.approx(loss,
                                                                                      rel=1e-4)
    silent = torch.cat([foa, torch.zeros_like(foa)])
    noisy = torch.cat([foa, 1e-3 * torch.ones_like(foa)])
    assert relative_waveform_loss(silent, noisy).item() < 1.0
