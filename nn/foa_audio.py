"""A direction-aware FOA encoder: one feature per video frame time, from all four channels.

Direction lives in the relations between the AmbiX channels, not in any one of them. Per STFT
frame and mel band the encoder takes the real 4 × 4 covariance of (W, Y, Z, X): the level of W
and, normalised by it, the active intensity (W·Y, W·Z, W·X: where the sound comes from) and
the second moments (how diffuse it is). For a plane wave from (x, y, z) the normalised row of W
is exactly (y, z, x), so a rotated sound field gives visibly rotated features. A small CNN over
bands and frames, plus a linear map of the broadband moments (:func:`broadband_moments`), then
average pooling round each video frame time, give ``(batch, frames, dim)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from swansphere.spatial.foa import validate_foa

from .configs import FOAAudioEncoderConfig

PAIRS = tuple((i, j) for i in range(4) for j in range(i, 4))
"""The 10 channel pairs of the symmetric covariance, (W, W) first."""
RELATIVE_FLOOR = 1e-4
"""Floor of W's power, relative to the clip's mean: silent bins do not blow up the ratios."""


def covariance_features(foa: torch.Tensor, n_fft: int, hop_length: int,
                        bands: torch.Tensor) -> torch.Tensor:
    """``(batch, 4, n)`` AmbiX -> ``(batch, 10, bands, frames)`` covariance features.

    Channel 0 is log W power relative to the clip's mean level (gain invariant); channels
    1..9 are the other covariance entries divided by W power, in :data:`PAIRS` order.
    """
    batch = foa.shape[0]
    window = torch.hann_window(n_fft, device=foa.device, dtype=foa.dtype)
    spectra = torch.stft(foa.flatten(0, 1), n_fft, hop_length, window=window, center=True,
                         return_complex=True).view(batch, 4, n_fft // 2 + 1, -1)
    real, imag = spectra.real, spectra.imag
    cross = torch.stack([real[:, i] * real[:, j] + imag[:, i] * imag[:, j] for i, j in PAIRS],
                        dim=1)                                   # (batch, 10, freqs, frames)
    banded = torch.einsum("bpft,fk->bpkt", cross, bands.to(cross))
    power = banded[:, 0]
    floor = RELATIVE_FLOOR * power.mean(dim=(1, 2), keepdim=True) + 1e-12
    level = torch.log(power + floor) - torch.log(power.mean(dim=(1, 2), keepdim=True) + 1e-12)
    ratios = (banded[:, 1:] / (power + floor).unsqueeze(1)).clamp(-2.0, 2.0)
    return torch.cat([level.unsqueeze(1), ratios], dim=1)


def broadband_moments(features: torch.Tensor) -> torch.Tensor:
    """The nine normalised covariance entries averaged over bands, weighted by W's power.

    ``(batch, 10, bands, frames)`` -> ``(batch, 9, frames)``: per frame, where the sound comes
    from (W·Y, W·Z, W·X) and how it spreads. A rotation of the sound field moves these
    linearly, so the encoder is direction-aware from its first step, before the CNN learns
    finer, per-band cues.
    """
    weights = torch.softmax(features[:, 0], dim=1).unsqueeze(1)   # log power -> band weights
    return (features[:, 1:] * weights).sum(dim=2)


def frame_pooling(frame_times: torch.Tensor, step_times: torch.Tensor,
                  window_seconds: float) -> torch.Tensor:
    """Averaging weights ``(batch, steps, frames)`` of STFT frames within ±window/2 of a step.

    ``step_times`` is ``(steps,)`` or ``(batch, steps)``; a step with no frame in reach takes
    the nearest frame.
    """
    step_times = step_times.to(frame_times)
    if step_times.dim() == 1:
        step_times = step_times.unsqueeze(0)
    distance = (frame_times.view(1, 1, -1) - step_times.unsqueeze(-1)).abs()
    inside = (distance <= window_seconds / 2 + 1e-9).to(frame_times)
    nearest = F.one_hot(distance.argmin(-1), frame_times.shape[0]).to(frame_times)
    inside = torch.where(inside.sum(-1, keepdim=True) > 0, inside, nearest)
    return inside / inside.sum(-1, keepdim=True)


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=(2, 1), padding=1),
                         nn.GroupNorm(min(8, out_channels), out_channels), nn.GELU())


class FOAAudioEncoder(nn.Module):
    """FOA ``(batch, 4, samples)`` + step times -> features ``(batch, steps, dim)``."""

    def __init__(self, config: FOAAudioEncoderConfig, dim: int) -> None:
        super().__init__()
        import torchaudio

        self.config = config
        bands = torchaudio.functional.melscale_fbanks(
            config.n_fft // 2 + 1, 0.0, config.sample_rate / 2, config.bands, config.sample_rate)
        self.register_buffer("bands", bands, persistent=False)
        stages, previous, height = [], len(PAIRS), config.bands
        for width in config.channels:
            stages.append(_stage(previous, width))
            previous, height = width, (height + 1) // 2
        self.cnn = nn.Sequential(*stages)
        self.temporal = nn.Sequential(nn.Conv1d(previous * height, dim, 3, padding=1), nn.GELU(),
                                      nn.Conv1d(dim, dim, 1))
        self.spatial = nn.Linear(len(PAIRS) - 1, dim)
        self.project = nn.Linear(dim, dim)

    def frame_times(self, num_samples: int, device: torch.device | None = None) -> torch.Tensor:
        """Centre times (seconds, float64) of the STFT frames of a clip."""
        count = num_samples // self.config.hop_length + 1
        return (torch.arange(count, dtype=torch.float64, device=device)
                * self.config.hop_length / self.config.sample_rate)

    def forward(self, foa: torch.Tensor, step_times: torch.Tensor) -> torch.Tensor:
        foa = validate_foa(foa, ndim=3)
        features = covariance_features(foa, self.config.n_fft, self.config.hop_length,
                                       self.bands)
        hidden = self.cnn(features)                             # (batch, c, bands', frames)
        hidden = self.temporal(hidden.flatten(1, 2))            # (batch, dim, frames)
        pooling = frame_pooling(self.frame_times(foa.shape[-1], foa.device), step_times,
                                self.config.window_seconds).to(hidden)
        pooling = pooling.expand(foa.shape[0], -1, -1)
        steps = torch.einsum("bsf,bdf->bsd", pooling, hidden)
        spatial = torch.einsum("bsf,bdf->bsd", pooling, broadband_moments(features))
        return self.project(steps + self.spatial(spatial))
