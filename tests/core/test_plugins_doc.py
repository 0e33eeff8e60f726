"""docs/plugins.md: its code is the test packages' code, and its examples run."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
PACKAGES = REPO / "tests" / "plugin_packages"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def test_the_example_module_is_the_example_package():
    module = (PACKAGES / "example" / "swansphere_example" / "__init__.py").read_text()
    assert module in blocks("python")


def test_the_extension_snippets_are_the_extensions_package():
    package = PACKAGES / "extensions" / "swansphere_extensions"
    sources = (package / "__init__.py").read_text() + (package / "cli.py").read_text()
    snippets = [block for block in blocks("python") if "swansphere_extensions" in block
                or "def _hello" in block]
    assert len(snippets) == 2
    assert all(snippet in sources for snippet in snippets)


def test_registering_without_packaging_runs():
    [example] = [block for block in blocks("python") if "entry_points=False" in block]
    exec(compile(example, "docs/plugins.md", "exec"), {"__name__": "plugins_doc"})
