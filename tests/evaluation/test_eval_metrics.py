"""Direction errors, energy-map correlation, Fréchet distance and direction accuracy."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.errors import SwanSphereError
from swansphere.evaluation.metrics import direction_accuracy, same_sector
from swansphere.metrics.direction import (
    aggregate_direction_errors,
    angle_between,
    clip_direction_errors,
    energy_map_correlation,
    has_direction,
    solid_angle_weights,
    summarize,
)
from swansphere.metrics.frechet import (
    NotEnoughSamplesError,
    _frechet_from_samples,
    frechet_distance,
    frechet_distance_from_stats,
    gaussian_fit,
)
from swansphere.spatial import angular_errors, encode, rotate

NOISE = 0.1 * torch.randn(800, generator=torch.Generator().manual_seed(1))


def _plane_wave(azimuth: float, elevation: float = 0.0, signal: torch.Tensor = NOISE):
    return encode(signal, azimuth, elevation).to(torch.float32)


def _w_only() -> torch.Tensor:
    foa = torch.zeros(4, NOISE.numel())
    foa[0] = NOISE
    return foa


# --- direction errors ------------------------------------------------------------------------

def test_direction_errors_equal_the_spatial_toolkit_for_directional_clips():
    reference = torch.stack([_plane_wave(10, 5), _plane_wave(-120, 30)])
    generated = torch.stack([_plane_wave(40, -5), _plane_wave(150, 0)])
    ours = clip_direction_errors(reference, generated)
    theirs = angular_errors(reference, generated)
    for name in ("theta", "phi", "angular"):
        torch.testing.assert_close(ours[name], theirs[name])
    assert bool(ours["reference_has_direction"].all() & ours["generated_has_direction"].all())


def test_a_silent_clip_gives_nan_without_voiding_the_batch():
    reference = torch.stack([_plane_wave(0), _plane_wave(90), torch.zeros(4, 800)])
    generated = torch.stack([_plane_wave(30), _w_only(), _plane_wave(0)])
    errors = clip_direction_errors(reference, generated)
    assert errors["angular"][0].item() == pytest.approx(math.radians(30), abs=1e-6)
    assert math.isnan(errors["angular"][1]) and math.isnan(errors["angular"][2])
    assert errors["generated_has_direction"].tolist() == [True, False, True]
    assert errors["reference_has_direction"].tolist() == [True, True, False]


def test_direction_errors_broadcast_and_accept_different_lengths():
    reference = _plane_wave(0)[:, :500]
    generated = torch.stack([_plane_wave(0), _plane_wave(180)])
    errors = clip_direction_errors(reference, generated)
    assert errors["angular"].shape == (2,)
    assert errors["angular"].tolist() == pytest.approx([0.0, math.pi], abs=1e-6)


def test_has_direction_per_clip():
    clips = torch.stack([_plane_wave(45), torch.zeros(4, 800), _w_only()])
    assert has_direction(clips).tolist() == [True, False, False]
    assert bool(has_direction(clips[0]))


def test_aggregation_excludes_or_penalises_silent_generated_clips():
    errors = {"theta": torch.tensor([0.1, 0.3, math.nan, math.nan], dtype=torch.float64),
              "reference_has_direction": torch.tensor([True, True, True, False]),
              "generated_has_direction": torch.tensor([True, True, False, True])}
    errors["phi"] = errors["angular"] = errors["theta"]
    excluded = aggregate_direction_errors(errors, "exclude")
    assert excluded["theta_mean"] == pytest.approx(0.2)
    assert excluded["scored"] == 2
    assert excluded["generated_without_direction"] == 1
    assert excluded["reference_without_direction"] == 1
    worst = aggregate_direction_errors(errors, "worst")
    assert worst["angular_mean"] == pytest.approx((0.1 + 0.3 + math.pi) / 3)
    assert worst["angular_median"] == pytest.approx(0.3)
    assert worst["scored"] == 3
    with pytest.raises(SwanSphereError, match="silent"):
        aggregate_direction_errors(errors, "ignore")


def test_summary_median_averages_the_middle_pair_and_skips_nan():
    values = torch.tensor([4.0, 1.0, math.nan, 3.0, 2.0], dtype=torch.float64)
    assert summarize(values, "x") == {"x_mean": 2.5, "x_median": 2.5}
    empty = summarize(torch.tensor([math.nan]), "x")
    assert math.isnan(empty["x_mean"]) and math.isnan(empty["x_median"])


# --- energy maps -----------------------------------------------------------------------------

def test_solid_angle_weights_follow_cos_elevation_and_sum_to_one():
    weights = solid_angle_weights(8, 4)
    assert weights.sum().item() == pytest.approx(1.0)
    assert weights[0, 0] < weights[1, 0]  # a pole row covers less of the sphere
    torch.testing.assert_close(weights, weights.flip(0))


@settings(max_examples=8, deadline=None, derandomize=True)
@given(azimuth=st.floats(-180, 180), elevation=st.floats(-60, 60),
       columns=st.integers(-32, 32), gain=st.floats(0.1, 10))
def test_energy_map_correlation_properties(azimuth, elevation, columns, gain):
    clip = _plane_wave(azimuth, elevation)
    other = _plane_wave(azimuth + 70, -elevation / 2)
    first = energy_map_correlation(clip, other).item()
    assert energy_map_correlation(clip, gain * clip).item() == pytest.approx(1.0, abs=1e-9)
    assert energy_map_correlation(other, clip).item() == pytest.approx(first, abs=1e-9)
    # a yaw by whole pixel columns turns both maps alike; cos(el) weights do not depend on az
    yaw = columns * 360 / 64
    turned = energy_map_correlation(rotate(clip, yaw=yaw), rotate(other, yaw=yaw)).item()
    assert turned == pytest.approx(first, abs=1e-6)
    assert -1.0 <= first <= 1.0


def test_energy_map_correlation_falls_with_angular_distance():
    reference = _plane_wave(0)
    values = [energy_map_correlation(reference, _plane_wave(az)).item() for az in (0, 45, 90, 180)]
    assert values[0] == pytest.approx(1.0)
    assert values == sorted(values, reverse=True)
    assert values[-1] < 0


def test_flat_maps_have_no_correlation_and_weighting_matters():
    batch = energy_map_correlation(torch.stack([_w_only(), _plane_wave(0)]), _plane_wave(30))
    assert math.isnan(batch[0]) and not math.isnan(batch[1])
    up, side = _plane_wave(0, 70), _plane_wave(90, 10)
    weighted = energy_map_correlation(up, side).item()
    uniform = energy_map_correlation(up, side, solid_angle=False).item()
    assert abs(weighted - uniform) > 1e-3


# --- Fréchet distance ------------------------------------------------------------------------

def _gaussian(n: int, mean: torch.Tensor, scales: torch.Tensor, seed: int) -> torch.Tensor:
    noise = torch.randn(n, mean.numel(), generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
    return mean + noise * scales


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    first = _gaussian(4000, torch.zeros(3, dtype=torch.float64),
                      torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), seed=0)
    second = _gaussian(4000, torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64),
                       torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64), seed=1)
    # exact value of the fitted Gaussians: |Δμ|² + Σ(σ1 − σ2)² with the sample statistics
    mean_term = (first.mean(0) - second.mean(0)).square().sum()
    root = (first.var(0).sqrt() - second.var(0).sqrt()).square().sum()
    expected = float(mean_term + root)
    # off-diagonal sample covariances are small but not zero: a loose tolerance
    assert frechet_distance(first, second) == pytest.approx(expected, rel=0.02)
    assert expected == pytest.approx(2.0 + 1.0 + 1.0, rel=0.1)


def test_frechet_distance_agrees_with_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    first = _gaussian(50, torch.zeros(6, dtype=torch.float64),
                      torch.ones(6, dtype=torch.float64), seed=2) @ torch.rand(
        6, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    second = _gaussian(60, torch.ones(6, dtype=torch.float64),
                       torch.linspace(0.5, 2, 6, dtype=torch.float64), seed=4)
    cov1, cov2 = torch.cov(first.T).numpy(), torch.cov(second.T).numpy()
    covmean = linalg.sqrtm(cov1 @ cov2).real
    expected = float(((first.mean(0) - second.mean(0)) ** 2).sum()) + float(
        (cov1 + cov2 - 2 * covmean).trace())
    assert frechet_distance(first, second) == pytest.approx(expected, rel=1e-7)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(n=st.integers(2, 12), dim=st.integers(1, 16), seed=st.integers(0, 10_000),
       shift=st.floats(-5, 5))
def test_frechet_distance_properties(n, dim, seed, shift):
    generator = torch.Generator().manual_seed(seed)
    first = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    second = torch.randn(n + 3, dim, generator=generator, dtype=torch.float64)
    distance = frechet_distance(first, second)
    assert distance >= 0 and math.isfinite(distance)  # rank-deficient when n <= dim
    assert frechet_distance(first, first) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(second, first) == pytest.approx(distance, rel=1e-6, abs=1e-8)
    moved = frechet_distance(first + shift, second + shift)
    assert moved == pytest.approx(distance, rel=1e-6, abs=1e-8)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(rows=st.tuples(st.integers(2, 40), st.integers(2, 40)), dim=st.integers(1, 24),
       seed=st.integers(0, 10_000))
def test_sample_space_and_covariance_routes_agree(rows, dim, seed):
    generator = torch.Generator().manual_seed(seed)
    first = torch.randn(rows[0], dim, generator=generator, dtype=torch.float64)
    second = 0.5 + 2 * torch.randn(rows[1], dim, generator=generator, dtype=torch.float64)
    from_stats = frechet_distance_from_stats(*gaussian_fit(first), *gaussian_fit(second))
    assert _frechet_from_samples(first, second) == pytest.approx(from_stats, rel=1e-7,
                                                                  abs=1e-9)
    _, covariance = gaussian_fit(first)
    torch.testing.assert_close(covariance, torch.cov(first.T).reshape(dim, dim))


def test_frechet_distance_grows_with_a_mean_shift():
    base = _gaussian(200, torch.zeros(4, dtype=torch.float64),
                     torch.ones(4, dtype=torch.float64), seed=5)
    other = _gaussian(200, torch.zeros(4, dtype=torch.float64),
                      torch.ones(4, dtype=torch.float64), seed=6)
    distances = [frechet_distance(base, other + shift) for shift in (0.0, 0.5, 1.0, 2.0)]
    assert distances == sorted(distances)


def test_frechet_distance_needs_two_samples_of_one_size():
    with pytest.raises(NotEnoughSamplesError, match="at least 2"):
        frechet_distance(torch.zeros(1, 4), torch.zeros(5, 4))
    with pytest.raises(NotEnoughSamplesError, match="differ"):
        frechet_distance(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(NotEnoughSamplesError, match="NaN"):
        frechet_distance(torch.full((3, 2), math.nan), torch.randn(3, 2))


# --- direction accuracy ----------------------------------------------------------------------

def test_angle_between_directions():
    assert angle_between(0, 0, 90, 0).item() == pytest.approx(90)
    assert angle_between(170, 0, -170, 0).item() == pytest.approx(20)
    assert angle_between(0, 89, 180, 89).item() == pytest.approx(2)


def test_sectors_follow_the_caption_vocabulary():
    assert same_sector(80, 0, 100, 10)  # both "on the left"
    assert not same_sector(66, 0, 70, 0)  # 66 is front-left, 70 left
    assert same_sector(0, 80, 120, 70)  # both overhead, azimuth irrelevant
    assert not same_sector(0, 60, 0, 70)  # overhead target, generated below the cap
    assert not same_sector(0, 80, 0, 0)


def test_direction_accuracy_per_clip():
    scores = direction_accuracy([90, 61, 0], [0, 0, 40], [90, 90, 0], [0, 0, 0], tolerance=30)
    assert scores["error"].tolist() == pytest.approx([0, 29, 40])
    assert scores["within_cone"].tolist() == [True, True, False]
    assert scores["same_sector"].tolist() == [True, False, True]
    assert scores["same_words"].tolist() == [True, False, False]  # "above and in front"
