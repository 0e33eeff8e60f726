"""The Fréchet distance between two embedding sets: Gaussian fits compared in float64, with no
scipy (an eigenvalue-based matrix square root, or an exact sample-space form for small sets)."""

from __future__ import annotations

import math
from typing import Any

import torch

from swansphere.errors import SwanSphereError


class NotEnoughSamplesError(SwanSphereError, ValueError):
    """Too few embeddings to fit a Gaussian for the Fréchet distance."""


def _samples(embeddings: Any) -> torch.Tensor:
    """``(n, d)`` float64 embeddings, checked: 2-D, at least 2 rows, finite."""
    data = torch.as_tensor(embeddings).to(torch.float64)
    if data.ndim != 2:
        raise NotEnoughSamplesError(f"embeddings must have shape (samples, dim); got "
                                    f"{tuple(data.shape)}")
    if data.shape[0] < 2:
        raise NotEnoughSamplesError(
            f"the Fréchet distance needs at least 2 embeddings per set to fit a covariance; got "
            f"{data.shape[0]}: evaluate more (or longer) clips")
    if not bool(torch.isfinite(data).all()):
        raise NotEnoughSamplesError("embeddings contain NaN or infinite values")
    return data


def gaussian_fit(embeddings: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(d,)`` and unbiased covariance ``(d, d)`` (float64) of ``(n, d)`` embeddings."""
    data = _samples(embeddings)
    centred = data - data.mean(dim=0)
    return data.mean(dim=0), centred.T @ centred / (data.shape[0] - 1)


def frechet_distance(first: Any, second: Any) -> float:
    """Fréchet distance between Gaussian fits of two embedding sets ``(n1, d)``, ``(n2, d)``.

    Raises :class:`NotEnoughSamplesError` for fewer than 2 embeddings in a set. With fewer
    samples than dimensions the covariances are rank-deficient; the distance is still defined
    (nothing is inverted) but biased upwards, so compare figures only at equal sample counts.
    Small sets take the cheaper, equivalent sample-space route (:func:`_frechet_from_samples`).
    """
    first, second = _samples(first), _samples(second)
    if first.shape[1] != second.shape[1]:
        raise NotEnoughSamplesError(f"embedding sizes differ: {first.shape[1]} and "
                                    f"{second.shape[1]}")
    rows1, rows2 = first.shape[0], second.shape[0]
    if rows1 * rows2 * min(rows1, rows2) < first.shape[1] ** 3:
        return _frechet_from_samples(first, second)
    return frechet_distance_from_stats(*gaussian_fit(first), *gaussian_fit(second))


def _frechet_from_samples(first: torch.Tensor, second: torch.Tensor) -> float:
    """The same distance from the centred data matrices A1 ``(n1, d)`` and A2 ``(n2, d)``.

    With Σi = AiᵀAi / (ni − 1): tr Σi = ‖Ai‖²_F / (ni − 1), and the nonzero eigenvalues of
    Σ1Σ2 are those of MMᵀ / ((n1 − 1)(n2 − 1)) with M = A1A2ᵀ, so ``tr((Σ1Σ2)^½)`` is M's
    nuclear norm over √((n1 − 1)(n2 − 1)): one SVD of an n1 × n2 matrix instead of two
    d × d eigendecompositions.
    """
    scale1, scale2 = first.shape[0] - 1, second.shape[0] - 1
    centred1, centred2 = first - first.mean(dim=0), second - second.mean(dim=0)
    trace_root = torch.linalg.svdvals(centred1 @ centred2.T).sum() / math.sqrt(scale1 * scale2)
    distance = ((first.mean(dim=0) - second.mean(dim=0)).square().sum()
                + centred1.square().sum() / scale1 + centred2.square().sum() / scale2
                - 2 * trace_root)
    return max(float(distance), 0.0)


def frechet_distance_from_stats(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor,
                                cov2: torch.Tensor) -> float:
    """``|μ1 − μ2|² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1^½ Σ2 Σ1^½)^½)``, in float64.

    ``tr((Σ1 Σ2)^½)`` equals the trace of the square root of the symmetric PSD matrix
    ``Σ1^½ Σ2 Σ1^½``, whose eigenvalues an ``eigh`` finds stably; tiny negative eigenvalues
    from rounding are clamped to 0, and so is a result that rounds below zero.
    """
    mean1, mean2, cov1, cov2 = (t.to(torch.float64) for t in (mean1, mean2, cov1, cov2))
    root1 = _psd_sqrt(cov1)
    inner = root1 @ cov2 @ root1
    eigenvalues = torch.linalg.eigvalsh(0.5 * (inner + inner.T)).clamp_min(0.0)
    trace_root = eigenvalues.sqrt().sum()
    distance = (mean1 - mean2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root
    return max(float(distance), 0.0)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, vectors = torch.linalg.eigh(0.5 * (matrix + matrix.T))
    return (vectors * eigenvalues.clamp_min(0.0).sqrt()) @ vectors.T
