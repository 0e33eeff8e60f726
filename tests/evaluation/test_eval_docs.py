"""The Python example of docs/evaluation.md runs and prints what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"


def test_python_example_prints_what_the_page_shows(capsys, tmp_path, monkeypatch):
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```\n\n```\n(.*?)```", text, flags=re.S)
    assert match, "docs/evaluation.md lost its Python example and its output"
    monkeypatch.chdir(tmp_path)
    exec(compile(match[1], "evaluation.md example", "exec"), {})
    assert capsys.readouterr().out == match[2]
