"""Packaging: every folder is a listed subpackage; a built wheel works like the editable one."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = PYPROJECT["tool"]["setuptools"]["packages"]
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _folder_of(package: str) -> Path:
    for prefix in sorted(PACKAGE_DIRS, key=len, reverse=True):
        if package == prefix or package.startswith(prefix + "."):
            rest = package[len(prefix):].lstrip(".").replace(".", "/")
            return REPO / PACKAGE_DIRS[prefix] / rest
    raise AssertionError(f"{package} has no package-dir mapping")


def test_every_package_folder_is_listed_in_pyproject():
    folders = {
        path.parent.resolve()
        for root in set(PACKAGE_DIRS.values())
        for path in (REPO / root).rglob("__init__.py")
    }
    listed = {_folder_of(package).resolve() for package in PACKAGES}
    assert folders == listed, f"unlisted: {sorted(map(str, folders - listed))}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_subpackage_imports(package):
    importlib.import_module(package)


def test_core_imports_no_other_layer():
    code = ("import sys, swansphere; "
            "print([m for m in sys.modules if m.startswith('swansphere.') and "
            "m.split('.')[1] in ('spatial','codecs','conditioning','samplers','plugins','data',"
            "'training','evaluation')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


SHIPPED_MODELS = sorted(path for path in (REPO / "core" / "models").iterdir() if path.is_dir())


@pytest.mark.parametrize("model", SHIPPED_MODELS, ids=lambda path: path.name)
def test_every_shipped_model_has_a_card_that_names_its_licence_and_budget(model):
    card = (model / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.startswith(f"# Model card: `{model.name}`")
    for section in ("## What it was trained on", "## How well it does", "## Limits",
                    "## Licence"):
        assert section in card, section
    assert "examples" in card  # the training budget, stated as examples seen


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_environment_and_works(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(dist), str(REPO)], check=True, capture_output=True)
    [wheel] = dist.glob("swansphere-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # the shipped models travel in the wheel
        assert {f"swansphere/models/{model.name}/{file.name}" for model in SHIPPED_MODELS
                for file in model.iterdir()} <= set(archive.namelist())
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True)
    # Dependencies (torch, ...) come from this environment, appended after the wheel's own
    # site-packages, so ``swansphere`` itself can only be the wheel's copy.
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    Path(fresh_site, "outer-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import importlib, json, swansphere; "
            f"[importlib.import_module(p) for p in {PACKAGES!r}]; "
            "print(json.dumps(swansphere.__file__))")
    location = json.loads(subprocess.run([str(python), "-c", code], capture_output=True,
                                         text=True, check=True, env=env).stdout)
    assert Path(location).is_relative_to(fresh)
    report = json.loads(subprocess.run([str(fresh / "bin" / "swansphere"), "plugins", "--json"],
                                       capture_output=True, text=True, check=True,
                                       env=env).stdout)
    editable = json.loads(subprocess.run([sys.executable, "-m", "swansphere.cli", "plugins",
                                          "--json"], capture_output=True, text=True,
                                         check=True).stdout)
    assert report == editable
    assert report["broken"] == []
