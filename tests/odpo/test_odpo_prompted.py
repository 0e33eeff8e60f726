"""ODPO on candidates that continue an audio prompt (exemplar prompts), with and without a
backbone that follows a reference: each is scored as its stream heard it."""

from __future__ import annotations

import math

import pytest
import torch
from odpo_helpers import DURATION, prompt_inputs, synthetic_exemplar_bank, tiny_pipeline

import swansphere
from swansphere.plugins.odpo.loss import PairScorer
from swansphere.plugins.odpo.optimizer import Candidates, PreferenceBatch, heard_clips
from swansphere.plugins.odpo.rewards import RewardMix

TEXT = "a bell rings on the left"
FRAMES = 4


def prompt_audio(patches: int, samples_per_patch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(4, patches * samples_per_patch, generator=generator)


def following_pipeline():
    return tiny_pipeline().replace(backbone={"reference_frames": FRAMES})


def as_candidates(*takes) -> Candidates:
    """Candidates of one input per ``takes`` (None: an unprimed input), pairs unset."""
    return Candidates(latents=tuple(t.latents for t in takes),
                      audio=tuple(t.audio for t in takes), scores={},
                      total=torch.zeros(len(takes), len(takes[0].seeds)), pairs=(),
                      primed=tuple(None if t.prompt is None else t for t in takes))


def test_takes_carry_the_prompt_and_the_reference_their_stream_followed():
    pipeline = following_pipeline()
    audio = prompt_audio(2, pipeline.samples_per_patch)
    takes = pipeline.generate_takes(TEXT, duration=DURATION, seeds=(1, 2), audio_prompt=audio)
    with torch.inference_mode():
        latents = pipeline.prompt_latents(audio[None])[0]
    torch.testing.assert_close(takes.prompt, latents.expand(2, -1, -1), atol=0, rtol=0)
    repeated = latents.repeat(-(-FRAMES // latents.shape[0]), 1)[:FRAMES]
    torch.testing.assert_close(takes.reference, repeated.expand(2, -1, -1), atol=0, rtol=0)
    assert takes.reference_valid.tolist() == [True, True]
    plain = pipeline.generate_takes(TEXT, duration=DURATION, seeds=(1,))
    assert plain.prompt is None and plain.reference is None and plain.reference_valid is None
    unfollowing = tiny_pipeline().generate_takes(TEXT, duration=DURATION, seeds=(1,),
                                                 audio_prompt=audio)
    assert unfollowing.prompt is not None and unfollowing.reference is None


def test_a_primed_take_is_scored_after_its_prompt_with_its_reference():
    pipeline = following_pipeline()
    audio = torch.stack([prompt_audio(2, pipeline.samples_per_patch, seed=1),
                         torch.zeros(4, 2 * pipeline.samples_per_patch)])  # a silent row
    primed = pipeline.generate_takes(TEXT, duration=DURATION, seeds=(1, 2), audio_prompt=audio)
    plain = pipeline.generate_takes(TEXT, duration=DURATION, seeds=(3, 4))
    candidates = as_candidates(plain, primed)
    clips, options = heard_clips(pipeline.backbone, candidates, [(0, 1), (1, 0), (1, 1)])
    assert torch.equal(clips[0], plain.latents[1])
    assert torch.equal(clips[1], torch.cat([primed.prompt[0], primed.latents[0]]))
    assert options["given_patches"].tolist() == [0, 2, 2]
    assert torch.equal(options["reference"][1:], primed.reference)
    assert not options["reference"][0].any()
    assert options["reference_valid"].tolist() == [False, True, False]  # silent prompt: none

    # the scorer hands the options to the backbone's loss, winners and losers each their own
    scorer = PairScorer(pipeline.backbone)
    winners = torch.stack(clips[1:]).float()
    conditions = pipeline.conditioning([TEXT] * 2, [None] * 2)
    one = {key: value[1:] for key, value in options.items()}
    got, _ = scorer(winners, winners, conditions, 5, None, (one, {}))
    want = pipeline.backbone.loss(winners, conditions, torch.Generator().manual_seed(5),
                                  reduction="none", condition_dropout=False,
                                  patch_keep_ratio=1.0, **one)
    torch.testing.assert_close(got, want)
    blind = pipeline.backbone.loss(winners, conditions, torch.Generator().manual_seed(5),
                                   reduction="none", condition_dropout=False,
                                   patch_keep_ratio=1.0)
    assert not torch.allclose(got, blind)


def test_unprimed_candidates_are_scored_as_before():
    pipeline = tiny_pipeline()
    takes = pipeline.generate_takes(TEXT, duration=DURATION, seeds=(1, 2))
    clips, options = heard_clips(pipeline.backbone, as_candidates(takes), [(0, 0), (0, 1)])
    assert options == {} and torch.equal(torch.stack(clips), takes.latents)


@pytest.mark.parametrize("reference_frames", [0, FRAMES])
def test_odpo_trains_on_exemplar_prompted_candidates(reference_frames, monkeypatch):
    pipeline = tiny_pipeline().replace(backbone={"reference_frames": reference_frames},
                                       exemplars=synthetic_exemplar_bank(), exemplar_prompts=True)
    rewards = RewardMix.from_config([{"weight": 1.0, "reward": {"type": "spatial"}}])
    odpo = swansphere.create("preference_optimizer", {"type": "odpo", "candidates": 3,
                                                      "beta": 20.0})
    start = {k: v.clone() for k, v in pipeline.backbone.state_dict().items()}
    odpo.attach(pipeline, rewards, torch.optim.SGD(pipeline.backbone.parameters(), lr=1e-3))
    inputs = prompt_inputs()
    candidates = odpo.sample(inputs, seed=7)
    assert all(primed is not None for primed in candidates.primed)  # bell, siren: in the bank
    heard = []
    loss = pipeline.backbone.loss
    monkeypatch.setattr(pipeline.backbone, "loss",
                        lambda *args, **options: heard.append(options) or loss(*args, **options))
    metrics = odpo.step(PreferenceBatch(inputs=inputs, seed=7))
    assert heard and all(options["given_patches"].tolist() == [2, 2] for options in heard)
    assert all(("reference" in options) == bool(reference_frames) for options in heard)
    assert metrics["pairs"] == 2 and all(math.isfinite(v) for v in metrics.values())
    assert metrics["dpo_loss"] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference
    assert any(not torch.equal(v, start[k]) for k, v in pipeline.backbone.state_dict().items())
