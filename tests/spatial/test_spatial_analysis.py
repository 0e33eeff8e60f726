"""Direction analysis: whole-clip direction, tracks with diffuseness, angular errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from swansphere import AudioFormatError, ConfigError
from swansphere.spatial import (
    angular_errors,
    direction,
    direction_track,
    encode,
    intensity_vector,
    rotate,
)

GENERATOR = torch.Generator().manual_seed(0)
NOISE = 0.1 * torch.randn(1024, generator=GENERATOR)
azimuths = st.floats(-180, 180, allow_nan=False)
elevations = st.floats(-90, 90, allow_nan=False)


def _great_circle_degrees(az1, el1, az2, el2):
    one = encode(torch.ones(1, dtype=torch.float64), az1, el1)[[3, 1, 2], 0]
    two = encode(torch.ones(1, dtype=torch.float64), az2, el2)[[3, 1, 2], 0]
    return math.degrees(math.atan2(float(torch.linalg.cross(one, two).norm()), float(one @ two)))


@settings(max_examples=40)
@given(azimuths, elevations)
def test_direction_recovers_any_plane_wave(azimuth, elevation):
    found = direction(encode(NOISE, azimuth, elevation))
    found_azimuth, found_elevation = (float(value) for value in found)
    assert _great_circle_degrees(azimuth, elevation, found_azimuth, found_elevation) < 0.5
    assert abs(found_elevation - elevation) < 0.5
    if abs(elevation) < 89:  # the azimuth of a pole is undefined
        assert abs((found_azimuth - azimuth + 180) % 360 - 180) < 0.5


def test_intensity_vector_is_the_paper_proxy():
    foa = encode(NOISE, 90.0, 0.0)
    intensity = intensity_vector(foa)
    power = float(NOISE.double().square().mean())
    torch.testing.assert_close(intensity, torch.tensor([0.0, power, 0.0], dtype=torch.float64),
                               atol=1e-9, rtol=1e-5)


def test_direction_of_a_batch():
    foa = torch.stack([encode(NOISE, 10.0, 0.0), encode(NOISE, -120.0, 45.0)])
    azimuth, elevation = direction(foa)
    torch.testing.assert_close(azimuth, torch.tensor([10.0, -120.0], dtype=torch.float64))
    torch.testing.assert_close(elevation, torch.tensor([0.0, 45.0], dtype=torch.float64))


@pytest.mark.parametrize("foa", [torch.zeros(4, 100), encode(NOISE, 0.0, 0.0) * torch.tensor(
    [[1.0], [0.0], [0.0], [0.0]])], ids=["silent", "omnidirectional"])
def test_no_direction_raises(foa):
    with pytest.raises(AudioFormatError, match="no direction") as error:
        direction(foa)
    assert "\n" not in str(error.value)
    with pytest.raises(AudioFormatError, match="reference audio is silent"):
        angular_errors(foa, encode(NOISE, 0.0, 0.0))


def test_non_finite_input_raises():
    foa = encode(NOISE, 0.0, 0.0)
    foa[2, 5] = math.nan
    with pytest.raises(AudioFormatError, match="NaN"):
        direction(foa)


@settings(max_examples=30)
@given(azimuths, st.floats(-80, 80), azimuths, st.floats(-80, 80))
def test_angular_errors_symmetric_and_zero_on_identical(az1, el1, az2, el2):
    one, two = encode(NOISE, az1, el1), encode(NOISE, az2, el2)
    forward, backward = angular_errors(one, two), angular_errors(two, one)
    for key in ("theta", "phi", "angular"):
        torch.testing.assert_close(forward[key], backward[key])
        assert 0 <= float(forward[key]) <= math.pi + 1e-9
        assert float(angular_errors(one, one)[key]) == pytest.approx(0.0, abs=1e-6)
    assert math.degrees(float(forward["angular"])) == pytest.approx(
        _great_circle_degrees(az1, el1, az2, el2), abs=0.01)


def test_angular_errors_definitions():
    errors = angular_errors(encode(NOISE, 170.0, 0.0), encode(NOISE[:500], -170.0, 30.0))
    assert float(errors["theta"]) == pytest.approx(math.radians(20), abs=1e-4)  # wraps
    assert float(errors["phi"]) == pytest.approx(math.radians(30), abs=1e-4)
    expected = _great_circle_degrees(170, 0, -170, 30)
    assert math.degrees(float(errors["angular"])) == pytest.approx(expected, abs=0.01)


def test_track_of_a_plane_wave_is_not_diffuse():
    track = direction_track(encode(NOISE, 60.0, -20.0), 1000, frame_seconds=0.2,
                            hop_seconds=0.1)
    assert len(track) == 10 and track.azimuth.shape == (10,)
    torch.testing.assert_close(track.azimuth, torch.full((10,), 60.0, dtype=torch.float64))
    torch.testing.assert_close(track.elevation, torch.full((10,), -20.0, dtype=torch.float64))
    assert float(track.diffuseness.max()) < 1e-5
    torch.testing.assert_close(track.times[:2], torch.tensor([0.1, 0.2], dtype=torch.float64))


def test_isotropic_diffuse_noise_is_diffuse():
    """Independent noise from 400 directions spread evenly (a Fibonacci sphere)."""
    count, length = 400, 4000
    index = torch.arange(count, dtype=torch.float64) + 0.5
    elevation = torch.rad2deg(torch.asin(1 - 2 * index / count))
    azimuth = torch.rad2deg(math.pi * (1 + 5**0.5) * index) % 360
    sources = torch.randn(count, length, generator=torch.Generator().manual_seed(1),
                          dtype=torch.float64)
    field = encode(sources, azimuth[:, None], elevation[:, None]).sum(dim=0)
    track = direction_track(field, 8000, frame_seconds=0.1, hop_seconds=0.1)
    assert float(track.diffuseness.mean()) > 0.9
    assert float(track.diffuseness.min()) >= 0.0 and float(track.diffuseness.max()) <= 1.0


def test_moving_source_track_moves():
    azimuth = torch.linspace(90, -90, 8000, dtype=torch.float64)
    noise = 0.1 * torch.randn(8000, generator=torch.Generator().manual_seed(2))
    track = direction_track(encode(noise, azimuth, 0.0), 8000)
    assert float(track.azimuth[0]) > 80 and float(track.azimuth[-1]) < -80
    assert bool((track.azimuth.diff() < 0).all())


def test_silent_frames_have_no_angles_and_full_diffuseness():
    foa = torch.cat([encode(NOISE[:500], 0.0, 0.0), torch.zeros(4, 500)], dim=-1)
    track = direction_track(foa, 1000, frame_seconds=0.25, hop_seconds=0.25)
    assert torch.isnan(track.azimuth[-1]) and float(track.diffuseness[-1]) == 1.0
    assert track.to_dict()["azimuth"][-1] is None and track.to_dict()["azimuth"][0] == 0.0


def test_track_batch_and_short_clip():
    foa = torch.stack([encode(NOISE[:30], 45.0, 0.0), rotate(encode(NOISE[:30], 45.0, 0.0),
                                                             yaw=90)])
    track = direction_track(foa, 1000, frame_seconds=0.1)  # 30 samples < one 100-sample frame
    assert track.azimuth.shape == (2, 1)
    torch.testing.assert_close(track.azimuth[:, 0], torch.tensor([45.0, 135.0],
                                                                 dtype=torch.float64))
    assert float(track.times[0]) == pytest.approx(0.015)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(samples=st.integers(1, 400), frame=st.integers(1, 60), hop=st.integers(1, 90))
@example(samples=400, frame=20, hop=50)  # a 4 s clip, --frame 0.2 --hop 0.5: a frame at the end
def test_every_frame_starts_inside_the_clip_and_the_track_reaches_its_end(samples, frame, hop):
    """Whatever the frame and hop (a hop longer than a frame skips audio between frames)."""
    foa = encode(torch.ones(samples, dtype=torch.float64), 30.0, 10.0)
    track = direction_track(foa, 1000, frame_seconds=frame / 1000, hop_seconds=hop / 1000)
    starts = torch.arange(len(track), dtype=torch.float64) * hop
    assert bool((starts < samples).all())
    assert int(starts[-1]) + max(frame, hop) >= samples  # no frame left out at the end
    torch.testing.assert_close(track.azimuth, torch.full_like(track.azimuth, 30.0))
    assert bool(torch.isfinite(track.times).all()) and float(track.times[-1]) <= samples / 1000


def test_track_rejects_bad_frames():
    with pytest.raises(ConfigError, match="hop_seconds"):
        direction_track(encode(NOISE, 0.0, 0.0), 1000, hop_seconds=0)
