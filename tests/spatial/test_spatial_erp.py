"""ERP geometry, panorama roll and the energy map, which must all agree with yaw rotation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere import ConfigError
from swansphere.spatial import (
    direction_to_erp,
    encode,
    energy_map,
    erp_grid,
    erp_to_direction,
    roll_panorama,
    rotate,
)

WIDTH, HEIGHT = 24, 12
NOISE = 0.1 * torch.randn(256, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("x", "y", "azimuth", "elevation"), [
    (WIDTH / 2 - 0.5, HEIGHT / 2 - 0.5, 0.0, 0.0),   # image centre: front, horizon
    (WIDTH / 4 - 0.5, HEIGHT / 2 - 0.5, 90.0, 0.0),  # left quarter: left
    (3 * WIDTH / 4 - 0.5, HEIGHT / 2 - 0.5, -90.0, 0.0),
    (-0.5, -0.5, 180.0, 90.0),                       # top-left corner: back, up
])
def test_erp_landmarks(x, y, azimuth, elevation):
    found = erp_to_direction(x, y, WIDTH, HEIGHT)
    assert [float(v) for v in found] == pytest.approx([azimuth, elevation])


def test_pixel_centres_follow_the_design_formula():
    azimuth, elevation = erp_grid(WIDTH, HEIGHT)
    assert azimuth.shape == elevation.shape == (HEIGHT, WIDTH)
    x, y = 5, 2
    assert float(azimuth[y, x]) == pytest.approx(180 * (1 - 2 * (x + 0.5) / WIDTH))
    assert float(elevation[y, x]) == pytest.approx(90 - 180 * (y + 0.5) / HEIGHT)


@settings(max_examples=40)
@given(st.floats(0, WIDTH, exclude_max=True), st.floats(-0.5, HEIGHT - 0.5))
def test_pixels_to_directions_and_back(x, y):
    back_x, back_y = direction_to_erp(*erp_to_direction(x, y, WIDTH, HEIGHT), WIDTH, HEIGHT)
    assert float(back_y) == pytest.approx(y, abs=1e-9)
    assert (float(back_x) - x + WIDTH / 2) % WIDTH - WIDTH / 2 == pytest.approx(0, abs=1e-9)
    assert 0 <= float(back_x) < WIDTH


@settings(max_examples=40)
@given(st.floats(-720, 720), st.floats(-90, 90))
def test_directions_to_pixels_and_back(azimuth, elevation):
    found_azimuth, found_elevation = erp_to_direction(
        *direction_to_erp(azimuth, elevation, WIDTH, HEIGHT), WIDTH, HEIGHT)
    assert float(found_elevation) == pytest.approx(elevation, abs=1e-9)
    assert (float(found_azimuth) - azimuth + 180) % 360 - 180 == pytest.approx(0, abs=1e-9)


def test_energy_map_is_oriented_like_the_panorama():
    for azimuth, elevation in [(90.0, 0.0), (-45.0, 30.0), (180.0, -60.0)]:
        power = energy_map(encode(NOISE, azimuth, elevation), WIDTH, HEIGHT)
        row, column = divmod(int(power.argmax()), WIDTH)
        found = erp_to_direction(column, row, WIDTH, HEIGHT)
        assert abs((float(found[0]) - azimuth + 180) % 360 - 180) <= 360 / WIDTH
        assert abs(float(found[1]) - elevation) <= 180 / HEIGHT


@pytest.mark.parametrize("pattern", ["cardioid", "max_re"])
def test_beams_have_unit_on_axis_gain(pattern):
    grid_azimuth, grid_elevation = erp_grid(WIDTH, HEIGHT)
    foa = encode(NOISE, float(grid_azimuth[3, 7]), float(grid_elevation[3, 7]))
    power = energy_map(foa, WIDTH, HEIGHT, pattern=pattern)
    assert float(power[3, 7]) == pytest.approx(float(NOISE.square().mean()), rel=1e-4)
    assert int(power.argmax()) == 3 * WIDTH + 7


@settings(max_examples=25)
@given(st.integers(-WIDTH, WIDTH), st.floats(-180, 180), st.floats(-80, 80))
def test_panorama_roll_agrees_with_yaw_rotation(columns, azimuth, elevation):
    yaw = columns * 360 / WIDTH
    foa = encode(NOISE, azimuth, elevation) + 0.3 * encode(NOISE.roll(7), azimuth - 100, 0.0)
    rolled = roll_panorama(energy_map(foa, WIDTH, HEIGHT), yaw)
    torch.testing.assert_close(rolled, energy_map(rotate(foa, yaw=yaw), WIDTH, HEIGHT),
                               atol=1e-6, rtol=1e-4)


def _blob(azimuth, elevation):
    """A source drawn into a channels-last RGB panorama at its direction."""
    x, y = (float(v) for v in direction_to_erp(azimuth, elevation, WIDTH, HEIGHT))
    columns, rows = np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT))
    dx = (columns - x + WIDTH / 2) % WIDTH - WIDTH / 2
    image = np.exp(-(dx**2 + (rows - y) ** 2) / 2.0)
    return np.repeat((255 * image)[..., None], 3, axis=-1).astype(np.uint8)


@settings(max_examples=25)
@given(st.integers(0, WIDTH - 1), st.integers(-WIDTH, WIDTH))
def test_rolled_blob_lands_where_the_rotated_source_is_drawn(column, shift):
    azimuth, elevation = (float(v) for v in erp_to_direction(column, 4, WIDTH, HEIGHT))
    yaw = shift * 360 / WIDTH
    rolled = roll_panorama(_blob(azimuth, elevation), yaw, axis=-2)
    assert isinstance(rolled, np.ndarray) and rolled.dtype == np.uint8
    np.testing.assert_array_equal(rolled, _blob(azimuth + yaw, elevation))


def test_fractional_roll_interpolates():
    frames = torch.zeros(2, 3, HEIGHT, WIDTH)  # (time, channels, H, W)
    frames[..., 10] = 1.0
    half = roll_panorama(frames, yaw=-0.5 * 360 / WIDTH)  # half a column to the right
    torch.testing.assert_close(half[0, 0, 0, 10:12], torch.tensor([0.5, 0.5]))
    assert float(half.sum()) == pytest.approx(float(frames.sum()))
    as_int = roll_panorama(frames.to(torch.uint8) * 200, yaw=-0.25 * 360 / WIDTH)
    assert as_int.dtype == torch.uint8 and as_int[0, 0, 0, 10:12].tolist() == [150, 50]


def test_roll_needs_an_image():
    with pytest.raises(ConfigError, match="at least 2 dimensions"):
        roll_panorama(torch.zeros(5), 10.0)
    with pytest.raises(ConfigError, match="positive"):
        erp_grid(0, 4)
