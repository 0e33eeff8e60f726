"""Bad data: check, skip, log and count, so one broken file never ends an epoch.

Datasets call :func:`check_foa` on every decoded clip and report problems to a
:class:`SkipCounter`, which logs each skip (logger ``swansphere.data``, level WARNING) with the
item and the reason, and counts it by kind. Nothing is skipped silently.

With ``DataLoader(num_workers > 0)`` each worker process has its own counter; datasets
therefore also attach the counts since their previous item to each item (``"skipped"``), and
:meth:`SkipCounter.absorb` adds a collated batch's counts to a counter in the main process.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from ..errors import AudioFileError, AudioFormatError, SwanSphereError

logger = logging.getLogger("swansphere.data")

CORRUPT = "corrupt"
WRONG_CHANNELS = "wrong_channels"
SILENT = "silent"
NON_FINITE = "non_finite"
MISSING = "missing"
TOO_SHORT = "too_short"

SILENCE_RMS = 1e-5
"""A clip whose loudest channel has a lower RMS (−100 dBFS) counts as silent."""


class BadSampleError(SwanSphereError, ValueError):
    """A data item cannot be used; ``reason`` is one of the counter's kinds."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SkipCounter:
    """Counts skipped items by reason and logs every skip.

    ``counts`` is a :class:`collections.Counter` (reason → items); ``total`` their sum.
    """

    def __init__(self, name: str = "data") -> None:
        self.name = name
        self.counts: Counter[str] = Counter()
        self._undrained: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def skip(self, item: str, reason: str, detail: str) -> None:
        """Record and log one skipped item."""
        self.counts[reason] += 1
        self._undrained[reason] += 1
        logger.warning("%s: skipped %s (%s): %s [%d skipped so far]", self.name, item, reason,
                       detail, self.total)

    def skip_error(self, item: str, error: Exception) -> None:
        """Record a skip caused by ``error`` (its reason when it carries one)."""
        self.skip(item, reason_of(error), str(error))

    def drain(self) -> dict[str, int]:
        """Counts recorded since the previous drain (attached to items by datasets)."""
        out = dict(self._undrained)
        self._undrained.clear()
        return out

    def absorb(self, skipped: Mapping[str, int] | Iterable[Mapping[str, int]]) -> None:
        """Add counts drained in worker processes (one mapping or a batch's list of them)."""
        for counts in [skipped] if isinstance(skipped, Mapping) else skipped:
            self.counts.update(counts)

    def summary(self) -> str:
        if not self.counts:
            return f"{self.name}: nothing skipped"
        parts = ", ".join(f"{count} {reason}" for reason, count in sorted(self.counts.items()))
        return f"{self.name}: skipped {self.total} ({parts})"


def reason_of(error: Exception) -> str:
    """The skip kind for an exception raised while loading an item."""
    if isinstance(error, BadSampleError):
        return error.reason
    if isinstance(error, FileNotFoundError):
        return MISSING
    if isinstance(error, AudioFormatError):
        text = str(error)
        if "channel" in text:
            return WRONG_CHANNELS
        if "NaN" in text or "infinite" in text:
            return NON_FINITE
    if isinstance(error, AudioFileError | AudioFormatError | OSError | ValueError | RuntimeError):
        return CORRUPT  # soundfile's LibsndfileError is a RuntimeError
    return type(error).__name__


def check_foa(audio: Any, name: str = "clip", channels: int = 4) -> torch.Tensor:
    """Return ``audio`` ``(channels, n)`` as float32, or raise :class:`BadSampleError`."""
    tensor = torch.as_tensor(audio)
    if tensor.ndim != 2 or tensor.shape[0] != channels:
        raise BadSampleError(WRONG_CHANNELS, f"{name} has shape {tuple(tensor.shape)}, "
                             f"expected ({channels}, samples)")
    if tensor.shape[1] == 0:
        raise BadSampleError(TOO_SHORT, f"{name} has no samples")
    tensor = tensor.to(torch.float32)
    if not bool(torch.isfinite(tensor).all()):
        raise BadSampleError(NON_FINITE, f"{name} contains NaN or infinite samples")
    if float(tensor.pow(2).mean(dim=1).sqrt().max()) < SILENCE_RMS:
        raise BadSampleError(SILENT, f"{name} is silent (RMS below {SILENCE_RMS:g})")
    return tensor
