"""A third-party plugin: a loudness reward.

It registers through the same entry-point group as the built-ins and shows the minimal shape
of a plugin: a config class, a factory and a hook that yields Component records.
"""

import attrs

import swansphere


@attrs.frozen(kw_only=True)
class LoudnessConfig:
    target_db: float = -20.0


class LoudnessReward:
    """Higher when the W channel's RMS level is close to ``target_db``."""

    name = "example-loudness"  # logs show its scores as example-loudness_mean, ...

    def __init__(self, config: LoudnessConfig) -> None:
        self.config = config

    def __call__(self, audio, sample_rate, conditions):
        import torch

        rms = audio[:, 0].pow(2).mean(dim=-1).clamp_min(1e-12).sqrt()
        return -(20 * torch.log10(rms) - self.config.target_db).abs()


@swansphere.hookimpl
def swansphere_register_rewards():
    yield swansphere.Component(
        name="example-loudness",
        kind="reward",
        factory=LoudnessReward,
        config_class=LoudnessConfig,
        description="Closeness of the W channel's level to a target (example plugin)",
    )
