"""Simulated scene folders, tar shards, the streaming dataset and bad-data handling."""

from __future__ import annotations

import io
import json
import logging
import tarfile

import numpy as np
import pytest
import soundfile
import torch
import webdataset

from swansphere.data.datasets import collate
from swansphere.data.panorama import PanoramaRenderer, label_style
from swansphere.data.quality import SILENT, WRONG_CHANNELS, SkipCounter
from swansphere.data.scenes import SceneSampler
from swansphere.data.shards import (
    ShardDataset,
    crop_metadata,
    read_manifest,
    verify_shards,
    write_shards,
    yaw_metadata,
)
from swansphere.data.simulate import ground_truth_stats, read_index, simulate
from swansphere.data.synthetic import synthetic_clips
from swansphere.errors import ConfigError, ResourceNotFoundError
from swansphere.spatial import direction, direction_to_erp, read_foa, read_panorama_video

CLIPS = synthetic_clips()
SAMPLER = SceneSampler(sample_rate=8000, duration=1.0, max_sources=2,
                       diffuse_probability=0.5, min_event_seconds=0.5)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    report = simulate(out, 5, CLIPS, sampler=SAMPLER, seed=3,
                      renderer=PanoramaRenderer(64, 32, fps=4), progress=False)
    assert report.written == 5 and report.skipped.total == 0
    return out


@pytest.fixture(scope="module")
def single_source(tmp_path_factory):
    """Static single sources without background: directions can be read back exactly."""
    out = tmp_path_factory.mktemp("single")
    sampler = SceneSampler(sample_rate=8000, duration=1.0, max_sources=1,
                           moving_probability=0.0, diffuse_probability=0.0,
                           min_event_seconds=1.0)
    simulate(out, 3, CLIPS, sampler=sampler, seed=0, renderer=PanoramaRenderer(64, 32, 4),
             progress=False)
    shards = tmp_path_factory.mktemp("single-shards")
    write_shards(out, shards, samples_per_shard=2, progress=False)
    return shards


def test_simulated_folder_layout(simulated):
    lines = read_index(simulated)
    assert [line["key"] for line in lines] == [f"scene-{i:06d}" for i in range(5)]
    for line in lines:
        folder = simulated / line["key"]
        foa, rate = read_foa(folder / "foa.wav")
        assert foa.shape == (4, 8000) and rate == 8000
        metadata = json.loads((folder / "metadata.json").read_text())
        assert metadata["caption"] == line["caption"] == (
            folder / "caption.txt").read_text().strip()
        assert metadata["licences"] == ["synthesised"] and metadata["permissive"]
        assert all(source["licence"] and source["package"] for source in metadata["sources"])
        frames, _, fps = read_panorama_video(folder / "video.npz")
        assert frames.shape == (4, 32, 64, 3) and fps == 4.0
        assert metadata["video"]["frames"] == 4
    stats = ground_truth_stats(simulated)
    assert stats["scenes"] == 5 and 1 <= stats["sources_per_scene"] <= 2


def test_simulation_is_reproducible(simulated, tmp_path):
    simulate(tmp_path, 2, CLIPS, sampler=SAMPLER, seed=3, start=3,
             renderer=PanoramaRenderer(64, 32, fps=4), progress=False)
    for key in ("scene-000003", "scene-000004"):
        # compare samples: float WAV headers carry a write time stamp (the PEAK chunk)
        assert torch.equal(read_foa(tmp_path / key / "foa.wav")[0],
                           read_foa(simulated / key / "foa.wav")[0])
        assert (tmp_path / key / "metadata.json").read_text() == (
            simulated / key / "metadata.json").read_text()
        assert (tmp_path / key / "caption.txt").read_text() == (
            simulated / key / "caption.txt").read_text()


def test_a_failing_clip_is_redrawn_and_counted(tmp_path, caplog):
    import attrs

    def broken(rng, sample_rate, n):
        raise OSError("decoder exploded")

    clips = [attrs.evolve(CLIPS[0], clip_id="broken/one", render=broken), *CLIPS[1:3]]
    sampler = SceneSampler(sample_rate=8000, duration=0.5, max_sources=3, min_sources=3,
                           min_event_seconds=0.3)
    with caplog.at_level(logging.WARNING, logger="swansphere.data"):
        report = simulate(tmp_path, 2, clips, sampler=sampler, progress=False)
    assert report.written < 2 or report.skipped.total > 0
    assert report.skipped.total == sum(report.skipped.counts.values()) > 0
    assert "decoder exploded" in caplog.text and "broken/one" in caplog.text


