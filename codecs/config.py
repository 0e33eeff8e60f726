"""Configurations of the built-in codecs (import-light: attrs only, no torch).

``foa-vae`` starts from a named preset and lets any field override it::

    [codec]
    type = "foa-vae"
    preset = "tiny"          # 16 kHz, hop 256 (62.5 Hz), 32-d latent
    latent_dim = 16          # an override; unset fields come from the preset
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from swansphere.errors import ConfigError

FOA_VAE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"sample_rate": 16000, "strides": (4, 4, 4, 4), "channels": (16, 32, 64, 128, 128),
             "latent_dim": 32, "dilations": (1, 3), "kernel_size": 7, "skip_coefficients": 6},
    "paper": {"sample_rate": 44100, "strides": (2, 4, 4, 8, 8),
              "channels": (128, 128, 256, 512, 1024, 1024), "latent_dim": 128,
              "dilations": (1, 3, 9), "kernel_size": 7, "skip_coefficients": 24},
}
"""Named architectures; ``paper`` matches the published latent (44.1 kHz, hop 2048, 128-d)."""


def _preset_name(_instance: Any, _attribute: attrs.Attribute, value: str) -> None:
    if value not in FOA_VAE_PRESETS:
        raise ConfigError(f"unknown foa-vae preset {value!r}; valid: "
                          f"{', '.join(sorted(FOA_VAE_PRESETS))}")


def _optional_ints(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)


@attrs.frozen(kw_only=True)
class FoaVaeArchitecture:
    """The resolved (preset + overrides) architecture of a ``foa-vae`` codec."""

    sample_rate: int
    strides: tuple[int, ...]
    channels: tuple[int, ...]
    latent_dim: int
    dilations: tuple[int, ...]
    kernel_size: int
    skip_coefficients: int

    @property
    def hop_length(self) -> int:
        return math.prod(self.strides)

    def check(self) -> FoaVaeArchitecture:
        """Raise a ConfigError that says what to change when the fields do not fit together."""
        if len(self.channels) != len(self.strides) + 1:
            raise ConfigError(f"foa-vae: channels needs len(strides) + 1 = {len(self.strides) + 1}"
                              f" entries (one per resolution), got {len(self.channels)}")
        positive = {"sample_rate": [self.sample_rate], "strides": self.strides,
                    "channels": self.channels, "latent_dim": [self.latent_dim],
                    "dilations": self.dilations, "kernel_size": [self.kernel_size]}
        for name, values in positive.items():
            if any(v < 1 for v in values):
                raise ConfigError(f"foa-vae: {name} must be positive, got {list(values)}")
        if not 0 <= 4 * self.skip_coefficients <= min(self.latent_dim, 4 * self.hop_length):
            raise ConfigError(f"foa-vae: skip_coefficients must lie in 0..min(latent_dim / 4, "
                              f"hop_length) = {min(self.latent_dim // 4, self.hop_length)}, "
                              f"got {self.skip_coefficients}")
        return self


@attrs.frozen(kw_only=True)
class FoaVaeConfig:
    """Config of the causal convolutional FOA VAE (``type = "foa-vae"``).

    Attributes:
        preset: ``"tiny"`` or ``"paper"``; fields left unset come from it.
        sample_rate: audio sample rate in Hz.
        strides: downsampling factor of each encoder stage; their product is the hop length.
        channels: conv width at each resolution, ``len(strides) + 1`` entries (full rate first).
        latent_dim: size of one latent frame.
        dilations: one causal residual block per dilation at every resolution.
        kernel_size: kernel of the residual blocks' dilated convs.
        skip_coefficients: DCT coefficients per channel of the linear skip path (0: none);
            they fill the first ``4 * skip_coefficients`` latent dims.
        weights: a ``.safetensors`` file (or a directory holding ``model.safetensors``) to load;
            keys and shapes must match exactly.
    """

    preset: str = attrs.field(default="tiny", validator=_preset_name)
    sample_rate: int | None = None
    strides: tuple[int, ...] | None = attrs.field(default=None, converter=_optional_ints)
    channels: tuple[int, ...] | None = attrs.field(default=None, converter=_optional_ints)
    latent_dim: int | None = None
    dilations: tuple[int, ...] | None = attrs.field(default=None, converter=_optional_ints)
    kernel_size: int | None = None
    skip_coefficients: int | None = None
    weights: str | None = None

    def architecture(self) -> FoaVaeArchitecture:
        """The preset with this config's overrides applied, checked."""
        overrides = {name: getattr(self, name) for name in FOA_VAE_PRESETS[self.preset]
                     if getattr(self, name) is not None}
        return FoaVaeArchitecture(**{**FOA_VAE_PRESETS[self.preset], **overrides}).check()


