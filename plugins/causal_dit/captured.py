"""The whole per-patch step with fixed shapes, so that a GPU can replay it as one CUDA graph.

Streaming one patch is LocEnc of the previous patch, one LM step on the ring KV cache, then the
guided LocDiT sampling loop (steps × guidance branches, the branches batched). Eagerly, at
batch sizes of a few streams, that is thousands of small kernels launched one by one from
Python: on a GPU the launches, not the arithmetic, set the pace. :class:`PatchStepper` runs
the same computation as one function whose tensors keep their shapes and addresses along a
stream (the ring buffers, a position tensor, a mask of filled slots, a full-length context with
a validity mask, the previous patch), with nothing read back to the host. Compiled with
``torch.compile(mode="reduce-overhead")`` it is recorded once as a CUDA graph and replayed for
every patch; uncompiled (``compile=None``) it is the same arithmetic, eagerly, which is how the
CPU tests check it against the ordinary stream.

Per stream, the caller draws the noise and looks up the video token (both stay outside, so the
graph holds no random generator and no ragged video buffer).
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from swansphere.nn.conditions import BackboneInputError
from swansphere.samplers.guidance import Condition, multi_condition_guidance, weighted_branches
from swansphere.samplers.solvers import SamplingError

from .cache import CausalDiTState
from .model import CausalDiT, _drop_used_frames

Tensors = tuple[torch.Tensor, ...]


@attrs.define(eq=False)
class StreamBuffers:
    """A stream's fixed-shape tensors besides the ring cache; written in place by each step."""

    position: torch.Tensor
    """``(1,)`` int64: the absolute position of the next token."""
    filled: torch.Tensor
    """``(1, 1, 1, slots)`` bool: ring slots that hold a key."""
    context: torch.Tensor
    """``(B, context_frames, latent_dim)``: the last frames, newest last."""
    context_valid: torch.Tensor
    """``(B, context_frames)`` bool: False for frames before the stream began."""
    previous: torch.Tensor
    """``(B, patch_frames, latent_dim)``: the last patch (LocEnc's input)."""
    started: torch.Tensor
    """``()`` bool: False until the first patch (whose token is the start token)."""
    text_mask: torch.Tensor | None = None
    """The text cross-attention mask (read only; None where not needed)."""
    text_summary: torch.Tensor | None = None
    """``(B, width)``: what the text summary adds to ``h`` (read only; None without one)."""
    reference: torch.Tensor | None = None
    """``(B, reference_frames, latent_dim)``: the stream's reference (read only; None
    without one)."""
    reference_valid: torch.Tensor | None = None
    """``(B,)`` bool: rows that have a reference (read only)."""

    def tensors(self) -> Tensors:
        return (self.position, self.filled, self.context, self.context_valid, self.previous,
                self.started)


