"""Datasets of simulated FOA scenes, and the batching helper every dataset shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import AudioFormatError, ConfigError
from .clips import SoundClip
from .render import render_scene, scene_item
from .scenes import Scene, SceneSampler

CAPTION_FAMILIES = ("training", "held_out")


class SceneDataset(torch.utils.data.Dataset):
    """FOA scenes of any labelled clips; item ``i`` is a pure function of (seed, i).

    :class:`~swansphere.data.scenes.SceneSampler` places 1–``max_sources`` of ``clips`` (static
    or moving, in free field or, with ``room_probability``, a simulated room; with
    ``sustained_probability``, some sounding through the whole scene; with optional diffuse
    noise), and :func:`~swansphere.data.render.render_scene` renders them. Each item
    is a dict: ``foa`` ``(4, n)`` float32 AmbiX, ``sample_rate``, ``labels``, ``caption``,
    ``track_times`` ``(T,)`` seconds, ``sources`` (one dict per source with ``label``,
    ``noun``, ``verb``, ``onset``, ``offset`` and ``azimuth`` / ``elevation`` tracks in
    degrees) and ``index``. The caption is the template caption of the ground truth, or with
    ``caption_family`` (``"training"`` / ``"held_out"``) a natural caption drawn from that
    family (:func:`~swansphere.data.captions.metadata_natural_caption`, seeded by the item).
    Batch items with :func:`collate`.
    """

    def __init__(self, clips: Sequence[SoundClip], *, sample_rate: int = 16000,
                 clip_seconds: float = 2.0, size: int = 1000, seed: int = 0,
                 min_sources: int = 1, max_sources: int = 3, moving_probability: float = 0.5,
                 diffuse_probability: float = 0.3, room_probability: float = 0.0,
                 sustained_probability: float = 0.0,
                 caption_family: str | None = None, track_hop_seconds: float = 0.05) -> None:
        if size < 0:
            raise ConfigError(f"dataset size must be >= 0, got {size}")
        if caption_family not in (None, *CAPTION_FAMILIES):
            raise ConfigError(f"caption_family must be one of {CAPTION_FAMILIES} or None, got "
                              f"{caption_family!r}")
        self.clips = list(clips)
        self.size, self.seed, self.track_hop_seconds = size, seed, track_hop_seconds
        self.caption_family = caption_family
        self.sampler = SceneSampler(
            sample_rate=sample_rate, duration=clip_seconds, min_sources=min_sources,
            max_sources=max_sources, moving_probability=moving_probability,
            diffuse_probability=diffuse_probability, room_probability=room_probability,
            sustained_probability=sustained_probability,
            min_event_seconds=min(0.8, clip_seconds))

    @property
    def sample_rate(self) -> int:
        return self.sampler.sample_rate

    def __len__(self) -> int:
        return self.size

    def scene(self, index: int) -> Scene:
        """The scene description behind item ``index``."""
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} scenes")
        return self.sampler.sample(self.clips, self.seed, index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        scene = self.scene(index)
        foa, _ = render_scene(scene)
        item = scene_item(scene, foa, self.track_hop_seconds) | {"index": index}
        if self.caption_family is not None:
            from .captions import metadata_natural_caption
            from .scenes import scene_metadata

            item["caption"] = metadata_natural_caption(
                scene_metadata(scene, self.track_hop_seconds), [self.seed, index],
                family=self.caption_family).text
        return item


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack equal-shaped tensors (``foa`` → ``(batch, 4, n)``); keep everything else as lists.

    Items carry a variable number of sources, so per-source metadata stays a list per item.
    """
    if not items:
        raise AudioFormatError("cannot collate an empty batch")
    batch: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if all(isinstance(v, torch.Tensor) for v in values) and len(
                {tuple(v.shape) for v in values}) == 1:
            batch[key] = torch.stack(values)
        else:
            batch[key] = values
    return batch
