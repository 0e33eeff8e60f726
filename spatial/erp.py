"""Equirectangular (ERP) panorama geometry, aligned with the sound field (docs/conventions.md).

The image centre is the front. Pixel centre (x + ½, y + ½) of a W × H panorama looks at

    az = π(1 − 2(x + ½)/W),   el = π/2 − π(y + ½)/H

so the left quarter of the image is azimuth +90° and the top row is up. Azimuth grows to the
left, so yawing the sound field by δ moves everything −δ·W/360 columns: :func:`roll_panorama`
does exactly that to the pictures.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from swansphere.errors import ConfigError

ASPECT_TOLERANCE = 0.02
"""Relative deviation from 2:1 that a frame may have and still count as equirectangular."""


def is_panorama(width: int, height: int) -> bool:
    """Whether a ``width`` × ``height`` frame is a 2:1 equirectangular panorama (within
    :data:`ASPECT_TOLERANCE`)."""
    return height > 0 and abs(width / (2 * height) - 1) <= ASPECT_TOLERANCE


_INTEGER_SHIFT_TOLERANCE = 1e-6  # columns; shifts closer than this to an integer roll exactly


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ConfigError(f"panorama size must be positive; got width={width}, height={height}")


def erp_to_direction(x: Any, y: Any, width: int,
                     height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates -> (azimuth, elevation) in degrees, as float64 tensors.

    Integer (x, y) are pixel centres; fractional coordinates address points between them.
    """
    _check_size(width, height)
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    return 180.0 * (1 - 2 * (x + 0.5) / width), 90.0 - 180.0 * (y + 0.5) / height


def direction_to_erp(azimuth: Any, elevation: Any, width: int,
                     height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(Azimuth, elevation) in degrees -> pixel coordinates (x, y), as float64 tensors.

    The inverse of :func:`erp_to_direction`: x is wrapped to [0, W) (azimuths are periodic),
    y runs from −½ (el = +90°) to H − ½ (el = −90°). The pixel containing a direction is
    ``floor(x + ½) % W, floor(y + ½)`` (clamped to H − 1 at the bottom pole).
    """
    _check_size(width, height)
    azimuth = torch.as_tensor(azimuth, dtype=torch.float64)
    elevation = torch.as_tensor(elevation, dtype=torch.float64)
    x = torch.remainder(width * (1 - azimuth / 180.0) / 2 - 0.5, width)
    x = torch.where(x >= width, x - width, x)  # remainder(-tiny, W) rounds up to W itself
    y = height * (0.5 - elevation / 180.0) - 0.5
    return x, y


def erp_grid(width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Directions of all pixel centres: (azimuth, elevation) in degrees, each ``(H, W)``."""
    _check_size(width, height)
    columns = torch.arange(width, dtype=torch.float64)
    rows = torch.arange(height, dtype=torch.float64)
    azimuth, elevation = erp_to_direction(columns, rows, width, height)
    return torch.broadcast_tensors(azimuth[None, :], elevation[:, None])


def yaw_to_columns(yaw: float, width: int) -> float:
    """Columns to roll a panorama of ``width`` for a sound-field yaw of ``yaw`` degrees."""
    return -yaw * width / 360.0


def roll_panorama(frames: Any, yaw: float, *, axis: int = -1) -> Any:
    """Turn a panorama (or a batch / video of them) the way :func:`rotate` turns the sound.

    ``frames`` is a torch tensor or numpy array whose ``axis`` is the image width: the default
    ``axis=-1`` suits ``(..., H, W)`` and torch's ``(..., C, H, W)``; pass ``axis=-2`` for
    channels-last ``(..., H, W, C)`` arrays. The content moves by ``−yaw·W/360`` columns (a
    source at azimuth a lands where azimuth a + yaw is drawn). Whole-column shifts are exact
    rolls; fractional shifts interpolate linearly between the two nearest rolls (integer
    dtypes are rounded back). Returns the same type, dtype and device.
    """
    is_numpy = not isinstance(frames, torch.Tensor)
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if is_numpy else frames
    if tensor.ndim < 2:
        raise ConfigError(f"panorama frames need at least 2 dimensions (H, W); got shape "
                          f"{tuple(tensor.shape)}")
    shift = yaw_to_columns(float(yaw), tensor.shape[axis])
    whole = math.floor(shift)
    fraction = shift - whole
    if fraction < _INTEGER_SHIFT_TOLERANCE or 1 - fraction < _INTEGER_SHIFT_TOLERANCE:
        rolled = torch.roll(tensor, round(shift), dims=axis)
    else:
        rolled = _interpolated_roll(tensor, whole, fraction, axis)
    return rolled.numpy() if is_numpy else rolled


def _interpolated_roll(tensor: torch.Tensor, whole: int, fraction: float,
                       axis: int) -> torch.Tensor:
    """Periodic linear interpolation between the rolls by ``whole`` and ``whole + 1``."""
    values = tensor if tensor.is_floating_point() else tensor.to(torch.float64)
    mixed = ((1 - fraction) * torch.roll(values, whole, dims=axis)
             + fraction * torch.roll(values, whole + 1, dims=axis))
    if tensor.is_floating_point():
        return mixed
    return mixed.round().to(tensor.dtype)
