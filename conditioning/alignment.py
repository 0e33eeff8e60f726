"""Causal time alignment of video frames to latent patches.

A generated patch may only see video that exists when its audio is due: patch ``t`` covers
latent frames ``[t·P, (t+1)·P)``, i.e. seconds ``[t·P/r, (t+1)·P/r)`` at latent rate ``r``, and it
uses the **latest frame whose timestamp is at or before the patch's end time**. At the start of
a stream, or during a gap, no frame may have arrived: the index is then -1 and the caller
substitutes its learned "no video" embedding. Frames need not be uniform (live cameras drop
frames); per item they must be in non-decreasing time order.

This differs from the reference code's ``floor(t·T_vid/T_aud)`` copy only at patch starts that
fall between frames; it is strictly causal and works on streams whose length is unknown.
"""

from __future__ import annotations

import torch

TOLERANCE_SECONDS = 1e-9
"""Timestamps within this of a patch end count as arrived (absorbs float rounding)."""


def frame_times(num_frames: int, fps: float, start: float = 0.0, *,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Timestamps ``start + k/fps`` (float64 seconds) of uniformly sampled frames."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return start + torch.arange(num_frames, dtype=torch.float64, device=device) / fps


def patch_end_times(first_patch: int, num_patches: int, patch_frames: int,
                    latent_frame_rate: float, *,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """End times (float64 seconds) of patches ``first_patch .. first_patch + num_patches - 1``."""
    ends = torch.arange(first_patch + 1, first_patch + num_patches + 1, dtype=torch.float64,
                        device=device)
    return ends * patch_frames / latent_frame_rate


def causal_frame_index(times: torch.Tensor, end_times: torch.Tensor,
                       valid: torch.Tensor | None = None) -> torch.Tensor:
    """Index ``(batch, patches)`` of the latest frame at or before each patch end, -1 if none.

    The batch axis is 1 when ``times`` is shared and ``valid`` is not given.

    Args:
        times: frame timestamps in seconds, ``(frames,)`` shared by the batch or
            ``(batch, frames)``; non-decreasing along the frame axis.
        end_times: patch end times ``(patches,)`` in seconds (:func:`patch_end_times`).
        valid: optional ``(batch, frames)`` bool; frames marked False never count (padding of
            a ragged batch, or absent video).
    """
    times = times.to(torch.float64)
    if times.dim() == 1:
        times = times.unsqueeze(0)
    if valid is not None:
        times = times.expand(valid.shape[0], -1)
    arrived = times.unsqueeze(1) <= end_times.to(times).unsqueeze(-1) + TOLERANCE_SECONDS
    if valid is not None:
        arrived = arrived & valid.unsqueeze(1)
    if times.shape[-1] == 0:
        return torch.full(arrived.shape[:2], -1, dtype=torch.long, device=times.device)
    frame_numbers = torch.arange(times.shape[-1], device=times.device)
    return torch.where(arrived, frame_numbers, -1).amax(dim=-1)


def gather_aligned(features: torch.Tensor, index: torch.Tensor,
                   missing: torch.Tensor) -> torch.Tensor:
    """Per-patch features ``(batch, patches, dim)`` from frames ``(batch, frames, dim)``.

    ``missing`` ``(dim,)`` fills patches whose index is -1 (no frame has arrived yet).
    """
    safe = index.clamp(min=0)
    if features.shape[1] == 0:
        picked = missing.expand(*index.shape, -1)
    else:
        picked = torch.gather(features, 1,
                              safe.unsqueeze(-1).expand(-1, -1, features.shape[-1]))
    return torch.where((index >= 0).unsqueeze(-1), picked, missing.to(picked))
