"""Converters between AmbiX and the first-order formats met at the edges (FuMa, N3D).

* FuMa (Furse-Malham): channel order W, X, Y, Z and W scaled by 1/√2 (-3 dB); X, Y, Z equal
  their SN3D values at first order.
* N3D: ACN order like AmbiX, but each degree-n channel is √(2n + 1) times its SN3D value, so
  Y, Z, X are √3 times larger and W is the same.

All functions take and return ``(..., 4, n)``; only the channel axis (-2) changes.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .foa import as_foa

_SQRT2 = math.sqrt(2.0)
_SQRT3 = math.sqrt(3.0)


def _n3d_gains(foa: torch.Tensor) -> torch.Tensor:
    """N3D / SN3D ratio per ACN channel, shaped to broadcast over ``(..., 4, n)``."""
    return torch.tensor([1.0, _SQRT3, _SQRT3, _SQRT3], dtype=foa.dtype, device=foa.device)[:, None]


def fuma_to_ambix(foa: Any) -> torch.Tensor:
    """FuMa (W, X, Y, Z; W × 1/√2) -> AmbiX (W, Y, Z, X; SN3D)."""
    w, x, y, z = as_foa(foa, name="FuMa audio").unbind(-2)
    return torch.stack([w * _SQRT2, y, z, x], dim=-2)


def ambix_to_fuma(foa: Any) -> torch.Tensor:
    """AmbiX (W, Y, Z, X; SN3D) -> FuMa (W, X, Y, Z; W × 1/√2)."""
    w, y, z, x = as_foa(foa).unbind(-2)
    return torch.stack([w / _SQRT2, x, y, z], dim=-2)


def n3d_to_sn3d(foa: Any) -> torch.Tensor:
    """ACN/N3D -> AmbiX (ACN/SN3D): first-order channels divided by √3."""
    foa = as_foa(foa, name="N3D audio")
    return foa / _n3d_gains(foa)


def sn3d_to_n3d(foa: Any) -> torch.Tensor:
    """AmbiX (ACN/SN3D) -> ACN/N3D: first-order channels multiplied by √3."""
    foa = as_foa(foa)
    return foa * _n3d_gains(foa)
