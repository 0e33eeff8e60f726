"""Flow-matching helpers shared by the backbones: the latent grid a backbone declares, and
flow times and noise drawn from an explicit generator."""

from __future__ import annotations

from typing import Any

import torch

from .conditions import BackboneInputError


class LatentGrid:
    """A backbone's latent grid, read from its ``config``: what the pipeline checks against
    the codec (``latent_dim``, ``frame_rate``) and the frames per generated unit."""

    config: Any

    @property
    def patch_frames(self) -> int:
        return self.config.patch_frames

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def frame_rate(self) -> float:
        """Latent frames per second this backbone was configured for."""
        return self.config.latent_frame_rate

    def _unit_counts(self, lengths: Any, batch: int, count: int) -> torch.Tensor:
        """Whole units of ``patch_frames`` per item of a ragged batch (at most ``count``)."""
        lengths = torch.as_tensor(lengths)
        if lengths.shape != (batch,):
            raise BackboneInputError(f"lengths must have shape ({batch},), "
                                     f"got {tuple(lengths.shape)}")
        counts = (lengths.to(torch.long) // self.patch_frames).clamp(max=count)
        if (counts < 1).any():
            raise BackboneInputError(f"every item needs at least {self.patch_frames} latent "
                                     f"frames (one patch), got lengths {lengths.tolist()}")
        return counts



def batch_times(t: torch.Tensor | float, batch: int, like: torch.Tensor) -> torch.Tensor:
    """Flow time ``t`` (a scalar or ``(batch,)``) as a ``(batch,)`` tensor on ``like``'s device."""
    t = torch.as_tensor(t, device=like.device)
    if t.dim() == 0:
        return t.expand(batch)
    if t.shape != (batch,):
        raise BackboneInputError(f"t must be a scalar or have shape ({batch},), "
                                 f"got {tuple(t.shape)}")
    return t


def uniform(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    """Uniform [0, 1) draws from ``generator`` (on its own device), moved to ``device``."""
    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def normal(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None,
            device: torch.device) -> torch.Tensor:
    """Standard normal draws from ``generator`` (on its own device), moved to ``device``."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)

