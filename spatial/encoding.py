"""Encode mono signals as AmbiX plane waves, for static and moving sources."""

from __future__ import annotations

import math
from typing import Any

import torch

from swansphere.errors import AudioFormatError

from .foa import as_float_tensor


def degrees_to_radians(angle: Any) -> torch.Tensor:
    """Degrees (scalar, array or tensor) -> float64 radians, so that trigonometry stays exact."""
    return torch.as_tensor(angle, dtype=torch.float64) * (math.pi / 180.0)


def unit_vectors(azimuth: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    """Directions in radians -> Cartesian unit vectors ``(..., 3)`` as (front x, left y, up z)."""
    cos_el = torch.cos(elevation)
    return torch.stack(
        torch.broadcast_tensors(cos_el * torch.cos(azimuth), cos_el * torch.sin(azimuth),
                                torch.sin(elevation)), dim=-1)


def plane_wave_gains(azimuth: Any, elevation: Any) -> torch.Tensor:
    """SN3D gains ``(..., 4)`` in ACN order (W, Y, Z, X) of plane waves from the given degrees.

    A plane wave from unit vector (x, y, z) has gains (1, y, z, x): W carries the signal and the
    first-order channels its projection on each axis.
    """
    direction = unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation))
    x, y, z = direction.unbind(-1)
    return torch.stack([torch.ones_like(x), y, z, x], dim=-1)


def encode(signal: Any, azimuth: Any, elevation: Any = 0.0) -> torch.Tensor:
    """Encode a mono signal ``(..., n)`` as a plane wave: AmbiX ``(..., 4, n)``.

    ``azimuth`` and ``elevation`` are degrees (azimuth counter-clockwise from the front, left is
    +90; elevation up positive), either scalars or per-sample arrays broadcastable to the
    signal's shape (a moving source). Floating torch tensors keep their dtype and device; other
    inputs give float32.
    """
    signal = as_float_tensor(signal)
    if signal.ndim == 0:
        raise AudioFormatError("signal must have a samples axis, shape (..., n); got a scalar")
    gains = plane_wave_gains(azimuth, elevation)  # (..., 4), the angles' shape in front
    # (..., 4, m): per-sample gains along the last axis, one column for static angles
    gains = gains.movedim(-1, -2) if gains.ndim > 1 else gains[:, None]
    gains = gains.to(device=signal.device, dtype=signal.dtype)
    try:
        return signal.unsqueeze(-2) * gains
    except RuntimeError as error:
        raise AudioFormatError(
            f"azimuth/elevation of shape {tuple(gains.shape[:-2]) + tuple(gains.shape[-1:])} "
            f"do not broadcast against the signal {tuple(signal.shape)}; give scalars or one "
            "angle per sample") from error
