"""`swansphere train` with task = "svac": checkpoints, exact resume, export, simulated folders."""

from __future__ import annotations

import json
import logging
import tomllib

import numpy as np
import pytest
import torch

from swansphere.cli import main
from swansphere.codecs.weights import load_tensors
from swansphere.plugins.svac.model import SVACModel
from swansphere.plugins.svac.trainer import SVACDataConfig, directory_pool
from swansphere.spatial import write_foa, write_panorama_npz
from swansphere.training.tasks import load_training_config

TINY = """
task = "svac"
[model.video]
dim = 16
height = 16
width = 32
channels = [8, 8]
token_dim = 8
heads = 2
temporal_kernel = 2
[model.audio]
sample_rate = 8000
n_fft = 256
hop_length = 128
bands = 8
channels = [8]
[loss]
min_shift_seconds = 0.25
[data]
train_scenes = 4
validation_scenes = 3
clip_seconds = 0.75
max_sources = 1
render_width = 64
cache_dir = "{cache}"
[evaluation]
rotations = 4
[run]
steps = 3
batch_size = 3
output_dir = "{out}"
checkpoint_every = 1
validate_every = 3
keep_checkpoints = 0
threads = 1
"""


def write_config(tmp_path, name: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(TINY.format(cache=tmp_path / "cache", out=tmp_path / name))
    return str(path)


def test_training_checkpoints_resumes_exactly_and_exports_a_conditioner(tmp_path, capsys):
    config = write_config(tmp_path, "full")
    assert main(["train", config, "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "svac" and summary["steps"] == 3
    assert {"v2a_r1", "rotation_accuracy", "rotation_chance"} <= set(summary["validation"])
    full = tmp_path / "full"
    assert sorted(p.name for p in (full / "checkpoints").iterdir()) == [
        "step-00000001", "step-00000002", "step-00000003"]

    resumed = write_config(tmp_path, "resumed")
    assert main(["train", resumed, "--no-progress",
                 "--resume", str(full / "checkpoints" / "step-00000002")]) == 0
    first = load_tensors(full / "svac" / "model.safetensors")
    second = load_tensors(tmp_path / "resumed" / "svac" / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)

    table = tomllib.loads((full / "svac" / "video_conditioner.toml").read_text())
    assert table["type"] == "panorama-video" and table["weights"].endswith("model.safetensors")


def test_bad_training_configs_are_one_line_errors(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(TINY.format(cache=tmp_path, out=tmp_path / "x").replace(
        "[loss]", "[loss]\nhard_negatives = 3"))
    assert main(["train", str(path)]) == 2
    assert "hard_negatives" in capsys.readouterr().err
    path.write_text(TINY.format(cache=tmp_path, out=tmp_path / "x").replace(
        "batch_size = 3", "batch_size = 9"))
    assert main(["train", str(path), "--no-progress"]) == 2
    assert "distinct scenes" in capsys.readouterr().err


def fake_scene(folder, key: str, rate: int, seconds: float, video: bool) -> dict:
    scene = folder / key
    scene.mkdir(parents=True)
    write_foa(scene / "foa.wav", 0.1 * torch.randn(4, int(rate * seconds)), rate)
    files = {"foa": "foa.wav"}
    if video:
        times = np.arange(int(seconds * 4)) / 4
        frames = np.random.default_rng(0).integers(0, 255, (len(times), 20, 40, 3), np.uint8)
        write_panorama_npz(scene / "video.npz", frames, times, 4.0)
        files["video"] = "video.npz"
    return {"key": key, "files": files}


def test_directory_pool_reads_simulated_scenes_and_counts_the_bad_ones(tmp_path, caplog):
    _, config = load_training_config(write_config(tmp_path, "dir"))
    lines = [fake_scene(tmp_path, "scene-000000", 8000, 1.0, True),
             fake_scene(tmp_path, "scene-000001", 8000, 1.0, False),
             fake_scene(tmp_path, "scene-000002", 16000, 1.0, True),
             fake_scene(tmp_path, "scene-000003", 8000, 0.5, True),
             fake_scene(tmp_path, "scene-000004", 8000, 2.0, True)]
    (tmp_path / "scene-000005").mkdir()
    lines.append({"key": "scene-000005", "files": {"foa": "foa.wav", "video": "video.npz"}})
    (tmp_path / "index.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    model = SVACModel(config.model)
    with caplog.at_level(logging.WARNING, logger="swansphere.data"):
        pool = directory_pool(tmp_path, SVACDataConfig(source="directory", clip_seconds=0.75),
                              model, limit=10, progress=False)
    assert pool.foa.shape == (2, 4, 6000)
    assert pool.frames.shape == (2, 3, 3, 16, 32)
    assert pool.times.tolist() == [0.0, 0.25, 0.5]
    assert len([r for r in caplog.records if "skipped" in r.getMessage()]) == 4
    with pytest.raises(Exception, match="usable scenes"):
        directory_pool(tmp_path, SVACDataConfig(source="directory"), model, limit=2,
                       progress=False)
