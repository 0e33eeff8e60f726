"""The whole pipeline through the streaming conformance suites (video frames in, AmbiX out)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pipeline_helpers import SAMPLE_RATE, tiny_pipeline

from swansphere.testing.streaming import (
    StreamingAdapter,
    check_bounded_state,
    check_causality,
    check_chunk_partition_invariance,
    check_snapshot_restore,
)

FPS = 25.0
SAMPLES_PER_FRAME = int(SAMPLE_RATE / FPS)


@pytest.fixture(scope="module")
def adapter() -> StreamingAdapter:
    pipeline = tiny_pipeline()

    def make_input(batch_size: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, 256, (batch_size, length, 16, 32, 3), generator=generator,
                             dtype=torch.uint8)

    def offline(frames: torch.Tensor) -> torch.Tensor:
        count = frames.shape[1]
        if count == 0:
            return torch.zeros(1, 4, 0)
        times = np.arange(count) / FPS
        return pipeline.generate(video=(frames[0].numpy(), times), duration=count / FPS,
                                 seed=7)[None]

    def output(chunks) -> torch.Tensor:
        return torch.cat([torch.zeros(4, 0), *(c.audio for c in chunks)], -1)[None]

    def step(frames: torch.Tensor, session):
        session = session.snapshot()
        if frames.shape[1]:
            session.push(frames[0].numpy(), fps=FPS)
        return output(session.pull()), session

    return StreamingAdapter(
        offline=offline, init_state=lambda batch: pipeline.session(seed=7), step=step,
        flush=lambda session: output(session.snapshot().close()), make_input=make_input,
        snapshot=lambda session: session.snapshot(), input_axis=1, output_axis=-1,
        input_hop=1, output_hop=SAMPLES_PER_FRAME,
        # A patch ending exactly at a frame's timestamp may see that frame.
        lookahead=1, differentiable=False, atol=1e-4, rtol=1e-4)


def test_pipeline_is_causal_in_the_video(adapter):
    check_causality(adapter, max_blocks=4, batch_size=1, max_examples=3)


def test_pipeline_streamed_equals_offline_for_any_chunking(adapter):
    check_chunk_partition_invariance(adapter, max_blocks=4, batch_size=1, max_examples=3)


def test_pipeline_session_snapshot_restores_exactly(adapter):
    check_snapshot_restore(adapter, max_blocks=4, batch_size=1, max_examples=2)


def test_pipeline_session_state_is_bounded(adapter):
    check_bounded_state(adapter, steps=24, batch_size=1)