def test_shards_and_manifest(simulated, tmp_path):
    manifest = write_shards(simulated, tmp_path, samples_per_shard=2, progress=False)
    assert [s["samples"] for s in manifest["shards"]] == [2, 2, 1]
    assert manifest["samples"] == 5 and manifest["sample_rate"] == 8000
    assert manifest["fps"] == 4.0 and manifest["seconds"] == pytest.approx(5.0)
    assert read_manifest(tmp_path) == manifest and verify_shards(tmp_path) == []
    first = next(iter(webdataset.WebDataset(str(tmp_path / "shard-000000.tar"),
                                            shardshuffle=False)))
    assert first["__key__"] == "scene-000000"
    assert set(first) - {"__key__", "__url__", "__local_path__"} == {
        "foa.wav", "video.npz", "json", "txt"}
    again = tmp_path / "again"
    write_shards(simulated, again, samples_per_shard=2, progress=False)
    assert (again / "shard-000001.tar").read_bytes() == (tmp_path / "shard-000001.tar"
                                                          ).read_bytes()
    shard = tmp_path / "shard-000001.tar"
    shard.write_bytes(shard.read_bytes()[:-10] + b"0123456789")
    assert verify_shards(tmp_path) == ["shard-000001.tar"]


def test_missing_manifest_is_explained(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="data shard"):
        ShardDataset(tmp_path)


def test_whole_clips_stream_once_each(simulated, tmp_path):
    write_shards(simulated, tmp_path, samples_per_shard=2, progress=False)
    dataset = ShardDataset(tmp_path, shuffle_buffer=3, seed=1)
    keys = [item["key"] for item in dataset]
    assert sorted(keys) == [f"scene-{i:06d}" for i in range(5)] and dataset.samples == 5
    assert keys == [item["key"] for item in dataset]  # same epoch, same order
    dataset.set_epoch(1)
    assert sorted(item["key"] for item in dataset) == sorted(keys)


def test_loader_workers_split_the_shards(simulated, tmp_path):
    write_shards(simulated, tmp_path, samples_per_shard=1, progress=False)
    loader = torch.utils.data.DataLoader(ShardDataset(tmp_path, crop_seconds=0.5),
                                         batch_size=2, num_workers=2, collate_fn=collate)
    keys = [key for batch in loader for key in batch["key"]]
    assert sorted(keys) == [f"scene-{i:06d}" for i in range(5)]
    batch = next(iter(loader))
    assert batch["foa"].shape == (2, 4, 4000) and batch["video"].shape == (2, 2, 32, 64, 3)


def test_crops_keep_audio_video_and_captions_aligned(simulated, tmp_path):
    write_shards(simulated, tmp_path, samples_per_shard=5, progress=False)
    for item in ShardDataset(tmp_path, crop_seconds=0.5, seed=4):
        start = item["crop_start"]
        assert start * 4 == pytest.approx(round(start * 4))  # on the 4 fps frame grid
        folder = simulated / item["key"]
        whole, _ = read_foa(folder / "foa.wav")
        first = round(start * 8000)
        assert torch.equal(item["foa"], whole[:, first:first + 4000])
        frames, _, _ = read_panorama_video(folder / "video.npz")
        frame = round(start * 4)
        assert np.array_equal(item["video"].numpy(), frames[frame:frame + 2])
        assert torch.allclose(item["video_times"], torch.tensor([0.0, 0.25]))
        for source in item["metadata"]["sources"]:
            assert 0 <= source["onset"] < source["offset"] <= 0.5


