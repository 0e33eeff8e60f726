"""Small inputs the CLI tests share: a codec training config that trains in a second, an
AmbiX clip, a panorama video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomli_w
import torch

from swansphere.spatial import encode, write_foa, write_panorama_npz

CODEC = {"type": "foa-vae", "sample_rate": 8000, "strides": [2, 4], "channels": [4, 6, 6],
         "latent_dim": 4, "dilations": [1], "kernel_size": 3, "skip_coefficients": 1}


def codec_config(folder: Path, name: str = "codec.toml", **run: object) -> Path:
    """A codec training config that trains in about a second."""
    table = {"task": "codec", "codec": CODEC,
             "data": {"train_scenes": 2, "validation_scenes": 1, "clip_seconds": 0.25,
                      "segment_seconds": 0.05, "max_sources": 2},
             "loss": {"fft_sizes": [64, 32], "spatial_fft_size": 64},
             "optimizer": {"warmup_steps": 2, "learning_rate": 1e-3},
             "run": {"steps": 2, "batch_size": 2, "checkpoint_every": 2, "validate_every": 2,
                     "output_dir": str(folder / "run"), **run}}
    path = folder / name
    path.write_text(tomli_w.dumps(table), encoding="utf-8")
    return path


def clip(folder: Path, name: str = "in.wav", seconds: float = 0.25, rate: int = 16000) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = torch.randn(max(1, round(seconds * rate)), generator=torch.Generator().manual_seed(0))
    write_foa(path, encode(noise, 60.0, 10.0), rate)
    return path


def video(folder: Path, frames: int = 2, name: str = "video.npz") -> Path:
    pixels = np.full((frames, 32, 64, 3), 90, np.uint8)
    return write_panorama_npz(folder / name, pixels, np.arange(frames) / 4.0, 4.0)
