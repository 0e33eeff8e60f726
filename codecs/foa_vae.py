"""``foa-vae``: a causal convolutional VAE for 4-channel AmbiX audio.

Encoder: a causal conv at full rate, then per stage causal residual blocks (one per dilation)
and a strided causal conv (kernel ``2 * stride``), then a conv to the posterior mean and
log-variance. Decoder: the mirror image, upsampling with causal transposed convs. Every layer
only looks back, so encoding and decoding stream with lookahead 0: a latent frame depends on
the audio up to its own end, and a decoded hop on the latent frames up to its own.

Beside each stack runs a linear path with kernel = stride = hop (analysis: audio -> latent
frame; synthesis: latent frame -> hop of audio), started as the ``patch`` codec's per-channel
low-pass DCT. An untrained codec is therefore already a transform codec that treats the four
channels alike (so low-frequency direction survives), and training only has to learn what that
misses (see docs/codecs.md for what a short CPU run does with and without them).

The four channels are coded jointly, so the inter-channel relations that carry direction are
modelled by every conv rather than left to chance (the spatial loss in
:mod:`swansphere.codecs.losses` trains for it).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .base import CodecInfo, check_audio, check_latents
from .causal import (
    CausalConv1d,
    CausalConvTranspose1d,
    CausalResidualBlock,
    Pointwise,
    StreamingModule,
    StreamingSequential,
    StreamingSum,
)
from .config import FoaVaeArchitecture, FoaVaeConfig
from .patch import dct_basis

FOA_CHANNELS = 4
EDGE_KERNEL = 7
LOGVAR_RANGE = (-30.0, 20.0)
INITIAL_LOGVAR = -10.0
RESIDUAL_INIT = 0.1


def _stage(channels: int, arch: FoaVaeArchitecture) -> list[StreamingModule]:
    return [CausalResidualBlock(channels, kernel_size=arch.kernel_size, dilation=d)
            for d in arch.dilations]


def build_encoder(arch: FoaVaeArchitecture) -> StreamingSum:
    """Audio ``(b, 4, n)`` -> posterior parameters ``(b, 2 * latent_dim, n // hop)``.

    The conv stack plus a linear analysis path: one conv with kernel = stride = hop, started
    as a per-channel DCT (see :meth:`FoaVae._initialise`).
    """
    analysis = CausalConv1d(FOA_CHANNELS, 2 * arch.latent_dim, arch.hop_length,
                            stride=arch.hop_length)
    return StreamingSum([_encoder_stack(arch), analysis])


def build_decoder(arch: FoaVaeArchitecture) -> StreamingSum:
    """Latents ``(b, latent_dim, frames)`` -> audio ``(b, 4, frames * hop)``: the conv stack
    plus the linear synthesis path (a transposed conv with kernel = stride = hop)."""
    synthesis = CausalConvTranspose1d(arch.latent_dim, FOA_CHANNELS, arch.hop_length,
                                      stride=arch.hop_length)
    return StreamingSum([_decoder_stack(arch), synthesis])


def _encoder_stack(arch: FoaVaeArchitecture) -> StreamingSequential:
    layers: list[StreamingModule] = [CausalConv1d(FOA_CHANNELS, arch.channels[0], EDGE_KERNEL)]
    for index, stride in enumerate(arch.strides):
        layers += _stage(arch.channels[index], arch)
        layers += [Pointwise(nn.ELU()),
                   CausalConv1d(arch.channels[index], arch.channels[index + 1], 2 * stride,
                                stride=stride)]
    layers += [Pointwise(nn.ELU()), CausalConv1d(arch.channels[-1], 2 * arch.latent_dim, 3)]
    return StreamingSequential(layers)


def _decoder_stack(arch: FoaVaeArchitecture) -> StreamingSequential:
    layers: list[StreamingModule] = [CausalConv1d(arch.latent_dim, arch.channels[-1],
                                                  EDGE_KERNEL)]
    for index in reversed(range(len(arch.strides))):
        stride = arch.strides[index]
        layers += [Pointwise(nn.ELU()),
                   CausalConvTranspose1d(arch.channels[index + 1], arch.channels[index],
                                         2 * stride, stride=stride)]
        layers += _stage(arch.channels[index], arch)
    layers += [Pointwise(nn.ELU()), CausalConv1d(arch.channels[0], FOA_CHANNELS, EDGE_KERNEL)]
    return StreamingSequential(layers)


class FoaVae(CodecInfo, nn.Module):
    """Causal streaming FOA VAE; follows :class:`swansphere.protocols.LatentCodec`.

    ``encode`` returns the posterior mean (deterministic); :meth:`posterior` gives mean and
    log-variance for training. Streaming states are tuples of per-layer tensors, never
    mutated in place, so keeping a reference is a snapshot.
    """

    registered_name = "foa-vae"

    def __init__(self, config: FoaVaeConfig | None = None) -> None:
        super().__init__()
        self.config = config or FoaVaeConfig()
        self.architecture = self.config.architecture()
        self.encoder = build_encoder(self.architecture)
        self.decoder = build_decoder(self.architecture)
        self._initialise()

    # ---------------------------------------------------------------- metadata

    @property
    def sample_rate(self) -> int:
        return self.architecture.sample_rate

    @property
    def hop_length(self) -> int:
        return self.architecture.hop_length

    @property
    def latent_dim(self) -> int:
        return self.architecture.latent_dim

    # ---------------------------------------------------------------- offline

    def posterior(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | audio), each ``(batch, frames, latent_dim)``."""
        check_audio(audio)
        return self._split(self.encoder(audio.to(self._dtype)))

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio ``(batch, 4, samples)`` -> latents ``(batch, samples // hop, latent_dim)``."""
        return self.posterior(audio)[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(batch, frames, latent_dim)`` -> audio ``(batch, 4, frames * hop)``."""
        check_latents(latents, self.latent_dim)
        return self.decoder(latents.to(self._dtype).transpose(1, 2))

    # ---------------------------------------------------------------- streaming

    def init_encode_state(self, batch_size: int) -> tuple:
        return self.encoder.init_state(batch_size)

    def encode_step(self, audio_chunk: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """Any number of samples in; the latent frames they complete out (maybe none)."""
        check_audio(audio_chunk, "audio_chunk")
        params, state = self.encoder.step(audio_chunk.to(self._dtype), state)
        return self._split(params)[0], state

    def init_decode_state(self, batch_size: int) -> tuple:
        return self.decoder.init_state(batch_size)

    def decode_step(self, latent_chunk: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """Any number of latent frames in; ``frames * hop`` samples out."""
        check_latents(latent_chunk, self.latent_dim)
        return self.decoder.step(latent_chunk.to(self._dtype).transpose(1, 2), state)

    # ---------------------------------------------------------------- weights

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> FoaVae:
        """Load a codec that :meth:`save_pretrained` wrote."""
        from .weights import load_codec

        codec = load_codec(directory)
        if not isinstance(codec, cls):
            raise TypeError(f"{directory} holds a {type(codec).__name__}, not a {cls.__name__}")
        return codec

    # ---------------------------------------------------------------- helpers

    @torch.no_grad()
    def _initialise(self) -> None:
        """Start as the best fixed linear codec, then let the conv stacks learn the rest.

        - Every conv keeps the signal scale (std 1/√fan_in, zero bias); PyTorch's default
          shrinks activations by about √3 per layer, and its random biases then drown quiet
          audio, so an untrained stack hardly depends on its input and training crawls.
        - Residual branches start small (near identity).
        - The linear paths start as a per-channel DCT keeping ``skip_coefficients``
          coefficients (the ``patch`` codec's low-pass), in the first latent dims; the two
          stacks' last convs start at zero. The untrained codec is thus a low-pass transform
          codec that treats the four channels alike, so low-frequency direction survives from
          step 0 and the stacks learn what it misses.
        - The posterior starts narrow (std e^-5), so sampling noise does not drown the means
          (posterior collapse).
        """
        for module in self.modules():
            if isinstance(module, CausalConv1d):
                conv, fan_in = module.conv, module.conv.in_channels * module.conv.kernel_size[0]
            elif isinstance(module, CausalConvTranspose1d):
                conv = module.conv
                fan_in = conv.in_channels * conv.kernel_size[0] // module.stride
            else:
                continue
            nn.init.normal_(conv.weight, std=fan_in ** -0.5)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        for block in self.modules():
            if isinstance(block, CausalResidualBlock):
                block.body.layers[-1].conv.weight.mul_(RESIDUAL_INIT)
        encoder_stack, analysis = self.encoder.branches
        decoder_stack, synthesis = self.decoder.branches
        encoder_stack.layers[-1].conv.weight[:self.latent_dim].zero_()
        encoder_stack.layers[-1].conv.bias[self.latent_dim:].fill_(INITIAL_LOGVAR)
        decoder_stack.layers[-1].conv.weight.zero_()
        analysis.conv.weight.zero_()
        synthesis.conv.weight.zero_()
        kept = self.architecture.skip_coefficients
        if kept:
            basis = dct_basis(self.hop_length, kept).T.to(analysis.conv.weight.device)
            for channel in range(FOA_CHANNELS):
                rows = slice(channel * kept, (channel + 1) * kept)
                analysis.conv.weight[rows, channel] = basis
                synthesis.conv.weight[rows, channel] = basis

    @property
    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = params.transpose(1, 2).chunk(2, dim=-1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def extra_repr(self) -> str:
        arch = self.architecture
        return (f"sample_rate={arch.sample_rate}, hop_length={arch.hop_length}, "
                f"latent_dim={arch.latent_dim}, strides={arch.strides}, channels={arch.channels}")


def sample_posterior(mean: torch.Tensor, logvar: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Reparameterised draw ``mean + exp(logvar / 2) * eps`` with an explicit generator."""
    # Drawn where the generator lives (a CPU generator may feed a model on a GPU).
    where = mean.device if generator is None else generator.device
    noise = torch.randn(mean.shape, generator=generator, device=where, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * noise.to(mean.device)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (works on the meta device)."""
    return sum(p.numel() for p in module.parameters())
