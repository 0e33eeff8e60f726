"""Configs of the built-in conditioners: frozen, keyword-only attrs classes (TOML tables).

Kept free of torch so that the plugin module that registers the conditioners imports fast.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import ConfigError

MINILM_NAME = "minilm"
TRANSFORMER_NAME = "text-transformer"
VIDEO_NAME = "panorama-video"
FRAME_ENCODERS = ("erp-cnn", "crops-cnn", "crops-efficientnet-lite0")
READOUTS = ("grid", "attention")
PLACE_WORDS = ("as-written", "canonical")
"""How a text conditioner takes a caption's place phrases: as written, or rewritten into the
caption vocabulary's words first (:func:`swansphere.spatial.words.canonical_places`)."""
SOUND_WORDS = ("as-written", "canonical")
"""How a text conditioner takes a caption's sound nouns: as written, or with rarer nouns for
a vocabulary class rewritten into its own noun first
(:func:`swansphere.conditioning.sound_words.canonical_sounds`)."""


def positive(_instance: Any, attribute: attrs.Attribute, value: int) -> None:
    """attrs validator: an integer field that must be at least 1."""
    if value < 1:
        raise ConfigError(f"{attribute.name} must be >= 1, got {value}")


@attrs.frozen(kw_only=True)
class TextTransformerConfig:
    """The dependency-free text encoder.

    Attributes:
        dim: output token width.
        tokenizer: "words" (CRC-32 hashed words, one token per word) or "bytes" (UTF-8).
        vocab_size: hash buckets of the "words" tokenizer (ignored for "bytes").
        max_length: tokens per caption including the BOS/EOS markers; longer ones are cut.
        layers, heads, ff_mult: transformer size.
        null_tokens: how many learned tokens stand for "no text".
        weights: optional safetensors file to load (this module's own state dict).
        places: "as-written", or "canonical": each caption's place phrases are rewritten into
            the captioner's words before tokenizing ("to your left" -> "on the left"), for an
            encoder trained on those words only (docs/conditioning.md, "Place words").
        sounds: "as-written", or "canonical": rarer nouns for a vocabulary class are rewritten
            into the class's noun before tokenizing ("a fiddle" -> "a violin";
            docs/conditioning.md, "Sound words").
    """

    dim: int = attrs.field(default=256, validator=positive)
    tokenizer: str = attrs.field(default="words",
                                 validator=attrs.validators.in_(("words", "bytes")))
    vocab_size: int = attrs.field(default=4096, validator=attrs.validators.gt(3))
    max_length: int = attrs.field(default=64, validator=attrs.validators.ge(2))
    layers: int = attrs.field(default=2, validator=positive)
    heads: int = attrs.field(default=4, validator=positive)
    ff_mult: int = attrs.field(default=4, validator=positive)
    null_tokens: int = attrs.field(default=1, validator=positive)
    weights: str | None = None
    places: str = attrs.field(default="as-written", validator=attrs.validators.in_(PLACE_WORDS))
    sounds: str = attrs.field(default="as-written", validator=attrs.validators.in_(SOUND_WORDS))


@attrs.frozen(kw_only=True)
class MiniLMTextConfig:
    """The packaged MiniLM encoder (frozen) with a trainable projection to ``dim``.

    Attributes:
        dim: output token width (MiniLM's hidden states are 384-d).
        max_length: word pieces per caption including [CLS]/[SEP]; longer ones are cut.
        null_tokens: how many learned tokens stand for "no text".
        weights: optional safetensors file with the projection and null tokens.
        places, sounds: "as-written" or "canonical", as for ``text-transformer``.
    """

    dim: int = attrs.field(default=256, validator=positive)
    max_length: int = attrs.field(default=64, validator=attrs.validators.ge(2))
    null_tokens: int = attrs.field(default=1, validator=positive)
    weights: str | None = None
    places: str = attrs.field(default="as-written", validator=attrs.validators.in_(PLACE_WORDS))
    sounds: str = attrs.field(default="as-written", validator=attrs.validators.in_(SOUND_WORDS))


def positive_widths(_instance: Any, _attribute: attrs.Attribute,
                    value: tuple[int, ...]) -> None:
    """attrs validator: a non-empty list of positive layer widths."""
    if not value or any(width < 1 for width in value):
        raise ConfigError(f"channels must be a non-empty list of positive widths, "
                                f"got {list(value)}")


@attrs.frozen(kw_only=True)
class PanoramaVideoConfig:
    """The panoramic video conditioner.

    Attributes:
        dim: output width per frame.
        height, width: ERP size the frames are resized to (width = 2 × height).
        frame_encoder: "erp-cnn" (CNN on the whole panorama), "crops-cnn" (perspective crops,
            small CNN) or "crops-efficientnet-lite0" (crops, frozen pretrained network from
            the ``vision`` extra).
        channels: CNN widths, one stride-2 stage each.
        token_dim, heads, mixer_layers: width, heads and depth of the per-frame token mixer.
        readout: how the mixed tokens become one frame vector: "grid" (a linear map of all
            tokens in place, like the paper's SVAC projector) or "attention" (a learned-query
            attention pool).
        sh_order: order of the spherical-harmonic positional features ((order + 1)² of them).
        crop_size, crop_fov, crop_yaws, crop_elevations: the perspective crops (pixels,
            degrees, crops per ring, ring elevations in degrees).
        temporal_kernel, temporal_layers: causal temporal convolutions (frames of history).
        frame_rate: frames per second assumed when frames come without timestamps.
        weights: optional safetensors file: this module's state dict, or an SVAC checkpoint
            (keys under ``video.``).
    """

    dim: int = attrs.field(default=256, validator=positive)
    height: int = attrs.field(default=64, validator=positive)
    width: int = attrs.field(default=128, validator=positive)
    frame_encoder: str = attrs.field(default="erp-cnn",
                                     validator=attrs.validators.in_(FRAME_ENCODERS))
    channels: tuple[int, ...] = attrs.field(default=(32, 64, 128), converter=tuple,
                                            validator=positive_widths)
    token_dim: int = attrs.field(default=128, validator=positive)
    readout: str = attrs.field(default="grid", validator=attrs.validators.in_(READOUTS))
    heads: int = attrs.field(default=4, validator=positive)
    mixer_layers: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    sh_order: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    crop_size: int = attrs.field(default=48, validator=positive)
    crop_fov: float = attrs.field(default=90.0, validator=[attrs.validators.gt(0),
                                                           attrs.validators.lt(180)])
    crop_yaws: int = attrs.field(default=8, validator=positive)
    crop_elevations: tuple[float, ...] = attrs.field(default=(0.0,), converter=tuple)
    temporal_kernel: int = attrs.field(default=4, validator=positive)
    temporal_layers: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    frame_rate: float = attrs.field(default=4.0, validator=attrs.validators.gt(0))
    weights: str | None = None
