"""Batching helpers shared by every SwanSphere dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import AudioFormatError


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack equal-shaped tensors (``foa`` → ``(batch, 4, n)``); keep everything else as lists.

    Items carry a variable number of sources, so per-source metadata stays a list per item.
    """
    if not items:
        raise AudioFormatError("cannot collate an empty batch")
    batch: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if all(isinstance(v, torch.Tensor) for v in values) and len(
                {tuple(v.shape) for v in values}) == 1:
            batch[key] = torch.stack(values)
        else:
            batch[key] = values
    return batch
