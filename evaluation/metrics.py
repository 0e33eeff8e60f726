"""Direction accuracy in the words of captions: does a generated direction fall in the caption
sector of its target (the scene's ground truth, or the direction a prompt states, parsed by
:func:`swansphere.spatial.words.prompt_direction`)? The numeric metrics (direction errors,
energy-map correlation, Fréchet distance) are in :mod:`swansphere.metrics`; docs/evaluation.md
gives the formulas.
"""

from __future__ import annotations

from typing import Any

import torch

from swansphere.metrics.direction import angle_between
from swansphere.spatial.words import OVERHEAD_DEGREES, horizontal_words, position_words

DEFAULT_TOLERANCE_DEGREES = 30.0
"""Cone half-angle for direction accuracy: a caption sector is 45° wide, so a source anywhere
inside the sector a prompt names lies within about 30° of the sector centre (near the horizon)."""


def same_sector(azimuth: float, elevation: float, target_azimuth: float,
                target_elevation: float) -> bool:
    """Do both directions fall in the same caption sector?

    Near the horizon that is one of the eight 45° azimuth sectors of
    :func:`swansphere.spatial.words.horizontal_words`; a target in a polar cap (beyond
    ``OVERHEAD_DEGREES``, where captions say only "overhead"/"below") needs the same cap.
    """
    if abs(target_elevation) > OVERHEAD_DEGREES:
        return elevation * target_elevation > 0 and abs(elevation) > OVERHEAD_DEGREES
    if abs(elevation) > OVERHEAD_DEGREES:
        return False
    return horizontal_words(azimuth) == horizontal_words(target_azimuth)


def direction_accuracy(azimuth: Any, elevation: Any, target_azimuth: Any, target_elevation: Any,
                       *, tolerance: float = DEFAULT_TOLERANCE_DEGREES) -> dict[str, torch.Tensor]:
    """Per-clip agreement of generated directions with targets (all degrees, 1-D inputs).

    Returns ``error`` (great-circle degrees), ``within_cone`` (error ≤ ``tolerance``),
    ``same_sector`` (:func:`same_sector`) and ``same_words`` (the caption would use the same
    position words, :func:`swansphere.spatial.words.position_words`, vertical part included).
    """
    values = [torch.as_tensor(v, dtype=torch.float64).reshape(-1)
              for v in (azimuth, elevation, target_azimuth, target_elevation)]
    values = torch.broadcast_tensors(*values)
    error = angle_between(*values)
    rows = list(zip(*(v.tolist() for v in values), strict=True))
    return {
        "error": error,
        "within_cone": error <= tolerance,
        "same_sector": torch.tensor([same_sector(*row) for row in rows], dtype=torch.bool),
        "same_words": torch.tensor([position_words(*row[:2]) == position_words(*row[2:])
                                    for row in rows], dtype=torch.bool),
    }
