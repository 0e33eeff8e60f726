"""ODPO under torchrun: two CPU processes (gloo) each sample and score their shard of the
prompts, and DDP averages the DPO gradients (slow: three Python processes start torch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w
import torch
from odpo_helpers import tiny_pipeline
from torchrun_helpers import torchrun

from swansphere.pipeline import Pipeline

WORKER = Path(__file__).resolve().parents[1] / "training" / "ddp_worker.py"


@pytest.mark.slow
def test_odpo_trains_under_torchrun_with_two_processes(tmp_path):
    tiny_pipeline().save_pretrained(tmp_path / "start")
    config = {"task": "odpo", "pipeline": str(tmp_path / "start"),
              "prompts": {"train_prompts": 4, "validation_prompts": 2, "clip_seconds": 0.04},
              "odpo": {"type": "odpo", "candidates": 2, "beta": 20.0},
              "rewards": [{"weight": 0.6, "reward": {"type": "spatial"}},
                          {"weight": 0.4, "reward": {"type": "fidelity",
                                                     "embedding": "log-mel"}}],
              "run": {"steps": 2, "batch_size": 2, "output_dir": str(tmp_path / "run")}}
    (tmp_path / "odpo.toml").write_text(tomli_w.dumps(config))
    commands = [["train", str(tmp_path / "odpo.toml"), "--no-progress"]]
    result = torchrun(WORKER, json.dumps(commands))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    entries = [json.loads(line) for line in
               (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train = [entry for entry in entries if entry["split"] == "train"]
    assert [entry["step"] for entry in train] == [1, 2]
    assert all(entry["pairs"] >= 0 and "dpo_loss" in entry for entry in train)
    tuned = Pipeline.from_pretrained(tmp_path / "run" / "pipeline").backbone.state_dict()
    start = Pipeline.from_pretrained(tmp_path / "start").backbone.state_dict()
    assert any(not torch.equal(tuned[k], start[k]) for k in start)
