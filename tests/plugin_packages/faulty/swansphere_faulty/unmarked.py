"""A hook without the @swansphere.hookimpl marker: pluggy would never call it."""

import attrs

import swansphere


@attrs.frozen(kw_only=True)
class Empty:
    pass


def swansphere_register_samplers():
    yield swansphere.Component(name="faulty-unmarked", kind="sampler", factory=lambda c: None,
                               config_class=Empty, description="never registered")
