"""Several independent streams in one batched step equal each stream run alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_helpers import panorama_frames, tiny_pipeline

from swansphere.errors import GenerationError

FPS = 25.0


@pytest.fixture(scope="module")
def pipeline():
    return tiny_pipeline()


def test_each_batched_stream_equals_its_own_stream(pipeline):
    video = {"frames": panorama_frames(4), "fps": FPS}
    texts = ["a bell rings on the left", None, "rain falls behind you, far away"]
    videos = [None, video, video]
    seeds = [5, 0, 7]
    steps = list(pipeline.stream_many(texts, videos, duration=0.06, seeds=seeds))
    assert all(len(step) == 3 for step in steps)
    for index, (text, clip, seed) in enumerate(zip(texts, videos, seeds, strict=True)):
        alone = list(pipeline.stream(text, clip, duration=0.06, seed=seed))
        assert [chunk.start for chunk in alone] == [step[index].start for step in steps]
        torch.testing.assert_close(torch.cat([step[index].audio for step in steps], -1),
                                   torch.cat([chunk.audio for chunk in alone], -1),
                                   atol=1e-4, rtol=1e-3)


def test_streams_differ_by_their_own_inputs(pipeline):
    step = next(pipeline.stream_many(["a dog barks on the left"] * 2, duration=0.03,
                                     seeds=[1, 2]))
    assert not torch.allclose(step[0].audio, step[1].audio)


def test_the_longest_video_sets_the_default_duration(pipeline):
    short, long = panorama_frames(2), panorama_frames(5)
    steps = list(pipeline.stream_many([None, None], [{"frames": short, "fps": FPS},
                                                      {"frames": long, "fps": FPS}]))
    samples = sum(step[0].audio.shape[-1] for step in steps)
    assert samples == round(5 / FPS * pipeline.sample_rate)


def test_mismatched_or_bad_inputs_are_refused(pipeline):
    with pytest.raises(GenerationError, match="one text, video and seed per stream"):
        next(pipeline.stream_many(["a", "b"], [None]))
    with pytest.raises(GenerationError, match="one text, video and seed per stream"):
        next(pipeline.stream_many([], duration=0.03))
    with pytest.raises(GenerationError, match="non-empty string"):
        next(pipeline.stream_many(["a bell", " "], duration=0.03))
    with pytest.raises(GenerationError, match="seed"):
        next(pipeline.stream_many(["a bell"], duration=0.03, seeds=[np.int64(-1)]))
