"""Spherical positional features and perspective crops against the ERP conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.conditioning.perspective import (
    crop_directions,
    perspective_crops,
    perspective_grid,
)
from swansphere.conditioning.spherical import harmonics_count, spherical_harmonics
from swansphere.spatial import erp_grid, plane_wave_gains, roll_panorama
from swansphere.spatial.encoding import degrees_to_radians, unit_vectors

FEW = settings(max_examples=25, deadline=None, derandomize=True)
azimuths = st.floats(-180, 180, allow_nan=False)
elevations = st.floats(-90, 90, allow_nan=False)


@FEW
@given(azimuths, elevations)
def test_first_order_harmonics_are_the_ambix_plane_wave_gains(azimuth, elevation):
    features = spherical_harmonics(azimuth, elevation, order=1)
    torch.testing.assert_close(features, plane_wave_gains(azimuth, elevation))


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    return unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation)).numpy()


@FEW
@given(azimuths, elevations, azimuths, elevations)
def test_addition_theorem_holds_for_every_order(az_a, el_a, az_b, el_b):
    """SN3D: sum_m Y_lm(a) Y_lm(b) = P_l(cos angle(a, b)); only the angle between them counts."""
    order = 4
    ya, yb = spherical_harmonics(az_a, el_a, order), spherical_harmonics(az_b, el_b, order)
    cosine = float(np.clip(_direction(az_a, el_a) @ _direction(az_b, el_b), -1, 1))
    for degree in range(order + 1):
        block = slice(degree ** 2, (degree + 1) ** 2)
        legendre = np.polynomial.legendre.legval(cosine, [0] * degree + [1])
        assert float(ya[block] @ yb[block]) == pytest.approx(legendre, abs=1e-9)


def test_harmonics_are_orthogonal_over_the_sphere():
    order = 3
    azimuth, elevation = erp_grid(720, 360)
    features = spherical_harmonics(azimuth, elevation, order).reshape(-1, harmonics_count(order))
    weights = torch.cos(torch.deg2rad(elevation)).reshape(-1, 1) * (2 * math.pi / 720) * (
        math.pi / 360)
    gram = (features * weights).T @ features
    expected = torch.diag(torch.tensor([4 * math.pi / (2 * d + 1) for d in range(order + 1)
                                        for _ in range(2 * d + 1)], dtype=torch.float64))
    torch.testing.assert_close(gram, expected, atol=2e-4, rtol=0)


# ------------------------------------------------------------------------------ crops

WIDTH, HEIGHT = 256, 128


def _direction_panorama() -> torch.Tensor:
    """An ERP image whose three channels are each pixel's unit vector (front, left, up)."""
    azimuth, elevation = erp_grid(WIDTH, HEIGHT)
    vectors = unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation))
    return vectors.permute(2, 0, 1).unsqueeze(0).float()


def test_crop_directions_ring_round_the_sphere():
    azimuth, elevation = crop_directions(4, [0.0, 45.0])
    assert azimuth.tolist() == [0.0, 90.0, 180.0, -90.0] * 2
    assert elevation.tolist() == [0.0] * 4 + [45.0] * 4


@pytest.mark.parametrize(("azimuth", "elevation"), [(0.0, 0.0), (90.0, 0.0), (180.0, 0.0),
                                                    (-135.0, 30.0), (45.0, -60.0)])
def test_crop_centre_looks_where_it_is_aimed(azimuth, elevation):
    grid = perspective_grid(torch.tensor([azimuth], dtype=torch.float64),
                            torch.tensor([elevation], dtype=torch.float64), 60.0, 33,
                            WIDTH, HEIGHT)
    crop = perspective_crops(_direction_panorama(), grid)[0, 0]       # (3, 33, 33)
    centre = crop[:, 16, 16].double()
    expected = torch.from_numpy(_direction(azimuth, elevation))
    assert torch.dot(centre / centre.norm(), expected) > math.cos(math.radians(1.0))


def test_crop_left_edge_looks_left_and_top_edge_looks_up():
    grid = perspective_grid(torch.zeros(1, dtype=torch.float64),
                            torch.zeros(1, dtype=torch.float64), 90.0, 16, WIDTH, HEIGHT)
    crop = perspective_crops(_direction_panorama(), grid)[0, 0]
    left, up = crop[1], crop[2]
    assert left[8, 0] > 0.5 and left[8, -1] < -0.5           # column 0 sees azimuth > 0
    assert up[0, 8] > 0.5 and up[-1, 8] < -0.5               # row 0 sees elevation > 0


def test_turning_the_camera_equals_rolling_the_panorama():
    """A crop aimed at azimuth a of a panorama = a front crop of the panorama yawed by −a."""
    image = torch.rand(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0))
    aimed = perspective_grid(torch.tensor([90.0], dtype=torch.float64),
                             torch.tensor([20.0], dtype=torch.float64), 70.0, 24, WIDTH, HEIGHT)
    front = perspective_grid(torch.tensor([0.0], dtype=torch.float64),
                             torch.tensor([20.0], dtype=torch.float64), 70.0, 24, WIDTH, HEIGHT)
    torch.testing.assert_close(perspective_crops(image, aimed),
                               perspective_crops(roll_panorama(image, -90.0), front),
                               atol=1e-4, rtol=0)
