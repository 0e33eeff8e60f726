"""The component suites of swansphere.testing.components: built-ins pass them, and broken
toys fail each check (so the checks can fail)."""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import pytest
import torch

import swansphere
from swansphere import Component, Registry
from swansphere.testing.components import (
    ConditionerConformance,
    ConformanceError,
    PreferenceOptimizerConformance,
    RewardConformance,
    check_config_round_trip,
    check_pipeline_ready,
    check_protocol,
)

ODPO_TESTS = Path(__file__).resolve().parents[1] / "odpo"
if str(ODPO_TESTS) not in sys.path:
    sys.path.insert(0, str(ODPO_TESTS))

from odpo_helpers import SAMPLE_RATE, prompt_inputs, tiny_pipeline  # noqa: E402

from swansphere.plugins.odpo.optimizer import PreferenceBatch  # noqa: E402
from swansphere.plugins.odpo.rewards import FIELDS, RewardInputs, RewardMix  # noqa: E402
from swansphere.spatial import encode  # noqa: E402

TEXT = {"type": "text-transformer", "dim": 32, "layers": 1, "heads": 2, "vocab_size": 64}
VIDEO = {"type": "panorama-video", "dim": 16, "height": 16, "width": 32, "channels": [4],
         "token_dim": 8, "heads": 2, "mixer_layers": 0, "sh_order": 1, "frame_rate": 25.0}
DIRECTIONS = ((90.0, 0.0), (180.0, 10.0), (-45.0, -20.0))


# ------------------------------------------------------------------------ built-ins pass


@pytest.mark.parametrize("item", Registry(disabled=()).components(),
                         ids=lambda item: f"{item.kind.value}-{item.name}")
def test_every_builtin_default_config_round_trips(item):
    check_config_round_trip(item.kind, {"type": item.name})


def test_a_changed_config_round_trips():
    check_config_round_trip("sampler", {"type": "heun", "steps": 7, "grid": "shifted",
                                        "shift": 2.5})
    check_config_round_trip("conditioner", VIDEO)


@pytest.mark.parametrize("codec", [{"type": "patch"}, {"type": "foa-parametric"},
                                   {"type": "foa-vae"}], ids=lambda c: c["type"])
def test_builtin_codecs_are_pipeline_ready(codec):
    check_pipeline_ready(swansphere.create("codec", codec))


class TestTextTransformerConforms(ConditionerConformance):
    def make_conditioner(self):
        torch.manual_seed(0)
        return swansphere.create("conditioner", TEXT)


class TestPanoramaVideoConforms(ConditionerConformance):
    def make_conditioner(self):
        torch.manual_seed(0)
        return swansphere.create("conditioner", VIDEO)


def directional_clips(batch_size: int) -> tuple[torch.Tensor, RewardInputs]:
    generator = torch.Generator().manual_seed(batch_size)
    signal = torch.randn(batch_size, 2000, generator=generator)
    audio = torch.stack([encode(signal[i], *DIRECTIONS[i % 3]) for i in range(batch_size)])
    targets = [DIRECTIONS[(i + 1) % 3] for i in range(batch_size)]  # scores differ per clip
    inputs = RewardInputs.concat([RewardInputs.one(
        direction=target, reference=encode(torch.randn(2000, generator=generator), *target))
        for target in targets])
    return audio.float(), inputs


class RewardInputsSuite(RewardConformance):
    sample_rate = SAMPLE_RATE

    def make_clips(self, batch_size):
        return directional_clips(batch_size)

    def select(self, conditions, index):
        return RewardInputs(**{field: getattr(conditions, field)[index:index + 1]
                               for field in FIELDS})


class TestSpatialRewardConforms(RewardInputsSuite):
    def make_reward(self):
        return swansphere.create("reward", {"type": "spatial"})


class TestFidelityRewardConforms(RewardInputsSuite):
    def make_reward(self):
        return swansphere.create("reward", {"type": "fidelity", "embedding": "log-mel"})


class TestIdentityRewardConforms(RewardInputsSuite):
    def make_reward(self):
        return swansphere.create("reward", {"type": "identity", "embedding": "log-mel",
                                            "sets": ["synthetic"], "seconds": 0.5})

    def make_clips(self, batch_size):
        audio, inputs = directional_clips(batch_size)
        named = [("bell",), ("siren",), ("bell", "whistling")]
        return audio, attrs.evolve(inputs, classes=tuple(named[i % 3]
                                                         for i in range(batch_size)))


