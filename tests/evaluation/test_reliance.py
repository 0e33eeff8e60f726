"""The caption-reliance measure: zero for a backbone that cannot hear its caption, near one for
a backbone that predicts exactly from it."""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backbone"))
from backbone_helpers import conditions, latents, make_model

from swansphere.evaluation.reliance import caption_reliance


def text_only(model, batch: int):
    cond = conditions(batch, model, seed=2)
    return attrs.evolve(cond, text=torch.randn(cond.text.shape), video=None, video_times=None)


def swapped_text(cond):
    return attrs.evolve(cond, text=cond.text.roll(1, 0), text_mask=cond.text_mask.roll(1, 0))


def test_a_backbone_deaf_to_text_relies_on_it_not_at_all() -> None:
    model = make_model(text_summary=False)
    with torch.no_grad():
        for block in model.lm.blocks:
            block.cross.o_proj.weight.zero_()  # the text's only way in, closed
    cond = text_only(model, 3)
    reliance = caption_reliance(model, latents(3, 4, model), cond, swapped_text(cond),
                                generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(reliance.own, reliance.swapped, atol=0, rtol=0)
    assert reliance.gain() == 0.0


def test_a_backbone_that_hears_its_caption_relies_on_it() -> None:
    model = make_model()
    cond = text_only(model, 3)
    reliance = caption_reliance(model, latents(3, 4, model), cond, swapped_text(cond),
                                generator=torch.Generator().manual_seed(0))
    assert not torch.equal(reliance.own, reliance.swapped)


class CaptionOracle:
    """Knows which clip each caption belongs to and predicts the exact velocity toward it."""

    patch_frames = 2

    def __init__(self, clips: torch.Tensor, cond) -> None:
        self.clips, self.captions = clips, cond.text.flatten(1)

    def hidden_states(self, patch: torch.Tensor, cond) -> torch.Tensor:
        return cond.text.flatten(1).unsqueeze(1)

    def velocity(self, noisy: torch.Tensor, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        rows = [int((self.captions == caption).all(-1).nonzero()[0, 0]) for caption in h]
        return (self.clips[rows] - noisy) / (1 - t[:, None, None])


def test_an_oracle_that_follows_its_caption_gains_everything() -> None:
    model = make_model()
    cond = text_only(model, 4)
    clips = latents(4, 1, model)  # one patch: every window is the clip
    reliance = caption_reliance(CaptionOracle(clips, cond), clips, cond, swapped_text(cond),
                                generator=torch.Generator().manual_seed(0))
    assert reliance.own.max() < 1e-10 < reliance.swapped.min()
    assert reliance.gain() > 0.999
    assert reliance.gain(slice(0, 2)) > 0.999
