"""The baselines reuse the tiny random pipeline of the pipeline tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_helpers import tiny_pipeline


@pytest.fixture(scope="session")
def streaming_pipeline():
    return tiny_pipeline()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, streaming_pipeline):
    return streaming_pipeline.save_pretrained(tmp_path_factory.mktemp("models") / "tiny-test")
