"""The aisfx weights, converted once per test session into a temporary cache; the pipeline
tests' helpers (a tiny random-weight pipeline) on the import path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))  # pipeline_helpers


@pytest.fixture(scope="session")
def aisfx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the converted aisfx weights (skips the test without aisfx)."""
    if importlib.util.find_spec("aisfx") is None:
        pytest.skip("aisfx absent (pip install --no-deps aisfx==0.1.2)")
    from swansphere.metrics.embedding import converted_weights

    folder = tmp_path_factory.mktemp("aisfx-cache")
    converted_weights(directory=folder)
    return folder
