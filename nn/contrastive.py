"""The SVAC objective: symmetric InfoNCE over aligned frame sequences, with hard negatives.

Similarity of a video and an audio clip is the mean over their common valid frames of the
cosine between frame features (the paper's "aligned temporal cosine"). For ``N`` pairs:

* video -> audio: each video ranks the ``N`` audio clips of the batch, plus its own audio
  shifted in time and its own FOA rotated (same sounds, wrong moment or wrong directions);
* audio -> video: each audio ranks the ``N`` videos, plus its own panorama rolled (same
  pictures, wrong directions).

The loss is the mean of the two cross-entropies at temperature τ. Hard negatives come from the
clip itself, so only timing and direction can tell them from the positive.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from swansphere.spatial import roll_panorama, rotate


def sequence_similarity(video: torch.Tensor, audio: torch.Tensor, video_mask: torch.Tensor,
                        audio_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean frame cosine of every (video, audio) pair: ``(Nv, T, D) x (Na, T, D) -> (Nv, Na)``.

    Features are L2-normalised per frame here; only frames valid in both count.
    """
    video, audio = F.normalize(video, dim=-1), F.normalize(audio, dim=-1)
    if audio_mask is None:
        audio_mask = torch.ones(audio.shape[:2], dtype=torch.bool, device=audio.device)
    both = video_mask.unsqueeze(1) & audio_mask.unsqueeze(0)        # (Nv, Na, T)
    cosines = torch.einsum("vtd,atd->vat", video, audio)
    return (cosines * both).sum(-1) / both.sum(-1).clamp(min=1)


def paired_similarity(video: torch.Tensor, audio: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
    """Similarity of item i with candidates ``(N, K, T, D)`` of its own: ``(N, T, D) -> (N, K)``."""
    video, audio = F.normalize(video, dim=-1), F.normalize(audio, dim=-1)
    cosines = torch.einsum("ntd,nktd->nkt", video, audio)
    weights = mask.unsqueeze(1).to(cosines)
    return (cosines * weights).sum(-1) / weights.sum(-1).clamp(min=1)


def svac_loss(video: torch.Tensor, audio: torch.Tensor, mask: torch.Tensor, temperature: float,
              *, hard_audio: torch.Tensor | None = None,
              hard_video: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Symmetric InfoNCE; ``hard_audio``/``hard_video`` are ``(N, K, T, D)`` per-item negatives.

    Returns the loss and metrics: both cross-entropies, the in-batch top-1 accuracy and the
    share of hard negatives that score above their positive.
    """
    batch = video.shape[0]
    target = torch.arange(batch, device=video.device)
    similarity = sequence_similarity(video, audio, mask, mask)       # [video i, audio j]
    metrics = {"accuracy": float((similarity.argmax(1) == target).float().mean())}
    positive = similarity.diagonal().unsqueeze(1)
    video_logits = _with_hard(similarity, video, hard_audio, mask, positive, metrics, "audio")
    audio_logits = _with_hard(similarity.T, audio, hard_video, mask, positive, metrics, "video")
    video_to_audio = F.cross_entropy(video_logits / temperature, target)
    audio_to_video = F.cross_entropy(audio_logits / temperature, target)
    metrics.update({"v2a_loss": float(video_to_audio.detach()),
                    "a2v_loss": float(audio_to_video.detach())})
    return (video_to_audio + audio_to_video) / 2, metrics


def _with_hard(logits: torch.Tensor, anchor: torch.Tensor, hard: torch.Tensor | None,
               mask: torch.Tensor, positive: torch.Tensor, metrics: dict[str, float],
               name: str) -> torch.Tensor:
    """Append each anchor's own hard negatives to its row of logits; log how often they win."""
    if hard is None or hard.shape[1] == 0:
        return logits
    extra = paired_similarity(anchor, hard, mask)
    metrics[f"hard_{name}_wins"] = float((extra > positive).float().mean())
    return torch.cat([logits, extra], dim=1)


# ------------------------------------------------------------------------------ negatives


def column_yaw(yaw: torch.Tensor, width: int) -> torch.Tensor:
    """Round yaws (degrees) to whole panorama columns, so that a roll is exact (no blur that a
    network could learn to spot instead of the direction)."""
    step = 360.0 / width
    return torch.round(yaw / step) * step


def random_yaw(count: int, minimum: float, width: int,
               generator: torch.Generator) -> torch.Tensor:
    """Yaws (float64 degrees) at least ``minimum`` away from 0 either way, on whole columns."""
    span = 360.0 - 2 * minimum
    yaw = minimum + span * torch.rand(count, generator=generator, dtype=torch.float64)
    yaw = column_yaw(yaw, width)
    return torch.where(yaw < minimum, yaw + 360.0 / width, yaw)


def roll_each(frames: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """Roll each item's panoramas ``(N, T, 3, H, W)`` by its own yaw (degrees)."""
    return torch.stack([roll_panorama(item, float(angle))
                        for item, angle in zip(frames, yaw, strict=True)])


def turn_pair(foa: torch.Tensor, frames: torch.Tensor,
              yaw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn whole scenes by a yaw: the FOA by ``rotate`` and the panorama by ``roll_panorama``.

    docs/conventions.md: a sound-field yaw δ equals rolling the panorama by −δ·W/360 columns,
    so the pair stays a true scene (a positive); ``yaw`` is rounded to whole columns first.
    """
    yaw = column_yaw(yaw, frames.shape[-1])
    return rotate(foa, yaw=yaw.to(foa.device)).to(foa.dtype), roll_each(frames, yaw)


def time_shifts(count: int, steps: int, minimum: int, generator: torch.Generator) -> torch.Tensor:
    """Circular shifts in ``[minimum, steps - minimum]`` frames; empty if the clip is too short."""
    if steps < 2 * minimum:
        return torch.zeros(0, dtype=torch.long)
    return torch.randint(minimum, steps - minimum + 1, (count,), generator=generator)


def shift_frames(features: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Roll each item's ``(N, T, D)`` features by its own number of frames."""
    steps = features.shape[1]
    index = (torch.arange(steps).unsqueeze(0) - shift.unsqueeze(1)) % steps
    return torch.gather(features, 1, index.unsqueeze(-1).expand(-1, -1, features.shape[-1]))


def min_shift_frames(seconds: float, frame_rate: float) -> int:
    """Frames of the smallest time shift (at least one)."""
    return max(1, math.ceil(seconds * frame_rate - 1e-9))
