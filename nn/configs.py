"""Configs of the shared building blocks: frozen attrs classes, free of torch (so plugin
config modules that use them stay import-light)."""

from __future__ import annotations

import attrs
from attrs import validators as v

from swansphere.conditioning.config import positive, positive_widths

_positive = v.gt(0)


def _check_heads(instance: TransformerSize, _attribute: attrs.Attribute, _value: int) -> None:
    if instance.width % instance.heads or instance.heads % instance.kv_heads:
        raise ValueError(f"width {instance.width} must divide into {instance.heads} heads, and "
                         f"heads into {instance.kv_heads} KV heads")
    if (instance.width // instance.heads) % 2:
        raise ValueError(f"head dimension {instance.width // instance.heads} must be even "
                         "(rotary embeddings rotate channel pairs)")


@attrs.frozen(kw_only=True)
class TransformerSize:
    """Depth and width of one transformer stack; ``kv_heads < heads`` is grouped-query."""

    layers: int = attrs.field(default=4, validator=v.ge(0))
    width: int = attrs.field(default=256, validator=_positive)
    heads: int = attrs.field(default=4, validator=_positive)
    kv_heads: int = attrs.field(default=2, validator=[_positive, _check_heads])
    mlp_ratio: float = attrs.field(default=4.0, validator=_positive)

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def mlp_hidden(self) -> int:
        """SwiGLU hidden width, rounded to a multiple of 8 for efficient kernels."""
        return max(8, round(self.width * self.mlp_ratio / 8) * 8)



@attrs.frozen(kw_only=True)
class FOAAudioEncoderConfig:
    """The direction-aware FOA encoder: per-band covariance of all four AmbiX channels.

    Attributes:
        sample_rate: audio rate the encoder expects.
        n_fft, hop_length: STFT size and hop (samples).
        bands: mel-spaced bands over which the 4 × 4 channel covariance is summed.
        channels: widths of the stride-2 (in frequency) convolution stages.
        window_seconds: audio around each video frame time that makes one step's feature.
    """

    sample_rate: int = attrs.field(default=16000, validator=positive)
    n_fft: int = attrs.field(default=512, validator=positive)
    hop_length: int = attrs.field(default=160, validator=positive)
    bands: int = attrs.field(default=32, validator=positive)
    channels: tuple[int, ...] = attrs.field(default=(32, 64), converter=tuple,
                                            validator=positive_widths)
    window_seconds: float = attrs.field(default=0.5, validator=attrs.validators.gt(0))
