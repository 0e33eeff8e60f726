"""Pipeline.compile: every stream's per-patch step as one compiled call gives the audio of the
ordinary stream (dynamo's eager backend here: the same graph a GPU captures, without a C++
compiler; the CUDA-graph replay itself is checked on a GPU by benchmarks/gpu_speed.sh)."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import panorama_frames, tiny_pipeline

from swansphere.errors import GenerationError

FPS = 25.0
DURATION = 0.6  # past the tiny test pipeline's 8-patch window: the ring wraps


@pytest.fixture(scope="module")
def pipelines():
    return tiny_pipeline(), tiny_pipeline().compile(backend="eager")


def test_a_compiled_stream_equals_the_ordinary_one(pipelines):
    plain, compiled = pipelines
    video = {"frames": panorama_frames(16), "fps": FPS}
    for text, clip in (("a bell rings on the left", None), (None, video),
                       ("rain falls behind you", video)):
        expected = plain.generate(text, clip, duration=DURATION, seed=4)
        got = compiled.generate(text, clip, duration=DURATION, seed=4)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)  # outputs reach 25


def test_compiled_batched_streams_and_snapshots_equal_the_ordinary_ones(pipelines):
    plain, compiled = pipelines
    texts, seeds = ["a bell rings on the left", "a dog barks behind you"], [1, 2]
    expected = [step for step in plain.stream_many(texts, duration=0.3, seeds=seeds)]
    got = [step for step in compiled.stream_many(texts, duration=0.3, seeds=seeds)]
    for want, have in zip(expected, got, strict=True):
        for a, b in zip(want, have, strict=True):
            torch.testing.assert_close(b.audio, a.audio, atol=1e-4, rtol=1e-4)
    session = compiled.session("a bell rings on the left", seed=3)
    session.next_patches()
    saved = session.snapshot()
    first, _ = session.next_patches()
    again, _ = saved.next_patches()
    torch.testing.assert_close(again, first)


def test_what_cannot_be_compiled_is_refused_in_one_line():
    pipeline = tiny_pipeline().replace(sampler={"type": "euler_maruyama", "steps": 3,
                                                "noise_scale": 0.5})
    with pytest.raises(GenerationError, match="deterministic sampler") as error:
        pipeline.compile(backend="eager")
    assert "\n" not in str(error.value)
    unwindowed = tiny_pipeline().replace(backbone={"attention_window": 0})
    with pytest.raises(GenerationError, match="KV window"):
        unwindowed.compile(backend="eager")


def test_a_compiled_held_stream_equals_the_ordinary_held_one():
    from test_latent_range import NARROW

    def held_float64():
        # float64: the two paths' float32 kernels round differently by CPU (1.4e-4 apart
        # on an AVX-512 Xeon); in float64 they agree exactly, so the bound stays tight
        pipeline = tiny_pipeline().replace(latent_range=NARROW, hold_latent_range=True)
        for module in pipeline.modules().values():
            module.double()
        return pipeline

    plain, compiled = held_float64(), held_float64()
    compiled.compile(backend="eager")
    expected = plain.generate_takes("a bell rings on the left", duration=0.3, seeds=(4,))
    got = compiled.generate_takes("a bell rings on the left", duration=0.3, seeds=(4,))
    assert expected.latents.dtype == torch.float64
    torch.testing.assert_close(got.latents, expected.latents, atol=1e-4, rtol=1e-4)
    unheld = tiny_pipeline().generate_takes("a bell rings on the left", duration=0.3,
                                            seeds=(4,))
    assert not torch.allclose(unheld.latents.double(), expected.latents, atol=1e-2)
