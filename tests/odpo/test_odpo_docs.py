"""The reward example of docs/odpo.md runs and prints what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "odpo.md"


def test_reward_example_prints_what_the_page_shows(capsys):
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```\n\n```\n(.*?)```", text, flags=re.S)
    assert match, "docs/odpo.md lost its reward example and its output"
    exec(compile(match[1], "odpo.md example", "exec"), {})
    assert capsys.readouterr().out == match[2]
