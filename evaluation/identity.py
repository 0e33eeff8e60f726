"""Is a sound still what it was? Nearest-class identification in a frozen audio embedding.

Reference clips of every class give class centroids (the mean of their unit-length
embeddings, renormalised); a clip is identified by the centroid with the highest cosine
similarity. Top-1 and top-5 accuracy over held-out clips, against chance (k / classes), say
how much of a sound's identity survives a codec's round trip or a generator.
:func:`swansphere.data.splits.split_by_label` makes the reference / held-out split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import torch

from swansphere.errors import ConfigError


@attrs.frozen
class ClassCentroids:
    """Unit-length class centroids ``(classes, dim)`` and their labels, in order."""

    labels: tuple[str, ...]
    centroids: torch.Tensor

    @classmethod
    def fit(cls, labels: Sequence[str], embeddings: torch.Tensor) -> ClassCentroids:
        """Centroids of ``(n, dim)`` embeddings grouped by ``labels`` (sorted class order)."""
        if len(labels) != embeddings.shape[0] or not len(labels):
            raise ConfigError(f"need one label per embedding (got {len(labels)} labels for "
                              f"{embeddings.shape[0]} embeddings), at least one")
        classes = tuple(sorted(set(labels)))
        unit = _unit(embeddings.to(torch.float64))
        rows = [unit[[i for i, name in enumerate(labels) if name == label]].mean(0)
                for label in classes]
        return cls(classes, _unit(torch.stack(rows)))

    def ranks(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(n, classes)`` class indices, most similar first."""
        similarity = _unit(embeddings.to(torch.float64)) @ self.centroids.T
        return similarity.argsort(dim=-1, descending=True)

    def accuracy(self, labels: Sequence[str], embeddings: torch.Tensor,
                 ks: Sequence[int] = (1, 5)) -> dict[str, Any]:
        """Top-k accuracy of identifying ``labels`` from ``embeddings``, with chance (k /
        classes) beside each; labels must be among the centroids' classes."""
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise ConfigError(f"no reference clips for {', '.join(unknown[:5])}")
        truth = torch.tensor([self.labels.index(label) for label in labels])
        return top_k_report(self.ranks(embeddings), truth, len(self.labels), ks)


def top_k_report(ranks: torch.Tensor, truth: torch.Tensor, classes: int,
                 ks: Sequence[int] = (1, 5)) -> dict[str, Any]:
    """Top-k accuracy of ``(n, classes)`` class indices, most likely first, against the true
    indices ``truth (n,)``, with chance (k / classes) beside each."""
    report: dict[str, Any] = {"clips": len(truth), "classes": classes}
    for k in ks:
        hits = (ranks[:, :k] == truth[:, None]).any(dim=-1)
        report[f"top{k}"] = float(hits.double().mean())
        report[f"chance_top{k}"] = min(k, classes) / classes
    return report


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    return vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
