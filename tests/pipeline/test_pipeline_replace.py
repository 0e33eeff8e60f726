"""Swapping parts of a built or saved pipeline: ``Pipeline.replace`` and ``--set``."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import tiny_pipeline

from swansphere.cli import main
from swansphere.errors import ConfigError
from swansphere.pipeline import Guidance, Pipeline
from swansphere.spatial import read_foa

PROMPT = "a bell rings on the left"


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def model_dir(pipeline, tmp_path_factory):
    return pipeline.save_pretrained(tmp_path_factory.mktemp("models") / "tiny-test")


def test_a_sampler_table_swaps_the_sampler_and_shares_the_rest(pipeline):
    heun = pipeline.replace(sampler={"type": "heun", "steps": 3})
    assert heun.config.sampler.type == "heun" and heun.sampler.nfe() == 6
    assert heun.backbone is pipeline.backbone and heun.codec is pipeline.codec
    assert pipeline.config.sampler.type != "heun"  # the original is untouched
    assert not torch.equal(heun.generate(PROMPT, duration=0.03),
                           pipeline.generate(PROMPT, duration=0.03))


def test_a_table_without_type_changes_fields_of_the_current_component(pipeline):
    fewer = pipeline.replace(sampler={"steps": 2})
    assert fewer.config.sampler.type == pipeline.config.sampler.type
    assert fewer.sampler.nfe() == 2
    assert fewer.config.sampler.config == type(pipeline.config.sampler.config)(
        **{**_fields(pipeline.config.sampler.config), "steps": 2})


def test_specs_and_built_components_are_saved_as_their_registered_config(pipeline, tmp_path):
    other = pipeline.replace(sampler={"type": "midpoint", "steps": 2})
    twin = tiny_pipeline(seed=1)
    swapped = pipeline.replace(sampler=other.config.sampler, text=twin.text_encoder,
                               guidance={"w2": 1.0})
    assert swapped.text_encoder is twin.text_encoder
    assert swapped.config.guidance == Guidance(w1=pipeline.config.guidance.w1, w2=1.0)
    loaded = Pipeline.from_pretrained(swapped.save_pretrained(tmp_path / "swapped"))
    assert loaded.config.sampler == other.config.sampler
    assert loaded.config.text == twin.config.text
    assert loaded.config.guidance == swapped.config.guidance
    with pytest.raises(ConfigError, match="share a config class"):
        pipeline.replace(sampler=other.sampler)  # euler, heun, midpoint: one config class


def test_replace_refuses_what_it_cannot_describe(pipeline):
    with pytest.raises(ConfigError, match="unknown part 'smapler'"):
        pipeline.replace(smapler={"type": "heun"})
    with pytest.raises(ConfigError, match="not described by a registered sampler"):
        pipeline.replace(sampler=lambda velocity, noise, steps=None, generator=None: noise)
    with pytest.raises(ConfigError, match="needs a codec"):
        pipeline.replace(codec=None)
    with pytest.raises(ConfigError, match="sampler"):
        pipeline.replace(sampler={"type": "heun", "stpes": 3})
    assert pipeline.replace(text=None).text_encoder is None


def test_set_on_the_command_line_swaps_the_sampler(model_dir, tmp_path):
    plain, heun = tmp_path / "plain.wav", tmp_path / "heun.wav"
    common = ["--model", str(model_dir), "--text", PROMPT, "--duration", "0.03"]
    assert main(["generate", *common, "-o", str(plain)]) == 0
    assert main(["generate", *common, "--set", "sampler.steps=2", "--set",
                 "sampler.type=heun", "-o", str(heun)]) == 0
    expected = Pipeline.from_pretrained(model_dir, overrides=["sampler.type=heun",
                                                              "sampler.steps=2"])
    for module in expected.modules().values():
        module.eval()
    torch.testing.assert_close(read_foa(heun)[0], expected.generate(PROMPT, duration=0.03))
    assert not torch.equal(read_foa(heun)[0], read_foa(plain)[0])


def test_bad_set_values_are_one_line_errors(model_dir, tmp_path, capsys):
    common = ["generate", "--model", str(model_dir), "--duration", "0.03", "-o",
              str(tmp_path / "x.wav")]
    assert main([*common, "--set", "sampler.type=nonesuch"]) == 2
    assert "nonesuch" in capsys.readouterr().err
    assert main([*common, "--set", "sampler"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main([*common, "--set", "backbone.latent_dim=24"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "latent_dim" in error


def _fields(config) -> dict:
    import attrs

    return attrs.asdict(config, recurse=False)
