"""Patch generation with the library's samplers, presets, registration and configuration."""

from __future__ import annotations

import attrs
import pytest
import torch
from backbone_helpers import conditions, make_model

import swansphere
from swansphere.config import structure, unstructure
from swansphere.plugins.causal_dit import CausalDiTConfig, count_parameters, preset
from swansphere.plugins.causal_dit.generation import generate, generate_patch, stream_patches
from swansphere.plugins.causal_dit.model import CausalDiT
from swansphere.protocols import CausalBackbone
from swansphere.samplers.config import GuidanceConfig

PAPER_GUIDANCE = GuidanceConfig()  # (w1, w2) = (1.4, 3)


def euler(steps: int = 4):
    return swansphere.create("sampler", {"type": "euler", "steps": steps, "grid": "cosine"})


def test_generation_is_reproducible_bit_for_bit_per_seed() -> None:
    model = make_model(attention_window=3)
    cond = conditions(2, model)

    def run(seed: int, guidance: GuidanceConfig | None = PAPER_GUIDANCE) -> torch.Tensor:
        return generate(model, euler(), 4, conditions=cond, batch_size=2, guidance=guidance,
                        generator=torch.Generator().manual_seed(seed))

    first = run(0)
    assert first.shape == (2, 4 * model.patch_frames, model.latent_dim)
    assert torch.equal(first, run(0))
    assert not torch.allclose(first, run(1))
    assert not torch.allclose(first, run(0, guidance=None))


def test_guidance_with_unit_weights_is_the_conditional_model() -> None:
    model = make_model()
    state = model.init_state(1, conditions(1, model))
    h, state = model.step(None, state)
    patches = [generate_patch(model, state, h[:, -1], euler(), guidance=guidance,
                              generator=torch.Generator().manual_seed(5))
               for guidance in (GuidanceConfig(w1=1.0, w2=1.0), None)]
    torch.testing.assert_close(patches[0], patches[1])


def test_stream_leaks_no_inference_mode_between_patches() -> None:
    """(``generate`` concatenates ``stream_patches``, so comparing the two would test
    nothing; test_backbone_reference.py checks generation against the training forward.)"""
    model = make_model(attention_window=2)
    stream = stream_patches(model, euler(), generator=torch.Generator().manual_seed(2))
    patches = [next(stream) for _ in range(3)]
    assert not torch.is_inference_mode_enabled()
    assert all(patch.is_inference() for patch in patches)


def test_paper_l_has_1_09_billion_parameters_counted_on_the_meta_device() -> None:
    counts = count_parameters("paper-l")
    assert abs(counts["total"] / 1.09e9 - 1) < 0.05, counts
    assert counts["lm"] > 0.6 * counts["total"]  # a 36 × 1024 LM dominates, as published
    config = preset("paper-l")
    assert (config.lm.layers, config.lm.width, config.lm.heads, config.lm.kv_heads) == (
        36, 1024, 16, 8)
    assert (config.locdit.layers, config.locdit.width, config.latent_dim) == (6, 1024, 128)


def test_smaller_presets_grow_in_size() -> None:
    tiny, small = count_parameters("tiny")["total"], count_parameters("small")["total"]
    assert 5e6 < tiny < 30e6 < small < 0.6e9
    with pytest.raises(swansphere.ConfigError, match="paper-l"):
        preset("huge")


@pytest.mark.parametrize("name", ["tiny", "small", "paper-l"])
def test_preset_configs_round_trip_through_plain_data(name: str) -> None:
    config = preset(name)
    assert structure(unstructure(config), CausalDiTConfig) == config


def test_registered_as_causal_dit_and_fits_the_protocol() -> None:
    model = swansphere.create("backbone", {"type": "causal-dit", "attention_window": 8,
                                           "lm": {"layers": 1, "width": 64, "heads": 2,
                                                  "kv_heads": 1}})
    assert isinstance(model, CausalDiT) and isinstance(model, CausalBackbone)
    assert model.config.lm.width == 64 and model.config.attention_window == 8
    with pytest.raises(swansphere.ConfigError, match="unknown key"):
        swansphere.create("backbone", {"type": "causal-dit", "windw": 8})


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="heads"):
        attrs.evolve(CausalDiTConfig().lm, heads=3)
    with pytest.raises(ValueError, match="even"):
        attrs.evolve(CausalDiTConfig().lm, width=20, heads=4, kv_heads=2)


def test_tiny_preset_generates_a_patch() -> None:
    model = CausalDiT(preset("tiny")).eval()
    with torch.inference_mode():
        state = model.init_state(1)
        h, state = model.step(None, state)
        patch = generate_patch(model, state, h[:, -1], euler(2),
                               generator=torch.Generator().manual_seed(0))
        h, state = model.step(patch, state)
    assert patch.shape == (1, 4, 32) and h.shape == (1, 1, 256)
    assert torch.isfinite(patch).all()
