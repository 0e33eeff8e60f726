"""Training logs: metrics.csv with a widening header, TensorBoard events written by our own
encoder (CRC-32C, TFRecord, protobuf), and logs that stay consistent across a resume."""

from __future__ import annotations

import csv
import struct

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.config import structure
from swansphere.training.codec import CodecTrainConfig, CodecTrainer
from swansphere.training.logs import (
    CSVLog,
    EventsLog,
    crc32c,
    decode_event,
    encode_event,
    events_files,
    masked_crc32c,
    read_events,
    read_scalars,
    read_tfrecords,
    tfrecord,
)
from swansphere.training.loop import MetricsLog


@pytest.mark.parametrize(("data", "expected"), [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),             # the CRC-32C check value
    (bytes(32), 0x8A9136AA),                # RFC 3720 (iSCSI) B.4 vectors
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
])
def test_crc32c_matches_known_vectors(data, expected):
    assert crc32c(data) == expected


def test_masked_crc_matches_tensorflow_values():
    """Values of TensorFlow's ``masked_crc32c`` (tensorboard's stub gives the same)."""
    assert masked_crc32c(b"123456789") == 0xC78AB0E5
    assert masked_crc32c(struct.pack("<Q", 24)) == 0x224B7FA3


@settings(max_examples=30, deadline=None, derandomize=True)
@given(step=st.integers(-(2 ** 63), 2 ** 63 - 1),
       values=st.dictionaries(st.text(min_size=1, max_size=12),
                              st.floats(width=32, allow_nan=False), max_size=4))
def test_events_round_trip_through_protobuf(step, values):
    event = decode_event(encode_event(wall_time=12.5, step=step, scalars=values))
    assert event["step"] == step and event["wall_time"] == 12.5
    assert event["scalars"] == values


def test_tfrecords_check_crcs_and_skip_a_torn_tail(tmp_path):
    path = tmp_path / "records"
    path.write_bytes(tfrecord(b"first") + tfrecord(b"second") + tfrecord(b"third")[:-3])
    assert list(read_tfrecords(path)) == [b"first", b"second"]
    damaged = bytearray(tfrecord(b"first"))
    damaged[14] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="corrupt record data"):
        list(read_tfrecords(path))


def test_events_file_holds_version_start_and_float32_scalars(tmp_path):
    log = EventsLog(tmp_path)
    log.write(1, "train", {"loss": 0.1, "lr": 3e-4})
    log.write(2, "validation", {"val_loss": 2.0, "clips": 3, "huge": 1e300})
    events = read_events(log.path)
    assert events[0]["file_version"] == "brain.Event:2"
    assert events[1]["session_status"] == 1 and events[1]["step"] == 0
    assert [e["step"] for e in events[2:]] == [1, 2]
    assert events[2]["scalars"] == {"train/loss": pytest.approx(0.1, rel=1e-7),
                                    "train/lr": pytest.approx(3e-4, rel=1e-7)}
    assert events[3]["scalars"] == {"validation/val_loss": 2.0, "validation/clips": 3.0,
                                    "validation/huge": float("inf")}


def test_a_restart_hides_what_the_crashed_run_logged_past_its_checkpoint(tmp_path):
    first = EventsLog(tmp_path)
    for step in (1, 2, 3):
        first.write(step, "train", {"loss": float(step)})
    resumed = EventsLog(tmp_path, start_step=3)  # resumed after 2 completed steps
    for step in (3, 4):
        resumed.write(step, "train", {"loss": 10.0 * step})
    assert events_files(tmp_path) == [first.path, resumed.path]
    assert read_scalars(tmp_path) == {"train/loss": [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]}


def test_tensorboard_reads_our_events_and_honours_the_restart(tmp_path):
    accumulator_module = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    first = EventsLog(tmp_path)
    for step in (1, 2, 3):
        first.write(step, "train", {"loss": float(step), "lr": 0.5})
    first.write(2, "validation", {"val_loss": 7.0})
    resumed = EventsLog(tmp_path, start_step=3)
    for step in (3, 4):
        resumed.write(step, "train", {"loss": 10.0 * step, "lr": 0.25})
    accumulator = accumulator_module.EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert sorted(accumulator.Tags()["scalars"]) == ["train/loss", "train/lr",
                                                     "validation/val_loss"]
    loss = [(e.step, e.value) for e in accumulator.Scalars("train/loss")]
    assert loss == [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]
    assert [(e.step, e.value) for e in accumulator.Scalars("validation/val_loss")] == [(2, 7.0)]
    assert loss == read_scalars(tmp_path)["train/loss"]


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
