"""Registers ``example-loudness`` a second time, so the registry must refuse it."""

import attrs

import swansphere


@attrs.frozen(kw_only=True)
class ClashConfig:
    pass


@swansphere.hookimpl
def swansphere_register_rewards():
    yield swansphere.Component(
        name="example-loudness",
        kind="reward",
        factory=lambda config: None,
        config_class=ClashConfig,
        description="Same name as the example plugin's reward",
    )
