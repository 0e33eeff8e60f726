"""Mono test sources for encoding (noise, sine, chirp), reproducible through a generator."""

from __future__ import annotations

import math
from typing import Literal

import torch

from swansphere.errors import ConfigError

SourceKind = Literal["noise", "sine", "chirp"]
SOURCE_KINDS = ("noise", "sine", "chirp")
_LEVEL = 0.1  # RMS of every source (−20 dBFS), leaving headroom after encoding and rotation


def source_signal(kind: SourceKind, duration: float, sample_rate: int, *,
                  frequency: float = 440.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """A mono test signal ``(n,)`` float32 at RMS 0.1.

    ``"noise"``: white Gaussian noise (drawn from ``generator``); ``"sine"``: a tone at
    ``frequency``; ``"chirp"``: an exponential sweep from 50 Hz to 0.45 × ``sample_rate``.
    """
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"unknown source {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")
    if not duration > 0 or not sample_rate > 0:
        raise ConfigError(f"duration and sample rate must be positive; got {duration} s at "
                          f"{sample_rate} Hz")
    if kind == "sine" and not 0 < frequency < sample_rate / 2:
        raise ConfigError(f"frequency {frequency} Hz must lie between 0 and the Nyquist "
                          f"frequency {sample_rate / 2} Hz")
    n = max(1, round(duration * sample_rate))
    if kind == "noise":
        return _LEVEL * torch.randn(n, generator=generator)
    time = torch.arange(n, dtype=torch.float64) / sample_rate
    if kind == "sine":
        phase = 2 * math.pi * frequency * time
    else:
        start, stop = 50.0, 0.45 * sample_rate
        rate = math.log(stop / start) / (n / sample_rate)
        phase = 2 * math.pi * start * (torch.expm1(rate * time)) / rate
    return (_LEVEL * math.sqrt(2) * torch.sin(phase)).to(torch.float32)
