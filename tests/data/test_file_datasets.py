"""Pseudo-FOA pretraining data, FOA clip lists and the STARSS23 / YT-Ambigen / Sphere360
loaders, on small fake trees."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile
import torch

from swansphere.data.external import (
    sphere360_clips,
    starss23_clips,
    starss23_metadata,
    yt_ambigen_clips,
)
from swansphere.data.files import FOAClip, FOAClipDataset, PseudoFOADataset, pseudo_foa
from swansphere.data.quality import MISSING, SILENT, WRONG_CHANNELS, BadSampleError
from swansphere.data.synthetic import render_clip
from swansphere.errors import ConfigError, ResourceNotFoundError
from swansphere.spatial import direction, encode


def write(path, audio: np.ndarray, rate: int = 8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, rate, subtype="FLOAT" if path.suffix == ".wav" else None)
    return path


def tone(seconds=1.0, rate=8000, seed=0):
    return render_clip("whistle", seed=seed, sample_rate=rate, seconds=seconds)


def test_pseudo_foa_follows_the_recipe():
    left, right = torch.randn(100), torch.randn(100)
    for axis, channel in (("Y", 1), ("Z", 2), ("X", 3)):
        foa = pseudo_foa(torch.stack([left, right]), axis)
        assert torch.allclose(foa[0], left + right) and torch.allclose(foa[channel], left - right)
        assert foa[[c for c in (1, 2, 3) if c != channel]].abs().max() == 0
    mono = pseudo_foa(left, "X")
    assert torch.equal(mono[0], left) and mono[1:].abs().max() == 0
    with pytest.raises(ConfigError):
        pseudo_foa(left, "W")
    with pytest.raises(BadSampleError):
        pseudo_foa(torch.randn(3, 10), "Y")


def test_pseudo_foa_dataset_crops_resamples_and_picks_axes(tmp_path):
    stereo = np.stack([tone(seed=1), 0.5 * tone(seed=2)], axis=1)
    files = [write(tmp_path / f"s{i}.wav", stereo, rate=16000) for i in range(4)]
    dataset = PseudoFOADataset(files, sample_rate=8000, crop_seconds=0.25, seed=3)
    items = [dataset[i] for i in range(4)]
    assert all(item["foa"].shape == (4, 2000) for item in items)
    assert {item["axis"] for item in items} <= {"Y", "Z", "X"}
    assert torch.equal(dataset[2]["foa"], items[2]["foa"])
    dataset.set_epoch(1)
    assert any(not torch.equal(dataset[i]["foa"], items[i]["foa"]) for i in range(4))


def test_bad_files_are_skipped_counted_and_logged(tmp_path, caplog):
    good = write(tmp_path / "good.wav", tone())
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....WAVEjunk")
    quad = write(tmp_path / "quad.wav", np.zeros((800, 4)) + 0.1)
    silent = write(tmp_path / "silent.wav", np.zeros(800))
    missing = tmp_path / "missing.wav"
    dataset = PseudoFOADataset([corrupt, quad, silent, missing, good], crop_seconds=0.1)
    with caplog.at_level(logging.WARNING, logger="swansphere.data"):
        items = [dataset[i] for i in range(5)]
    assert all(item["path"] == str(good) for item in items)
    counts = dataset.counter.counts
    assert counts[WRONG_CHANNELS] == 1 and counts[SILENT] == 1 and counts[MISSING] == 1
    assert counts["corrupt"] == 1 and dataset.counter.total == 4
    assert sum(sum(item["skipped"].values()) for item in items) == 4
    for name in ("corrupt.wav", "quad.wav", "silent.wav", "missing.wav"):
        assert name in caplog.text
    dataset[0]  # remembered: no second log line or count for the same files
    assert dataset.counter.total == 4


def test_all_bad_files_raise_one_clear_error(tmp_path):
    silent = write(tmp_path / "silent.wav", np.zeros(800))
    with pytest.raises(BadSampleError, match="unusable"):
        PseudoFOADataset([silent], crop_seconds=0.05)[0]


def test_foa_clip_dataset_reads_converts_and_crops(tmp_path):
    signal = torch.from_numpy(tone(seconds=1.0).astype(np.float64))
    foa = encode(signal, 120.0, 10.0).numpy().T
    clip = FOAClip(key="a", audio=write(tmp_path / "a.wav", foa, rate=16000))
    dataset = FOAClipDataset([clip], sample_rate=8000, crop_seconds=0.5)
    item = dataset[0]
    assert item["foa"].shape == (4, 4000) and 0 <= item["crop_start"] <= 0.5
    azimuth, elevation = direction(item["foa"])
    assert abs(float(azimuth) - 120) < 1 and abs(float(elevation) - 10) < 1
    flipped = FOAClipDataset([clip], crop_seconds=None, convert=lambda x: x * torch.tensor(
        [1.0, -1.0, 1.0, 1.0])[:, None])
    assert abs(float(direction(flipped[0]["foa"])[0]) + 120) < 1


def make_starss(root, split="dev-train-sony"):
    foa = encode(torch.from_numpy(tone(seconds=2.0, rate=8000).astype(np.float64)), 90.0,
                 0.0).numpy().T
    write(root / "foa_dev" / split / "fold3_room21_mix001.wav", foa)
    rows = ["0,3,0,90,0,150", "1,3,0,90,0,150", "2,3,0,90,0,150",
            "10,0,0,-30,20,200", "11,0,0,-40,20,200", "12,0,0,-50,20,200"]
    annotation = root / "metadata_dev" / split / "fold3_room21_mix001.csv"
    annotation.parent.mkdir(parents=True)
    annotation.write_text("\n".join(rows) + "\n")
    video = root / "video_dev" / split / "fold3_room21_mix001.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"\0")
    write(root / "foa_dev" / split / "fold4_room1_mix002.wav", foa)  # not annotated


def test_starss23_layout(tmp_path):
    make_starss(tmp_path)
    clips = starss23_clips(tmp_path, splits=["dev-train-sony"])
    assert [clip.key for clip in clips] == ["dev-train-sony/fold3_room21_mix001",
                                            "dev-train-sony/fold4_room1_mix002"]
    metadata = clips[0].metadata
    assert clips[0].video is not None and clips[1].metadata is None
    phone, woman = metadata["sources"]
    assert (woman["noun"], phone["noun"]) == ("a woman", "a telephone")
    assert (phone["onset"], phone["offset"]) == (0.0, 0.3)
    assert (woman["onset"], woman["offset"]) == (1.0, 1.3)
    assert woman["track"]["azimuth"][11] == -40 and woman["track"]["azimuth"][15] == -50
    assert metadata["caption"] == ("A telephone rings on the left and a woman speaks in "
                                   "front on the right, moving right.")
    item = FOAClipDataset(clips, sample_rate=8000, crop_seconds=None)[0]
    assert item["caption"] == metadata["caption"] and item["foa"].shape == (4, 16000)
    with pytest.raises(ResourceNotFoundError, match="foa_dev"):
        starss23_clips(tmp_path, splits=["dev-test-tau"])


def test_starss23_rejects_unknown_classes(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("0,42,0,0,0\n")
    with pytest.raises(ValueError, match="42"):
        starss23_metadata(path, 1.0)


def test_yt_ambigen_layout(tmp_path, caplog):
    (tmp_path / "yt_ambigen.csv").write_text("id\nabc_5\nmissing_10\ndef_0\n")
    quad = np.tile(tone(0.2)[:, None], (1, 4))
    write(tmp_path / "audio" / "abc_5.wav", quad)
    write(tmp_path / "audio" / "def_0.flac", quad)
    (tmp_path / "video").mkdir()
    (tmp_path / "video" / "abc_5.mp4").write_bytes(b"\0")
    with caplog.at_level(logging.WARNING, logger="swansphere.data"):
        clips = yt_ambigen_clips(tmp_path)
    assert [(c.key, c.audio.suffix, c.video is not None) for c in clips] == [
        ("abc_5", ".wav", True), ("def_0", ".flac", False)]
    assert "missing_10" in caplog.text
    with pytest.raises(ResourceNotFoundError):
        yt_ambigen_clips(tmp_path / "nowhere")


@pytest.mark.parametrize("split_folder", ["dataset/split", "split"])
def test_sphere360_layout(tmp_path, split_folder):
    (tmp_path / split_folder).mkdir(parents=True)
    (tmp_path / split_folder / "test.txt").write_text("530swnPWJrQ_17\n\nRpNrYMA2y6c_110\n")
    quad = np.tile(tone(0.2)[:, None], (1, 4))
    write(tmp_path / "audio" / "530swnPWJrQ_17.wav", quad)
    write(tmp_path / "audio" / "RpNrYMA2y6c_110.wav", quad)
    clips = sphere360_clips(tmp_path, split="test")
    assert [c.key for c in clips] == ["530swnPWJrQ_17", "RpNrYMA2y6c_110"]
    assert FOAClipDataset(clips, crop_seconds=0.1)[1]["key"] == "RpNrYMA2y6c_110"
    with pytest.raises(ResourceNotFoundError):
        sphere360_clips(tmp_path, split="train")
