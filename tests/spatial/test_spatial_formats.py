"""FuMa and N3D converters."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from swansphere.spatial import (
    ambix_to_fuma,
    direction,
    encode,
    fuma_to_ambix,
    n3d_to_sn3d,
    sn3d_to_n3d,
)

samples = arrays("float32", (4, 16),
                 elements=st.floats(-4, 4, width=32, allow_subnormal=False))


def test_fuma_layout_and_w_gain():
    fuma = ambix_to_fuma(encode(torch.ones(1), 90.0, 0.0))  # a source on the left
    torch.testing.assert_close(fuma[:, 0], torch.tensor([1 / math.sqrt(2), 0.0, 1.0, 0.0]))


def test_n3d_gains():
    n3d = sn3d_to_n3d(encode(torch.ones(1), 0.0, 90.0))  # a source straight up
    torch.testing.assert_close(n3d[:, 0], torch.tensor([1.0, 0.0, math.sqrt(3), 0.0]))


@settings(max_examples=30)
@given(samples)
def test_fuma_round_trip_is_exact(values):
    foa = torch.from_numpy(values)
    back = fuma_to_ambix(ambix_to_fuma(foa))
    assert torch.equal(back[1:], foa[1:])  # Y, Z, X are only reordered: bit-exact
    torch.testing.assert_close(back[0], foa[0], rtol=2**-23, atol=0)  # W: one rounding of √2
    torch.testing.assert_close(ambix_to_fuma(fuma_to_ambix(foa)), foa, rtol=2**-23, atol=0)


@settings(max_examples=30)
@given(samples)
def test_n3d_round_trip(values):
    foa = torch.from_numpy(values)
    torch.testing.assert_close(n3d_to_sn3d(sn3d_to_n3d(foa)), foa, rtol=2**-22, atol=0)
    torch.testing.assert_close(sn3d_to_n3d(n3d_to_sn3d(foa)), foa, rtol=2**-22, atol=0)


def test_converted_fuma_keeps_the_direction():
    noise = torch.randn(256, generator=torch.Generator().manual_seed(3))
    foa = encode(noise, -60.0, 20.0)
    azimuth, elevation = direction(fuma_to_ambix(ambix_to_fuma(foa)))
    assert abs(float(azimuth) + 60) < 1e-3 and abs(float(elevation) - 20) < 1e-3
