"""A small text-audio contrastive model: the semantic reward's judge for prompts.

Captions go through the dependency-free ``text-transformer`` conditioner (mean of its token
states over real tokens); FOA audio through SVAC's direction-aware encoder (per-band 4 × 4
AmbiX covariances, :class:`~swansphere.nn.foa_audio.FOAAudioEncoder`), pooled over a
few times across the clip. Both land unit-normalised in one ``dim``-wide space and train with
SVAC's symmetric InfoNCE (:func:`~swansphere.nn.contrastive.svac_loss`), the clip's own FOA
turned by at least ``min_rotation_degrees`` being a hard negative for its caption: the same
sound from the wrong place must score lower than from the right one, so the judge reads both
what the caption names and where it says it is. It is trained on simulated scenes and their
ground-truth spatial captions (:func:`swansphere.plugins.odpo.trainer.train_text_audio`).

A saved model is a directory: ``config.toml`` (:class:`TextAudioConfig`) and
``model.safetensors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from swansphere.codecs.weights import atomic_write, load_weights, save_weights
from swansphere.conditioning.text import TextTransformerConditioner
from swansphere.config import dumps_toml, load_toml
from swansphere.errors import ResourceNotFoundError
from swansphere.nn.adapters import masked_mean
from swansphere.nn.contrastive import random_yaw, svac_loss
from swansphere.nn.foa_audio import FOAAudioEncoder
from swansphere.spatial import rotate, validate_foa

from .config import TextAudioConfig

CONFIG_FILE = "config.toml"
WEIGHTS_FILE = "model.safetensors"


class TextAudioModel(nn.Module):
    """Captions and FOA clips -> unit vectors ``(N, dim)`` in one space."""

    def __init__(self, config: TextAudioConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TextAudioConfig()
        self.text = TextTransformerConditioner(config.text)
        self.text_head = nn.Linear(config.text.dim, config.dim)
        self.audio = FOAAudioEncoder(config.audio, config.dim)

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    def embed_text(self, captions: Sequence[str]) -> torch.Tensor:
        """Captions -> ``(N, dim)`` unit vectors."""
        encoded = self.text(self.text.prepare(list(captions)))
        pooled = masked_mean(encoded.tokens, encoded.mask)
        return F.normalize(self.text_head(pooled), dim=-1)

    def embed_audio(self, foa: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """AmbiX ``(N, 4, n)`` at ``sample_rate`` (default: the model's) -> ``(N, dim)``."""
        foa = validate_foa(foa, ndim=3).to(self.text_head.weight)
        if sample_rate is not None and sample_rate != self.sample_rate:
            import torchaudio.functional

            foa = torchaudio.functional.resample(foa, int(sample_rate), self.sample_rate)
        seconds = foa.shape[-1] / self.sample_rate
        times = (torch.arange(self.config.steps, dtype=torch.float64) + 0.5) \
            * seconds / self.config.steps
        features = self.audio(foa, times.to(foa.device))
        return F.normalize(features.mean(1), dim=-1)

    def similarity(self, captions: Sequence[str], foa: torch.Tensor,
                   sample_rate: int | None = None) -> torch.Tensor:
        """Cosine of each caption with its own clip: ``(N,)`` in [-1, 1]."""
        return (self.embed_text(captions) * self.embed_audio(foa, sample_rate)).sum(-1)

    def loss(self, foa: torch.Tensor, captions: Sequence[str], generator: torch.Generator, *,
             rotation_negatives: int = 1, min_rotation_degrees: float = 45.0
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Symmetric InfoNCE of a batch of (clip, caption) pairs at the model's rate, with
        ``rotation_negatives`` turned copies of each clip as its caption's hard negatives."""
        text = self.embed_text(captions).unsqueeze(1)
        audio = self.embed_audio(foa).unsqueeze(1)
        turned = [self.embed_audio(rotate(foa, yaw=random_yaw(
            foa.shape[0], min_rotation_degrees, 360, generator)).to(foa.dtype))
            for _ in range(rotation_negatives)]
        hard = torch.stack(turned, dim=1).unsqueeze(2) if turned else None
        mask = torch.ones(foa.shape[0], 1, dtype=torch.bool, device=text.device)
        return svac_loss(text, audio, mask, self.config.temperature, hard_audio=hard)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.toml`` and ``model.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        text = dumps_toml(self.config)
        atomic_write(directory / CONFIG_FILE, lambda temp: temp.write_text(text, "utf-8"))
        save_weights(self, directory / WEIGHTS_FILE)
        return directory


def load_text_audio(directory: str | Path) -> TextAudioModel:
    """A saved text-audio model (weights checked key by key), frozen, in eval mode."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ResourceNotFoundError(
            f"{directory} is not a saved text-audio model (no {CONFIG_FILE}); train one with "
            "'swansphere train odpo.toml' (it trains the judge when the semantic reward has no "
            "text_model) or give the directory of one")
    model = TextAudioModel(load_toml(path, TextAudioConfig))
    load_weights(model, Path(directory) / WEIGHTS_FILE)
    return model.eval().requires_grad_(False)