class TestODPOConforms(PreferenceOptimizerConformance):
    def make_optimizer(self):
        return swansphere.create("preference_optimizer", {"type": "odpo", "candidates": 2,
                                                          "beta": 20.0})

    def make_pipeline(self):
        return tiny_pipeline()

    def make_rewards(self):
        return RewardMix.from_config([{"weight": 1.0, "reward": {"type": "spatial"}}])

    def make_batch(self):
        return PreferenceBatch(inputs=prompt_inputs(), seed=3)


# ------------------------------------------------------------------------ broken toys fail


def test_a_missing_member_fails_the_protocol_check():
    class Mute:
        name = "mute"

    with pytest.raises(ConformanceError, match="Mute is not a Reward: it lacks __call__"):
        check_protocol(Mute(), "reward")


def test_a_decoder_with_lookahead_is_not_pipeline_ready():
    codec = swansphere.create("codec", {"type": "patch"})
    codec.decode_lookahead = 1
    with pytest.raises(ConformanceError, match="decode_lookahead = 1: a Pipeline refuses it"):
        check_pipeline_ready(codec)


def test_a_config_that_toml_cannot_hold_fails_the_round_trip():
    @attrs.frozen(kw_only=True)
    class Gain:
        db: float | None = 0.0

    class Plugin:
        @swansphere.hookimpl
        def swansphere_register_rewards(self):
            return [Component(name="gain", kind="reward", factory=lambda c: c,
                              config_class=Gain, description="None does not survive TOML")]

    registry = Registry(entry_points=False)
    registry.register(Plugin(), "gain")
    check_config_round_trip("reward", {"type": "gain", "db": 3.0}, registry=registry)
    with pytest.raises(ConformanceError, match="the config changes through TOML"):
        check_config_round_trip("reward", {"type": "gain", "db": None}, registry=registry)


class BatchMeanText(TestTextTransformerConforms):
    """Subtracts the batch mean: items of a batch affect each other."""

    def make_conditioner(self):
        conditioner = super().make_conditioner()
        honest = conditioner.forward

        def forward(prepared):
            out = honest(prepared)
            return attrs.evolve(out, tokens=out.tokens - out.tokens.mean(0, keepdim=True))

        conditioner.forward = forward
        return conditioner


class NullIgnoringText(TestTextTransformerConforms):
    """Gives an absent caption the tokens of an empty string instead of the null output."""

    def make_conditioner(self):
        conditioner = super().make_conditioner()
        honest = conditioner.prepare
        conditioner.prepare = lambda raw: honest(["" if r is None else r for r in raw])
        return conditioner


def test_conditioner_toys_fail():
    with pytest.raises(ConformanceError, match="changes when other items share its batch"):
        BatchMeanText().test_batch_items_are_independent()
    with pytest.raises(ConformanceError, match="absent item"):
        NullIgnoringText().test_absent_items_get_the_null_output()


class BatchNormalisedReward(TestSpatialRewardConforms):
    """Standardises scores over the batch: a clip's score depends on the others."""

    def make_reward(self):
        honest = super().make_reward()

        class Reward:
            name = "normalised"

            def __call__(self, audio, sample_rate, conditions):
                scores = honest(audio, sample_rate, conditions)
                return scores - scores.mean()

        return Reward()


class SpacedName(TestSpatialRewardConforms):
    def make_reward(self):
        reward = super().make_reward()
        reward.name = "two words"
        return reward


def test_reward_toys_fail():
    with pytest.raises(ConformanceError, match="score changes when other clips share"):
        BatchNormalisedReward().test_clips_are_scored_independently()
    with pytest.raises(ConformanceError, match="name must be a non-empty string"):
        SpacedName().test_reward_protocol_and_name()


class DetachedAttach(TestODPOConforms):
    """attach returns a copy instead of the optimizer it was called on."""

    def make_optimizer(self):
        odpo = super().make_optimizer()
        honest = odpo.attach
        odpo.attach = lambda *args, **kwargs: (honest(*args, **kwargs), object())[1]
        return odpo


def test_preference_optimizer_toy_fails():
    with pytest.raises(ConformanceError, match="attach must return the optimizer itself"):
        DetachedAttach().test_reference_divergence_starts_at_zero()
