"""SVAC evaluation on held-out scenes: retrieval and rotation discrimination.

* **Retrieval R@1**: each held-out video ranks all held-out FOA clips by sequence similarity;
  R@1 is the share whose own audio comes first (chance: 1 / clips). Audio -> video likewise.
* **Rotation discrimination**: each video picks, among K copies of its own FOA turned by yaws
  0, 360/K, ..., the unturned one (chance: 1 / K). Same sounds, same timing: only direction
  can decide. **Roll discrimination** is the converse: the audio picks its panorama among K
  rolled copies.
* **Time discrimination**: each video picks its own audio features among all T circular
  shifts of them (chance: 1 / T): only timing can decide.

A pick counts only if the right candidate scores strictly highest, so a model that cannot tell
the candidates apart (equal scores) gets no credit for ties.
"""

from __future__ import annotations

from typing import Any

import torch

from swansphere.nn.contrastive import paired_similarity, roll_each, sequence_similarity
from swansphere.spatial import rotate


def strict_top1(scores: torch.Tensor, correct: torch.Tensor) -> float:
    """Share of rows whose ``correct`` column scores strictly above every other column."""
    rows = torch.arange(scores.shape[0])
    right = scores[rows, correct]
    others = scores.clone()
    others[rows, correct] = -torch.inf
    return float((right > others.amax(dim=1)).float().mean())


def _batches(count: int, batch_size: int):
    for start in range(0, count, batch_size):
        yield slice(start, min(start + batch_size, count))


@torch.no_grad()
def embed_clips(model: Any, foa: torch.Tensor, frames: torch.Tensor, times: torch.Tensor,
                batch_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Video and audio features ``(N, T, dim)`` of N clips, in batches."""
    video, audio = [], []
    for part in _batches(foa.shape[0], batch_size):
        video.append(model.embed_video(frames[part], times))
        audio.append(model.embed_audio(foa[part], times))
    return torch.cat(video), torch.cat(audio)


def retrieval(video: torch.Tensor, audio: torch.Tensor) -> dict[str, float]:
    """Video -> audio and audio -> video R@1 over all clips (equal-length clips)."""
    mask = torch.ones(video.shape[:2], dtype=torch.bool, device=video.device)
    similarity = sequence_similarity(video, audio, mask, mask)
    target = torch.arange(video.shape[0])
    return {"v2a_r1": strict_top1(similarity, target),
            "a2v_r1": strict_top1(similarity.T, target)}


def yaw_grid(rotations: int) -> torch.Tensor:
    """Yaws 0, 360/K, ... (degrees, float64); index 0 is the true scene."""
    return torch.arange(rotations, dtype=torch.float64) * (360.0 / rotations)


@torch.no_grad()
def rotation_discrimination(model: Any, foa: torch.Tensor, video: torch.Tensor,
                            times: torch.Tensor, rotations: int = 8,
                            batch_size: int = 32) -> float:
    """Share of clips whose video picks its unturned FOA among ``rotations`` yaws."""
    scores = []
    mask = torch.ones(video.shape[:2], dtype=torch.bool)
    for part in _batches(foa.shape[0], batch_size):
        candidates = torch.stack([model.embed_audio(rotate(foa[part], yaw=float(yaw))
                                                    .to(foa.dtype), times)
                                  for yaw in yaw_grid(rotations)], dim=1)   # (n, K, T, D)
        scores.append(paired_similarity(video[part], candidates, mask[part]))
    scores = torch.cat(scores)
    return strict_top1(scores, torch.zeros(scores.shape[0], dtype=torch.long))


@torch.no_grad()
def roll_discrimination(model: Any, frames: torch.Tensor, audio: torch.Tensor,
                        times: torch.Tensor, rotations: int = 8, batch_size: int = 32) -> float:
    """Share of clips whose audio picks its own panorama among ``rotations`` rolled copies."""
    scores = []
    mask = torch.ones(audio.shape[:2], dtype=torch.bool)
    for part in _batches(frames.shape[0], batch_size):
        chunk = frames[part]
        candidates = torch.stack([model.embed_video(roll_each(chunk, yaw.expand(chunk.shape[0])),
                                                    times)
                                  for yaw in yaw_grid(rotations)], dim=1)
        scores.append(paired_similarity(audio[part], candidates, mask[part]))
    scores = torch.cat(scores)
    return strict_top1(scores, torch.zeros(scores.shape[0], dtype=torch.long))


def time_discrimination(video: torch.Tensor, audio: torch.Tensor) -> float:
    """Share of clips whose video picks its audio features unshifted among all T shifts."""
    steps = video.shape[1]
    candidates = torch.stack([torch.roll(audio, shift, dims=1) for shift in range(steps)], dim=1)
    mask = torch.ones(video.shape[:2], dtype=torch.bool)
    scores = paired_similarity(video, candidates, mask)
    return strict_top1(scores, torch.zeros(scores.shape[0], dtype=torch.long))


def evaluate_svac(model: Any, foa: torch.Tensor, frames: torch.Tensor, times: torch.Tensor, *,
                  rotations: int = 8, batch_size: int = 32) -> dict[str, float]:
    """All SVAC figures on held-out clips, with their chance levels.

    ``foa`` ``(N, 4, samples)``, ``frames`` ``(N, T, 3, H, W)`` (the model's ERP size) and
    their frame ``times`` ``(T,)``. ``rotations`` should divide the panorama width evenly, so
    that every roll is a whole number of columns.
    """
    was_training = model.training
    model.eval()
    try:
        video, audio = embed_clips(model, foa, frames, times, batch_size)
        figures = retrieval(video, audio)
        figures["rotation_accuracy"] = rotation_discrimination(model, foa, video, times,
                                                               rotations, batch_size)
        figures["roll_accuracy"] = roll_discrimination(model, frames, audio, times, rotations,
                                                       batch_size)
        figures["time_accuracy"] = time_discrimination(video, audio)
    finally:
        model.train(was_training)
    figures.update({"clips": float(foa.shape[0]), "rotations": float(rotations),
                    "retrieval_chance": 1.0 / foa.shape[0],
                    "rotation_chance": 1.0 / rotations, "time_chance": 1.0 / times.shape[0]})
    return figures
