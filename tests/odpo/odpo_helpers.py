"""Small pipelines, backbones and prompts for the ODPO tests (CPU, milliseconds per call)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

# The tiny random pipeline and micro backbone of the pipeline and backbone tests, reused
# rather than copied (test folders are not packages, so put theirs on the path).
for folder in ("pipeline", "backbone", "training"):
    path = str(Path(__file__).resolve().parents[1] / folder)
    if path not in sys.path:
        sys.path.insert(0, path)

from backbone_helpers import conditions, latents, make_model  # noqa: E402
from pipeline_helpers import SAMPLE_RATE, synthetic_exemplar_bank, tiny_pipeline  # noqa: E402

from swansphere.plugins.odpo.optimizer import PreferenceInput  # noqa: E402
from swansphere.spatial import encode  # noqa: E402

__all__ = ["SAMPLE_RATE", "conditions", "latents", "make_model", "prompt_inputs",
           "synthetic_exemplar_bank", "tiny_pipeline", "tone"]

DURATION = 0.04
"""Five patches of the tiny pipeline: enough for context, short enough for many candidates."""


def tone(samples: int = 800, frequency: float = 440.0, seed: int = 0) -> torch.Tensor:
    """A mono test signal: a tone plus a little noise."""
    generator = torch.Generator().manual_seed(seed)
    time = torch.arange(samples) / SAMPLE_RATE
    return torch.sin(2 * torch.pi * frequency * time) + 0.1 * torch.randn(samples,
                                                                          generator=generator)


def prompt_inputs() -> list[PreferenceInput]:
    """Two prompts with target directions and reference clips from those directions."""
    samples = round(DURATION * SAMPLE_RATE)
    return [PreferenceInput(text="a bell rings on the left", duration=DURATION,
                            direction=(90.0, 0.0), reference=encode(tone(samples), 90.0, 0.0)),
            PreferenceInput(text="a siren wails behind", duration=DURATION,
                            direction=(180.0, 0.0),
                            reference=encode(tone(samples, 660.0, 1), 180.0, 0.0))]
