"""Pipeline training streamed from shards (``data.source = "shards"``): ``swansphere train``
runs from a shard folder, and a resumed run ends where an uninterrupted one does."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from pipeline_helpers import SAMPLE_RATE, TINY

from swansphere.cli import main
from swansphere.config import dump_toml, structure
from swansphere.data.panorama import PanoramaRenderer
from swansphere.data.scenes import SceneSampler
from swansphere.data.shards import ShardDataset, write_shards
from swansphere.data.simulate import simulate
from swansphere.data.synthetic import synthetic_clips
from swansphere.errors import ConfigError
from swansphere.pipeline import Pipeline
from swansphere.training.loop import MetricsLog
from swansphere.training.pipeline import (
    PipelineDataConfig,
    PipelineTrainConfig,
    PipelineTrainer,
    shard_pool,
)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Four one-scene shards of 0.5 s scenes with panoramas."""
    simulated, out = tmp_path_factory.mktemp("sim"), tmp_path_factory.mktemp("shards")
    sampler = SceneSampler(sample_rate=SAMPLE_RATE, duration=0.5, min_event_seconds=0.3)
    simulate(simulated, 4, synthetic_clips(), sampler=sampler, seed=2,
             renderer=PanoramaRenderer(32, 16, fps=4), progress=False)
    write_shards(simulated, out, samples_per_shard=1, progress=False)
    return out


def config_table(shards, output_dir, steps: int = 2, **data) -> dict:
    return {"task": "pipeline", "stage": "foa", "pipeline": copy.deepcopy(TINY),
            "data": {"source": "shards", "shards": str(shards), "train_scenes": 2,
                     "validation_scenes": 2, "clip_seconds": 0.5, "shuffle_buffer": 2, **data},
            "optimizer": {"warmup_steps": 1, "learning_rate": 1e-3},
            "run": {"steps": steps, "batch_size": 2, "checkpoint_every": 2,
                    "validate_every": 2, "output_dir": str(output_dir)}}


def test_train_command_streams_from_shards(shards, tmp_path, capsys):
    config = tmp_path / "train.toml"
    dump_toml(structure(config_table(shards / "shard-{000000..000003}.tar", tmp_path / "run"),
                        PipelineTrainConfig), config)
    assert main(["train", str(config), "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["latent_scale"] != 1.0
    entries = MetricsLog(tmp_path / "run").read()
    assert [(e["step"], e["split"]) for e in entries] == [(1, "train"), (2, "train"),
                                                          (2, "validation")]
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in entries if "loss" in e)
    Pipeline.from_pretrained(tmp_path / "run" / "pipeline")


def test_steps_take_fresh_shard_samples_and_resume_exactly(shards, tmp_path, crash_run):
    def trainer(run: str, steps: int = 3) -> PipelineTrainer:
        table = config_table(shards, tmp_path / run, steps, workers=2)
        return PipelineTrainer(structure(table, PipelineTrainConfig), progress=False)

    first = trainer("full")
    captions = [first._shard_batch(step).captions for step in range(3)]
    assert len({caption for batch in captions[:2] for caption in batch}) == 4  # one epoch
    trainer("full").run()
    crash_run(trainer("crash"), 2)
    trainer("crash").run(resume=tmp_path / "crash")
    weights = [Pipeline.from_pretrained(tmp_path / run / "pipeline").state_dict()
               for run in ("full", "crash")]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_shards_need_their_source_and_the_codec_rate(shards, tmp_path):
    data = config_table(shards, tmp_path)["data"]
    with pytest.raises(ConfigError, match="go together"):
        structure(data | {"source": "synthetic"}, PipelineDataConfig)
    with pytest.raises(ConfigError, match="go together"):
        structure(data | {"shards": None}, PipelineDataConfig)
    items = list(ShardDataset(shards, ordered=True))
    assert len(shard_pool(items, "foa", SAMPLE_RATE)) == 4
    with pytest.raises(ConfigError, match="at \\[8000\\] Hz, the pipeline's codec at 16000"):
        shard_pool(items, "foa", 16000)
