"""Spherical positional features: real spherical harmonics of a direction.

A panorama patch is placed by the direction it looks at, not by its row and column: the
features are smooth over the whole sphere, continuous across the ERP seam at azimuth ±180°,
and squeezed correctly at the poles. The harmonics use the AmbiX conventions (ACN order, SN3D,
no Condon–Shortley phase), so order 1 is exactly the plane-wave gains (W, Y, Z, X) of
:func:`swansphere.spatial.plane_wave_gains`, and a yaw of the scene mixes the features of each
order by the same rotation that turns the sound field.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..spatial.encoding import degrees_to_radians


def harmonics_count(order: int) -> int:
    """Number of real spherical harmonics up to ``order``: (order + 1)²."""
    return (order + 1) ** 2


def _legendre(order: int, x: torch.Tensor, cos_x: torch.Tensor) -> dict[tuple[int, int], Any]:
    """Associated Legendre functions P_l^m(x), 0 <= m <= l <= order, without CS phase.

    ``cos_x`` is sqrt(1 − x²) given directly (cos of the elevation), which stays exact at the
    poles.
    """
    p = {(0, 0): torch.ones_like(x)}
    for m in range(order + 1):
        if m > 0:
            p[(m, m)] = (2 * m - 1) * cos_x * p[(m - 1, m - 1)]
        if m + 1 <= order:
            p[(m + 1, m)] = (2 * m + 1) * x * p[(m, m)]
        for degree in range(m + 2, order + 1):
            p[(degree, m)] = ((2 * degree - 1) * x * p[(degree - 1, m)]
                              - (degree + m - 1) * p[(degree - 2, m)]) / (degree - m)
    return p


def spherical_harmonics(azimuth: Any, elevation: Any, order: int) -> torch.Tensor:
    """Real SN3D spherical harmonics in ACN order, ``(..., (order + 1)²)`` float64.

    ``azimuth``/``elevation`` are degrees (docs/conventions.md: azimuth counter-clockwise
    from the front, elevation up), scalars or arrays of one shape.
    """
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    azimuth, elevation = torch.broadcast_tensors(degrees_to_radians(azimuth),
                                                 degrees_to_radians(elevation))
    legendre = _legendre(order, torch.sin(elevation), torch.cos(elevation))
    features = []
    for degree in range(order + 1):
        for m in range(-degree, degree + 1):
            k = abs(m)
            norm = math.sqrt((2 - (k == 0)) * math.factorial(degree - k)
                             / math.factorial(degree + k))
            trig = torch.cos(k * azimuth) if m >= 0 else torch.sin(k * azimuth)
            features.append(norm * legendre[(degree, k)] * trig)
    return torch.stack(features, dim=-1)
