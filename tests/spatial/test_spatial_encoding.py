"""Encoding: the AmbiX sign table, shapes, dtypes and moving sources."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from swansphere import AudioFormatError
from swansphere.spatial import CHANNELS, encode, plane_wave_gains, source_signal

# (azimuth, elevation) -> expected signs of (W, Y, Z, X); 0 means exactly zero
SIGN_TABLE = [
    ("front", 0, 0, (1, 0, 0, 1)),
    ("left", 90, 0, (1, 1, 0, 0)),
    ("right", -90, 0, (1, -1, 0, 0)),
    ("back", 180, 0, (1, 0, 0, -1)),
    ("up", 0, 90, (1, 0, 1, 0)),
    ("down", 0, -90, (1, 0, -1, 0)),
    ("front-left-up", 45, 30, (1, 1, 1, 1)),
]


@pytest.mark.parametrize(("label", "azimuth", "elevation", "signs"), SIGN_TABLE,
                         ids=[row[0] for row in SIGN_TABLE])
def test_sign_table(label, azimuth, elevation, signs):
    gains = plane_wave_gains(azimuth, elevation)
    for channel, gain, sign in zip(CHANNELS, gains.tolist(), signs, strict=True):
        if sign == 0:
            assert abs(gain) < 1e-12, f"{label}: {channel} should vanish"
        else:
            assert math.copysign(1, gain) == sign, f"{label}: {channel} has the wrong sign"


def test_gains_are_the_sn3d_formulas():
    az, el = math.radians(30), math.radians(-20)
    expected = [1, math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)]
    torch.testing.assert_close(plane_wave_gains(30, -20), torch.tensor(expected,
                                                                         dtype=torch.float64))


def test_encode_shapes_and_dtypes():
    signal = np.ones((3, 5), dtype=np.float64)
    foa = encode(signal, 90, 0)
    assert foa.shape == (3, 4, 5) and foa.dtype == torch.float32
    torch.testing.assert_close(foa[0, :, 0], torch.tensor([1.0, 1.0, 0.0, 0.0]))
    as64 = encode(torch.ones(5, dtype=torch.float64), 0.0, 0.0)
    assert as64.dtype == torch.float64


def test_moving_source_follows_per_sample_angles():
    signal = torch.ones(5)
    azimuth = np.array([90.0, 45.0, 0.0, -45.0, -90.0])
    foa = encode(signal, azimuth, 0.0)
    torch.testing.assert_close(foa[1], torch.sin(torch.deg2rad(torch.tensor(azimuth))).float())
    torch.testing.assert_close(foa[3], torch.cos(torch.deg2rad(torch.tensor(azimuth))).float())


def test_per_clip_angles_broadcast_over_a_batch():
    signal = torch.ones(2, 6)
    foa = encode(signal, torch.tensor([[90.0], [-90.0]]), 0.0)
    assert foa.shape == (2, 4, 6)
    assert foa[0, 1].min() > 0.99 and foa[1, 1].max() < -0.99


def test_encode_rejects_mismatched_angles():
    with pytest.raises(AudioFormatError, match="broadcast"):
        encode(torch.ones(10), torch.zeros(7), 0.0)
    with pytest.raises(AudioFormatError, match="samples axis"):
        encode(torch.tensor(1.0), 0.0, 0.0)


@pytest.mark.parametrize("kind", ["noise", "sine", "chirp"])
def test_source_signals_have_the_documented_level(kind):
    signal = source_signal(kind, 0.5, 8000, generator=torch.Generator().manual_seed(1))
    assert signal.shape == (4000,) and signal.dtype == torch.float32
    assert float(signal.square().mean().sqrt()) == pytest.approx(0.1, rel=0.05)
