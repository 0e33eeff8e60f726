"""A misspelt hook name next to a correct one: the correct hook still registers."""

import attrs

import swansphere


@attrs.frozen(kw_only=True)
class Empty:
    pass


class Silent:
    name = "faulty-silent"

    def __init__(self, config) -> None:
        self.config = config

    def __call__(self, audio, sample_rate, conditions):
        return audio.new_zeros(audio.shape[0])


@swansphere.hookimpl
def swansphere_register_reward():  # missing the final "s"
    yield swansphere.Component(name="faulty-lost", kind="reward", factory=Silent,
                               config_class=Empty, description="never registered")


@swansphere.hookimpl
def swansphere_register_rewards():
    yield swansphere.Component(name="faulty-silent", kind="reward", factory=Silent,
                               config_class=Empty, description="scores every clip 0")
