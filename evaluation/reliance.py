"""Does a trained backbone listen to its caption? The flow error at a clip's onset with the
caption it was trained with against another clip's caption.

Generation can fail to follow a caption for many reasons (codec, sampler, guidance); this
measure isolates the backbone and needs no generation, so it is cheap enough to run on every
checkpoint. A patch with no history before it (the first of a window) and no context has
nothing but its conditions to go on, and at high noise (``t`` near 0) the noisy patch gives
little away. There, a backbone that reads the caption predicts the velocity better with the
right caption than with a wrong one; a backbone that ignores it predicts equally badly with
both (docs/evaluation.md, "Why the caption goes unheard").

Only the backbone's public methods are used: ``hidden_states`` (teacher-forced ``h``) and
``velocity``.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch


@attrs.frozen(kw_only=True)
class Reliance:
    """Mean squared velocity error per latent dimension ``(latent_dim,)``, with each item's
    own caption and with another item's."""

    own: torch.Tensor
    swapped: torch.Tensor

    def gain(self, dims: slice = slice(None)) -> float:
        """How much the right caption lowers the error over ``dims``, as a fraction of the
        error with a wrong one (0: the caption is ignored)."""
        swapped = float(self.swapped[dims].mean())
        return (swapped - float(self.own[dims].mean())) / swapped


@torch.no_grad()
def caption_reliance(backbone: Any, latents: torch.Tensor, own: Any, swapped: Any, *,
                     windows: int = 8, max_time: float = 0.15,
                     generator: torch.Generator | None = None) -> Reliance:
    """The onset velocity errors of ``latents (B, frames, latent_dim)`` (already in the
    backbone's scale) under the conditions ``own`` and ``swapped`` (the same items with other
    items' captions).

    ``windows`` onsets per clip start at random whole frames; every onset sees the same noise
    and time ``t ~ U(0, max_time)`` under both conditions, so the difference is the caption's.
    """
    patch = backbone.patch_frames
    batch, frames, dims = latents.shape
    if frames < patch:
        raise ValueError(f"clips need at least one patch of {patch} frames, got {frames}")
    # h of a window's first patch sees no audio (the start token), only the conditions: the
    # same for every window
    onset_h = {name: backbone.hidden_states(latents[:, :patch], conditions)[:, 0]
               for name, conditions in (("own", own), ("swapped", swapped))}
    errors = {name: latents.new_zeros(dims) for name in onset_h}
    for _ in range(windows):
        start = int(torch.randint(frames - patch + 1, (1,), generator=generator))
        target = latents[:, start:start + patch]
        noise = torch.randn(target.shape, generator=generator).to(target)
        t = torch.rand(batch, generator=generator).to(target) * max_time
        noisy = t[:, None, None] * target + (1 - t[:, None, None]) * noise
        for name, h in onset_h.items():
            velocity = backbone.velocity(noisy, t, h)
            errors[name] += (velocity - (target - noise)).square().mean(dim=(0, 1)) / windows
    return Reliance(own=errors["own"], swapped=errors["swapped"])
