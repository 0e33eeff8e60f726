"""The Python examples in docs/samplers.md run, and its conformance example passes."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "samplers.md"


@pytest.fixture(scope="module")
def namespace() -> dict:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    scope: dict = {"__name__": "samplers_doc"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), scope)
    return scope


def test_examples_run(namespace: dict) -> None:
    assert namespace["x"].shape == namespace["noise"].shape


def test_third_party_example_passes_the_suite(namespace: dict) -> None:
    suite = namespace["TestRalston"]()
    methods = [name for name in dir(suite) if name.startswith("test_")]
    assert len(methods) >= 7
    for name in methods:
        getattr(suite, name)()


def test_registration_example_builds_the_sampler(namespace: dict) -> None:
    import swansphere

    registry = swansphere.Registry(entry_points=False)
    plugin = SimpleNamespace(swansphere_register_samplers=namespace["swansphere_register_samplers"])
    registry.register(plugin, "ralston-plugin")
    sampler = registry.create("sampler", {"type": "ralston", "steps": 3})
    assert sampler.nfe() == 6