def _patch_step(model: CausalDiT, sampler: Any,
                coefficients: tuple[tuple[Condition, float], ...], ring: Tensors,
                start: int, text: tuple[Tensors, Tensors] | None,
                text_mask: torch.Tensor | None, text_summary: torch.Tensor | None,
                reference: Tensors | None, buffers: Tensors, video_token: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
    """One patch of one or several streams; every argument after ``start`` is a tensor (or a
    tuple of them) so that a compiled version is reused by every stream of the same shapes."""
    position, filled, context, context_valid, previous, started = buffers
    layers = len(ring) // 2
    encoded = model.locenc(previous, "sdpa").unsqueeze(1)
    token = torch.where(started, encoded, model.start.expand_as(encoded)) + video_token
    h = model.lm.decode_in_place(token, position, ring[:layers], ring[layers:], start, filled,
                                 text, text_mask)[:, 0]
    if text_summary is not None:
        h = h + text_summary
    guided = model.guided_over(h, context, context_valid, "sdpa",
                               *(reference if reference is not None else ()))
    patch = sampler.sample(
        lambda x, t: weighted_branches(guided, coefficients, x, t), noise)
    frames = patch.shape[1]
    if context.shape[1]:
        context.copy_(torch.cat((context[:, frames:], patch), 1)[:, -context.shape[1]:])
        context_valid.copy_(torch.cat((context_valid[:, frames:],
                                       torch.ones_like(context_valid[:, :frames])),
                                      1)[:, -context.shape[1]:])
    previous.copy_(patch)
    started.fill_(True)
    position.add_(1)
    return patch


class PatchStepper:
    """Streams of one backbone, sampler and guidance, a whole patch per call.

    ``compile`` holds keyword arguments for :func:`torch.compile` (``{"mode":
    "reduce-overhead"}`` captures CUDA graphs on CUDA); ``None`` runs the fixed-shape step
    eagerly. One compiled function serves every stream of the same batch size, text length
    and dtype (a new combination compiles once more). Usage::

        stepper = PatchStepper(backbone, sampler, w1=1.4, w2=3.0, compile={...})
        buffers = stepper.open(state)                 # a fresh state from init_state
        patch, state = stepper.step(state, buffers, noise)   # (B, patch_frames, latent_dim)
    """

    def __init__(self, model: CausalDiT, sampler: Any, *, w1: float, w2: float,
                 reference: float = 0.0, compile: dict[str, Any] | None = None) -> None:
        if not model.config.attention_window:
            raise BackboneInputError("a fixed-shape patch step needs a KV window "
                                     "(attention_window > 0): without one the cache grows")
        _check_deterministic(sampler, (1, model.patch_frames, model.latent_dim))
        self.model, self.sampler = model, sampler
        self.coefficients = multi_condition_guidance(model.guided_over, w1, w2,
                                                     reference).coefficients
        self.compile = compile
        self._step = (_patch_step if compile is None
                      else torch.compile(_patch_step, fullgraph=True, **compile))

    def open(self, state: CausalDiTState, previous: torch.Tensor | None = None
             ) -> StreamBuffers:
        """Fixed-shape buffers for a stream whose state comes fresh from ``init_state``, or
        from ``step`` calls that fed it an audio prompt, ``previous`` being the prompt's last
        patch (not yet stepped)."""
        cache = state.cache
        cache.check_current()
        if (cache.written == 0) != (previous is None):
            raise BackboneInputError(
                "a fixed-shape stream starts from a fresh state (init_state), or from a primed "
                f"one with its last patch as previous; this one is at patch {cache.position} "
                f"and previous is {'missing' if previous is None else 'given'}")
        model, batch = self.model, state.batch_size
        like = cache.keys[0]
        latent = (batch, model.config.context_frames, model.latent_dim)
        buffers = StreamBuffers(
            position=torch.full((1,), cache.position, dtype=torch.int64, device=like.device),
            filled=torch.zeros(1, 1, 1, cache.slots, dtype=torch.bool, device=like.device),
            context=like.new_zeros(latent),
            context_valid=torch.zeros(latent[:2], dtype=torch.bool, device=like.device),
            previous=like.new_zeros(batch, model.patch_frames, model.latent_dim),
            started=torch.zeros((), dtype=torch.bool, device=like.device),
            text_mask=(None if state.text is None
                       else model.lm.text_mask(state.text, batch, like.dtype, like.device)),
            text_summary=None if state.text is None else state.text.summary,
            reference=state.reference, reference_valid=state.reference_valid)
        if previous is not None:
            _resume_buffers(buffers, state, previous.to(like))
        if self.compile is not None:
            fixed = (*cache.keys, *cache.values, *buffers.tensors())
            if state.text is not None:  # read by every replay: never copied in
                fixed += (*state.text.keys, *state.text.values)
            fixed += tuple(tensor for tensor in (buffers.text_mask, buffers.text_summary,
                                                 buffers.reference, buffers.reference_valid)
                           if tensor is not None)
            for tensor in fixed:
                torch._dynamo.mark_static_address(tensor, guard=False)
        return buffers

    def step(self, state: CausalDiTState, buffers: StreamBuffers,
             noise: torch.Tensor) -> tuple[torch.Tensor, CausalDiTState]:
        """The next patch ``(B, patch_frames, latent_dim)`` from ``noise`` of that shape, and
        the state that continues the stream (``state`` is consumed, as by ``step``)."""
        model, cache = self.model, state.cache
        cache.check_current()
        video_token, index = model._video_tokens(state.video, cache.position, 1)
        text = state.text
        memory = None if text is None else (text.keys, text.values)
        if self.compile is not None:
            torch.compiler.cudagraph_mark_step_begin()  # each patch: a new step of the graphs
        patch = self._step(model, self.sampler, self.coefficients, (*cache.keys, *cache.values),
                           cache.start, memory, buffers.text_mask, buffers.text_summary,
                           (None if buffers.reference is None
                            else (buffers.reference, buffers.reference_valid)),
                           buffers.tensors(),
                           video_token, noise.to(cache.keys[0]))
        patch = patch.clone()  # a replayed graph reuses its output memory
        done = cache.position + 1 - cache.start
        frames = min(done * model.patch_frames, model.config.context_frames)
        context = buffers.context[:, buffers.context.shape[1] - frames:]
        return patch, state.evolve(cache=cache.advanced(1), context=context,
                                   video=_drop_used_frames(state.video, index[:, -1]))


def _resume_buffers(buffers: StreamBuffers, state: CausalDiTState,
                    previous: torch.Tensor) -> None:
    """Fill fresh buffers for a stream that ``step`` has advanced (an audio prompt): the
    ring's filled slots, the LocDiT context up to and with ``previous``, and ``previous``."""
    buffers.filled[..., :min(state.cache.written, state.cache.slots)] = True
    size = buffers.context.shape[1]
    if size:
        context = torch.cat((state.context.to(previous), previous), 1)[:, -size:]
        buffers.context[:, size - context.shape[1]:] = context
        buffers.context_valid[:, size - context.shape[1]:] = True
    buffers.previous.copy_(previous)
    buffers.started.fill_(True)


def _check_deterministic(sampler: Any, shape: tuple[int, ...]) -> None:
    """A captured step draws no noise of its own: refuse samplers that need a generator
    (probed on one patch of ``shape``, which a range per latent dimension fits)."""
    try:
        sampler.sample(lambda x, t: torch.zeros_like(x), torch.zeros(shape))
    except SamplingError as error:
        raise BackboneInputError(f"a fixed-shape patch step needs a deterministic sampler "
                                 f"(one that draws no noise while it integrates): {error}"
                                 ) from None
