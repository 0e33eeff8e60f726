"""AmbiX channel layout and the shared input checks.

Every function of :mod:`swansphere.spatial` takes FOA as ``(..., 4, samples)`` in ACN order
W, Y, Z, X with SN3D normalisation (docs/conventions.md). Floating torch tensors keep their
dtype and device; numpy arrays, lists and integer tensors become float32 torch tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from swansphere.errors import AudioFormatError

CHANNELS = ("W", "Y", "Z", "X")
"""AmbiX (ACN) channel order."""

W, Y, Z, X = range(4)
"""Channel indices in ACN order."""


def as_float_tensor(value: Any) -> torch.Tensor:
    """A floating torch tensor: floating tensors pass through, anything else becomes float32."""
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.to(torch.float32)
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise AudioFormatError(f"expected real numbers, got an array of dtype {array.dtype}; "
                               "pass a float tensor or numpy array")
    return torch.as_tensor(array, dtype=torch.float32)


def as_foa(foa: Any, *, name: str = "FOA audio") -> torch.Tensor:
    """Convert and check the shape ``(..., 4, samples)`` only (cheap: no device sync)."""
    tensor = as_float_tensor(foa)
    if tensor.ndim < 2 or tensor.shape[-2] != 4:
        raise AudioFormatError(
            f"{name} must have shape (..., 4, samples) in AmbiX order W,Y,Z,X; got "
            f"{tuple(tensor.shape)} (transpose (samples, 4) arrays with .T)")
    return tensor


def validate_foa(foa: Any, *, ndim: int | None = None, name: str = "FOA audio") -> torch.Tensor:
    """Check FOA input and return it as a floating tensor.

    Raises :class:`~swansphere.errors.AudioFormatError` (one line saying what to do) when the
    shape is not ``(..., 4, samples)`` (or not ``ndim`` dimensions when given), when there are
    no samples, or when any sample is NaN or infinite.
    """
    tensor = as_foa(foa, name=name)
    if ndim is not None and tensor.ndim != ndim:
        expected = "(4, samples)" if ndim == 2 else f"{ndim} dimensions ending in (4, samples)"
        raise AudioFormatError(f"{name} must have shape {expected}; got {tuple(tensor.shape)} "
                               "(pass one clip at a time)")
    return check_samples(tensor, name=name)


def check_samples(tensor: torch.Tensor, *, name: str = "audio") -> torch.Tensor:
    """Raise :class:`~swansphere.errors.AudioFormatError` for no samples or NaN/Inf samples."""
    if tensor.shape[-1] == 0:
        raise AudioFormatError(f"{name} has no samples; give at least one sample per channel")
    # one reduction first (NaN and Inf propagate through a sum); the exact check only if needed
    if not bool(torch.isfinite(tensor.sum())) and not bool(torch.isfinite(tensor).all()):
        raise AudioFormatError(f"{name} contains NaN or infinite samples; "
                               "fix the source (e.g. torch.nan_to_num) before using it")
    return tensor
