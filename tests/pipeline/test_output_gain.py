"""output_gain_db: every way audio leaves a pipeline is the decoded audio times one gain."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import tiny_pipeline, whole_clip_pipeline

from swansphere.errors import ConfigError
from swansphere.pipeline import Pipeline

GAIN_DB = 12.0
FACTOR = 10.0 ** (GAIN_DB / 20.0)
PROMPT = "a bell rings on the left"


@pytest.fixture(scope="module")
def plain() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def louder(plain) -> Pipeline:
    return plain.replace(output_gain_db=GAIN_DB)


def _close(louder_audio: torch.Tensor, plain_audio: torch.Tensor) -> None:
    torch.testing.assert_close(louder_audio, plain_audio * FACTOR, atol=1e-5, rtol=1e-4)


def test_streamed_and_generated_audio_are_scaled(plain, louder):
    for loud, quiet in zip(louder.stream(PROMPT, duration=0.06, seed=1),
                           plain.stream(PROMPT, duration=0.06, seed=1), strict=True):
        _close(loud.audio, quiet.audio)
        torch.testing.assert_close(loud.latents, quiet.latents)  # the model is untouched
    _close(louder.generate(PROMPT, duration=0.06, seed=1),
           plain.generate(PROMPT, duration=0.06, seed=1))


def test_takes_and_batched_streams_are_scaled(plain, louder):
    _close(louder.generate_takes(PROMPT, duration=0.06, seeds=(0, 1)).audio,
           plain.generate_takes(PROMPT, duration=0.06, seeds=(0, 1)).audio)
    for loud, quiet in zip(louder.stream_many([PROMPT, None], duration=0.06),
                           plain.stream_many([PROMPT, None], duration=0.06), strict=True):
        for loud_chunk, quiet_chunk in zip(loud, quiet, strict=True):
            _close(loud_chunk.audio, quiet_chunk.audio)


def test_whole_clip_backbones_are_scaled():
    plain = whole_clip_pipeline()
    louder = plain.replace(output_gain_db=GAIN_DB)
    _close(louder.generate(PROMPT, duration=0.06, seed=2),
           plain.generate(PROMPT, duration=0.06, seed=2))


def test_the_gain_is_saved_and_checked(louder, tmp_path):
    louder.save_pretrained(tmp_path / "model")
    assert Pipeline.from_pretrained(tmp_path / "model").config.output_gain_db == GAIN_DB
    with pytest.raises(ConfigError, match="output_gain_db"):
        Pipeline.from_pretrained(tmp_path / "model", overrides=["output_gain_db=90"])
    with pytest.raises(ConfigError, match="output_gain_db"):
        louder.replace(output_gain_db=-61.0)
