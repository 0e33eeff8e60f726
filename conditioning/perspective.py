"""Perspective (gnomonic) crops of equirectangular panoramas.

Image backbones are trained on ordinary photographs; an ERP frame is badly stretched away from
the horizon. A crop renders what a pinhole camera looking at (azimuth, elevation) with a given
field of view would see, by sampling the panorama along each pixel's ray (bilinear, wrapping
across the ±180° seam). Geometry follows docs/conventions.md through :mod:`swansphere.spatial`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..spatial import cartesian_rotation, direction_to_erp


def crop_directions(yaws: int, elevations: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop centres: ``yaws`` azimuths evenly round each elevation, the first at the front.

    Returns (azimuth, elevation) in degrees, each ``(yaws * len(elevations),)`` float64,
    azimuths in (−180, 180].
    """
    if yaws < 1 or not elevations:
        raise ValueError("need at least one yaw and one elevation for the crops")
    azimuth = torch.arange(yaws, dtype=torch.float64) * (360.0 / yaws)
    azimuth = torch.where(azimuth > 180.0, azimuth - 360.0, azimuth)
    elevation = torch.as_tensor(list(elevations), dtype=torch.float64)
    return (azimuth.repeat(len(elevations)), elevation.repeat_interleave(yaws))


def _camera_rays(size: int, fov_degrees: float) -> torch.Tensor:
    """Unit rays ``(size, size, 3)`` (front x, left y, up z) of a camera looking to the front."""
    half = math.tan(math.radians(fov_degrees) / 2)
    steps = (2 * (torch.arange(size, dtype=torch.float64) + 0.5) / size - 1) * half
    down, right = torch.meshgrid(steps, steps, indexing="ij")
    rays = torch.stack([torch.ones_like(right), -right, -down], dim=-1)
    return rays / rays.norm(dim=-1, keepdim=True)


def perspective_grid(azimuth: torch.Tensor, elevation: torch.Tensor, fov_degrees: float,
                     size: int, width: int, height: int) -> torch.Tensor:
    """``grid_sample`` grid ``(crops, size, size, 2)`` for crops of a ``width × height`` ERP.

    The grid addresses the panorama padded by one wrapped column on each side (see
    :func:`perspective_crops`), so bilinear sampling is seamless at azimuth ±180°.
    """
    if not 0 < fov_degrees < 180:
        raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_degrees}")
    turn = (cartesian_rotation(yaw=azimuth) @ cartesian_rotation(pitch=elevation))
    world = torch.einsum("cij,hwj->chwi", turn, _camera_rays(size, fov_degrees))
    ray_azimuth = torch.rad2deg(torch.atan2(world[..., 1], world[..., 0]))
    ray_elevation = torch.rad2deg(torch.asin(world[..., 2].clamp(-1.0, 1.0)))
    x, y = direction_to_erp(ray_azimuth, ray_elevation, width, height)
    grid_x = 2 * (x + 1.5) / (width + 2) - 1   # +1: the wrapped column padded on the left
    grid_y = 2 * (y + 0.5) / height - 1
    return torch.stack([grid_x, grid_y], dim=-1).to(torch.float32)


def perspective_crops(frames: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Render crops: ``frames`` ``(n, channels, H, W)`` -> ``(n, crops, channels, S, S)``."""
    padded = torch.cat([frames[..., -1:], frames, frames[..., :1]], dim=-1)
    n, crops = frames.shape[0], grid.shape[0]
    channels = frames.shape[1]
    tiled = padded.unsqueeze(1).expand(-1, crops, -1, -1, -1).flatten(0, 1)
    sampled = F.grid_sample(tiled, grid.to(frames).repeat(n, 1, 1, 1), mode="bilinear",
                            padding_mode="border", align_corners=False)
    return sampled.view(n, crops, channels, *grid.shape[1:3])
