"""Conditioning: text encoders, panoramic video encoders, time alignment, null embeddings.

Every conditioner follows :class:`swansphere.protocols.Conditioner`: ``prepare(raw)`` on the
CPU (tokenization, frame decoding and resizing), ``forward(prepared)`` ->
:class:`ConditionTokens` ``(batch, length, dim)`` with a mask (and timestamps for video), and
``null(batch_size)`` for an absent modality. Video conditioners also stream
(``init_state``/``step``). The registered built-ins are ``minilm``, ``text-transformer`` and
``panorama-video`` (see ``docs/conditioning.md``).

Names load on first use (PEP 562), so importing this package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swansphere.lazy import lazy_exports

if TYPE_CHECKING:
    from .config import MiniLMTextConfig, PanoramaVideoConfig, TextTransformerConfig
    from .perspective import crop_directions, perspective_crops, perspective_grid
    from .spherical import harmonics_count, spherical_harmonics
    from .text import (
        MiniLMTextConditioner,
        TextTransformerConditioner,
        default_text_conditioner,
        minilm_available,
    )
    from .tokenizers import ByteTokenizer, WordHashTokenizer
    from .types import ConditioningError, ConditionTokens, PreparedText, PreparedVideo
    from .video import PanoramaVideoConditioner, VideoStreamState

_EXPORTS = {
    "perspective": ("crop_directions", "perspective_crops", "perspective_grid"),
    "spherical": ("harmonics_count", "spherical_harmonics"),
    "config": ("MiniLMTextConfig", "PanoramaVideoConfig", "TextTransformerConfig"),
    "text": ("MiniLMTextConditioner", "TextTransformerConditioner", "default_text_conditioner",
             "minilm_available"),
    "tokenizers": ("ByteTokenizer", "WordHashTokenizer"),
    "types": ("ConditionTokens", "ConditioningError", "PreparedText", "PreparedVideo"),
    "video": ("PanoramaVideoConditioner", "VideoStreamState"),
}

__all__ = [
    "ByteTokenizer",
    "ConditionTokens",
    "ConditioningError",
    "MiniLMTextConditioner",
    "MiniLMTextConfig",
    "PanoramaVideoConditioner",
    "PanoramaVideoConfig",
    "PreparedText",
    "PreparedVideo",
    "TextTransformerConditioner",
    "TextTransformerConfig",
    "VideoStreamState",
    "WordHashTokenizer",
    "crop_directions",
    "default_text_conditioner",
    "harmonics_count",
    "minilm_available",
    "perspective_crops",
    "perspective_grid",
    "spherical_harmonics",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
