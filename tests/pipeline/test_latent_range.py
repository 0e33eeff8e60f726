"""The training latents' range: written by the trainer, saved with the model, and held by
every generation path when ``hold_latent_range`` says so."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import TINY, tiny_pipeline

from swansphere.config import structure
from swansphere.errors import ConfigError
from swansphere.pipeline import LATENT_RANGE_QUANTILES, LatentRange, Pipeline, PipelineConfig

PROMPT = "a bell rings on the left"
DIM = TINY["backbone"]["latent_dim"]
NARROW = LatentRange(low=[-0.2] * (DIM // 2) + [0.1] * (DIM // 2),
                     high=[0.2] * (DIM // 2) + [0.3] * (DIM // 2))


@pytest.fixture(scope="module")
def plain() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def held(plain) -> Pipeline:
    return plain.replace(latent_range=NARROW, hold_latent_range=True)


def _inside(latents: torch.Tensor, latent_range: LatentRange) -> bool:
    low, high = torch.tensor(latent_range.low), torch.tensor(latent_range.high)
    slack = 1e-5
    return bool(((latents >= low - slack) & (latents <= high + slack)).all())


def test_the_range_is_the_quantiles_of_each_dimension():
    latents = torch.randn(50, 40, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([0, 3, -1])
    found = LatentRange.of(latents)
    flat = latents.reshape(-1, 3)
    low, high = (flat.quantile(q, dim=0) for q in LATENT_RANGE_QUANTILES)
    torch.testing.assert_close(torch.tensor(found.low), low)
    torch.testing.assert_close(torch.tensor(found.high), high)
    sparse = LatentRange.of(latents, rows=100)               # evenly spaced frames only
    assert all(lo <= hi for lo, hi in zip(sparse.low, sparse.high, strict=True))


def test_held_takes_and_streams_stay_inside_the_range(plain, held):
    loose = plain.generate_takes(PROMPT, duration=0.06, seeds=(0, 1)).latents
    assert not _inside(loose, NARROW)                        # the range does bite here
    assert _inside(held.generate_takes(PROMPT, duration=0.06, seeds=(0, 1)).latents, NARROW)
    for chunk in held.stream(PROMPT, duration=0.06, seed=1):
        assert _inside(chunk.latents, NARROW)


def test_a_range_never_reached_changes_nothing(plain):
    wide = LatentRange(low=[-1e6] * DIM, high=[1e6] * DIM)
    loose = plain.replace(latent_range=wide, hold_latent_range=True)
    assert torch.equal(loose.generate_takes(PROMPT, duration=0.06, seeds=(3,)).audio,
                       plain.generate_takes(PROMPT, duration=0.06, seeds=(3,)).audio)


def test_whole_clip_backbones_hold_it_too():
    table = {**TINY, "backbone": {"type": "global-dit", "latent_dim": DIM,
                                  "latent_frame_rate": TINY["backbone"]["latent_frame_rate"],
                                  "patch_frames": 4, "text_dim": 32, "video_dim": 16,
                                  "caption_layers": 1,
                                  "dit": {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1}},
             "latent_range": {"low": list(NARROW.low), "high": list(NARROW.high)},
             "hold_latent_range": True}
    torch.manual_seed(0)
    pipeline = Pipeline.from_config(structure(table, PipelineConfig))
    audio = pipeline.generate(PROMPT, duration=0.06, seed=2)
    # The patch codec's round trip is a projection: encoding its audio gives its latents.
    assert _inside(pipeline.codec.encode(audio.unsqueeze(0)), NARROW)
    loose = pipeline.replace(hold_latent_range=False).generate(PROMPT, duration=0.06, seed=2)
    assert not _inside(pipeline.codec.encode(loose.unsqueeze(0)), NARROW)


def test_the_range_is_saved_with_the_model(held, tmp_path):
    held.save_pretrained(tmp_path / "model")
    loaded = Pipeline.from_pretrained(tmp_path / "model")
    assert loaded.config.latent_range == NARROW and loaded.config.hold_latent_range
    assert "[latent_range]" in (tmp_path / "model" / "pipeline.toml").read_text()


def test_bad_ranges_and_a_hold_without_one_are_config_errors(plain):
    with pytest.raises(ConfigError, match="needs latent_range"):
        plain.replace(hold_latent_range=True).generate(PROMPT, duration=0.06)
    with pytest.raises(ConfigError, match="dimensions"):
        plain.replace(latent_range=LatentRange(low=[0.0], high=[1.0]))
    with pytest.raises(ValueError, match="low <= its high"):
        LatentRange(low=[1.0, 0.0], high=[0.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        LatentRange(low=[float("nan")], high=[1.0])
    with pytest.raises(ConfigError, match="hold_latent_range"):
        plain.replace(hold_latent_range="yes")
