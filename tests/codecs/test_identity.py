"""Nearest-class identification in an embedding."""

from __future__ import annotations

import pytest
import torch

from swansphere.errors import ConfigError
from swansphere.evaluation.identity import ClassCentroids


def test_centroids_identify_by_cosine_against_a_hand_computed_case():
    references = torch.tensor([[1.0, 0.0], [3.0, 1.0], [0.0, 1.0], [0.0, 2.0]])
    centroids = ClassCentroids.fit(["a", "a", "b", "b"], references)
    assert centroids.labels == ("a", "b")
    # a's centroid: mean of (1, 0) and (3, 1)/sqrt(10), renormalised
    a = torch.tensor([1 + 3 / 10 ** 0.5, 1 / 10 ** 0.5], dtype=torch.float64) / 2
    torch.testing.assert_close(centroids.centroids[0], a / a.norm())
    # (1, 1.5) lies 47 degrees from a's centroid (9 degrees up) and 34 from b's: wrong class
    probes = torch.tensor([[1.0, 1.5], [5.0, 0.5], [0.2, 3.0]])
    report = centroids.accuracy(["a", "a", "b"], probes, ks=(1, 2))
    assert report["top1"] == pytest.approx(2 / 3) and report["top2"] == 1.0
    assert report["chance_top1"] == 0.5 and report["chance_top2"] == 1.0
    with pytest.raises(ConfigError, match="no reference clips for owl"):
        centroids.accuracy(["owl"], probes[:1])
