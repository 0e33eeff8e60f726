"""Shards through the webdataset library: written scenes read back unchanged, every rank and
loader worker reading its own part, and a resumed stream continuing exactly."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from swansphere.cli import main
from swansphere.data.panorama import PanoramaRenderer
from swansphere.data.scenes import SceneSampler
from swansphere.data.shards import ShardDataset, write_shards
from swansphere.data.simulate import simulate
from swansphere.data.synthetic import synthetic_clips
from swansphere.errors import ConfigError
from swansphere.spatial import read_foa, read_panorama_video

SCENES = 6
KEYS = [f"scene-{i:06d}" for i in range(SCENES)]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    sampler = SceneSampler(sample_rate=8000, duration=1.0, max_sources=2,
                           min_event_seconds=0.5)
    simulate(out, SCENES, synthetic_clips(), sampler=sampler, seed=5,
             renderer=PanoramaRenderer(32, 16, fps=4), progress=False)
    return out


@pytest.fixture(scope="module")
def shards(simulated, tmp_path_factory):
    """One scene per shard, so the shards can be split over ranks and workers."""
    out = tmp_path_factory.mktemp("shards")
    write_shards(simulated, out, samples_per_shard=1, progress=False)
    return out


def keys_of(items) -> list[str]:
    return [item["key"] for item in items]


def test_written_scenes_read_back_unchanged(simulated, tmp_path):
    manifest = write_shards(simulated, tmp_path, samples_per_shard=4, progress=False)
    assert [shard["samples"] for shard in manifest["shards"]] == [4, 2]
    items = list(ShardDataset(tmp_path, ordered=True))
    assert keys_of(items) == KEYS
    for item in items:
        folder = simulated / item["key"]
        foa, rate = read_foa(folder / "foa.wav")
        assert torch.equal(item["foa"], foa) and item["sample_rate"] == rate == 8000
        metadata = json.loads((folder / "metadata.json").read_text())
        assert item["metadata"] == {**metadata, "sample_rate": 8000}
        assert item["caption"] == (folder / "caption.txt").read_text().strip()
        assert [source["label"] for source in item["metadata"]["sources"]] == [
            source["label"] for source in metadata["sources"]]
        frames, times, _ = read_panorama_video(folder / "video.npz")
        assert np.array_equal(item["video"].numpy(), frames)
        assert np.allclose(item["video_times"].numpy(), times)


def test_a_brace_pattern_names_the_same_shards(shards):
    pattern = str(shards / "shard-{000000..000005}.tar")
    assert keys_of(ShardDataset(pattern, ordered=True)) == KEYS


def test_the_order_is_fixed_by_seed_and_epoch(shards):
    dataset = ShardDataset(shards, shuffle_buffer=3, seed=1)
    first = keys_of(dataset)
    assert sorted(first) == KEYS and keys_of(dataset) == first
    dataset.set_epoch(1)
    assert sorted(keys_of(dataset)) == KEYS and keys_of(dataset) != first


def read_as_rank(shards, monkeypatch, rank: int, ranks: int, workers: int) -> list[str]:
    """The keys one rank of ``ranks`` reads in an epoch with ``workers`` loader workers."""
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(ranks))
    loader = torch.utils.data.DataLoader(ShardDataset(shards, seed=3), batch_size=None,
                                         num_workers=workers)
    return [item["key"] for item in loader]


def test_every_rank_and_worker_reads_its_own_part(shards, monkeypatch):
    parts = [read_as_rank(shards, monkeypatch, rank, 3, 2) for rank in range(3)]
    assert all(len(part) == 2 for part in parts)
    assert sorted(key for part in parts for key in part) == KEYS   # disjoint, all covered
    with pytest.raises(ConfigError, match="cannot feed 4 rank"):
        read_as_rank(shards, monkeypatch, 0, 4, 2)


def test_a_resumed_stream_continues_where_it_stopped(shards):
    def stream(skip: int, workers: int) -> list[tuple[str, float, float]]:
        dataset = ShardDataset(shards, crop_seconds=0.5, random_yaw=True, seed=7,
                               repeat=True, skip=skip)
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers)
        items = zip(range(2 * SCENES + 3 - skip), loader, strict=False)
        return [(item["key"], item["crop_start"], item["yaw"]) for _, item in items]

    for workers in (0, 2):
        whole = stream(0, workers)
        assert sorted(key for key, _, _ in whole[:SCENES]) == KEYS          # one epoch each
        assert sorted(key for key, _, _ in whole[SCENES:2 * SCENES]) == KEYS
        assert whole[:SCENES] != whole[SCENES:2 * SCENES]            # new order, crops, yaws
        assert stream(5, workers) == whole[5:]
        assert stream(SCENES + 1, workers) == whole[SCENES + 1:]


def test_shard_command_prints_the_pattern_to_train_from(simulated, tmp_path, capsys):
    assert main(["data", "shard", "--src", str(simulated), "--out", str(tmp_path),
                 "--per-shard", "4", "--quiet"]) == 0
    pattern = re.search(r'\(or "(.+)"\)', capsys.readouterr().out).group(1)
    assert pattern.endswith("shard-{000000..000001}.tar")
    assert keys_of(ShardDataset(pattern, ordered=True)) == KEYS
