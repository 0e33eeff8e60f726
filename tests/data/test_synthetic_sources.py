"""Synthesised sources and the free-field SyntheticFOADataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from swansphere.data.datasets import collate
from swansphere.data.synthetic import (
    SyntheticFOADataset,
    render_clip,
    synthetic_clips,
    synthetic_labels,
)
from swansphere.errors import ConfigError
from swansphere.spatial import direction, direction_track, encode


@pytest.mark.parametrize("clip", synthetic_clips(), ids=lambda clip: clip.label)
@pytest.mark.parametrize("sample_rate", [8000, 16000, 48000])
def test_each_source_is_deterministic_finite_and_audible(clip, sample_rate):
    first = clip.render(np.random.default_rng(7), sample_rate, sample_rate)
    again = clip.render(np.random.default_rng(7), sample_rate, sample_rate)
    other = clip.render(np.random.default_rng(8), sample_rate, sample_rate)
    assert first.dtype == np.float32 and first.shape == (sample_rate,)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.isfinite(first).all() and np.abs(first).max() <= 0.9 + 1e-6
    assert np.sqrt(np.mean(first.astype(np.float64) ** 2)) > 0.01


def test_sources_have_distinct_labels_and_caption_words():
    clips = synthetic_clips()
    assert len({clip.label for clip in clips}) == len(clips) >= 8
    assert all(clip.noun and clip.verb and clip.permissive for clip in clips)
    assert synthetic_labels() == tuple(clip.label for clip in clips)


def test_render_clip_names_the_choices_for_an_unknown_label():
    with pytest.raises(ConfigError, match="bell"):
        render_clip("unicorn", seed=0)
    assert render_clip("bell", seed=3, seconds=0.5).shape == (8000,)


def test_items_are_deterministic_from_seed_and_index():
    settings = {"size": 4, "clip_seconds": 0.5, "sample_rate": 8000}
    dataset = SyntheticFOADataset(seed=5, **settings)
    again = SyntheticFOADataset(seed=5, **settings)
    other_seed = SyntheticFOADataset(seed=6, **settings)
    item = dataset[2]
    assert torch.equal(item["foa"], again[2]["foa"])
    assert item["caption"] == again[2]["caption"]
    assert not torch.equal(item["foa"], dataset[1]["foa"])
    assert not torch.equal(item["foa"], other_seed[2]["foa"])


def test_item_layout():
    dataset = SyntheticFOADataset(size=6, clip_seconds=0.5, sample_rate=8000, max_sources=2)
    assert len(dataset) == 6
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["foa"].shape == (4, 4000) and item["foa"].dtype == torch.float32
        assert item["sample_rate"] == 8000
        assert 1 <= len(item["sources"]) <= 2
        assert item["labels"] == [source["label"] for source in item["sources"]]
        assert item["caption"].endswith(".") and item["caption"][0].isupper()
        for source in item["sources"]:
            assert source["azimuth"].shape == item["track_times"].shape
            assert source["azimuth"].abs().max() <= 180 and source["elevation"].abs().max() <= 90
        assert item["foa"].abs().max() <= 0.9 + 1e-6
    with pytest.raises(IndexError):
        dataset[6]


def test_static_single_source_points_where_the_metadata_says():
    dataset = SyntheticFOADataset(size=5, clip_seconds=0.5, sample_rate=8000, max_sources=1,
                                  moving_probability=0.0, diffuse_probability=0.0)
    for index in range(len(dataset)):
        item = dataset[index]
        source = item["sources"][0]
        azimuth, elevation = direction(item["foa"])
        expected = encode(torch.ones(1), source["azimuth"][0], source["elevation"][0])[:, 0]
        found = encode(torch.ones(1), azimuth, elevation)[:, 0]
        assert torch.allclose(found.double(), expected.double(), atol=1e-3)


def test_moving_source_track_follows_its_trajectory():
    dataset = SyntheticFOADataset(size=8, clip_seconds=2.0, max_sources=1,
                                  moving_probability=1.0, diffuse_probability=0.0)
    item = dataset[0]
    source = item["sources"][0]
    track = direction_track(item["foa"], item["sample_rate"], 0.05, 0.05)
    start, stop = source["onset"] + 0.1, source["offset"] - 0.1
    times = track.times.numpy()
    frames = np.flatnonzero((times > start) & (times < stop) & (track.energy.numpy() > 1e-5))
    truth_times = item["track_times"].numpy()
    for frame in frames:
        nearest = int(np.argmin(np.abs(truth_times - times[frame])))
        expected = encode(torch.ones(1), source["azimuth"][nearest], source["elevation"][nearest])
        found = encode(torch.ones(1), track.azimuth[frame], track.elevation[frame])
        # one hop of motion (≤ 120° over ≥ 0.8 s at 0.05 s frames) bounds the lag error
        assert torch.linalg.vector_norm((found - expected).double()[1:]) < 0.2


def test_dataloader_batches_with_collate():
    dataset = SyntheticFOADataset(size=4, clip_seconds=0.25, sample_rate=8000)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["foa"].shape == (2, 4, 2000)
    assert len(batch["sources"]) == 2 and isinstance(batch["caption"], list)
