"""A trainable streaming codec: each hop of FOA samples maps linearly to one latent frame.

It is all a codec needs to be trained by ``swansphere train`` (task ``codec``) and saved: an
``nn.Module`` following the LatentCodec protocol. It has no ``spec`` and no
``save_pretrained``; the trainer saves it with the config it was built from.
"""

import torch
from torch import nn

from swansphere.errors import AudioFormatError


class LinearCodec(nn.Module):
    lookahead = 0
    decode_lookahead = 0

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        width = 4 * config.hop_length
        self.analysis = nn.Linear(width, config.latent_dim, bias=False)
        self.synthesis = nn.Linear(config.latent_dim, width, bias=False)

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() != 3 or audio.shape[1] != 4:
            raise AudioFormatError(f"audio must be (batch, 4, samples), got {tuple(audio.shape)}")
        frames = audio.shape[-1] // self.hop_length
        hops = audio[..., :frames * self.hop_length].unflatten(-1, (frames, self.hop_length))
        return self.analysis(hops.permute(0, 2, 1, 3).flatten(2))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = latents.shape
        hops = self.synthesis(latents).unflatten(-1, (4, self.hop_length))
        return hops.permute(0, 2, 1, 3).reshape(batch, 4, frames * self.hop_length)

    def init_encode_state(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, 4, 0)

    def encode_step(self, audio_chunk: torch.Tensor, state: torch.Tensor):
        joined = torch.cat([state, audio_chunk], dim=-1)
        whole = joined.shape[-1] // self.hop_length * self.hop_length
        return self.encode(joined), joined[..., whole:]

    def init_decode_state(self, batch_size: int) -> None:
        return None

    def decode_step(self, latent_chunk: torch.Tensor, state: None):
        return self.decode(latent_chunk), state
