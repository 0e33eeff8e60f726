"""Value types that conditioners take and give.

A conditioner's ``prepare`` turns raw input (captions, decoded frames) into a ``Prepared*``
batch on the CPU; ``forward`` turns that into :class:`ConditionTokens`, the one output type of
every conditioner: a token sequence ``(batch, length, dim)``, a validity mask and, for
time-indexed modalities (video), the timestamp of each token. These map one to one onto the
backbone's ``Conditions`` fields (``text``/``text_mask``, ``video``/``video_mask``/
``video_times``).
"""

from __future__ import annotations

import attrs
import torch

from ..errors import SwanSphereError


class ConditioningError(SwanSphereError, ValueError):
    """Raw conditioning input (a caption, video frames, weights) cannot be used."""


@attrs.frozen(kw_only=True, eq=False)
class ConditionTokens:
    """A batch of condition tokens.

    Attributes:
        tokens: ``(batch, length, dim)`` float features.
        mask: ``(batch, length)`` bool, True for real tokens (padding is False).
        times: ``(batch, length)`` float64 seconds of each token for time-indexed modalities
            (video frames), None for text.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    times: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    def repeat(self, count: int) -> ConditionTokens:
        """Each item ``count`` times in a row (item ``i`` becomes rows ``i·count …``)."""
        times = None if self.times is None else self.times.repeat_interleave(count, dim=0)
        return ConditionTokens(tokens=self.tokens.repeat_interleave(count, dim=0),
                               mask=self.mask.repeat_interleave(count, dim=0), times=times)

    def to(self, device: torch.device | str) -> ConditionTokens:
        """The same tokens on another device (times stay float64)."""
        times = None if self.times is None else self.times.to(device)
        return ConditionTokens(tokens=self.tokens.to(device), mask=self.mask.to(device),
                               times=times)


@attrs.frozen(kw_only=True, eq=False)
class PreparedText:
    """Tokenized captions: ``ids`` ``(batch, length)`` long, ``mask`` ``(batch, length)`` bool,
    ``present`` ``(batch,)`` bool (False where the caption was ``None``: the null output).

    ``states`` ``(batch, length, width)``: the frozen encoder's hidden states, where the
    conditioner's ``precompute`` has run (a training set encoded once, read at every step).
    """

    ids: torch.Tensor
    mask: torch.Tensor
    present: torch.Tensor
    states: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.ids.shape[0]

    def to(self, device: torch.device | str) -> PreparedText:
        states = None if self.states is None else self.states.to(device)
        return PreparedText(ids=self.ids.to(device), mask=self.mask.to(device),
                            present=self.present.to(device), states=states)


@attrs.frozen(kw_only=True, eq=False)
class PreparedVideo:
    """Panorama frames ready for a video conditioner.

    Attributes:
        frames: ``(batch, frames, 3, height, width)`` float32 RGB in [0, 1], equirectangular.
        times: ``(batch, frames)`` float64 timestamps in seconds, non-decreasing per item.
        mask: ``(batch, frames)`` bool, False for padding of ragged batches.
        present: ``(batch,)`` bool, False for items without video (they get the null output).
    """

    frames: torch.Tensor
    times: torch.Tensor
    mask: torch.Tensor
    present: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.frames.shape[0]

    @property
    def num_frames(self) -> int:
        return self.frames.shape[1]

    def to(self, device: torch.device | str) -> PreparedVideo:
        return PreparedVideo(frames=self.frames.to(device), times=self.times.to(device),
                             mask=self.mask.to(device), present=self.present.to(device))
