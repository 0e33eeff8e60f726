"""The layering rules of docs/architecture.md, read from every import statement.

Each top-level folder may import only the folders below it, lazily (inside a function) or not:
a lazy import that climbs a layer couples the layers just the same. Plugins may import each
other's public names only: a name that starts with an underscore is a plugin's own.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDER_OF_PACKAGE = {package: folder for package, folder in tomllib.loads(
    (REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].items()}

BASE = {"core", "spatial"}
PRIMITIVES = BASE | {"codecs", "conditioning", "samplers"}
SHARED = PRIMITIVES | {"nn", "metrics"}
ALLOWED = {
    "spatial": BASE,
    "codecs": PRIMITIVES,
    "conditioning": PRIMITIVES,
    "samplers": PRIMITIVES,
    "nn": SHARED,
    "metrics": SHARED,
    "plugins": SHARED | {"plugins"},
}
"""What each folder may import; folders not listed (data, training, evaluation, …) sit on
top. ``core`` is checked at run time instead (``tests/core/test_packaging.py``): it may reach
up lazily, through the registry and the pipeline's optional paths."""

SLICE_TOPS = {"trainer.py", "evaluation.py"}
"""A feature's trainer and its evaluation sit in its plugin package but plug into the generic
loop (``training/``), the scene data (``data/``) and the harness (``evaluation/``): only these
modules of a plugin may import those layers; its model stays below them."""


def _folder(module: str) -> str | None:
    """The top-level folder that holds ``module`` (None outside this package)."""
    if module != "swansphere" and not module.startswith("swansphere."):
        return None
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        folder = FOLDER_OF_PACKAGE.get(".".join(parts[:length]))
        if folder is not None:
            return folder
    return None


def _module_name(path: Path) -> str:
    folder = path.relative_to(REPO).parts[0]
    package = next(name for name, where in FOLDER_OF_PACKAGE.items() if where == folder)
    rest = path.relative_to(REPO / folder).with_suffix("").parts
    rest = rest[:-1] if rest[-1] == "__init__" else rest
    return ".".join((package, *rest))


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, absolute module, imported names)`` of every import statement in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> list[tuple[int, str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base, [alias.name for alias in node.names]))
    return found


def _sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _climbing(folder: str, imports: list[tuple[int, str, list[str]]]) -> list[str]:
    """The imports that reach a folder ``folder`` may not (``from .. import training``
    counts as importing ``swansphere.training``)."""
    return [f"{line}: {target}" for line, module, names in imports
            for target in [module, *(f"{module}.{name}" for name in names)]
            if _folder(target) not in (None, *ALLOWED[folder])]


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_folder_imports_only_the_layers_below_it(folder):
    wrong = [f"{path.relative_to(REPO)}:{found}" for path in _sources(folder)
             if not (folder == "plugins" and path.name in SLICE_TOPS)
             for found in _climbing(folder, _imports(path))]
    assert not wrong, "\n".join(wrong)


def test_plugins_use_only_each_others_public_names():
    def plugin_of(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if len(parts) > 2 and parts[:2] == ["swansphere", "plugins"] else None

    wrong = []
    for path in _sources("plugins"):
        mine = plugin_of(_module_name(path))
        for line, module, names in _imports(path):
            theirs = plugin_of(module)
            if theirs is None or theirs == mine:
                continue
            private = [name for name in names if name.startswith("_")]
            if private or any(part.startswith("_") for part in module.split(".")):
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {module} {private}")
    assert not wrong, "\n".join(wrong)


def test_the_rules_see_lazy_and_relative_imports_that_climb():
    source = ("import torch\nfrom . import layers\nfrom .. import errors\n"
              "def f():\n    from ..training import loop\n    import swansphere.evaluation\n"
              "    from .. import data\n")
    found = _imports_in(source, "swansphere.nn")
    assert [module for _, module, _ in found] == [
        "torch", "swansphere.nn", "swansphere", "swansphere.training", "swansphere.evaluation",
        "swansphere"]
    assert _climbing("nn", found) == ["5: swansphere.training", "5: swansphere.training.loop",
                                      "6: swansphere.evaluation", "7: swansphere.data"]
    assert _folder("swansphere.errors") == "core" and _folder("swansphere.nn.flow") == "nn"
