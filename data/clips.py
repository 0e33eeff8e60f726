"""The labelled mono clip: the unit every scene is built from.

A :class:`SoundClip` carries what a caption and a licence audit need (label, caption words,
licence, source package) and knows how to produce its samples at any rate. Synthesised clips
render from a random generator, file clips read and resample a file; both return float32
mono at the rate asked for, so scenes never care where a sound came from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

_PERMISSIVE_PREFIXES = ("cc0", "mit", "bsd", "apache", "isc", "zlib", "public-domain",
                        "cc-by-3", "cc-by-4", "synthesised")


def is_permissive(licence: str) -> bool:
    """Whether the shipped model may learn from a clip under ``licence`` (docs/data.md).

    CC-BY counts (the metadata records the attribution); copyleft, share-alike and
    non-commercial licences do not.
    """
    key = licence.strip().lower()
    return key.startswith(_PERMISSIVE_PREFIXES) and "-sa" not in key and "-nc" not in key

Renderer = Callable[[np.random.Generator, int, int], np.ndarray]
"""``render(rng, sample_rate, num_samples) -> (num_samples,) float32`` mono signal."""


@attrs.frozen(kw_only=True)
class SoundClip:
    """One labelled mono sound event.

    ``noun`` and ``verb`` form the caption ("a cow" + "moos"); ``label`` is the class name used
    for glyphs, statistics and class-balanced sampling.
    """

    clip_id: str
    label: str
    noun: str
    verb: str
    licence: str
    package: str
    render: Renderer = attrs.field(eq=False, repr=False)
    path: Path | None = None
    picture: Path | None = None
    duration: float | None = None
    attribution: str | None = None
    """Copyright holders to credit (CC-BY and MIT require it), from the package's records."""
    vocabulary_class: str | None = None
    """The sound class a clip bank recorded for this clip when it was exported
    (:mod:`swansphere.data.bank`): bank clips keep their class on machines that lack the
    original set, and are already single fixed renders."""

    @property
    def permissive(self) -> bool:
        """Whether the licence allows training the shipped model on this clip."""
        return is_permissive(self.licence)

    @property
    def phrase(self) -> str:
        """The caption fragment, e.g. ``"a cow moos"``."""
        return f"{self.noun} {self.verb}"

    def metadata(self) -> dict:
        """JSON-ready provenance of this clip (recorded in every scene that uses it)."""
        return {"clip_id": self.clip_id, "label": self.label, "noun": self.noun,
                "verb": self.verb, "licence": self.licence, "package": self.package,
                "path": str(self.path) if self.path else None,
                "picture": str(self.picture) if self.picture else None} | (
                    {"attribution": self.attribution} if self.attribution else {})


def normalise_level(signal: np.ndarray, rms: float = 0.1, peak: float = 0.9) -> np.ndarray:
    """Scale ``signal`` to ``rms``, or lower if its peak would pass ``peak`` (float32).

    Equal RMS keeps sparse sounds (clicks) audible next to dense ones (sirens) in a mix.
    Silence stays silence.
    """
    signal = np.asarray(signal, dtype=np.float64)
    level = float(np.sqrt(np.mean(signal ** 2))) if signal.size else 0.0
    if level <= 0.0:
        return signal.astype(np.float32)
    gain = min(rms / level, peak / float(np.max(np.abs(signal))))
    return (signal * gain).astype(np.float32)


def fit_length(signal: np.ndarray, num_samples: int, fade: int = 64) -> np.ndarray:
    """Trim ``signal`` to ``num_samples`` (with a short fade-out) or zero-pad it."""
    if signal.shape[-1] >= num_samples:
        out = signal[..., :num_samples].copy()
        length = min(fade, num_samples)
        if length:
            out[..., num_samples - length:] *= np.linspace(1.0, 0.0, length, dtype=np.float32)
        return out
    pad = [(0, 0)] * (signal.ndim - 1) + [(0, num_samples - signal.shape[-1])]
    return np.pad(signal, pad)
