"""Rotations of the sound field by yaw, pitch and roll (docs/conventions.md).

Axes are fixed: x to the front, y to the left, z up. Yaw δ turns about z (a source at azimuth
a moves to a + δ), pitch δ turns about y so that a source in front rises by δ, roll δ turns
about x so that a source on the left rises by δ. They apply in the order yaw, pitch, roll:
``R = R_roll @ R_pitch @ R_yaw``. W is unchanged; (X, Y, Z) turn like a direction vector.
"""

from __future__ import annotations

from typing import Any

import torch

from .encoding import degrees_to_radians
from .foa import as_foa

_ACN_FROM_XYZ = (1, 2, 0)  # ACN channels Y, Z, X are the Cartesian axes y, z, x


def _axis_rotation(angle: torch.Tensor, axis: int) -> torch.Tensor:
    """Counter-clockwise (right-handed) rotation about a Cartesian axis, ``(..., 3, 3)``."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, cos, -sin], [zero, sin, cos]]
    elif axis == 1:
        rows = [[cos, zero, sin], [zero, one, zero], [-sin, zero, cos]]
    else:
        rows = [[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def cartesian_rotation(yaw: Any = 0.0, pitch: Any = 0.0, roll: Any = 0.0) -> torch.Tensor:
    """The 3 × 3 rotation (float64) acting on direction vectors (front x, left y, up z).

    Angles in degrees, scalars or broadcastable arrays (a batch of rotations gives
    ``(..., 3, 3)``). Pitch is a right-handed turn about y by −δ, because a right-handed turn
    about the left axis lowers the front.
    """
    yaw, pitch, roll = torch.broadcast_tensors(
        degrees_to_radians(yaw), degrees_to_radians(pitch), degrees_to_radians(roll))
    return _axis_rotation(roll, 0) @ _axis_rotation(-pitch, 1) @ _axis_rotation(yaw, 2)


def rotation_matrix(yaw: Any = 0.0, pitch: Any = 0.0, roll: Any = 0.0, *,
                    dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """The 4 × 4 AmbiX (ACN, SN3D) rotation matrix: ``rotation_matrix(...) @ foa`` rotates.

    Angles in degrees, as in :func:`rotate`; arrays of angles give a batch ``(..., 4, 4)``.
    Matrices compose by multiplication: rotating by A then by B is ``M_B @ M_A``.
    """
    return ambix_matrix(cartesian_rotation(yaw, pitch, roll)).to(dtype=dtype, device=device)


def ambix_matrix(cartesian: torch.Tensor) -> torch.Tensor:
    """The AmbiX matrix ``(..., 4, 4)`` of rotations ``(..., 3, 3)`` of direction vectors
    (front x, left y, up z): W stays, (Y, Z, X) turn as (y, z, x) do."""
    matrix = cartesian.new_zeros((*cartesian.shape[:-2], 4, 4))
    matrix[..., 0, 0] = 1.0
    order = list(_ACN_FROM_XYZ)
    matrix[..., 1:, 1:] = cartesian[..., order, :][..., :, order]
    return matrix


def rotation_between(source: torch.Tensor, target: torch.Tensor,
                     fraction: float = 1.0) -> torch.Tensor:
    """The shortest rotations ``(..., 3, 3)`` that turn unit vectors ``source`` ``(..., 3)``
    towards ``target``, by ``fraction`` of the angle between them (1: onto it).

    The axis is ``source × target``; opposite vectors have no shortest turn, so they turn
    about a horizontal axis at right angles to ``source`` (about y for a vector on the z
    axis). Rodrigues' formula, in the vectors' dtype.
    """
    axis = torch.linalg.cross(source, target, dim=-1)
    sine = axis.norm(dim=-1, keepdim=True)
    angle = torch.atan2(sine, (source * target).sum(-1, keepdim=True)) * fraction
    fallback = torch.linalg.cross(source, source.new_tensor([0.0, 0.0, 1.0]).expand_as(source),
                                  dim=-1)
    on_pole = fallback.norm(dim=-1, keepdim=True) < 1e-9
    fallback = torch.where(on_pole, source.new_tensor([0.0, 1.0, 0.0]).expand_as(source),
                           fallback)
    axis = torch.where(sine > 1e-12, axis, fallback)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([torch.stack([zero, -z, y], -1), torch.stack([z, zero, -x], -1),
                         torch.stack([-y, x, zero], -1)], -2)
    angle = angle[..., None]
    identity = torch.eye(3, dtype=source.dtype, device=source.device)
    return identity + torch.sin(angle) * cross + (1 - torch.cos(angle)) * (cross @ cross)


def rotate(foa: Any, yaw: Any = 0.0, pitch: Any = 0.0, roll: Any = 0.0) -> torch.Tensor:
    """Rotate AmbiX ``(..., 4, n)`` by yaw, pitch and roll in degrees (see the module doc).

    Angles may be tensors broadcastable to the batch shape, e.g. ``yaw`` of shape ``(batch,)``
    for one rotation per clip of a ``(batch, 4, n)`` tensor. Differentiable in ``foa``.
    """
    foa = as_foa(foa)
    matrix = rotation_matrix(yaw, pitch, roll, dtype=foa.dtype, device=foa.device)
    return matrix @ foa
