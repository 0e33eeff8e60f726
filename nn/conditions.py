"""What the backbone is conditioned on: text tokens and timestamped video features.

The encoders that produce these features (a text encoder, an SVAC-aligned panoramic video
encoder) are conditioners of their own; the backbone only needs their outputs. A missing
modality is simply ``None`` (or masked off per item) and becomes a learned null embedding
inside the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import torch

from swansphere.errors import SwanSphereError

if TYPE_CHECKING:
    from swansphere.conditioning.types import ConditionTokens


class BackboneInputError(SwanSphereError, ValueError):
    """Latents, conditions or a generation state do not fit the backbone."""


def _optional_tensor(_instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None and not isinstance(value, torch.Tensor):
        raise BackboneInputError(f"Conditions.{attribute.name} must be a tensor or None, "
                                 f"got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class Conditions:
    """Conditioning inputs of one batch; every field is optional.

    Attributes:
        text: text-token features ``(batch, tokens, text_dim)``.
        text_mask: ``(batch, tokens)`` bool, True for real tokens. A row without any True
            token means "no text" for that item (a mixed batch). Default: all tokens real.
        video: per-frame video features ``(batch, frames, video_dim)``.
        video_times: frame timestamps in seconds relative to the first latent frame,
            ``(frames,)`` shared or ``(batch, frames)``, non-decreasing; see
            :func:`swansphere.conditioning.alignment.frame_times` for uniform frame rates.
        video_mask: ``(batch, frames)`` bool, True for real frames (ragged batches, items
            without video). Default: all frames real.
    """

    text: torch.Tensor | None = attrs.field(default=None, validator=_optional_tensor)
    text_mask: torch.Tensor | None = attrs.field(default=None, validator=_optional_tensor)
    video: torch.Tensor | None = attrs.field(default=None, validator=_optional_tensor)
    video_times: torch.Tensor | None = attrs.field(default=None, validator=_optional_tensor)
    video_mask: torch.Tensor | None = attrs.field(default=None, validator=_optional_tensor)

    def __attrs_post_init__(self) -> None:
        if self.text is None and self.text_mask is not None:
            raise BackboneInputError("Conditions.text_mask given without text; pass text too")
        if self.video is None and (self.video_times is not None or self.video_mask is not None):
            raise BackboneInputError("Conditions.video_times/video_mask given without video")
        if self.video is not None and self.video_times is None:
            raise BackboneInputError("Conditions.video needs video_times (seconds per frame); "
                                     "use conditioning.alignment.frame_times(n, fps)")

    @classmethod
    def from_tokens(cls, text: ConditionTokens | None = None,
                    video: ConditionTokens | None = None) -> Conditions:
        """Conditions from conditioner outputs (:class:`swansphere.conditioning.types.
        ConditionTokens`): text tokens and mask; video tokens, mask and timestamps."""
        fields = {}
        if text is not None:
            fields.update(text=text.tokens, text_mask=text.mask)
        if video is not None:
            fields.update(video=video.tokens, video_mask=video.mask, video_times=video.times)
        return cls(**fields)

    def text_tokens(self, batch_size: int, text_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Validated ``(text, mask)``; mask all False where there is no text."""
        if self.text is None:
            raise BackboneInputError("no text in these conditions")
        _check_features("text", self.text, batch_size, text_dim)
        mask = self.text_mask
        if mask is None:
            mask = torch.ones(self.text.shape[:2], dtype=torch.bool, device=self.text.device)
        _check_mask("text_mask", mask, self.text.shape[:2])
        return self.text, mask.to(device=self.text.device, dtype=torch.bool)

    def video_frames(self, batch_size: int,
                     video_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validated ``(features, times (batch, frames) float64, valid (batch, frames))``."""
        if self.video is None or self.video_times is None:
            raise BackboneInputError("no video in these conditions")
        _check_features("video", self.video, batch_size, video_dim)
        shape = self.video.shape[:2]
        times = check_frame_times(self.video_times, shape)
        valid = self.video_mask
        if valid is None:
            valid = torch.ones(shape, dtype=torch.bool, device=self.video.device)
        _check_mask("video_mask", valid, shape)
        return self.video, times.to(self.video.device), valid.to(self.video.device, torch.bool)


def check_frame_times(times: torch.Tensor, shape: torch.Size | tuple[int, int]) -> torch.Tensor:
    """Broadcast timestamps to ``(batch, frames)`` float64 and check their order."""
    if times.dim() not in (1, 2) or times.shape[-1] != shape[1]:
        raise BackboneInputError(f"video_times must have shape ({shape[1]},) or {tuple(shape)}, "
                                 f"got {tuple(times.shape)}")
    times = times.to(torch.float64).expand(shape)
    if not torch.isfinite(times).all():
        raise BackboneInputError("video_times must be finite seconds")
    if (times.diff(dim=-1) < 0).any():
        raise BackboneInputError("video_times must be non-decreasing along the frame axis")
    return times


def _check_features(name: str, tensor: torch.Tensor, batch_size: int, dim: int) -> None:
    if tensor.dim() != 3 or tensor.shape[0] != batch_size or tensor.shape[2] != dim:
        raise BackboneInputError(f"{name} features must have shape ({batch_size}, n, {dim}), "
                                 f"got {tuple(tensor.shape)}")


def _check_mask(name: str, mask: torch.Tensor, shape: torch.Size | tuple[int, int]) -> None:
    if tuple(mask.shape) != tuple(shape):
        raise BackboneInputError(f"{name} must have shape {tuple(shape)}, "
                                 f"got {tuple(mask.shape)}")


def make_conditions(text: ConditionTokens | None = None,
                    video: ConditionTokens | None = None) -> Conditions | None:
    """A backbone's :class:`Conditions` from conditioner outputs (None when there are none):
    the ``make_conditions`` of the built-in backbones."""
    if text is None and video is None:
        return None
    return Conditions.from_tokens(text=text, video=video)
