"""The examples in docs/testing-plugins.md run and pass as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing-plugins.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def run_test_classes(source: str) -> list[str]:
    namespace: dict = {"__name__": "docs_example"}
    exec(compile(source, str(DOC), "exec"), namespace)
    ran = []
    for name, value in namespace.items():
        if name.startswith("Test") and isinstance(value, type):
            instance = value()
            for method in sorted(m for m in dir(value) if m.startswith("test_")):
                getattr(instance, method)()
                ran.append(f"{name}.{method}")
    return ran


def test_moving_average_example_conforms():
    example = next(block for block in python_blocks() if "class TestMovingAverage" in block)
    ran = run_test_classes(example)
    assert len(ran) == 7


def test_codec_and_function_examples_run():
    codec_example = next(b for b in python_blocks() if "class TestPatchCodec" in b)
    assert len(run_test_classes(codec_example)) == 11
    functions = next(b for b in python_blocks() if "check_causality(adapters" in b)
    exec(compile("import swansphere\n" + functions, str(DOC), "exec"), {})


def test_reward_suite_example_conforms():
    example = next(block for block in python_blocks() if "class TestLoudness" in block)
    assert len(run_test_classes(example)) == 4
