"""One good record among malformed ones, and a hook that raises: only the bad parts are lost."""

import attrs

import swansphere


@attrs.frozen(kw_only=True)
class Empty:
    pass


class Constant:
    """A sampler that returns its noise (it follows the Sampler protocol)."""

    def __init__(self, config) -> None:
        self.config = config

    def sample(self, velocity, noise, steps=None, generator=None):
        return noise.clone()

    def nfe(self, steps=None) -> int:
        return 0


class NotASampler:
    def __init__(self, config) -> None:
        self.config = config


@swansphere.hookimpl
def swansphere_register_samplers():
    yield swansphere.Component(name="faulty-good", kind="sampler", factory=Constant,
                               config_class=Empty, description="the one good record")
    yield {"name": "faulty-dict", "kind": "sampler"}
    yield swansphere.Component(name="two words", kind="sampler", factory=Constant,
                               config_class=Empty, description="a name with a space")
    yield swansphere.Component(name="faulty-config", kind="sampler", factory=Constant,
                               config_class=dict, description="not an attrs config class")
    yield swansphere.Component(name="faulty-incomplete", kind="sampler", factory=NotASampler,
                               config_class=Empty, description="builds no Sampler")


@swansphere.hookimpl
def swansphere_register_codecs():
    raise RuntimeError("the codec hook fails")
