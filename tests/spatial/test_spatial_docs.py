"""The Python examples of the spatial docs run as written, in order, in an empty folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from swansphere.spatial import hrtf

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _python_blocks(name: str) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.S)
    assert blocks, f"{name} has no python examples"
    return blocks


@pytest.mark.parametrize("name", ["conventions.md", "spatial.md"])
def test_doc_examples_run(name, tmp_path, monkeypatch, capsys):
    blocks = _python_blocks(name)
    if any("binaural(" in block for block in blocks) and not any(
            path.is_file() for path in hrtf.DEFAULT_SOFA_PATHS):
        pytest.skip("the binaural examples need Debian's libmysofa1 (MIT KEMAR set)")
    monkeypatch.delenv(hrtf.SOFA_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"{name} example", "exec"), namespace)
    assert capsys.readouterr().out  # the examples print what the page shows
