"""The metrics against reference implementations written here, from the formulas in
docs/evaluation.md, on generic clips (random 4-channel mixtures, not only plane waves, whose
symmetries hide mistakes): hand values, not only properties.

The references are plain numpy loops over the definitions, sharing no code with the library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.metrics.direction import (
    angle_between,
    clip_direction_errors,
    energy_map_correlation,
)
from swansphere.spatial import direction, energy_map

GAINS = {"cardioid": (0.5, 0.5),
         "max_re": (1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3)))}
"""Omni and dipole gains of unit on-axis beams (docs/spatial.md)."""


def generic_clips(seed: int, count: int = 3, samples: int = 400) -> np.ndarray:
    """``(count, 4, samples)`` AmbiX clips with correlated channels: a random mix of noise."""
    rng = np.random.default_rng(seed)
    sources = rng.normal(size=(count, 4, samples))
    mixing = rng.normal(size=(count, 4, 4))
    mixing[:, 0, 0] += 3.0  # a strong W, as real sound fields have
    return np.einsum("cij,cjn->cin", mixing, sources)


def reference_direction(clip: np.ndarray) -> tuple[float, float, np.ndarray]:
    """θ, φ (radians) and I = (mean(W·X), mean(W·Y), mean(W·Z)); AmbiX order W, Y, Z, X."""
    w, y, z, x = clip
    intensity = np.array([np.mean(w * x), np.mean(w * y), np.mean(w * z)])
    theta = math.atan2(intensity[1], intensity[0])
    phi = math.atan2(intensity[2], math.hypot(intensity[0], intensity[1]))
    return theta, phi, intensity


def reference_errors(reference: np.ndarray, generated: np.ndarray) -> dict[str, float]:
    theta_r, phi_r, i_r = reference_direction(reference)
    theta_g, phi_g, i_g = reference_direction(generated)
    wrapped = abs(theta_r - theta_g) % (2 * math.pi)
    return {"theta": min(wrapped, 2 * math.pi - wrapped), "phi": abs(phi_r - phi_g),
            "angular": math.atan2(np.linalg.norm(np.cross(i_r, i_g)), np.dot(i_r, i_g))}


def reference_map(clip: np.ndarray, width: int, height: int, pattern: str) -> np.ndarray:
    """Mean beam power towards each ERP pixel centre (docs/conventions.md's pixel formula)."""
    omni, dipole = GAINS[pattern]
    w, y, z, x = clip
    power = np.empty((height, width))
    for row in range(height):
        elevation = math.pi / 2 - math.pi * (row + 0.5) / height
        for column in range(width):
            azimuth = math.pi * (1 - 2 * (column + 0.5) / width)
            beam = omni * w + dipole * (math.cos(elevation) * math.cos(azimuth) * x
                                        + math.cos(elevation) * math.sin(azimuth) * y
                                        + math.sin(elevation) * z)
            power[row, column] = np.mean(beam ** 2)
    return power


def reference_correlation(first: np.ndarray, second: np.ndarray, solid_angle: bool) -> float:
    """Weighted Pearson correlation; weights ∝ cos(elevation) of each row, or uniform."""
    height, width = first.shape
    rows = np.array([math.cos(math.pi / 2 - math.pi * (r + 0.5) / height) for r in range(height)])
    weights = np.repeat(rows[:, None], width, 1) if solid_angle else np.ones((height, width))
    weights = weights / weights.sum()
    mean_1, mean_2 = (weights * first).sum(), (weights * second).sum()
    covariance = (weights * (first - mean_1) * (second - mean_2)).sum()
    variance_1 = (weights * (first - mean_1) ** 2).sum()
    variance_2 = (weights * (second - mean_2) ** 2).sum()
    return covariance / math.sqrt(variance_1 * variance_2)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_direction_and_direction_errors_equal_the_formulas(seed):
    reference, generated = generic_clips(seed), generic_clips(seed + 1)
    errors = clip_direction_errors(torch.from_numpy(reference), torch.from_numpy(generated))
    azimuth, elevation = direction(torch.from_numpy(generated))
    for index in range(len(reference)):
        expected = reference_errors(reference[index], generated[index])
        for name in ("theta", "phi", "angular"):
            assert float(errors[name][index]) == pytest.approx(expected[name], abs=1e-9), name
        theta, phi, _ = reference_direction(generated[index])
        assert float(azimuth[index]) == pytest.approx(math.degrees(theta), abs=1e-7)
        assert float(elevation[index]) == pytest.approx(math.degrees(phi), abs=1e-7)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), pattern=st.sampled_from(sorted(GAINS)),
       solid_angle=st.booleans())
def test_energy_maps_and_their_correlation_equal_the_formulas(seed, pattern, solid_angle):
    width, height = 16, 8
    reference, generated = generic_clips(seed), generic_clips(seed + 7)
    maps = energy_map(torch.from_numpy(generated), width, height, pattern)
    correlation = energy_map_correlation(torch.from_numpy(reference), torch.from_numpy(generated),
                                         width=width, height=height, pattern=pattern,
                                         solid_angle=solid_angle)
    for index in range(len(reference)):
        expected_map = reference_map(generated[index], width, height, pattern)
        np.testing.assert_allclose(maps[index].numpy(), expected_map, rtol=1e-9, atol=1e-12)
        expected = reference_correlation(reference_map(reference[index], width, height, pattern),
                                         expected_map, solid_angle)
        assert float(correlation[index]) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90))
def test_angle_between_is_the_arc_cosine_of_the_dot_product(az1, el1, az2, el2):
    def unit(azimuth: float, elevation: float) -> np.ndarray:
        a, e = math.radians(azimuth), math.radians(elevation)
        return np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])

    cosine = float(np.clip(np.dot(unit(az1, el1), unit(az2, el2)), -1.0, 1.0))
    expected = math.degrees(math.acos(cosine))
    assert float(angle_between(az1, el1, az2, el2)) == pytest.approx(expected, abs=1e-5)
