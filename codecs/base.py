"""What every built-in codec shares: input checks and the codec's own description."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from swansphere.config import CodecSpec
from swansphere.errors import AudioFormatError


def check_audio(audio: torch.Tensor, what: str = "audio") -> None:
    """Raise AudioFormatError unless ``audio`` is a float ``(batch, 4, samples)`` tensor."""
    if not isinstance(audio, torch.Tensor) or not audio.is_floating_point():
        raise AudioFormatError(f"{what} must be a float tensor of shape (batch, 4, samples)")
    if audio.dim() != 3 or audio.shape[1] != 4:
        hint = "; add a batch axis with audio.unsqueeze(0)" if audio.dim() == 2 else ""
        raise AudioFormatError(f"{what} must have shape (batch, 4, samples) in AmbiX (W, Y, Z,"
                               f" X), got {tuple(audio.shape)}{hint}")


def check_latents(latents: torch.Tensor, latent_dim: int) -> None:
    """Raise AudioFormatError unless ``latents`` is a float ``(batch, frames, latent_dim)``."""
    if (not isinstance(latents, torch.Tensor) or not latents.is_floating_point()
            or latents.dim() != 3 or latents.shape[-1] != latent_dim):
        shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents)
        raise AudioFormatError(f"latents must be a float tensor of shape (batch, frames, "
                               f"{latent_dim}), got {shape}")


class CodecInfo:
    """Metadata mixin: rates, the registered spec and the weights-aware ``from_config``.

    Subclasses set ``registered_name`` and ``config``; ``sample_rate`` and ``hop_length``
    come from the config's fields of those names unless a subclass derives them otherwise.
    """

    registered_name: ClassVar[str]
    config: Any
    lookahead: int = 0
    decode_lookahead: int = 0
    delay: int = 0
    """Samples by which ``decode(encode(x))`` lags ``x`` (an overlap-add codec's one hop)."""

    @classmethod
    def from_config(cls, config: Any) -> Any:
        """Build the codec and load ``config.weights`` when set (strict keys and shapes, and
        the config they were saved with, where it is beside them, must agree)."""
        codec = cls(config)
        if getattr(config, "weights", None):
            from .weights import check_saved_config, load_weights

            check_saved_config(config)
            load_weights(codec, config.weights)
        return codec

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.toml`` and, when the codec has state, ``model.safetensors`` (each
        file atomically)."""
        from .weights import save_codec

        return save_codec(self, directory)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def frame_rate(self) -> float:
        """Latent frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def spec(self) -> CodecSpec:
        """The ``{type = ..., ...}`` table that rebuilds this codec (without weights)."""
        return CodecSpec(type=self.registered_name, config=self.config)
