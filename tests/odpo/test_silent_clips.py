"""One policy for clips without a direction, in every place that scores directions
(docs/evaluation.md, "Clips without a direction"): per clip undefined (NaN) and counted; where
one number must stand for the clip, π for every error: never π/2, never a better score than a
clip that points the wrong way."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import attrs
import pytest
import torch
from odpo_helpers import SAMPLE_RATE, prompt_inputs, tiny_pipeline, tone

import swansphere
from swansphere.config import structure
from swansphere.metrics.direction import (
    WITHOUT_DIRECTION_ERROR,
    aggregate_direction_errors,
    clip_direction_errors,
    worst_case_direction_errors,
)
from swansphere.pipeline import Takes
from swansphere.plugins.odpo.rewards import RewardInputError, RewardMix, SpatialReward
from swansphere.spatial import encode

SILENCE = torch.zeros(4, 800)
W_ONLY = torch.cat([tone(800)[None], torch.zeros(3, 800)])
REFERENCE = encode(tone(800), 90.0, 0.0).float()
OPPOSITE = encode(tone(800), -90.0, 0.0).float()


def test_the_policy_is_pi_for_every_error():
    assert math.pi == WITHOUT_DIRECTION_ERROR
    clips = torch.stack([SILENCE, W_ONLY, OPPOSITE])
    errors = worst_case_direction_errors(REFERENCE, clips)
    for name in ("theta", "phi", "angular"):
        assert errors[name][:2].tolist() == [math.pi, math.pi], name
    assert float(errors["angular"][2]) == pytest.approx(math.pi, abs=1e-6)
    undefined = clip_direction_errors(REFERENCE, clips)
    assert math.isnan(undefined["angular"][0]) and not undefined["generated_has_direction"][0]
    worst = aggregate_direction_errors(undefined, "worst")
    # Δφ of the two silent clips is π too (the opposite clip's is 0)
    assert worst["phi_mean"] == pytest.approx(2 * math.pi / 3, abs=1e-6)
    unscored = worst_case_direction_errors(SILENCE, REFERENCE)  # no reference: not scored
    assert math.isnan(unscored["angular"])


def test_the_spatial_reward_ranks_silence_with_the_opposite_direction():
    reward = SpatialReward()
    scores = reward(torch.stack([SILENCE, OPPOSITE]), SAMPLE_RATE,
                    prompt_inputs()[0].reward_inputs().repeat(2))
    assert scores.tolist() == pytest.approx([-1.0, -1.0], abs=1e-5)
    silent_reference = attrs.evolve(prompt_inputs()[0], reference=SILENCE, direction=None)
    by_reference = SpatialReward(structure({"target": "reference"}, type(reward.config)))
    with pytest.raises(RewardInputError, match="gives no target direction"):
        by_reference(OPPOSITE[None], SAMPLE_RATE, silent_reference.reward_inputs())


def test_odpo_evaluation_scores_a_silent_clip_pi():
    from swansphere.plugins.odpo.trainer import evaluate_clips

    pipeline = tiny_pipeline()
    odpo = swansphere.create("preference_optimizer", {"type": "odpo", "candidates": 2})
    odpo.attach(pipeline, RewardMix([(1.0, SpatialReward())]))
    item = prompt_inputs()[0]
    samples = item.reference.shape[-1]
    latents = torch.zeros(2, 4 * pipeline.backbone.patch_frames, pipeline.backbone.latent_dim)
    takes = Takes(audio=torch.zeros(2, 4, samples), latents=latents, seeds=(0, 1))
    metrics = evaluate_clips(pipeline, odpo.rewards, [item], [takes],
                             divergence=odpo.reference_divergence)
    assert metrics["angular_error"] == math.pi
    assert metrics["spatial"] == -1.0


def test_pipeline_validation_scores_a_silent_clip_pi(tmp_path, monkeypatch):
    from test_pipeline_training import trainer  # the pipeline tests' folder is on the path

    run = trainer(tmp_path / "run", validation={"generated_scenes": 1})
    data = run.training_set(validation=True)
    monkeypatch.setattr(run.pipeline, "generate",
                        lambda *args, **kwargs: torch.zeros(4, data.scenes.foa.shape[-1]))
    assert run._generated_direction_error(data) == math.pi


def test_tiny_eval_scores_a_silent_clip_pi():
    benchmarks = str(Path(__file__).resolve().parents[2] / "benchmarks")
    sys.path.insert(0, benchmarks)
    try:
        import tiny_eval
    finally:
        sys.path.remove(benchmarks)
    scene = {"foa": REFERENCE, "caption": "a bell rings on the left", "azimuth": 90.0,
             "elevation": 0.0}
    row = tiny_eval.score(scene, SILENCE, "text")
    assert {row[name] for name in ("angular", "theta", "phi", "prompt_angular")} == {math.pi}
    wrong = tiny_eval.score(scene, OPPOSITE, "text")
    assert wrong["angular"] <= row["angular"]
