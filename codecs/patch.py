"""``patch``: a training-free codec; one latent frame per hop of the four channels.

Each hop of each channel goes through a fixed orthonormal transform (the DCT-II, or the
identity), so decoding is the exact inverse. Keeping only the first DCT coefficients makes a
low-pass baseline with a smaller latent. It streams trivially (a frame only sees its own hop)
and serves fast tests and as the reference a learned codec must beat.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import CodecInfo, check_audio, check_latents
from .config import PatchCodecConfig

FOA_CHANNELS = 4


def dct_basis(size: int, kept: int | None = None) -> torch.Tensor:
    """Orthonormal DCT-II basis as columns: ``(size, kept)``; ``x @ basis`` gives coefficients."""
    kept = size if kept is None else kept
    n = torch.arange(size, dtype=torch.float64)[:, None]
    k = torch.arange(kept, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (n + 0.5) * k / size) * math.sqrt(2.0 / size)
    basis[:, 0] /= math.sqrt(2.0)
    return basis.to(torch.float32)


class PatchCodec(CodecInfo, nn.Module):
    """Waveform patches (optionally DCT coefficients) as latents; no parameters, no training.

    Latent frames are ``(4 * kept,)`` vectors, channel-major in ACN order (W, Y, Z, X).
    """

    registered_name = "patch"

    def __init__(self, config: PatchCodecConfig | None = None) -> None:
        super().__init__()
        self.config = config or PatchCodecConfig()
        hop = self.config.hop_length
        basis = (dct_basis(hop, self.config.kept) if self.config.transform == "dct"
                 else torch.eye(hop))
        self.register_buffer("basis", basis, persistent=False)

    @property
    def latent_dim(self) -> int:
        return FOA_CHANNELS * self.config.kept

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio ``(batch, 4, samples)`` -> latents ``(batch, samples // hop, 4 * kept)``."""
        check_audio(audio)
        batch, _, samples = audio.shape
        frames = samples // self.hop_length
        patches = audio[..., :frames * self.hop_length].to(self.basis.dtype)
        patches = patches.reshape(batch, FOA_CHANNELS, frames, self.hop_length)
        coefficients = patches @ self.basis
        return coefficients.permute(0, 2, 1, 3).reshape(batch, frames, self.latent_dim)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(batch, frames, 4 * kept)`` -> audio ``(batch, 4, frames * hop)``."""
        check_latents(latents, self.latent_dim)
        batch, frames, _ = latents.shape
        coefficients = latents.to(self.basis.dtype).reshape(batch, frames, FOA_CHANNELS,
                                                            self.config.kept)
        patches = coefficients @ self.basis.T
        return patches.permute(0, 2, 1, 3).reshape(batch, FOA_CHANNELS, frames * self.hop_length)

    def init_encode_state(self, batch_size: int) -> torch.Tensor:
        """The samples that do not fill a hop yet (none at first)."""
        return self.basis.new_zeros(batch_size, FOA_CHANNELS, 0)

    def encode_step(self, audio_chunk: torch.Tensor,
                    state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_audio(audio_chunk, "audio_chunk")
        joined = torch.cat([state, audio_chunk.to(self.basis.dtype)], dim=-1)
        whole = joined.shape[-1] // self.hop_length * self.hop_length
        return self.encode(joined[..., :whole]), joined[..., whole:]

    def init_decode_state(self, batch_size: int) -> tuple[()]:
        """Decoding needs no memory: each frame is its own hop."""
        return ()

    def decode_step(self, latent_chunk: torch.Tensor,
                    state: tuple[()]) -> tuple[torch.Tensor, tuple[()]]:
        return self.decode(latent_chunk), state
