"""Fixtures of the spatial toolkit tests: a synthetic SOFA HRIR set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

SYNTHETIC_TAPS = 32


def synthetic_hrirs(azimuth: np.ndarray, elevation: np.ndarray, oversampling: int = 1
                    ) -> np.ndarray:
    """HRIRs ``(directions, 2, taps)`` that are a pure gain and delay per ear.

    The ear facing the source (lateral component ``y`` towards +1 for the left ear) gets gain
    1 + 0.8·y and delay 4·(1 − y) samples at 16 kHz: louder and earlier, like a head shadow.
    ``oversampling`` describes the same set at a multiple of 16 kHz.
    """
    lateral = np.sin(np.radians(azimuth)) * np.cos(np.radians(elevation))
    ir = np.zeros((len(azimuth), 2, SYNTHETIC_TAPS * oversampling))
    for index, y in enumerate(lateral):
        for ear, side in ((0, 1.0), (1, -1.0)):
            ir[index, ear, oversampling * round(4 * (1 - side * y))] = 1 + 0.8 * side * y
    return ir


@pytest.fixture
def write_sofa(tmp_path: Path) -> Callable[..., Path]:
    """Write a SimpleFreeFieldHRIR file; options swap the ears, use Cartesian positions, or
    add a per-ear broadband delay, to exercise the reader's conversions."""

    def write(name: str = "synthetic.sofa", oversampling: int = 1, *,
              right_ear_first: bool = False, cartesian: bool = False,
              delay: tuple[int, int] = (0, 0)) -> Path:
        azimuth, elevation = np.meshgrid(np.arange(0, 360, 15.0), np.arange(-90, 91, 30.0))
        azimuth, elevation = azimuth.ravel(), elevation.ravel()
        ir = synthetic_hrirs(azimuth, elevation, oversampling)
        receivers = np.array([[0, 0.09, 0], [0, -0.09, 0]], dtype=float)[..., None]
        if right_ear_first:
            ir, receivers = ir[:, ::-1], receivers[::-1]
        positions = np.stack([azimuth, elevation, np.full_like(azimuth, 1.2)], axis=-1)
        if cartesian:
            az, el = np.radians(azimuth), np.radians(elevation)
            positions = 1.2 * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                                        np.sin(el)], axis=-1)
        path = tmp_path / name
        with h5py.File(path, "w") as sofa:
            sofa.attrs["Conventions"] = "SOFA"
            sofa.attrs["SOFAConventions"] = "SimpleFreeFieldHRIR"
            sofa["Data.IR"] = ir
            sofa["Data.SamplingRate"] = np.array([16000.0 * oversampling])
            sofa["Data.Delay"] = np.array([delay], dtype=float)
            sofa["ReceiverPosition"] = receivers
            source = sofa.create_dataset("SourcePosition", data=positions)
            source.attrs["Type"] = "cartesian" if cartesian else "spherical"
            source.attrs["Units"] = "metre" if cartesian else "degree, degree, metre"
        return path

    return write
