"""Text and video to a backbone's conditions: the one path every caller takes.

Generation, training, preference optimisation and the baselines all turn captions and video
into conditions the same way, through :class:`ConditionEncoder`. It works in two halves so that
a data loader can do the first on the CPU and a training step can keep gradients through the
second (docs/pipeline.md, "Conditions"):

* :meth:`ConditionEncoder.prepare` runs each conditioner's ``prepare`` on a batch of raw inputs
  (``None`` marks an item without that modality) and gives :class:`PreparedConditions`;
* :meth:`ConditionEncoder.encode` runs the conditioners' ``forward`` and the backbone's
  ``make_conditions``; :meth:`ConditionEncoder.tokens` stops before the backbone;
* :meth:`ConditionEncoder.precompute`, between the two, runs the frozen parts of the
  conditioners once, for inputs that are encoded again and again (a training set).

An item without a modality means the same in a batch as alone: a modality that no item has is
left out entirely, and in a mixed batch the rows without it are masked off, so the backbone's
own null embedding stands in for them either way (the conditioners' null tokens, which their
protocol gives for absent items, never reach the backbone through this path). Asking for a
modality the model lacks is an error that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import torch

from .errors import GenerationError


@attrs.frozen(kw_only=True, eq=False)
class PreparedConditions:
    """A batch of conditioner inputs after ``prepare``: ``text`` and ``video`` are what the
    conditioners' ``prepare`` returned (``None`` where no item has that modality), and
    ``text_present`` / ``video_present`` ``(batch,)`` bool say which items have it."""

    batch_size: int
    text: Any = None
    video: Any = None
    text_present: torch.Tensor | None = None
    video_present: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> PreparedConditions:
        """The same inputs on ``device`` (each prepared part's own ``to``)."""
        return attrs.evolve(self, text=_to(self.text, device), video=_to(self.video, device))

    def select(self, index: torch.Tensor | Sequence[int]) -> PreparedConditions:
        """Rows ``index`` of the batch, in that order (a training batch from a prepared pool)."""
        index = torch.as_tensor(index, dtype=torch.long)
        return PreparedConditions(
            batch_size=int(index.numel()), text=_select(self.text, index),
            video=_select(self.video, index), text_present=_select(self.text_present, index),
            video_present=_select(self.video_present, index))


class ConditionEncoder:
    """A backbone's ``make_conditions`` behind its text and video conditioners (either may be
    ``None``: the model was trained without that modality)."""

    def __init__(self, backbone: Any, text: Any = None, video: Any = None) -> None:
        self.backbone, self.text, self.video = backbone, text, video

    def prepare(self, texts: Sequence[str | None] | None = None,
                videos: Sequence[Any] | None = None) -> PreparedConditions:
        """Prepare a batch: ``texts`` captions, ``videos`` raw videos in any form the video
        conditioner takes (``(frames, times)``); equal lengths when both are given."""
        size = _batch_size(texts, videos)
        for caption in texts or ():
            if caption is not None and (not isinstance(caption, str) or not caption.strip()):
                raise GenerationError(f"a text prompt must be a non-empty string (or None for "
                                      f"no text), got {caption!r}")
        parts: dict[str, Any] = {}
        if texts is not None and any(caption is not None for caption in texts):
            if self.text is None:
                raise GenerationError("this model has no text conditioner; drop the prompt or "
                                      "use a model trained with text")
            parts.update(text=self.text.prepare(list(texts)), text_present=_present(texts))
        if videos is not None and any(item is not None for item in videos):
            if self.video is None:
                raise GenerationError("this model has no video conditioner; drop the video or "
                                      "use a model trained with video")
            parts.update(video=self.video.prepare(list(videos)), video_present=_present(videos))
        return PreparedConditions(batch_size=size, **parts)

    def precompute(self, prepared: PreparedConditions) -> PreparedConditions:
        """``prepared`` with each conditioner's frozen part already run, where the conditioner
        offers ``precompute`` (MiniLM's states): for inputs encoded many times, a training set.
        ``encode`` gives the same conditions either way."""
        parts = {}
        for name, conditioner in (("text", self.text), ("video", self.video)):
            part = getattr(prepared, name)
            if part is not None and hasattr(conditioner, "precompute"):
                parts[name] = conditioner.precompute(part)
        return attrs.evolve(prepared, **parts)

    def tokens(self, prepared: PreparedConditions) -> tuple[Any, Any]:
        """The conditioners' outputs ``(text, video)`` (``None`` for an absent modality)."""
        text = video = None
        if prepared.text is not None:
            text = _mask_absent(self.text.forward(prepared.text), prepared.text_present)
        if prepared.video is not None:
            video = _mask_absent(self.video.forward(prepared.video), prepared.video_present)
        return text, video

    def encode(self, prepared: PreparedConditions, *, repeat: int = 1) -> Any:
        """The backbone's conditions; ``repeat`` gives each item that many rows in a row (one
        encoding, several samples of the same input)."""
        text, video = self.tokens(prepared)
        return self.from_tokens(text, video, repeat=repeat)

    def from_tokens(self, text: Any, video: Any, *, repeat: int = 1) -> Any:
        """The backbone's conditions from conditioner outputs already computed."""
        if repeat != 1:
            text = None if text is None else text.repeat(repeat)
            video = None if video is None else video.repeat(repeat)
        return self.backbone.make_conditions(text=text, video=video)

    def __call__(self, texts: Sequence[str | None] | None = None,
                 videos: Sequence[Any] | None = None) -> Any:
        """``encode(prepare(texts, videos))``."""
        return self.encode(self.prepare(texts, videos))


def _batch_size(texts: Sequence[Any] | None, videos: Sequence[Any] | None) -> int:
    sizes = {len(items) for items in (texts, videos) if items is not None}
    if len(sizes) > 1:
        raise GenerationError(f"{len(texts)} captions but {len(videos)} videos; give one of "
                              "each per item (None where an item has none)")
    return sizes.pop() if sizes else 1


def _present(items: Sequence[Any]) -> torch.Tensor:
    return torch.tensor([item is not None for item in items], dtype=torch.bool)


def _mask_absent(tokens: Any, present: torch.Tensor | None) -> Any:
    """Conditioner outputs with the rows of absent items masked off (all False)."""
    if present is None or bool(present.all()):
        return tokens
    keep = present.to(tokens.mask.device)[:, None]
    return attrs.evolve(tokens, mask=tokens.mask & keep)


def _to(part: Any, device: torch.device | str) -> Any:
    return None if part is None else part.to(device)


def _select(part: Any, index: torch.Tensor) -> Any:
    """Rows of a prepared batch: every tensor field of an attrs value, indexed on dim 0."""
    if part is None:
        return None
    if isinstance(part, torch.Tensor):
        return part[index.to(part.device)]
    if not attrs.has(type(part)):
        raise TypeError(f"cannot select rows of a prepared {type(part).__name__}; a "
                        "conditioner's prepare() should return tensors or an attrs class of them")
    return attrs.evolve(part, **{
        field.name: _select(getattr(part, field.name), index)
        for field in attrs.fields(type(part))
        if isinstance(getattr(part, field.name), torch.Tensor)})
