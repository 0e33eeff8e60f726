"""Shared fixtures: third-party plugin packages installed for real into temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

settings.register_profile("default", deadline=None, derandomize=True, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PLUGIN_PACKAGES = Path(__file__).parent / "plugin_packages"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread for the whole suite: the test tensors are tiny and gain nothing
    from a second thread, while two processes' spinning OpenMP threads on a busy 2-core
    machine made tests 10-20x slower (measured by several of us)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Install each test plugin package with pip into its own target folder.

    Returns the folder per package; a test puts the ones it wants on ``sys.path``. The install
    is real (a wheel build with its own pyproject.toml and entry points), but offline.
    """
    targets = {}
    for package in sorted(p for p in PLUGIN_PACKAGES.iterdir() if p.is_dir()):
        target = tmp_path_factory.mktemp(f"site-{package.name}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-build-isolation", "--no-index", "--target", str(target), str(package)],
            check=True, capture_output=True,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        targets[package.name] = target
    return targets


@pytest.fixture
def with_plugins(installed_plugins, monkeypatch):
    """Put the named test plugin packages on ``sys.path`` for one test."""

    def activate(*names: str) -> list[Path]:
        paths = [installed_plugins[name] for name in names]
        for path in paths:
            monkeypatch.syspath_prepend(str(path))
        return paths

    yield activate
    for module in [m for m in sys.modules if m.startswith(("swansphere_example",
                                                            "swansphere_clash",
                                                            "swansphere_broken",
                                                            "swansphere_extensions",
                                                            "swansphere_faulty"))]:
        del sys.modules[module]


@pytest.fixture
def crash_run(monkeypatch):
    """``crash_run(trainer, step)``: run ``trainer`` until its 0-based ``step`` raises a
    simulated crash (steps before it are done, logged and maybe checkpointed)."""

    def crash(trainer, step: int) -> None:
        honest_step = trainer.train_step

        def train_step(index: int):
            if index == step:
                raise RuntimeError("simulated crash")
            return honest_step(index)

        monkeypatch.setattr(trainer, "train_step", train_step)
        with pytest.raises(RuntimeError, match="simulated crash"):
            trainer.run()

    return crash