def test_yaw_turns_sound_picture_and_words_together(single_source):
    dataset = ShardDataset(single_source, random_yaw=True, seed=2)
    for item in dataset:
        source = item["metadata"]["sources"][0]
        azimuth, elevation = source["track"]["azimuth"][0], source["track"]["elevation"][0]
        found_azimuth, found_elevation = direction(item["foa"])
        difference = (float(found_azimuth) - azimuth + 180) % 360 - 180
        assert abs(difference) < 0.5 and abs(float(found_elevation) - elevation) < 0.5
        colour, _ = label_style(source["label"])
        columns = np.nonzero(np.all(item["video"][0].numpy() == colour, axis=-1))[1]
        x, _ = direction_to_erp(azimuth, elevation, 64, 32)
        assert columns.size and np.min(np.abs((columns - float(x) + 32) % 64 - 32)) < 3
        assert item["caption"] == item["metadata"]["caption"]
    assert len({round(item["yaw"], 3) for item in dataset}) > 1


def test_metadata_helpers():
    metadata = {"duration": 2.0, "diffuse_db": None, "track_times": [0.0, 0.5, 1.0, 1.5],
                "sources": [{"noun": "a bell", "verb": "rings", "label": "bell", "onset": 0.2,
                             "offset": 1.8, "trajectory": {
                                 "start_azimuth": 80.0, "start_elevation": 0.0,
                                 "end_azimuth": 100.0, "end_elevation": 0.0},
                             "track": {"azimuth": [80.0, 85.0, 95.0, 100.0],
                                       "elevation": [0.0] * 4}}]}
    turned = yaw_metadata(metadata, 180.0)
    assert turned["sources"][0]["track"]["azimuth"] == [-100.0, -95.0, -85.0, -80.0]
    assert turned["caption"] == "A bell rings on the right, moving to the front."
    cropped = crop_metadata(metadata, 1.0, 1.0)
    assert cropped["track_times"] == [0.0, 0.5]
    assert (cropped["sources"][0]["onset"], cropped["sources"][0]["offset"]) == (0.0, 0.8)
    assert crop_metadata(metadata, 1.9, 0.1)["sources"] == []


def write_member(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def wav_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, 8000, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_bad_samples_are_skipped_counted_and_logged(simulated, tmp_path, caplog):
    write_shards(simulated, tmp_path, samples_per_shard=5, progress=False)
    manifest = read_manifest(tmp_path)
    bad = tmp_path / "shard-bad.tar"
    metadata = json.dumps({"sources": [], "track_times": [], "caption": "x"}).encode()
    with tarfile.open(bad, "w") as archive:
        write_member(archive, "corrupt.foa.wav", b"RIFF garbage")
        write_member(archive, "corrupt.json", metadata)
        write_member(archive, "stereo.foa.wav", wav_bytes(np.ones((800, 2), np.float32)))
        write_member(archive, "stereo.json", metadata)
        write_member(archive, "silent.foa.wav", wav_bytes(np.zeros((800, 4), np.float32)))
        write_member(archive, "silent.json", metadata)
    (tmp_path / "shard-truncated.tar").write_bytes(bad.read_bytes()[:700])
    manifest["shards"] += [{"path": "shard-bad.tar"}, {"path": "shard-truncated.tar"},
                           {"path": "shard-gone.tar"}]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    counter = SkipCounter("test")
    with caplog.at_level(logging.WARNING, logger="swansphere.data"):
        items = list(ShardDataset(tmp_path, counter=counter))
    assert len(items) == 5
    assert counter.counts[WRONG_CHANNELS] == 1 and counter.counts[SILENT] == 1
    assert counter.counts["corrupt"] >= 1 and counter.counts["missing"] == 1
    assert counter.total >= 5
    assert sum(sum(item["skipped"].values()) for item in items) + sum(
        counter.drain().values()) == counter.total
    for name in ("stereo", "silent", "corrupt", "shard-gone.tar"):
        assert name in caplog.text
    assert "skipped" in counter.summary()


def test_counter_absorbs_worker_counts():
    counter = SkipCounter()
    counter.absorb([{"silent": 2}, {}, {"corrupt": 1}])
    counter.absorb({"silent": 1})
    assert counter.counts == {"silent": 3, "corrupt": 1} and counter.total == 4


def test_bad_settings_are_refused(simulated, tmp_path):
    with pytest.raises(ConfigError):
        write_shards(simulated, tmp_path, samples_per_shard=0)
    write_shards(simulated, tmp_path, progress=False)
    with pytest.raises(ConfigError):
        ShardDataset(tmp_path, crop_seconds=0)
