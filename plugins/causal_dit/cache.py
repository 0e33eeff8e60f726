"""Generation state: a rolling KV cache, the text memory, pending video and LocDiT context.

States are immutable: :meth:`CausalDiT.step` returns a new state and never writes into the old
one, so a snapshot is just a reference to a state (restore = keep using it), and branching
(several continuations of one prefix, guidance passes) needs no copying. :meth:`clone` makes an
independent deep copy for code that wants to modify tensors in place.

**Rolling window and RoPE.** Keys are cached *after* rotation, at their absolute positions; the
position counter is a Python int and rotary angles are computed in float64 (see
:func:`layers.rotary_tables`). Dropping the oldest keys therefore never changes the remaining
ones, and since RoPE scores depend only on ``query position - key position``, attention inside
the window is exactly what a model trained with the same window computes, however long the
stream has run. Each layer keeps at most ``window - 1`` keys between steps (the next token adds
itself), so memory is constant once the window is full.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch

from swansphere.nn.adapters import TextMemory


@attrs.frozen(kw_only=True)
class KVCache:
    """Per-layer rotated keys and values ``(batch, cached, kv_heads, head_dim)``."""

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    position: int = 0
    """Absolute position (patch index) of the next token."""
    window: int = 0
    """Keys a query may see, itself included; 0 = unlimited (memory grows with the stream)."""

    @classmethod
    def empty(cls, layers: int, batch_size: int, kv_heads: int, head_dim: int, *,
              window: int, device: torch.device, dtype: torch.dtype) -> KVCache:
        blank = torch.zeros(batch_size, 0, kv_heads, head_dim, device=device, dtype=dtype)
        return cls(keys=(blank,) * layers, values=(blank,) * layers, window=window)

    @property
    def length(self) -> int:
        """Number of cached positions (the same in every layer)."""
        return self.keys[0].shape[1] if self.keys else 0

    @property
    def keep(self) -> int | None:
        """How many keys survive a step: ``window - 1``, or all without a window."""
        return self.window - 1 if self.window else None

    def trimmed(self, keys: torch.Tensor) -> torch.Tensor:
        """The most recent ``keep`` entries of a layer's extended keys or values."""
        keep = self.keep
        if keep is None or keys.shape[1] <= keep:
            return keys
        return keys[:, keys.shape[1] - keep:]

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


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
    """Everything a streaming generation carries from one patch to the next."""

    batch_size: int
    cache: KVCache
    text: TextMemory | None
    video: VideoBuffer
    context: torch.Tensor
    """The last ``context_patches · patch_frames`` (or fewer, at the start) latent frames."""

    @property
    def position(self) -> int:
        """Patches whose ``h`` has been produced (the next step's patch index)."""
        return self.cache.position

    def clone(self) -> CausalDiTState:
        """A deep copy whose tensors share no memory with this state (and carry no autograd
        history: a snapshot holds values)."""
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
