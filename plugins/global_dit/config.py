"""Configuration of the ``global-dit`` backbone (import-light: attrs only, no torch)."""

from __future__ import annotations

from typing import Literal

import attrs
from attrs import validators as v

from swansphere.nn.configs import TransformerSize

_positive = v.gt(0)
_probability = [v.ge(0.0), v.le(1.0)]


@attrs.frozen(kw_only=True)
class GlobalDiTConfig:
    """A whole-clip (non-causal) diffusion transformer, the streaming model's baseline.

    One token per ``patch_frames`` latent frames (default 1: one token per latent frame, as in
    whole-clip latent audio DiTs; the causal model's patch size gives the LM's coarser, k-times
    cheaper grid), bidirectional self-attention over the whole clip, gated cross-attention to
    the encoded text, and each token's time-aligned video frame added to its input. Defaults
    are the size that matches the ``causal-dit`` ``tiny`` preset
    (:func:`swansphere.plugins.global_dit.same_size_config` builds the match for any causal
    configuration).
    """

    latent_dim: int = attrs.field(default=32, validator=_positive)
    latent_frame_rate: float = attrs.field(default=62.5, validator=_positive)
    patch_frames: int = attrs.field(default=1, validator=_positive)
    text_dim: int = attrs.field(default=384, validator=_positive)
    video_dim: int = attrs.field(default=512, validator=_positive)

    dit: TransformerSize = attrs.field(factory=lambda: TransformerSize(layers=6))
    caption_layers: int = attrs.field(default=2, validator=v.ge(0))
    null_text_tokens: int = attrs.field(default=1, validator=_positive)
    video_adapter_layers: int = attrs.field(default=1, validator=v.ge(0))
    rope_base: float = attrs.field(default=10_000.0, validator=_positive)
    norm_eps: float = attrs.field(default=1e-6, validator=_positive)

    text_dropout: float = attrs.field(default=0.1, validator=_probability)
    video_dropout: float = attrs.field(default=0.1, validator=_probability)
    time_distribution: Literal["uniform", "logit-normal"] = attrs.field(
        default="uniform", validator=v.in_(("uniform", "logit-normal")))
    attention_backend: Literal["auto", "xformers", "sdpa"] = attrs.field(
        default="auto", validator=v.in_(("auto", "xformers", "sdpa")))

    @property
    def patch_seconds(self) -> float:
        """Duration of one token's latent frames in seconds."""
        return self.patch_frames / self.latent_frame_rate
