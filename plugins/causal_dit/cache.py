"""Generation state: a preallocated ring-buffer KV cache, the text memory, pending video and
the LocDiT context.

**The ring.** Each LM layer's keys and values live in buffers allocated once per stream,
``(batch, window, kv_heads, head_dim)``: the stream's ``n``-th token is written in place into
slot ``n % window``, so a step allocates nothing and copies one token per layer, however long
the stream has run, and the buffers keep their addresses (what a captured CUDA graph needs).
Without a window (``attention_window = 0``) the buffers grow by doubling.

**RoPE.** Keys are cached *after* rotation, at their absolute positions (the position counter is
a Python int and rotary angles are computed in float64, see :func:`swansphere.nn.layers.
rotary_tables`). Attention scores depend only on ``query position - key position`` and not on
where a key sits in the buffer, so attending over the ring in slot order is exactly what a model
trained with the same window computes, however long the stream has run.

**States are consumed by a step.** :meth:`CausalDiT.step` writes the new token into the shared
buffers and returns the state that continues the stream; the state passed in must not be
stepped again (that raises :class:`StaleStateError` rather than reading overwritten keys). To
keep a point to return to, or to branch several continuations of one prefix, take a copy
first: :meth:`CausalDiTState.clone` (``copy.deepcopy`` does the same).
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from swansphere.nn.adapters import TextMemory
from swansphere.nn.conditions import BackboneInputError

GROWING_SLOTS = 64
"""First buffer size (positions) of a cache without a window; it doubles when full."""


class StaleStateError(BackboneInputError):
    """A state was stepped after a later step had already advanced its cache in place."""


@attrs.define(eq=False)
class RingHead:
    """The position up to which a stream's shared buffers have been written (mutable: it
    moves with every step, so an older state can tell it has been overtaken)."""

    position: int


@attrs.frozen(kw_only=True)
class KVCache:
    """Per-layer rotated keys and values in ring buffers ``(batch, slots, kv_heads, head_dim)``.

    ``position`` is the absolute position of the next token. The token at position ``p`` sits
    in slot ``(p - start) % slots``; the buffers are shared with the states before this one (see the
    module docstring), ``head`` says which of them is current.
    """

    keys: tuple[torch.Tensor, ...] = attrs.field(repr=False)
    values: tuple[torch.Tensor, ...] = attrs.field(repr=False)
    position: int = 0
    """Absolute position (patch index) of the next token."""
    window: int = 0
    """Keys a query may see, itself included; 0 = unlimited (memory grows with the stream)."""
    start: int = 0
    """Position of the stream's first token (slot 0)."""
    head: RingHead = attrs.field(factory=lambda: RingHead(0))

    @classmethod
    def empty(cls, layers: int, batch_size: int, kv_heads: int, head_dim: int, *,
              window: int, device: torch.device, dtype: torch.dtype,
              position: int = 0) -> KVCache:
        """Zeroed buffers of ``window`` slots (or :data:`GROWING_SLOTS` without a window) for a
        stream whose next token is at ``position``."""
        shape = (batch_size, window or GROWING_SLOTS, kv_heads, head_dim)
        keys = tuple(torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers))
        values = tuple(torch.zeros(shape, device=device, dtype=dtype) for _ in range(layers))
        return cls(keys=keys, values=values, position=position, window=window,
                   start=position, head=RingHead(position))

    @property
    def slots(self) -> int:
        """Positions the buffers hold."""
        return self.keys[0].shape[1] if self.keys else 0

    @property
    def written(self) -> int:
        """Tokens stored since the stream started."""
        return self.position - self.start

    @property
    def length(self) -> int:
        """Number of cached positions (the same in every layer): at most ``window``."""
        return min(self.written, self.window) if self.window else self.written

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))

    def ready_for(self, count: int) -> KVCache:
        """This cache, checked to be the stream's current one and able to take ``count`` more
        tokens (a cache without a window grows; buffers made in inference mode are copied
        once when a step runs outside it, where they could not be written)."""
        self.check_current()
        cache = self
        if self.keys and self.keys[0].is_inference() and not torch.is_inference_mode_enabled():
            cache = attrs.evolve(cache, keys=tuple(k.clone() for k in self.keys),
                                 values=tuple(v.clone() for v in self.values))
        if not self.window and self.written + count > self.slots:
            cache = cache._grown(self.written + count)
        return cache

    def check_current(self) -> None:
        """Raise :class:`StaleStateError` if a later step has reused these buffers."""
        if self.head.position != self.position:
            raise StaleStateError(
                f"this state (at patch {self.position}) was already advanced to patch "
                f"{self.head.position} by a later step, which reused its cache; clone() a state "
                "before stepping it if you need to return to it or branch from it")

    def _grown(self, needed: int) -> KVCache:
        slots = max(2 * self.slots, needed)

        def grow(buffer: torch.Tensor) -> torch.Tensor:
            larger = buffer.new_zeros(buffer.shape[0], slots, *buffer.shape[2:])
            larger[:, :self.written] = buffer[:, :self.written]
            return larger

        return attrs.evolve(self, keys=tuple(map(grow, self.keys)),
                            values=tuple(map(grow, self.values)))

    def extend(self, layer: int, keys: torch.Tensor, values: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Store layer ``layer``'s new keys/values ``(batch, count, kv_heads, head_dim)`` and
        return what the new queries attend to: ``(keys, values, in_window)``. The token at
        position ``p`` goes to slot ``(p - start) % slots``.

        One new token (streaming) attends to the filled slots, which are then exactly its
        window, in slot order: ``in_window`` is True and no mask is needed. Several new tokens
        get the cached keys in time order followed by their own, for the caller's causal mask.
        """
        count = keys.shape[1]
        key_buffer, value_buffer = self.keys[layer], self.values[layer]
        if count == 1:
            slot = self.written % self.slots
            key_buffer[:, slot] = keys[:, 0]
            value_buffer[:, slot] = values[:, 0]
            filled = min(self.written + 1, self.slots)
            return key_buffer[:, :filled], value_buffer[:, :filled], True
        attended = (torch.cat((self._in_time_order(key_buffer), keys), 1),
                    torch.cat((self._in_time_order(value_buffer), values), 1))
        kept = min(count, self.slots)
        index = torch.arange(self.written + count - kept, self.written + count,
                             device=keys.device) % self.slots
        # stored in the ring's dtype, as the one-token path's assignment does (keys made
        # under autocast are 16-bit)
        key_buffer.index_copy_(1, index, keys[:, count - kept:].to(key_buffer.dtype))
        value_buffer.index_copy_(1, index, values[:, count - kept:].to(value_buffer.dtype))
        return *attended, False

    def _in_time_order(self, buffer: torch.Tensor) -> torch.Tensor:
        """The cached positions of one buffer, oldest first."""
        if self.written <= self.slots:
            return buffer[:, :self.written]
        oldest = self.written % self.slots
        return torch.cat((buffer[:, oldest:], buffer[:, :oldest]), 1)

    def advanced(self, count: int) -> KVCache:
        """The cache after ``count`` tokens were stored by :meth:`extend`: it becomes the
        current one, and this one (and every state holding it) stale."""
        self.head.position = self.position + count
        return attrs.evolve(self, position=self.position + count)


@attrs.frozen(kw_only=True)
class VideoBuffer:
    """Projected video frames that arrived but may still be needed by a future patch."""

    features: torch.Tensor
    """``(batch, frames, lm_width)``, already passed through the video adapter."""
    times: torch.Tensor
    """``(batch, frames)`` float64 seconds since the first latent frame."""
    valid: torch.Tensor
    """``(batch, frames)`` bool."""

    @property
    def frames(self) -> int:
        return self.features.shape[1]


@attrs.frozen(kw_only=True)
class CausalDiTState:
    """Everything a streaming generation carries from one patch to the next (consumed by a
    step: see the module docstring)."""

    batch_size: int
    cache: KVCache
    text: TextMemory | None
    video: VideoBuffer
    context: torch.Tensor
    """The last ``context_patches · patch_frames`` (or fewer, at the start) latent frames."""
    reference: torch.Tensor | None = None
    """``(batch, reference_frames, latent_dim)``: the recording each row's sound follows
    (:meth:`CausalDiT.with_reference`), or ``None``."""
    reference_valid: torch.Tensor | None = None
    """``(batch,)`` bool: rows that have a reference (the others get the null tokens)."""

    @property
    def position(self) -> int:
        """Patches whose ``h`` has been produced (the next step's patch index)."""
        return self.cache.position

    def clone(self) -> CausalDiTState:
        """A deep copy whose tensors share no memory with this state (and carry no autograd
        history: a snapshot holds values). Only the stream's current state can be copied."""
        self.cache.check_current()
        return _copy_tensors(self)

    def __deepcopy__(self, memo: dict) -> CausalDiTState:
        return self.clone()

    def evolve(self, **changes: Any) -> CausalDiTState:
        return attrs.evolve(self, **changes)


def _copy_tensors(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_copy_tensors(item) for item in value)
    if attrs.has(type(value)):
        return attrs.evolve(value, **{field.name: _copy_tensors(getattr(value, field.name))
                                      for field in attrs.fields(type(value)) if field.init})
    return value
