"""sources = "separate": a prompt that places several sounds is one stream per place, summed."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import panorama_frames, tiny_pipeline

from swansphere.config import load_toml
from swansphere.errors import ConfigError
from swansphere.pipeline import Pipeline, PipelineConfig

FPS = 25.0
PAIR = "a bell rings to your left and a siren wails behind you"


@pytest.fixture(scope="module")
def joint() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def separate(joint) -> Pipeline:
    return joint.replace(sources="separate")


def _audio(pipeline: Pipeline, text: str | None, video=None, seed: int = 3) -> torch.Tensor:
    return pipeline.generate(text, video, duration=0.06, seed=seed)


@pytest.mark.parametrize("with_video", [False, True])
def test_each_place_is_its_own_stream_and_the_chunks_are_their_sum(joint, separate,
                                                                   with_video):
    video = {"frames": panorama_frames(4), "fps": FPS} if with_video else None
    chunks = list(separate.stream(PAIR, video, duration=0.06, seed=3))
    left = list(joint.stream("a bell rings on the left", video, duration=0.06, seed=3))
    behind = list(joint.stream("a siren wails behind", video, duration=0.06, seed=4))
    assert [chunk.start for chunk in chunks] == [chunk.start for chunk in left]
    assert [chunk.index for chunk in chunks] == [chunk.index for chunk in left]
    for mixed, one, other in zip(chunks, left, behind, strict=True):
        torch.testing.assert_close(mixed.audio, one.audio + other.audio, atol=1e-4, rtol=1e-3)
        assert mixed.latents is None


def test_one_place_or_none_streams_as_the_joint_model_does(joint, separate):
    for text in ("a bell rings to your left", "rain", None,
                 "a car passes from left to right"):
        torch.testing.assert_close(_audio(separate, text), _audio(joint, text))


def test_the_joint_default_takes_the_whole_prompt(joint):
    assert joint.config.sources == "joint"
    whole = joint.generate(PAIR, duration=0.06, seed=3)
    left = joint.generate("a bell rings on the left", duration=0.06, seed=3)
    assert not torch.allclose(whole, left + joint.generate("a siren wails behind",
                                                           duration=0.06, seed=4))


def test_the_mode_is_part_of_the_saved_config(separate, tmp_path):
    separate.save_pretrained(tmp_path / "model")
    config = load_toml(tmp_path / "model" / "pipeline.toml", PipelineConfig)
    assert config.sources == "separate"
    reloaded = Pipeline.from_pretrained(tmp_path / "model")
    torch.testing.assert_close(_audio(reloaded, PAIR), _audio(separate, PAIR), atol=1e-4,
                               rtol=1e-3)
    with pytest.raises(ConfigError):
        separate.replace(sources="mixed")


def test_a_bad_mode_in_a_saved_config_is_a_config_error(separate, tmp_path):
    separate.save_pretrained(tmp_path / "model")
    path = tmp_path / "model" / "pipeline.toml"
    path.write_text(path.read_text().replace('sources = "separate"', 'sources = "mixed"'))
    with pytest.raises(ConfigError, match="sources"):
        Pipeline.from_pretrained(tmp_path / "model")


def test_each_take_is_the_sum_of_its_clauses_like_generate(joint, separate):
    takes = separate.generate_takes(PAIR, duration=0.06, seeds=(3, 9))
    assert takes.latents is None and takes.seeds == (3, 9)
    for take, seed in zip(takes.audio, (3, 9), strict=True):
        torch.testing.assert_close(take, _audio(separate, PAIR, seed=seed), atol=1e-4,
                                   rtol=1e-3)
    single = separate.generate_takes("a bell rings on the left", duration=0.06, seeds=(3,))
    torch.testing.assert_close(single.latents, joint.generate_takes(
        "a bell rings on the left", duration=0.06, seeds=(3,)).latents)
