"""Rendered-scene caches are keyed by what describes the scenes and by the renderer's version."""

from __future__ import annotations

from swansphere.data import render
from swansphere.training.common import scene_cache_path


def test_a_new_renderer_version_or_key_names_another_cache_file(monkeypatch):
    key = {"seed": 1, "size": 8}
    first = scene_cache_path("cache", "pipeline-scenes", key)
    assert first == scene_cache_path("cache", "pipeline-scenes", dict(key))
    assert first.name.startswith("pipeline-scenes-") and first.suffix == ".safetensors"
    assert scene_cache_path("cache", "pipeline-scenes", {**key, "seed": 2}) != first
    assert scene_cache_path(None, "pipeline-scenes", key) is None
    monkeypatch.setattr(render, "RENDER_VERSION", render.RENDER_VERSION + 1)
    assert scene_cache_path("cache", "pipeline-scenes", key) != first
