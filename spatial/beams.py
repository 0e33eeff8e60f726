"""Steered first-order beams and the spherical energy map on the ERP grid.

A beam looking at unit vector u mixes ``g0·W + g1·(u_x X + u_y Y + u_z Z)``; for a plane wave
from angle γ off the look direction that is ``s·(g0 + g1 cos γ)``. The gains are normalised to
unit on-axis gain, so a map value is the power arriving from that direction:

* ``"cardioid"``: g0 = g1 = ½, a null straight behind;
* ``"max_re"``: the max-rE weighting ``1 + √3 cos γ`` (scaled), a narrower main lobe with a
  small rear lobe; the usual choice for first-order decoding.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

from swansphere.errors import ConfigError

from .encoding import degrees_to_radians, unit_vectors
from .erp import erp_grid
from .foa import validate_foa

BeamPattern = Literal["cardioid", "max_re"]
_PATTERNS: dict[str, tuple[float, float]] = {
    "cardioid": (0.5, 0.5),
    "max_re": (1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3))),
}


def beam_weights(azimuth: Any, elevation: Any, pattern: BeamPattern = "cardioid") -> torch.Tensor:
    """ACN weights ``(..., 4)`` (float64) of unit-gain beams steered to the given degrees."""
    directions = unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation))
    return steered_weights(directions, pattern)


def steered_weights(directions: torch.Tensor, pattern: BeamPattern = "cardioid") -> torch.Tensor:
    """ACN weights ``(..., 4)`` of unit-gain beams towards unit vectors ``(..., 3)`` (x, y, z)."""
    if pattern not in _PATTERNS:
        raise ConfigError(f"unknown beam pattern {pattern!r}; choose one of {sorted(_PATTERNS)}")
    omni, dipole = _PATTERNS[pattern]
    x, y, z = directions.unbind(-1)
    return torch.stack([torch.full_like(x, omni), dipole * y, dipole * z, dipole * x], dim=-1)


def energy_map(foa: Any, width: int = 64, height: int = 32,
               pattern: BeamPattern = "cardioid") -> torch.Tensor:
    """Mean beam power towards every pixel centre of a ``height × width`` ERP grid.

    Returns ``(..., height, width)`` in the input's dtype, oriented exactly like a panorama of
    that size (front in the middle column, left at W/4, up in row 0), so it overlays video
    frames; :func:`~swansphere.spatial.roll_panorama` turns it like a yaw rotation. For maps
    over time, frame the audio first, e.g. ``energy_map(foa.unfold(-1, hop, hop).movedim(-2,
    -3))`` for ``(4, n)`` audio gives one map per hop. Cost is independent of the clip length:
    the map is ``w·C·w`` with C the 4 × 4 channel covariance.
    """
    foa = validate_foa(foa)
    azimuth, elevation = erp_grid(width, height)
    weights = beam_weights(azimuth, elevation, pattern).to(device=foa.device)
    covariance = (foa.to(torch.float64) @ foa.to(torch.float64).transpose(-1, -2)) / foa.shape[-1]
    power = torch.einsum("hwi,...ij,hwj->...hw", weights, covariance, weights)
    return power.clamp(min=0).to(foa.dtype)
