"""Every recipe under benchmarks/configs reads as its task's config, or as a pipeline config:
a renamed field or a removed component fails here, not in a lent GPU's short window."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from swansphere.config import structure
from swansphere.pipeline import PipelineConfig
from swansphere.training.tasks import load_training_config

CONFIGS = Path(__file__).parents[2] / "benchmarks" / "configs"
RECIPES = sorted(CONFIGS.rglob("*.toml"))


def test_the_recipes_are_found():
    names = {path.relative_to(CONFIGS).as_posix() for path in RECIPES}
    assert {"tiny/stage2.toml", "tiny-next/global-dit.toml", "paper-l.toml"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.relative_to(CONFIGS).as_posix())
def test_each_recipe_is_a_valid_config(path: Path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if "task" in data:
        task, config = load_training_config(path)
        assert config is not None and task.name == data["task"]
    else:  # a pipeline to time (bench pipeline --config)
        assert structure(data, PipelineConfig).backbone.type


def test_the_global_baseline_sees_the_streaming_models_budget():
    """Examples seen: the global DiT's steps x batch equal the three pipeline steps'."""
    def examples(name: str) -> int:
        run = tomllib.loads((CONFIGS / "tiny-next" / name).read_text())["run"]
        return run["steps"] * run["batch_size"]

    streaming = sum(examples(f"{step}.toml") for step in ("stage1", "stage2", "stage2-history"))
    assert examples("global-dit.toml") == streaming == 304_000


def test_the_stage_1_global_baseline_differs_from_stage_1_in_its_backbone_only():
    """Same data, conditioners, codec, sampler, optimizer and batch; the backbone is the
    same-size global DiT; the schedule is that of the long stage-1 run it is read against."""
    import attrs

    from swansphere.plugins.global_dit import same_size_config

    _, causal = load_training_config(CONFIGS / "tiny-next" / "stage1.toml")
    _, baseline = load_training_config(CONFIGS / "tiny-next" / "global-dit-stage1.toml")
    assert baseline.pipeline.backbone.config == same_size_config(
        causal.pipeline.backbone.config)
    assert attrs.evolve(baseline.pipeline, backbone=causal.pipeline.backbone) == causal.pipeline
    assert (baseline.stage, baseline.data, baseline.optimizer) == (
        causal.stage, causal.data, causal.optimizer)
    assert baseline.run.batch_size == causal.run.batch_size
    assert baseline.run.steps == 4500 and baseline.run.keep_every == 500


def test_the_paper_l_timing_config_is_the_paper_l_preset():
    """``bench pipeline --config benchmarks/configs/paper-l.toml`` times exactly the preset (and
    its report names it), so GPU figures compare with the issue's table."""
    from swansphere.plugins.causal_dit import preset

    data = tomllib.loads((CONFIGS / "paper-l.toml").read_text(encoding="utf-8"))
    assert structure(data, PipelineConfig).backbone.config == preset("paper-l")
