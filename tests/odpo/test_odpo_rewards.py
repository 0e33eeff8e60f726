"""Reward plugins: signs, shapes, targets, the weighted total, and the text-audio judge."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from odpo_helpers import SAMPLE_RATE, tone

import swansphere
from swansphere.config import structure
from swansphere.errors import ConfigError
from swansphere.metrics.direction import angle_between
from swansphere.plugins.odpo.config import TextAudioConfig
from swansphere.plugins.odpo.evaluation import named_margin
from swansphere.plugins.odpo.rewards import (
    RewardInputError,
    RewardInputs,
    RewardMix,
    standardize_groups,
)
from swansphere.plugins.odpo.text_audio import TextAudioModel, load_text_audio
from swansphere.protocols import Reward
from swansphere.spatial import encode, rotate

SMALL_JUDGE = {"dim": 32, "text": {"dim": 32, "layers": 1, "heads": 2, "vocab_size": 256},
               "audio": {"sample_rate": SAMPLE_RATE, "n_fft": 256, "hop_length": 80,
                         "channels": [16], "bands": 16}}


def inputs_for(count: int, **fields) -> RewardInputs:
    defaults = {"text": (None,) * count, "directions": (None,) * count,
                "reference": (None,) * count, "video": (None,) * count}
    return RewardInputs(**{**defaults, **fields})


# ------------------------------------------------------------------------------------ spatial


def test_spatial_reward_prefers_the_clip_at_the_target_direction():
    reward = swansphere.create("reward", {"type": "spatial"})
    assert isinstance(reward, Reward) and reward.name == "spatial"
    signal = tone()
    clips = torch.stack([encode(signal, 90.0, 0.0), encode(signal, 0.0, 0.0),
                         encode(signal, -90.0, 0.0), torch.zeros(4, signal.numel())])
    scores = reward(clips, SAMPLE_RATE, inputs_for(4, directions=((90.0, 0.0),) * 4))
    assert scores.shape == (4,) and scores.dtype == torch.float32
    assert scores[0] == pytest.approx(0.0, abs=1e-5)       # on target
    assert scores[1] == pytest.approx(-0.5, abs=1e-5)      # 90° away
    assert scores[2] == pytest.approx(-1.0, abs=1e-5)      # opposite
    assert scores[3] == -1.0                                # silence: no direction, worst


@settings(max_examples=25, deadline=None, derandomize=True)
@given(azimuth=st.floats(-180, 180), elevation=st.floats(-80, 80),
       target_azimuth=st.floats(-180, 180), target_elevation=st.floats(-80, 80))
def test_spatial_reward_is_minus_the_great_circle_angle_over_pi(azimuth, elevation,
                                                                target_azimuth,
                                                                target_elevation):
    reward = swansphere.create("reward", {"type": "spatial", "target": "direction"})
    clip = encode(tone(200), azimuth, elevation).unsqueeze(0)
    score = reward(clip, SAMPLE_RATE,
                   inputs_for(1, directions=((target_azimuth, target_elevation),)))
    expected = float(angle_between(azimuth, elevation, target_azimuth, target_elevation))
    assert float(score[0]) == pytest.approx(-expected / 180.0, abs=2e-4)


def test_spatial_target_comes_from_reference_or_prompt_and_is_required():
    reward = swansphere.create("reward", {"type": "spatial"})
    clip = encode(tone(), 90.0, 0.0).unsqueeze(0)
    from_reference = inputs_for(1, reference=(encode(tone(300), 90.0, 0.0),))
    from_prompt = inputs_for(1, text=("a dog barks to your left",))
    behind = inputs_for(1, text=("a dog barks behind you",))
    assert float(reward(clip, SAMPLE_RATE, from_reference)[0]) == pytest.approx(0, abs=1e-5)
    assert float(reward(clip, SAMPLE_RATE, from_prompt)[0]) == pytest.approx(0, abs=1e-5)
    assert float(reward(clip, SAMPLE_RATE, behind)[0]) == pytest.approx(-0.5, abs=1e-5)
    with pytest.raises(RewardInputError, match="no target"):
        reward(clip, SAMPLE_RATE, inputs_for(1, text=("a dog barks",)))
    only_prompt = swansphere.create("reward", {"type": "spatial", "target": "prompt"})
    with pytest.raises(RewardInputError, match="prompt"):
        only_prompt(clip, SAMPLE_RATE, from_reference)
    with pytest.raises(RewardInputError, match="2 clips"):
        reward(clip.expand(2, -1, -1), SAMPLE_RATE, from_reference)


# ------------------------------------------------------------------------------------ fidelity


def test_log_mel_fidelity_scores_the_reference_best_and_needs_one():
    reward = swansphere.create("reward", {"type": "fidelity", "embedding": "log-mel"})
    reference = encode(tone(1600, 440.0), 30.0, 0.0)
    other = encode(torch.randn(1600, generator=torch.Generator().manual_seed(2)), 30.0, 0.0)
    clips = torch.stack([reference, rotate(reference, yaw=90), 0.5 * reference + other])
    scores = reward(clips, SAMPLE_RATE, inputs_for(3, reference=(reference,) * 3))
    assert scores.shape == (3,)
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert scores[1] == pytest.approx(0.0, abs=1e-6)   # W only: direction is not fidelity
    assert -1.0 <= float(scores[2]) < float(scores[0]) - 1e-3
    with pytest.raises(RewardInputError, match="reference"):
        reward(clips[:1], SAMPLE_RATE, inputs_for(1))


@pytest.mark.skipif(importlib.util.find_spec("aisfx") is None,
                    reason="aisfx absent (pip install --no-deps aisfx==0.1.2)")
def test_aisfx_fidelity_scores_the_reference_above_noise(tmp_path, monkeypatch):
    monkeypatch.setenv("SWANSPHERE_CACHE", str(tmp_path))
    reward = swansphere.create("reward", {"type": "fidelity"})
    reference = encode(tone(4000, 440.0), 0.0, 0.0)
    noise = encode(torch.randn(4000, generator=torch.Generator().manual_seed(3)), 0.0, 0.0)
    scores = reward(torch.stack([reference, noise]), SAMPLE_RATE,
                    inputs_for(2, reference=(reference, reference)))
    assert scores[0] == pytest.approx(0.0, abs=1e-5) and float(scores[1]) < -0.01


# ------------------------------------------------------------------------------------ identity

IDENTITY = {"type": "identity", "embedding": "log-mel", "sets": ["synthetic"], "seconds": 1.0}
RATE = 16000


def vocabulary_splits() -> tuple[tuple, tuple]:
    from swansphere.training.pipeline import vocabulary_split

    return tuple(vocabulary_split(("synthetic",), True, held) for held in (False, True))


@pytest.fixture(scope="module")
def identity_reward():
    return swansphere.create("reward", IDENTITY)


def test_identity_centroids_are_the_training_clips_only(identity_reward):
    from swansphere.evaluation.content import References
    from swansphere.metrics.embedding import SAMPLE_RATE as EMBEDDING_RATE

    training, held_out = vocabulary_splits()
    expected = References.build(training, embedding=identity_reward.embedder.embedding,
                                sample_rate=EMBEDDING_RATE, seconds=1.0).centroids
    assert identity_reward.centroids.labels == expected.labels
    assert torch.allclose(identity_reward.centroids.centroids, expected.centroids)
    assert {clip.clip_id for clip in held_out}.isdisjoint({clip.clip_id for clip in training})


def test_identity_reward_is_highest_for_the_class_a_clip_is(identity_reward):
    """A held-out clip of each class scores best when its own class is named, and above zero
    (its class the nearest) for most classes: the reward measures what the sound is."""
    import numpy as np

    labels = identity_reward.centroids.labels
    positive = 0
    for clip in vocabulary_splits()[1]:
        audio = torch.as_tensor(clip.render(np.random.default_rng(1), RATE, RATE)).float()
        batch = encode(audio, 30.0, 0.0).expand(len(labels), -1, -1)
        scores = identity_reward(batch, RATE, inputs_for(
            len(labels), classes=tuple((label,) for label in labels)))
        own = labels.index(clip.label)
        positive += bool(scores[own] > 0)
        assert (scores > 0).sum() <= 1                   # one nearest class at most
        assert int(scores.argmax()) == own or scores[own] <= 0
    assert positive >= 0.6 * len(vocabulary_splits()[1])


def test_identity_reward_needs_known_named_classes(identity_reward):
    clip = encode(tone(RATE), 0.0, 0.0).unsqueeze(0)
    with pytest.raises(RewardInputError, match="classes"):
        identity_reward(clip, RATE, inputs_for(1))
    with pytest.raises(RewardInputError, match="unicorn"):
        identity_reward(clip, RATE, inputs_for(1, classes=(("unicorn",),)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=2, max_size=8, unique=True), st.data())
def test_named_margin_is_positive_exactly_when_the_named_class_is_nearest(values, data):
    similarity = torch.tensor(values, dtype=torch.float64)
    named = data.draw(st.integers(0, len(values) - 1))
    margin = named_margin(similarity, [named])
    assert (margin > 0) == (int(similarity.argmax()) == named)
    others = [value for index, value in enumerate(values) if index != named]
    assert margin == pytest.approx(values[named] - max(others))


def test_named_margin_averages_several_named_classes():
    similarity = torch.tensor([0.9, 0.5, 0.7, 0.1], dtype=torch.float64)
    assert named_margin(similarity, [0, 1]) == pytest.approx(((0.9 - 0.7) + (0.5 - 0.7)) / 2)


# ------------------------------------------------------------------------------------ semantic


@pytest.fixture(scope="module")
def trained_judge(tmp_path_factory):
    """A tiny judge fitted to eight simulated scenes and their captions, saved."""
    from swansphere.plugins.odpo.trainer import JudgeConfig, judge_scenes

    config = structure(SMALL_JUDGE, TextAudioConfig)
    judge = JudgeConfig(model=config, clip_seconds=0.5, max_sources=1, moving_probability=0.0)
    foa, captions = judge_scenes(judge, SAMPLE_RATE, seed=1, count=8)
    torch.manual_seed(0)
    model = TextAudioModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(25):
        loss, _ = model.loss(foa, captions, torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    directory = model.eval().save_pretrained(tmp_path_factory.mktemp("judge"))
    return directory, foa, captions


def test_semantic_reward_prefers_the_matching_caption_of_a_trained_judge(trained_judge):
    directory, foa, captions = trained_judge
    reward = swansphere.create("reward", {"type": "semantic", "text_model": str(directory)})
    matched = reward(foa, SAMPLE_RATE, inputs_for(8, text=tuple(captions)))
    shifted = reward(foa, SAMPLE_RATE, inputs_for(8, text=tuple(captions[1:] + captions[:1])))
    assert matched.shape == (8,) and bool(((matched >= -1) & (matched <= 1)).all())
    assert float(matched.mean()) > float(shifted.mean()) + 0.2
    # turned the wrong way, the same sound scores lower for most clips
    turned = reward(rotate(foa, yaw=180.0), SAMPLE_RATE, inputs_for(8, text=tuple(captions)))
    assert int((matched > turned).sum()) >= 6
    untexted = reward(foa[:1], SAMPLE_RATE, inputs_for(1))
    assert float(untexted[0]) == 0.0


def test_judge_round_trips_and_resamples(trained_judge):
    directory, foa, captions = trained_judge
    model = load_text_audio(directory)
    again = load_text_audio(directory)
    with torch.no_grad():
        first = model.similarity(captions[:2], foa[:2])
        assert torch.equal(first, again.similarity(captions[:2], foa[:2]))
        upsampled = torch.nn.functional.interpolate(foa[:2], scale_factor=2, mode="linear")
        resampled = model.similarity(captions[:2], upsampled, 2 * SAMPLE_RATE)
    assert torch.allclose(first, resampled, atol=0.1)
    assert not any(p.requires_grad for p in model.parameters())


def test_semantic_reward_needs_a_model():
    with pytest.raises(ConfigError, match="text_model"):
        swansphere.create("reward", {"type": "semantic"})


def test_semantic_reward_scores_video_with_an_svac_model(tmp_path):
    from swansphere.plugins.svac.config import SVACModelConfig
    from swansphere.plugins.svac.model import SVACModel

    config = structure({"video": {"dim": 16, "height": 16, "width": 32, "channels": [4],
                                  "token_dim": 8, "heads": 2, "mixer_layers": 0,
                                  "sh_order": 1, "frame_rate": 4.0},
                        "audio": {"sample_rate": SAMPLE_RATE, "n_fft": 256, "hop_length": 80,
                                  "channels": [8], "bands": 8}}, SVACModelConfig)
    torch.manual_seed(0)
    SVACModel(config).save_pretrained(tmp_path)
    reward = swansphere.create("reward", {"type": "semantic", "svac_model": str(tmp_path)})
    frames = torch.randint(0, 256, (2, 16, 32, 3), dtype=torch.uint8).numpy()
    video = (frames, torch.tensor([0.0, 0.25]).numpy())
    clip = encode(tone(4000), 45.0, 0.0).unsqueeze(0)
    score = reward(clip, SAMPLE_RATE, inputs_for(1, video=(video,), text=("a tone",)))
    assert score.shape == (1,) and -1.0 <= float(score[0]) <= 1.0 and float(score[0]) != 0.0
    with pytest.raises(ConfigError, match="text_model"):
        reward(clip, SAMPLE_RATE, inputs_for(1, text=("a tone",)))


# ------------------------------------------------------------------------------------ total


class Constant:
    def __init__(self, name: str, values: list[float]) -> None:
        self.name, self.values = name, values

    def __call__(self, audio, sample_rate, inputs):
        return torch.tensor(self.values)


def test_reward_mix_weights_and_group_standardisation():
    mix = RewardMix([(0.4, Constant("a", [1.0, 0.0, 0.5, 0.5])),
                     (0.6, Constant("a", [0.0, 2.0, 1.0, 1.0]))])
    assert mix.names == ("a", "a_1")
    scores = mix.score(torch.zeros(4, 4, 8), SAMPLE_RATE, inputs_for(4))
    assert torch.allclose(mix.total(scores), torch.tensor([0.4, 1.2, 0.8, 0.8]))
    grouped = mix.total(scores, normalize="group", group=2)
    assert torch.allclose(grouped, torch.tensor([-0.2, 0.2, 0.0, 0.0]))


def test_standardize_groups_has_zero_mean_unit_spread():
    values = torch.tensor([1.0, 2.0, 3.0, 7.0, 7.0, 7.0])
    out = standardize_groups(values, 3)
    assert torch.allclose(out[:3].mean(), torch.tensor(0.0), atol=1e-6)
    assert math.isclose(float(out[:3].std(correction=0)), 1.0, rel_tol=1e-5)
    assert torch.equal(out[3:], torch.zeros(3))


def test_reward_mix_from_config_builds_registered_rewards():
    mix = RewardMix.from_config([{"weight": 0.6, "reward": {"type": "spatial"}},
                                 {"weight": 0.4, "reward": {"type": "fidelity",
                                                            "embedding": "log-mel"}}])
    assert mix.names == ("spatial", "fidelity") and mix.weights["spatial"] == 0.6
    with pytest.raises(ConfigError, match="weight"):
        RewardMix.from_config([{"weight": -1.0, "reward": {"type": "spatial"}}])
