"""A tiny random-weight pipeline for tests (training-free codec, minute transformer sizes)."""

from __future__ import annotations

import attrs
import numpy as np
import torch

from swansphere.config import structure
from swansphere.data.panorama import background
from swansphere.metrics.direction import angle_between
from swansphere.pipeline import Pipeline, PipelineConfig
from swansphere.spatial import erp_grid

SAMPLE_RATE = 8000
HOP = 16

TINY = {
    "codec": {"type": "patch", "sample_rate": SAMPLE_RATE, "hop_length": HOP,
              "transform": "dct", "coefficients": 4},
    "backbone": {
        "type": "causal-dit", "latent_dim": 16, "latent_frame_rate": SAMPLE_RATE / HOP,
        "patch_frames": 4, "text_dim": 32, "video_dim": 16, "attention_window": 8,
        "caption_layers": 1,
        "lm": {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1},
        "locenc": {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1},
        "locdit": {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1},
    },
    "sampler": {"type": "euler", "steps": 3},
    "text": {"type": "text-transformer", "dim": 32, "layers": 1, "heads": 2,
             "vocab_size": 64},
    "video": {"type": "panorama-video", "dim": 16, "height": 16, "width": 32,
              "channels": [4], "token_dim": 8, "heads": 2, "mixer_layers": 0, "sh_order": 1,
              "frame_rate": 25.0},
}


def tiny_pipeline(seed: int = 0) -> Pipeline:
    torch.manual_seed(seed)
    pipeline = Pipeline.from_config(structure(TINY, PipelineConfig))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in pipeline.modules().values():
            module.eval()
            # Zero-initialised gates (AdaLN-Zero, gated attention) would hide the conditions;
            # random weights make every input matter, so causality tests can fail.
            for parameter in module.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return pipeline


def panorama_frames(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 16, 32, 3), dtype=np.uint8)


def panorama_with_source(azimuth: float, elevation: float, width: int = 128,
                         seed: int = 0) -> np.ndarray:
    """A simulator background with a saturated disc of radius 12° at the given direction."""
    frame = background(width, width // 2, seed)
    grid_azimuth, grid_elevation = erp_grid(width, width // 2)
    inside = angle_between(grid_azimuth, grid_elevation, azimuth, elevation) < 12.0
    frame[inside.numpy()] = (240, 40, 200)
    return frame


def assert_valid_tokens_agree(pooled, alone) -> None:
    """Conditions of rows taken from a pool equal those of the same items encoded alone where
    tokens are real; the pool pads to its longest item, so only the widths may differ."""
    one = attrs.asdict(pooled, recurse=False)
    two = attrs.asdict(alone, recurse=False)
    for name in ("text", "video"):
        mask_name = f"{name}_mask"
        width = two[name].shape[1]
        torch.testing.assert_close(one[mask_name][:, :width], two[mask_name])
        assert not one[mask_name][:, width:].any()
        valid = two[mask_name]
        torch.testing.assert_close(one[name][:, :width][valid], two[name][valid], msg=name)


def synthetic_exemplar_bank(seconds: float = 0.016, per_class: int = 1):
    """An exemplar bank of the synthetic set's training clips at the test rate, ``per_class``
    clips a class (skips the test without MiniLM, which matching needs)."""
    import pytest

    from swansphere.conditioning.text import minilm_available
    from swansphere.data.exemplars import exemplar_bank
    from swansphere.data.sources import catalogue
    from swansphere.data.vocabulary import class_clips, split_clips, training_phrases

    if not minilm_available():
        pytest.skip("exemplar prompts need swansphere[text]")
    training = split_clips(class_clips(catalogue(["synthetic"])))[0]
    return exemplar_bank(training, training_phrases({c.label for c in training}),
                         sample_rate=SAMPLE_RATE, seconds=seconds, per_class=per_class)


def whole_clip_pipeline() -> Pipeline:
    """:data:`TINY` with a minute ``global-dit`` backbone: a pipeline that makes whole clips."""
    table = {**TINY, "backbone": {"type": "global-dit", "latent_dim": 16,
                                  "latent_frame_rate": SAMPLE_RATE / HOP, "patch_frames": 4,
                                  "text_dim": 32, "video_dim": 16, "caption_layers": 1,
                                  "dit": {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1}}}
    torch.manual_seed(0)
    return Pipeline.from_config(structure(table, PipelineConfig))


def stream_latents(pipeline: Pipeline, *args, patches: int = 6, **kwargs) -> torch.Tensor:
    """The latents of the first ``patches`` patches of ``pipeline.stream(*args, seed=0)``."""
    chunks = pipeline.stream(*args, duration=patches * pipeline.patch_seconds, seed=0, **kwargs)
    return torch.cat([chunk.latents for chunk in chunks])


def assert_reproduces(latents: torch.Tensor, recording) -> None:
    """``latents`` equal the recorded ones (a ``.npy`` path) up to rounding (1e-4 relative):
    a changed computation moves them by percents."""
    recorded = torch.from_numpy(np.load(recording))
    assert latents.shape == recorded.shape
    relative = float((latents - recorded).norm() / recorded.norm())
    assert relative < 1e-4, relative

