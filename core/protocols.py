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
    """FOA waveform ``(batch, 4, samples)`` <-> continuous latents ``(batch, frames, dim)``.

    ``encode`` gives ``samples // hop_length`` frames (a trailing partial hop is dropped, as a
    stream would still hold it); ``decode`` gives ``frames * hop_length`` samples. The streaming
    forms give the same values for any chunking: ``encode_step`` takes chunks of any sample
    count and buffers what does not fill a hop; ``decode_step`` takes any number of frames.
    ``lookahead`` (samples) and ``decode_lookahead`` (latent frames) say how far an output may
    depend on future input; 0 is strictly causal. ``swansphere.testing.streaming`` checks all
    of this (``CodecConformanceSuite``). A codec whose round trip lags its input (an
    overlap-add transform) may say by how many samples in an optional ``delay`` attribute;
    tools that compare ``decode(encode(x))`` with ``x`` read it with ``getattr(codec,
    "delay", 0)``. Optionally, ``skip_decode(latent_chunk, state) -> state`` is the state
    ``decode_step`` leaves without its audio (cheaper): a pipeline primes a stream's decoder
    with it where it exists, and the conformance suite checks that the two agree. A codec
    whose latents carry no phases may offer ``phase_guide(audio) -> (batch, frames, k) |
    None`` (a recording's phases, framed as ``encode`` frames) and
    ``guided_decode_step(latent_chunk, state, guide) -> (audio, state)`` (``decode_step``
    with those phases where the guide is not NaN): a pipeline with ``exemplar_phases``
    decodes an anchored stream with its prompt's, and the conformance suite checks that a NaN
    guide decodes as ``decode_step`` does, whatever the chunking.
    """

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
    @property
    def decode_lookahead(self) -> int: ...

    def encode(self, audio: torch.Tensor) -> torch.Tensor: ...
    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...
    def init_encode_state(self, batch_size: int) -> Any: ...
    def encode_step(self, audio_chunk: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...
    def init_decode_state(self, batch_size: int) -> Any: ...
    def decode_step(self, latent_chunk: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...


@runtime_checkable
class Conditioner(Protocol):
    """Text or video conditioning: ``prepare`` runs on the CPU (data-loader side), ``forward``
    on the model's device; ``null`` gives the learned embedding for an absent modality.

    ``modality`` is ``"text"`` or ``"video"``; ``dim`` the width of the output tokens.
    ``prepare(raw)`` takes a batch of raw inputs (captions; decoded frames with timestamps),
    where ``None`` marks an item without that modality. ``forward`` and ``null(batch_size)``
    return :class:`swansphere.conditioning.ConditionTokens`: tokens ``(batch, length, dim)``,
    a ``(batch, length)`` bool mask (True for real tokens) and, for video, float64 timestamps
    ``(batch, length)`` in seconds; items without the modality get the learned null tokens.

    Optional: ``precompute(prepared) -> prepared`` runs a frozen part (a pretrained encoder)
    ahead of time and keeps its output in the prepared batch, so that a training set encoded
    at every step pays for it once; ``forward`` must give the same tokens with or without it.

    Video conditioners also stream (docs/architecture.md): ``init_state(batch_size)`` and
    ``step(frames, state) -> (tokens, state)`` with ``lookahead == 0``: the token of a frame
    never depends on later frames, and any chunking of a stream gives the offline tokens
    (``swansphere.testing.streaming`` checks it).
    """

    @property
    def modality(self) -> str: ...
    @property
    def dim(self) -> int: ...

    def prepare(self, raw: Any) -> Any: ...
    def forward(self, prepared: Any) -> Any: ...
    def null(self, batch_size: int) -> Any: ...


@runtime_checkable
class VideoConditioner(Conditioner, Protocol):
    """A :class:`Conditioner` of ``modality == "video"`` that also streams.

    ``frame_rate`` is the rate it samples a video at (a file is decoded at this rate; a clip
    without a duration lasts until one frame interval after its last frame).
    ``init_state(batch_size)`` and ``step(prepared, state) -> (tokens, state)`` give, for any
    chunking of a stream, the tokens of the whole stream at once; ``lookahead`` is 0.
    """

    @property
    def frame_rate(self) -> float: ...
    @property
    def lookahead(self) -> int: ...

    def init_state(self, batch_size: int) -> Any: ...
    def step(self, prepared: Any, state: Any) -> tuple[Any, Any]: ...


@runtime_checkable
class CausalBackbone(Protocol):
    """The autoregressive model: one token ``h_t`` per latent patch, then a local velocity.

    A patch is ``patch_frames`` latent frames; the velocity of patch ``t`` depends on ``h_t``
    and on up to ``context_patches`` previous patches. Generation, with explicit state (``step``
    may consume the state it gets, writing into its buffers: ``copy.deepcopy`` a state to
    return to it or branch from it)::

        state = backbone.init_state(batch_size, conditions)
        h, state = backbone.step(None, state)                 # the start token: h_0
        while ...:
            model = backbone.guided_model(h[:, -1], backbone.context(state))
            patch = sampler.sample(guidance.wrap(model), noise, steps, generator)
            h, state = backbone.step(patch, state)            # h_{t+1}

    ``make_conditions(text=, video=)`` turns conditioner outputs
    (:class:`swansphere.conditioning.ConditionTokens`) into ``conditions``, the backbone's own
    frozen conditions type (text tokens, timestamped
    video features; ``None`` = unconditional); live video arrives through ``push_video``
    (every frame stamped at or before a patch's end time before that patch's ``step``).
    ``step`` also takes several patches at once, ``(B, n·patch_frames, latent_dim)``, and then
    returns ``h`` for the next ``n`` patches, ``(B, n, h_dim)``: streamed equals teacher-forced.
    Optionally, ``prime(state, prompt)`` is ``step(None, state)`` then ``step(prompt, ...)`` in
    one pass (``h`` ``(B, 1 + n, h_dim)``); the pipeline primes a stream with it where it exists.
    ``guided_model(h, context)(x, t, condition)`` follows
    :mod:`swansphere.samplers.guidance`: ``NONE`` rows see neither ``h`` nor the context,
    ``FIRST`` rows the context only, ``ALL`` rows both. ``lookahead`` is 0: ``h_t`` never sees a
    later patch or a video frame after patch ``t`` ends.
    """

    @property
    def patch_frames(self) -> int: ...
    @property
    def latent_dim(self) -> int: ...
    @property
    def frame_rate(self) -> float: ...
    @property
    def context_patches(self) -> int: ...
    @property
    def h_dim(self) -> int: ...
    @property
    def lookahead(self) -> int: ...

    def make_conditions(self, text: Any = None, video: Any = None) -> Any: ...
    def init_state(self, batch_size: int, conditions: Any = None) -> Any: ...
    def push_video(self, state: Any, features: torch.Tensor, times: torch.Tensor) -> Any: ...
    def step(self, previous_patch: torch.Tensor | None, state: Any) -> tuple[torch.Tensor, Any]: ...
    def context(self, state: Any) -> torch.Tensor: ...
    def velocity(self, x: torch.Tensor, t: torch.Tensor, h: torch.Tensor | None,
                 context: torch.Tensor | None = None) -> torch.Tensor: ...
    def guided_model(self, h: torch.Tensor, context: torch.Tensor | None = None
                     ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]: ...
    def hidden_states(self, latents: torch.Tensor, conditions: Any = None) -> torch.Tensor: ...
    def loss(self, latents: torch.Tensor, conditions: Any = None,
             generator: torch.Generator | None = None) -> torch.Tensor: ...


@runtime_checkable
class WholeClipBackbone(Protocol):
    """A model that samples a whole clip at once (the global-DiT baseline): it cannot stream,
    so it is a kind of its own (``clip_backbone``), not a :class:`CausalBackbone`.

    ``generate(frames, conditions, sampler=, generator=, w1=, w2=)`` returns latents
    ``(1, frames, latent_dim)`` in inference mode, with the paper's guidance weights (a model
    without an audio context may ignore ``w1``); ``loss`` is its training loss;
    ``make_conditions`` and ``frame_rate`` are as for :class:`CausalBackbone`.
    """

    @property
    def latent_dim(self) -> int: ...
    @property
    def frame_rate(self) -> float: ...

    def make_conditions(self, text: Any = None, video: Any = None) -> Any: ...
    def generate(self, frames: int, conditions: Any = None, *, sampler: Any,
                 generator: torch.Generator | None = None, w1: float = 1.4,
                 w2: float = 3.0) -> torch.Tensor: ...
    def loss(self, latents: torch.Tensor, conditions: Any = None,
             generator: torch.Generator | None = None) -> torch.Tensor: ...


@runtime_checkable
class Sampler(Protocol):
    """k-diffusion style solver: a function of a velocity field, noise and a step count.

    ``sample`` integrates ``velocity(x, t)`` (``t`` of shape ``(batch,)``, the noise's dtype)
    from t = 0 (noise) to t = 1 (data), the rectified-flow convention x_t = t·x1 + (1 − t)·noise.
    The time grid is part of the sampler's config; guidance wraps ``velocity``. A sampler holds
    no state between calls, draws randomness only from ``generator`` and returns a tensor shaped
    and typed like ``noise``. ``steps=None`` means the sampler's configured step count.

    ``nfe(steps)`` is the exact number of ``velocity`` evaluations of one ``sample`` call (the
    cost: a guided velocity makes one batched model call per evaluation).

    Optional: ``sample_from(velocity, x, start, steps=None, generator=None)`` integrates from a
    given sample ``x`` at flow time ``start`` to 1 (SDEdit; what a pipeline's
    ``exemplar_anchor`` needs, with ``late_start(velocity, noise, start)``, where ``sample``
    with a late start begins; docs/samplers.md). Every built-in has both.
    """

    def sample(self, velocity: Velocity, noise: torch.Tensor, steps: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor: ...

    def nfe(self, steps: int | None = None) -> int: ...


@runtime_checkable
class Reward(Protocol):
    """Scores generated FOA against its conditions; higher is better, shape ``(batch,)``."""

    @property
    def name(self) -> str: ...

    def __call__(self, audio: torch.Tensor, sample_rate: int, conditions: Any) -> torch.Tensor: ...


@runtime_checkable
class PreferenceOptimizer(Protocol):
    """Post-training from preferences between candidates the current model generates.

    ``attach`` binds the pipeline whose backbone trains (the policy), the rewards (a weighted
    mix of :class:`Reward`), the torch optimizer over the backbone's parameters (``None``:
    sample and evaluate only), the gradient clip and ``wrap`` (a function that wraps a module
    for data-parallel training); it returns the optimizer itself. ``step(batch)`` runs one
    round on a batch of inputs and returns figures to log. ``reference_divergence(latents,
    conditions, seed)`` says how far the policy has moved from where it started on clips
    ``latents`` (a KL proxy that validation logs).
    """

    def attach(self, pipeline: Any, rewards: Any, optimizer: Any = None, *,
               grad_clip: float = 1.0, wrap: Callable[[Any], Any] | None = None) -> Any: ...
    def step(self, batch: Any) -> dict[str, float]: ...
    def reference_divergence(self, latents: torch.Tensor, conditions: Any,
                             seed: int) -> float: ...
