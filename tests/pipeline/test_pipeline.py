"""The Pipeline: streamed equals offline, live sessions equal offline, causal in the video."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pipeline_helpers import SAMPLE_RATE, panorama_frames, tiny_pipeline

from swansphere.errors import ResourceNotFoundError
from swansphere.pipeline import GenerationError, Pipeline

FPS = 25.0


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return tiny_pipeline()


def test_generate_is_the_concatenated_stream_and_deterministic(pipeline):
    chunks = list(pipeline.stream(text="a bell rings on the left", duration=0.05, seed=3))
    audio = pipeline.generate(text="a bell rings on the left", duration=0.05, seed=3)
    assert audio.shape == (4, round(0.05 * SAMPLE_RATE)) and audio.dtype == torch.float32
    torch.testing.assert_close(torch.cat([c.audio for c in chunks], -1), audio, rtol=0, atol=0)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[1].start == pytest.approx(chunks[0].end)
    assert chunks[0].audio.shape[-1] == pipeline.samples_per_patch
    assert not torch.equal(audio, pipeline.generate(text="a bell rings on the left",
                                                    duration=0.05, seed=4))


def test_text_changes_the_audio(pipeline):
    first = pipeline.generate(text="a dog barks behind", duration=0.03, seed=0)
    second = pipeline.generate(text="rain falls above", duration=0.03, seed=0)
    assert not torch.allclose(first, second)


def test_save_and_load_round_trip(pipeline, tmp_path):
    pipeline.save_pretrained(tmp_path / "model")
    loaded = Pipeline.from_pretrained(tmp_path / "model")
    for module in loaded.modules().values():
        module.eval()
    assert loaded.config == pipeline.config
    torch.testing.assert_close(loaded.generate(text="a siren", duration=0.03, seed=1),
                               pipeline.generate(text="a siren", duration=0.03, seed=1))


def test_video_duration_defaults_to_the_video_length(pipeline):
    frames = panorama_frames(3)
    audio = pipeline.generate(video={"frames": frames, "fps": FPS})
    assert audio.shape[-1] == round(3 / FPS * SAMPLE_RATE)


def test_output_before_a_frame_does_not_depend_on_it(pipeline):
    frames = panorama_frames(6)
    changed = frames.copy()
    changed[4:] = 255 - changed[4:]
    duration = 6 / FPS
    original = pipeline.generate(video={"frames": frames, "fps": FPS}, duration=duration, seed=2)
    edited = pipeline.generate(video={"frames": changed, "fps": FPS}, duration=duration, seed=2)
    # Frame 4 arrives at 0.16 s: every patch that ends before then is unchanged (a patch
    # ending exactly at 0.16 s may see it) ...
    patches_before = int(np.ceil(4 / FPS / pipeline.patch_seconds - 1e-9)) - 1
    safe = patches_before * pipeline.samples_per_patch
    torch.testing.assert_close(original[:, :safe], edited[:, :safe], rtol=0, atol=0)
    # ... and the edit does reach the audio after it (the check above could fail).
    assert not torch.allclose(original[:, safe:], edited[:, safe:])


@settings(max_examples=4, deadline=None)
@given(cuts=st.lists(st.integers(0, 6), min_size=1, max_size=4))
def test_live_session_equals_offline_generation(pipeline, cuts):
    frames = panorama_frames(6)
    times = np.arange(6) / FPS
    offline = pipeline.generate(video=(frames, times), duration=6 / FPS, seed=5)
    session = pipeline.session(seed=5)
    chunks = []
    for start, stop in zip([0, *sorted(cuts)], [*sorted(cuts), 6], strict=True):
        if stop > start:
            session.push(frames[start:stop], times[start:stop])
            ready = session.pull()
            assert all(chunk.end <= times[stop - 1] + 1e-9 for chunk in ready)
            chunks += ready
    chunks += session.close(duration=6 / FPS)
    # Streaming the video conditioner in other chunks changes float rounding (~1e-6).
    torch.testing.assert_close(torch.cat([c.audio for c in chunks], -1), offline,
                               rtol=1e-4, atol=1e-4)


@settings(max_examples=4, deadline=None)
@given(seeds=st.lists(st.integers(0, 2**40), min_size=1, max_size=4),
       with_video=st.booleans())
def test_each_take_equals_generation_with_its_seed(pipeline, seeds, with_video):
    video = {"frames": panorama_frames(4), "fps": FPS} if with_video else None
    takes = pipeline.generate_takes("a bell rings on the left", video, 0.05, seeds)
    assert takes.audio.shape == (len(seeds), 4, round(0.05 * SAMPLE_RATE))
    assert takes.seeds == tuple(seeds)
    for take, latents, seed in zip(takes.audio, takes.latents, seeds, strict=True):
        chunks = list(pipeline.stream("a bell rings on the left", video, 0.05, seed))
        # One batch instead of K changes float rounding only.
        torch.testing.assert_close(take, torch.cat([c.audio for c in chunks], -1),
                                   rtol=1e-3, atol=1e-4)
        torch.testing.assert_close(latents, torch.cat([c.latents for c in chunks]),
                                   rtol=1e-3, atol=1e-4)


def test_takes_need_seeds_that_are_integers(pipeline):
    with pytest.raises(GenerationError, match="at least one seed"):
        pipeline.generate_takes("a bell", duration=0.03, seeds=())
    with pytest.raises(GenerationError, match="seed must be an integer"):
        pipeline.generate_takes("a bell", duration=0.03, seeds=(1, 2.5))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"duration": 0}, "duration must be a positive"),
        ({"duration": -1.0}, "duration must be a positive"),
        ({"duration": float("nan")}, "duration must be a positive"),
        ({"text": "  "}, "non-empty string"),
        ({"seed": 1.5}, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_one_line_errors(pipeline, arguments, message):
    with pytest.raises(GenerationError, match=message):
        pipeline.generate(**arguments)


def test_missing_conditioners_and_models_are_clear_errors(pipeline, tmp_path):
    without_text = Pipeline(pipeline.config, codec=pipeline.codec, backbone=pipeline.backbone,
                            sampler=pipeline.sampler)
    with pytest.raises(GenerationError, match="no text conditioner"):
        without_text.generate(text="a cow", duration=0.01)
    with pytest.raises(GenerationError, match="no video conditioner"):
        without_text.session()
    with pytest.raises(ResourceNotFoundError, match="no model at"):
        Pipeline.from_pretrained(tmp_path / "nothing-here")


def test_conditioner_widths_must_fit_the_backbone():
    from pipeline_helpers import TINY

    from swansphere.config import structure
    from swansphere.errors import ConfigError
    from swansphere.pipeline import PipelineConfig

    config = {**TINY, "text": {**TINY["text"], "dim": 48}}
    with pytest.raises(ConfigError, match="text conditioner gives 48-d tokens"):
        Pipeline.from_config(structure(config, PipelineConfig))
