"""Where a pipeline's output level comes from: scenes, codec round trip, latents, sampling.

The shipped ``tiny`` model played about 15 dB below the scenes it was trained on. The level
passes through four stages, and each is measured on its own (docs/evaluation.md, "Output
level"):

- the **scenes** (:func:`level_db` of their W channel);
- the codec's **round trip** of those scenes (encode, decode): what a generator that
  reproduced the real latents exactly would play;
- the **latents**: the pipeline divides codec latents by ``latent_scale`` before the backbone
  sees them, so the real latents' spread in that space is what sampling must reproduce;
- **sampling**: the generated latents' spread per dimension against the real latents'
  (:func:`spread_ratio`). A flow sampler with few steps regresses toward the mean (Euler with
  3 steps keeps about 0.55 of the spread even of an exact Gaussian flow,
  :func:`gaussian_spread`), and the decoder turns smaller latents into quieter audio.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def level_db(audio: torch.Tensor) -> float:
    """RMS level of a clip's W channel in dB full scale (full scale = 1): ``audio`` is
    ``(4, n)`` AmbiX or ``(n,)`` mono. Silence gives -240 dB rather than -inf."""
    omni = audio[0] if audio.dim() == 2 else audio
    return 10.0 * math.log10(max(float(omni.double().square().mean()), 1e-24))


def mean_level_db(clips: Any) -> float:
    """Mean of :func:`level_db` over clips (each clip counts once, whatever its loudness)."""
    levels = [level_db(clip) for clip in clips]
    return sum(levels) / len(levels)


def spread_ratio(generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Per latent dimension, the generated latents' standard deviation over the real ones':
    ``(..., frames, dim)`` each (all leading axes pooled) -> ``(dim,)``. 1 reproduces the
    real spread; below 1 the sampler shrinks toward the mean."""
    dims = generated.shape[-1]
    if real.shape[-1] != dims:
        raise ValueError(f"latent widths differ: {dims} generated, {real.shape[-1]} real")
    ours = generated.reshape(-1, dims).double().std(0)
    theirs = real.reshape(-1, dims).double().std(0)
    return ours / theirs.clamp_min(1e-12)


def spread_db(ratio: torch.Tensor) -> float:
    """The mean power ratio of :func:`spread_ratio` in dB (0 dB: the real spread)."""
    return 10.0 * math.log10(float(ratio.square().mean()))


def gaussian_spread(sampler: Any, std: torch.Tensor, samples: int = 20000,
                    seed: int = 0) -> torch.Tensor:
    """What ``sampler`` keeps of an exact rectified flow to N(0, diag ``std``²): the output's
    standard deviation over ``std`` per dimension. The loss a sampler causes by itself, with a
    perfect model (:class:`~swansphere.samplers.GaussianFlow`)."""
    from swansphere.samplers import GaussianFlow

    std = std.double()
    flow = GaussianFlow(torch.zeros_like(std), std)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(samples, std.shape[0], generator=generator, dtype=torch.float64)
    with torch.inference_mode():
        out = sampler.sample(flow.velocity, noise,
                             generator=torch.Generator().manual_seed(seed + 1))
    return out.std(0) / std
