"""Rotation: conventions of docs/conventions.md, energy, composition, inversion, re-encoding."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.spatial import cartesian_rotation, direction, encode, rotate, rotation_matrix

NOISE = 0.1 * torch.randn(512, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
angles = st.floats(-360, 360, allow_nan=False)
rotations = st.tuples(angles, angles, angles)


def _direction(foa):
    return tuple(float(value) for value in direction(foa))


@pytest.mark.parametrize(("start", "rotation", "expected"), [
    ((30, 0), {"yaw": 45}, (75, 0)),        # yaw adds to the azimuth
    ((0, 0), {"pitch": 30}, (0, 30)),       # pitch raises a source in front
    ((180, 0), {"pitch": 30}, (180, -30)),  # ... and lowers one behind
    ((90, 0), {"roll": 30}, (90, 30)),      # roll raises a source on the left
    ((-90, 0), {"roll": 30}, (-90, -30)),   # ... and lowers one on the right
    ((0, 0), {"yaw": 90, "pitch": 30}, (90, 0)),   # yaw first: front -> left, pitch leaves it
    ((0, 0), {"pitch": 30, "roll": 90}, (-30, 0)),  # roll 90 turns "up" into "right"
])
def test_sign_conventions(start, rotation, expected):
    azimuth, elevation = _direction(rotate(encode(NOISE, *start), **rotation))
    assert azimuth == pytest.approx(expected[0], abs=1e-6)
    assert elevation == pytest.approx(expected[1], abs=1e-6)


@settings(max_examples=30)
@given(rotations)
def test_rotation_preserves_energy_and_w(angles_):
    foa = encode(NOISE, 20.0, -10.0) + 0.5 * encode(NOISE.flip(0), -100.0, 40.0)
    rotated = rotate(foa, *angles_)
    torch.testing.assert_close(rotated.square().sum(), foa.square().sum())
    torch.testing.assert_close(rotated[0], foa[0])


@settings(max_examples=30)
@given(rotations, rotations)
def test_rotations_compose_and_invert(first, second):
    foa = encode(NOISE, 33.0, 12.0)
    matrix_a = rotation_matrix(*first, dtype=torch.float64)
    matrix_b = rotation_matrix(*second, dtype=torch.float64)
    torch.testing.assert_close(rotate(rotate(foa, *first), *second), matrix_b @ matrix_a @ foa)
    torch.testing.assert_close(matrix_a.T @ rotate(foa, *first), foa)  # orthogonal: inverse = T
    torch.testing.assert_close(torch.linalg.det(matrix_a), torch.tensor(1.0, dtype=torch.float64))


@settings(max_examples=30)
@given(st.floats(-180, 180), st.floats(-80, 80), angles)
def test_yaw_equals_re_encoding_at_the_rotated_azimuth(azimuth, elevation, yaw):
    torch.testing.assert_close(rotate(encode(NOISE, azimuth, elevation), yaw=yaw),
                               encode(NOISE, azimuth + yaw, elevation))


@settings(max_examples=30)
@given(st.floats(-180, 180), st.floats(-90, 90), rotations)
def test_a_plane_wave_turns_like_its_direction_vector(azimuth, elevation, angles_):
    rotated = rotate(encode(torch.ones(1, dtype=torch.float64), azimuth, elevation), *angles_)
    vector = encode(torch.ones(1, dtype=torch.float64), azimuth, elevation)[[3, 1, 2], 0]
    expected = cartesian_rotation(*angles_) @ vector
    torch.testing.assert_close(rotated[[3, 1, 2], 0], expected)


def test_batched_angles_rotate_each_clip():
    foa = encode(NOISE, 0.0, 0.0).expand(3, 4, -1)
    rotated = rotate(foa, yaw=torch.tensor([0.0, 90.0, -90.0]))
    azimuth, _ = direction(rotated)
    torch.testing.assert_close(azimuth, torch.tensor([0.0, 90.0, -90.0], dtype=torch.float64))


def test_rotation_is_differentiable():
    foa = encode(NOISE, 10.0, 0.0).requires_grad_()
    rotate(foa, yaw=30, pitch=10).square().sum().backward()
    torch.testing.assert_close(foa.grad, 2 * foa.detach())
