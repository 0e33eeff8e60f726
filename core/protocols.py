"""Structural interfaces of the components; any object that fits works.

Streaming follows one pattern everywhere: state is explicit, never hidden in modules::

    state = component.init_<x>_state(batch_size)
    out, state = component.<x>_step(chunk, state)

States are plain objects that can be copied (snapshot/restore) and stay bounded in memory on
unbounded streams. ``lookahead`` says how far (in input units) an output may depend on future
input; 0 means strictly causal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``velocity(x, t)`` with ``t`` of shape ``(batch,)``: the rectified-flow velocity at time t."""


@runtime_checkable
class LatentCodec(Protocol):
    """FOA waveform ``(batch, 4, samples)`` <-> continuous latents ``(batch, frames, dim)``."""

    @property
    def sample_rate(self) -> int: ...
    @property
    def hop_length(self) -> int: ...
    @property
    def latent_dim(self) -> int: ...
    @property
    def frame_rate(self) -> float: ...
    @property
    def lookahead(self) -> int: ...

    def encode(self, audio: torch.Tensor) -> torch.Tensor: ...
    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...
    def init_encode_state(self, batch_size: int) -> Any: ...
    def encode_step(self, audio_chunk: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...
    def init_decode_state(self, batch_size: int) -> Any: ...
    def decode_step(self, latent_chunk: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...


@runtime_checkable
class Conditioner(Protocol):
    """Text or video conditioning: ``prepare`` runs on the CPU (data-loader side), ``forward``
    on the model's device; ``null`` gives the learned embedding for an absent modality."""

    @property
    def modality(self) -> str: ...
    @property
    def dim(self) -> int: ...

    def prepare(self, raw: Any) -> Any: ...
    def forward(self, prepared: Any) -> Any: ...
    def null(self, batch_size: int) -> Any: ...


@runtime_checkable
class CausalBackbone(Protocol):
    """The autoregressive model: one token ``h_t`` per latent patch, then a local velocity."""

    @property
    def patch_frames(self) -> int: ...

    def init_state(self, batch_size: int, conditions: Any) -> Any: ...
    def step(self, previous_patch: torch.Tensor | None, state: Any) -> tuple[torch.Tensor, Any]: ...
    def velocity(self, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor,
                 context: torch.Tensor) -> torch.Tensor: ...
    def loss(self, latents: torch.Tensor, conditions: Any, generator: torch.Generator | None
             = None) -> torch.Tensor: ...


@runtime_checkable
class Sampler(Protocol):
    """k-diffusion style solver: a function of a velocity field, noise and a step count.

    Integrates from t = 0 (noise) to t = 1 (data); holds no state between calls; ``nfe`` of the
    result of :meth:`sample` is reported by the sampler's return or counters it documents.
    """

    def sample(self, velocity: Velocity, noise: torch.Tensor, steps: int,
               generator: torch.Generator | None = None) -> torch.Tensor: ...


@runtime_checkable
class Reward(Protocol):
    """Scores generated FOA against its conditions; higher is better, shape ``(batch,)``."""

    @property
    def name(self) -> str: ...

    def __call__(self, audio: torch.Tensor, sample_rate: int, conditions: Any) -> torch.Tensor: ...


@runtime_checkable
class PreferenceOptimizer(Protocol):
    """Post-training from preferences between candidates the current model generates."""

    def step(self, batch: Any) -> dict[str, float]: ...
