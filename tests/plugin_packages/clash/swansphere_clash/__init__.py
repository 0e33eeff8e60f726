"""Registers names that are already taken: the example plugin's reward, the built-in
``euler`` sampler and ``generate`` command, and a command that adds the built-in ``spatial``.
The first provider keeps each name; these are reported broken and everything else works."""

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


@swansphere.hookimpl
def swansphere_register_samplers():
    yield swansphere.Component(
        name="euler",
        kind="sampler",
        factory=lambda config: None,
        config_class=ClashConfig,
        description="Same name as a built-in sampler",
    )


@swansphere.hookimpl
def swansphere_register_commands():
    yield swansphere.Extension(name="generate", kind="command",
                               target="swansphere_clash:register_spatial",
                               description="Same name as a built-in command")
    yield swansphere.Extension(name="clash-spatial", kind="command",
                               target="swansphere_clash:register_spatial",
                               description="A new name, but it adds the built-in 'spatial'")


def register_spatial(subparsers):
    subparsers.add_parser("spatial", help="clashes with the built-in spatial command")