@attrs.frozen(kw_only=True)
class PatchCodecConfig:
    """Config of the training-free ``patch`` codec.

    Each latent frame is one hop of the 4 channels, optionally through an orthonormal DCT-II
    per channel. With all coefficients the codec reconstructs exactly; keeping only the first
    ``coefficients`` per channel gives a low-pass baseline with a smaller latent.

    Attributes:
        sample_rate: audio sample rate in Hz.
        hop_length: samples per latent frame.
        transform: ``"dct"`` or ``"identity"``.
        coefficients: coefficients kept per channel (``None``: all; only with ``"dct"``).
    """

    sample_rate: int = attrs.field(default=16000, validator=attrs.validators.gt(0))
    hop_length: int = attrs.field(default=64, validator=attrs.validators.gt(0))
    transform: str = attrs.field(default="dct",
                                 validator=attrs.validators.in_(("dct", "identity")))
    coefficients: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.coefficients is None:
            return
        if self.transform != "dct":
            raise ConfigError("patch: coefficients needs transform = \"dct\"")
        if not 1 <= self.coefficients <= self.hop_length:
            raise ConfigError(f"patch: coefficients must lie in 1..hop_length "
                              f"({self.hop_length}), got {self.coefficients}")

    @property
    def kept(self) -> int:
        """Values per channel in a latent frame."""
        return self.hop_length if self.coefficients is None else self.coefficients


@attrs.frozen(kw_only=True)
class FoaParametricConfig:
    """Config of the ``foa-parametric`` transform codec (see docs/codecs.md).

    Attributes:
        sample_rate: audio sample rate in Hz.
        hop_length: samples per latent frame (the MDCT has ``hop_length`` bins).
        low_bins: W's MDCT coefficients kept exactly (48 of 256 at 16 kHz: up to 1.5 kHz).
        low_band: ``"waveform"`` (those coefficients exactly) or ``"power"`` (each bin's log
            power, phase-free: the MDCT's and the sine transform's squares averaged, decoded
            with phases that continue the tones they describe): a little less identity in
            the round trip, but values a generative model can predict (the waveform's signs
            and fine phase are noise to it; docs/codecs.md).
        envelope_bands: mel-spaced bands above them coded as W's log power.
        direction_bands: mel-spaced bands over the whole spectrum, each with a direction
            vector (3 values) and a diffuseness amplitude (1 value); each at least 4 bins.
        weights: fitted statistics (``model.safetensors`` or its directory), or ``None``.

    ``latent_dim = low_bins + envelope_bands + 4 * direction_bands`` (112 by default).
    """

    sample_rate: int = attrs.field(default=16000, validator=attrs.validators.gt(0))
    hop_length: int = attrs.field(default=256, validator=attrs.validators.gt(0))
    low_bins: int = attrs.field(default=48, validator=attrs.validators.ge(2))
    low_band: str = attrs.field(default="waveform",
                                validator=attrs.validators.in_(("waveform", "power")))
    envelope_bands: int = attrs.field(default=32, validator=attrs.validators.ge(1))
    direction_bands: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    weights: str | None = None

    def latent_parts(self) -> dict[str, slice]:
        """Where each kind of value sits in a latent frame, in order: ``low band`` (W's MDCT
        coefficients, or their log powers), ``envelope`` (log band powers), ``direction``
        (3 per band, band by band) and ``diffuseness`` (1 per band)."""
        sizes = {"low band": self.low_bins, "envelope": self.envelope_bands,
                 "direction": 3 * self.direction_bands, "diffuseness": self.direction_bands}
        parts, start = {}, 0
        for name, size in sizes.items():
            parts[name] = slice(start, start + size)
            start += size
        return parts

    def __attrs_post_init__(self) -> None:
        if self.low_bins + self.envelope_bands > self.hop_length:
            raise ConfigError(f"foa-parametric: low_bins + envelope_bands must be at most "
                              f"hop_length ({self.hop_length}), got {self.low_bins} + "
                              f"{self.envelope_bands}")
        if 4 * self.direction_bands > self.hop_length:
            raise ConfigError(f"foa-parametric: direction_bands needs 4 bins each, so at most "
                              f"hop_length / 4 = {self.hop_length // 4}, got "
                              f"{self.direction_bands}")
