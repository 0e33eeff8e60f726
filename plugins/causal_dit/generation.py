"""Patch-by-patch generation with any sampler that has ``sample(velocity, noise, steps, g)``.

The loop is the paper's::

    state = backbone.init_state(batch, conditions)
    h, state = backbone.step(None, state)              # start token -> h_0
    for t in range(patches):
        patch_t = sampler.sample(guided velocity of h_t and the context, noise, steps, g)
        h, state = backbone.step(patch_t, state)       # LocEnc(patch_t) -> h_{t+1}

Guidance is the samplers' multi-condition guidance (:class:`GuidanceConfig`), evaluated as one
batched LocDiT call per velocity evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch

from swansphere.nn.conditions import Conditions
from swansphere.protocols import Velocity
from swansphere.samplers.config import GuidanceConfig
from swansphere.samplers.guidance import Condition

from .cache import CausalDiTState
from .model import CausalDiT


class PatchSampler(Protocol):
    def sample(self, velocity: Velocity, noise: torch.Tensor, steps: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor: ...


def patch_velocity(backbone: CausalDiT, h: torch.Tensor, context: torch.Tensor | None,
                   guidance: GuidanceConfig | None = None) -> Velocity:
    """``velocity(x, t)`` for one patch: guided if ``guidance`` is given, else fully
    conditional (``h`` and the context)."""
    model = backbone.guided_model(h, context)
    if guidance is not None:
        return guidance.wrap(model)

    def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(x, t, torch.full((x.shape[0],), int(Condition.ALL), device=x.device))

    return conditional


def generate_patch(backbone: CausalDiT, state: CausalDiTState, h: torch.Tensor,
                   sampler: PatchSampler, *, generator: torch.Generator | None = None,
                   steps: int | None = None,
                   guidance: GuidanceConfig | None = None) -> torch.Tensor:
    """Sample the patch ``(B, patch_frames, latent_dim)`` that ``h (B, width)`` stands for."""
    shape = (state.batch_size, backbone.patch_frames, backbone.latent_dim)
    device = backbone.start.device
    if generator is None:
        noise = torch.randn(shape, device=device)
    else:
        noise = torch.randn(shape, generator=generator, device=generator.device).to(device)
    velocity = patch_velocity(backbone, h, backbone.context(state), guidance)
    return sampler.sample(velocity, noise.to(backbone.start.dtype), steps, generator=generator)


def stream_patches(backbone: CausalDiT, sampler: PatchSampler, *,
                   conditions: Conditions | None = None, batch_size: int = 1,
                   generator: torch.Generator | None = None, steps: int | None = None,
                   guidance: GuidanceConfig | None = None) -> Iterator[torch.Tensor]:
    """Yield patches ``(B, patch_frames, latent_dim)`` forever (stop iterating to end).

    Inference mode is entered per patch, never across a ``yield`` (it is thread-local and
    would leak into the caller's code between patches).
    """
    with torch.inference_mode():
        state = backbone.init_state(batch_size, conditions)
        h, state = backbone.step(None, state)
    while True:
        with torch.inference_mode():
            patch = generate_patch(backbone, state, h[:, -1], sampler, generator=generator,
                                   steps=steps, guidance=guidance)
        yield patch  # before the next LM step: the first patch comes out as early as possible
        with torch.inference_mode():
            h, state = backbone.step(patch, state)


def generate(backbone: CausalDiT, sampler: PatchSampler, patches: int,
             **options: Any) -> torch.Tensor:
    """``patches`` patches as latents ``(B, patches·patch_frames, latent_dim)``; ``options``
    are those of :func:`stream_patches`."""
    stream = stream_patches(backbone, sampler, **options)
    return torch.cat([next(stream) for _ in range(patches)], dim=1)
