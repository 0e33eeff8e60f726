"""Training logs: metrics.csv with a widening header, TensorBoard events written through
torch's SummaryWriter and read back by TensorBoard's own reader, and logs that stay consistent
across a resume."""

from __future__ import annotations

import csv
import sys

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from swansphere.config import structure
from swansphere.errors import SwanSphereWarning
from swansphere.training.codec import CodecTrainConfig, CodecTrainer
from swansphere.training.logs import CSVLog, EventsLog, events_files, read_scalars
from swansphere.training.loop import MetricsLog


def accumulated(directory) -> EventAccumulator:
    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return accumulator


def test_events_hold_float32_scalars_tagged_by_split(tmp_path):
    log = EventsLog(tmp_path)
    log.write(1, "train", {"loss": 0.1, "lr": 3e-4, "note": "not a number"})
    log.write(2, "validation", {"val_loss": 2.0, "clips": 3, "huge": 1e300})
    accumulator = accumulated(tmp_path)
    assert sorted(accumulator.Tags()["scalars"]) == [
        "train/loss", "train/lr", "validation/clips", "validation/huge", "validation/val_loss"]
    [loss] = accumulator.Scalars("train/loss")
    assert (loss.step, loss.value) == (1, pytest.approx(0.1, rel=1e-7))
    assert [(e.step, e.value) for e in accumulator.Scalars("validation/huge")] == [
        (2, float("inf"))]
    log.close()
    assert len(events_files(tmp_path)) == 1


def test_no_events_file_before_the_first_write(tmp_path):
    EventsLog(tmp_path / "run").close()
    assert not (tmp_path / "run").exists()


def test_tensorboard_honours_the_restart(tmp_path):
    first = EventsLog(tmp_path)
    for step in (1, 2, 3):
        first.write(step, "train", {"loss": float(step), "lr": 0.5})
    first.write(2, "validation", {"val_loss": 7.0})
    first.close()
    resumed = EventsLog(tmp_path, start_step=3)  # resumed after 2 completed steps
    for step in (3, 4):
        resumed.write(step, "train", {"loss": 10.0 * step, "lr": 0.25})
    resumed.close()
    assert len(events_files(tmp_path)) == 2
    accumulator = accumulated(tmp_path)
    loss = [(e.step, e.value) for e in accumulator.Scalars("train/loss")]
    assert loss == [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]
    assert [(e.step, e.value) for e in accumulator.Scalars("validation/val_loss")] == [(2, 7.0)]
    assert read_scalars(tmp_path)["train/loss"] == loss


def test_without_tensorboard_a_run_warns_once_and_writes_no_events(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    log = EventsLog(tmp_path)
    with pytest.warns(SwanSphereWarning, match="tensorboard package is not installed") as caught:
        log.write(1, "train", {"loss": 1.0})
        log.write(2, "train", {"loss": 2.0})
    assert len(caught) == 1 and events_files(tmp_path) == []


def test_csv_widens_its_header_and_stays_a_valid_table(tmp_path):
    log = CSVLog(tmp_path / "metrics.csv")
    log.write(0, "validation", {"val_loss": 0.5})
    log.write(1, "train", {"loss": 0.1 + 0.2, "lr": 1e-3})
    log.write(2, "train", {"loss": 0.25, "lr": 1e-3})
    with (tmp_path / "metrics.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["step", "split", "val_loss", "loss", "lr"]
    assert all(len(row) == 5 for row in rows)
    assert log.read() == [{"step": 0, "split": "validation", "val_loss": 0.5},
                          {"step": 1, "split": "train", "loss": 0.1 + 0.2, "lr": 1e-3},
                          {"step": 2, "split": "train", "loss": 0.25, "lr": 1e-3}]
    log.truncate_after(1)
    assert [row["step"] for row in log.read()] == [0, 1]
    assert log.columns() == ["step", "split", "val_loss", "loss", "lr"]


CODEC = {"type": "foa-vae", "sample_rate": 8000, "strides": [2, 4], "channels": [4, 6, 6],
         "latent_dim": 4, "dilations": [1], "kernel_size": 3, "skip_coefficients": 1}


def codec_trainer(output_dir) -> CodecTrainer:
    table = {"task": "codec", "codec": CODEC,
             "data": {"train_scenes": 2, "validation_scenes": 1, "clip_seconds": 0.25,
                      "segment_seconds": 0.05, "max_sources": 2},
             "loss": {"fft_sizes": [64, 32], "spatial_fft_size": 64},
             "optimizer": {"warmup_steps": 2, "learning_rate": 1e-3},
             "run": {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "validate_every": 2,
                     "output_dir": str(output_dir)}}
    return CodecTrainer(structure(table, CodecTrainConfig), progress=False)


def test_resumed_run_leaves_the_logs_of_one_uninterrupted_run(tmp_path, crash_run):
    codec_trainer(tmp_path / "full").run()
    crashing = codec_trainer(tmp_path / "crash")
    crash_run(crashing, 3)
    assert [entry["step"] for entry in MetricsLog(tmp_path / "crash").read()
            if entry["split"] == "train"] == [1, 2, 3]        # step 3 logged, not checkpointed
    codec_trainer(tmp_path / "crash").run(resume=tmp_path / "crash")

    for run in ("full", "crash"):
        jsonl = MetricsLog(tmp_path / run).read()
        assert [(e["step"], e["split"]) for e in jsonl] == [
            (0, "validation"), (1, "train"), (2, "train"), (2, "validation"), (3, "train"),
            (4, "train"), (4, "validation")]
        assert CSVLog(tmp_path / run / "metrics.csv").read() == jsonl
        scalars = read_scalars(tmp_path / run)
        assert [step for step, _ in scalars["train/loss"]] == [1, 2, 3, 4]
        assert [step for step, _ in scalars["validation/val_loss"]] == [0, 2, 4]
    assert len(events_files(tmp_path / "crash")) == 2
    full, resumed = read_scalars(tmp_path / "full"), read_scalars(tmp_path / "crash")
    assert resumed["train/loss"] == full["train/loss"]
    expected = [entry["loss"] for entry in MetricsLog(tmp_path / "full").read()
                if entry["split"] == "train"]
    assert [value for _, value in full["train/loss"]] == [
        float(torch.tensor(value, dtype=torch.float32)) for value in expected]
