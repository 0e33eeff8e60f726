"""The SVAC model: the panoramic video conditioner and an FOA encoder in one embedding space.

A saved model is a directory: ``config.toml`` (:class:`SVACModelConfig`), ``model.safetensors``
(``video.*`` and ``audio.*`` weights); training adds ``video_conditioner.toml``
(:func:`write_conditioner_table`), the ready-made ``panorama-video`` table whose ``weights``
point at ``model.safetensors``: paste it into a pipeline config and the trained encoder is the
video conditioner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import tomli_w
import torch
from torch import nn

from swansphere.codecs.weights import atomic_write, load_weights, save_weights
from swansphere.conditioning.config import VIDEO_NAME
from swansphere.conditioning.types import PreparedVideo
from swansphere.conditioning.video import PanoramaVideoConditioner
from swansphere.config import dumps_toml, load_toml, unstructure
from swansphere.errors import ResourceNotFoundError
from swansphere.nn.contrastive import (
    min_shift_frames,
    random_yaw,
    roll_each,
    shift_frames,
    svac_loss,
    time_shifts,
    turn_pair,
)
from swansphere.nn.foa_audio import FOAAudioEncoder
from swansphere.spatial import rotate

from .config import SVACLossConfig, SVACModelConfig

CONFIG_FILE = "config.toml"
WEIGHTS_FILE = "model.safetensors"
CONDITIONER_FILE = "video_conditioner.toml"


class SVACModel(nn.Module):
    """``video`` (a :class:`PanoramaVideoConditioner`) and ``audio`` (an FOA encoder)."""

    def __init__(self, config: SVACModelConfig) -> None:
        super().__init__()
        self.config = config
        self.video = PanoramaVideoConditioner(config.video)
        self.audio = FOAAudioEncoder(config.audio, config.video.dim)

    @property
    def temperature(self) -> float:
        return self.config.temperature

    def embed_video(self, frames: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, T, 3, H, W)`` at ``times`` ``(T,)`` -> ``(N, T, dim)`` features."""
        batch, count = frames.shape[:2]
        prepared = PreparedVideo(frames=frames, times=times.expand(batch, count),
                                 mask=torch.ones(batch, count, dtype=torch.bool),
                                 present=torch.ones(batch, dtype=torch.bool))
        return self.video(prepared).tokens

    def embed_audio(self, foa: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """FOA ``(N, 4, samples)`` -> ``(N, T, dim)`` features at the video ``times``."""
        return self.audio(foa, times)

    def loss(self, foa: torch.Tensor, frames: torch.Tensor, times: torch.Tensor,
             config: SVACLossConfig,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        """SVAC loss of a batch of scenes (``foa`` and their panorama ``frames``).

        All randomness (augmentation yaw, shifts, rotations, rolls) comes from ``generator``.
        """
        batch, steps, width = frames.shape[0], frames.shape[1], frames.shape[-1]
        if config.augment_yaw:
            yaw = 360.0 * torch.rand(batch, generator=generator, dtype=torch.float64) - 180.0
            foa, frames = turn_pair(foa, frames, yaw)
        video, audio = self.embed_video(frames, times), self.embed_audio(foa, times)
        hard_audio = [shift_frames(audio, shift) for shift in self._shifts(batch, steps, config,
                                                                          generator)]
        for _ in range(config.rotation_negatives):
            yaw = random_yaw(batch, config.min_rotation_degrees, width, generator)
            tilt = config.max_tilt_degrees * (2 * torch.rand(2, batch, generator=generator,
                                                             dtype=torch.float64) - 1)
            turned = rotate(foa, yaw=yaw, pitch=tilt[0], roll=tilt[1]).to(foa.dtype)
            hard_audio.append(self.embed_audio(turned, times))
        hard_video = [self.embed_video(roll_each(frames, random_yaw(
            batch, config.min_rotation_degrees, width, generator)), times)
            for _ in range(config.roll_negatives)]
        mask = torch.ones(batch, steps, dtype=torch.bool, device=video.device)
        return svac_loss(video, audio, mask, self.temperature,
                         hard_audio=_stack(hard_audio), hard_video=_stack(hard_video))

    def _shifts(self, batch: int, steps: int, config: SVACLossConfig,
                generator: torch.Generator) -> list[torch.Tensor]:
        minimum = min_shift_frames(config.min_shift_seconds, self.config.video.frame_rate)
        shifts = [time_shifts(batch, steps, minimum, generator)
                  for _ in range(config.time_negatives)]
        return [shift for shift in shifts if shift.numel()]

    # ------------------------------------------------------------------ files

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.toml`` and ``model.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = attrs.evolve(self.config, video=attrs.evolve(self.config.video, weights=None))
        text = dumps_toml(config)
        atomic_write(directory / CONFIG_FILE, lambda temp: temp.write_text(text, "utf-8"))
        save_weights(self, directory / WEIGHTS_FILE)
        return directory


def write_conditioner_table(directory: str | Path) -> Path:
    """Write ``video_conditioner.toml`` beside a saved model, once it is in its final place
    (the table holds the absolute path of the weights)."""
    text = tomli_w.dumps(video_conditioner_table(directory))
    return atomic_write(Path(directory) / CONDITIONER_FILE,
                        lambda temp: temp.write_text(text, "utf-8"))


def video_conditioner_table(directory: str | Path) -> dict[str, Any]:
    """The ``panorama-video`` config table of a saved SVAC model (weights: absolute path)."""
    directory = Path(directory).resolve()
    config = read_config(directory)
    fields = unstructure(attrs.evolve(config.video, weights=str(directory / WEIGHTS_FILE)))
    return {"type": VIDEO_NAME, **fields}


def read_config(directory: str | Path) -> SVACModelConfig:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ResourceNotFoundError(f"{directory} is not a saved SVAC model (no {CONFIG_FILE}); "
                                    "train one with: swansphere train svac.toml")
    return load_toml(path, SVACModelConfig)


def load_svac(directory: str | Path) -> SVACModel:
    """A saved SVAC model, weights checked key by key."""
    model = SVACModel(read_config(directory))
    load_weights(model, Path(directory) / WEIGHTS_FILE)
    return model.eval()


def _stack(negatives: list[torch.Tensor]) -> torch.Tensor | None:
    return torch.stack(negatives, dim=1) if negatives else None
