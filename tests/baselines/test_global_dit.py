"""The ``global-dit`` backbone: training interface, sampling, size match with causal-dit."""

from __future__ import annotations

import attrs
import pytest
import torch

import swansphere
from swansphere.nn.conditions import BackboneInputError
from swansphere.plugins.causal_dit import Conditions, TransformerSize
from swansphere.plugins.global_dit import (
    GlobalDiT,
    GlobalDiTConfig,
    same_size_config,
    size_report,
)
from swansphere.protocols import CausalBackbone, WholeClipBackbone
from swansphere.samplers.guidance import (
    Condition,
    classifier_free_guidance,
    multi_condition_guidance,
)

SMALL = GlobalDiTConfig(latent_dim=8, patch_frames=4, text_dim=16, video_dim=8,
                        caption_layers=1, dit=TransformerSize(layers=2, width=32, heads=2,
                                                              kv_heads=1))


def randomized(config: GlobalDiTConfig = SMALL, seed: int = 0) -> GlobalDiT:
    """Random weights everywhere: zero-initialised gates would hide the conditions."""
    torch.manual_seed(seed)
    model = GlobalDiT(config).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model


def conditions(batch: int = 3, seed: int = 1) -> Conditions:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, 5, dtype=torch.bool)
    mask[0, 3:] = False
    mask[-1] = False  # the last item has no text
    return Conditions(text=torch.randn(batch, 5, 16, generator=generator), text_mask=mask,
                      video=torch.randn(batch, 4, 8, generator=generator),
                      video_times=torch.arange(4, dtype=torch.float64) * 0.1)


def latents(batch: int = 3, frames: int = 20, seed: int = 2) -> torch.Tensor:
    return torch.randn(batch, frames, 8, generator=torch.Generator().manual_seed(seed))


def sampler(steps: int = 3):
    return swansphere.create("sampler", {"type": "euler", "steps": steps})


# --- size -------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["tiny", "small", "paper-l"])
def test_same_size_config_matches_the_causal_parameter_count(preset):
    report = size_report(preset)
    assert abs(report["ratio"] - 1) <= 0.10, report


def test_the_matched_depth_is_the_closest_one():
    from swansphere.plugins.global_dit import count_parameters

    report = size_report("tiny")
    matched = same_size_config("tiny")
    gap = abs(report["global_parameters"] - report["causal_parameters"])
    for layers in (matched.dit.layers - 1, matched.dit.layers + 1):
        neighbour = attrs.evolve(matched, dit=attrs.evolve(matched.dit, layers=layers))
        assert gap <= abs(count_parameters(neighbour) - report["causal_parameters"])


def test_default_config_is_the_tiny_match_and_the_registry_builds_it():
    assert same_size_config("tiny") == GlobalDiTConfig()
    model = swansphere.create("clip_backbone", {"type": "global-dit", "latent_dim": 8,
                                                "dit": {"layers": 1, "width": 32, "heads": 2,
                                                        "kv_heads": 1}})
    assert isinstance(model, GlobalDiT) and model.latent_dim == 8 and len(model.blocks) == 1
    assert isinstance(model, WholeClipBackbone) and not isinstance(model, CausalBackbone)


def test_same_size_config_copies_the_interface_fields():
    causal = swansphere.plugins.causal_dit.preset("small")
    matched = same_size_config(causal)
    for name in ("latent_dim", "latent_frame_rate", "text_dim", "video_dim"):
        assert getattr(matched, name) == getattr(causal, name)
    assert (matched.dit.width, matched.dit.heads) == (causal.lm.width, causal.lm.heads)
    assert matched.patch_frames == 1
    coarse = same_size_config(causal, patch_frames=causal.patch_frames)
    assert coarse.patch_frames == causal.patch_frames and coarse.dit == matched.dit


# --- training ---------------------------------------------------------------------------------

def test_loss_is_deterministic_for_a_generator_and_gradients_reach_every_parameter():
    model = randomized().train()
    x, cond = latents(), conditions()
    loss = model.loss(x, cond, torch.Generator().manual_seed(3))
    assert torch.equal(loss, model.loss(x, cond, torch.Generator().manual_seed(3)))
    assert loss != model.loss(x, cond, torch.Generator().manual_seed(4))
    model.config = attrs.evolve(model.config, text_dropout=0.0, video_dropout=0.0)
    model.loss(x, cond, torch.Generator().manual_seed(3)).backward()
    silent = [name for name, p in model.named_parameters()
              if p.grad is None or not p.grad.abs().sum() > 0]
    # The null video/text tokens get gradients only when an item lacks video/text.
    assert silent == ["video.null"], silent


def test_loss_decreases_on_a_toy_batch():
    torch.manual_seed(0)
    model = GlobalDiT(SMALL).train()
    x, cond = latents(4, 16), conditions(4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        loss = model.loss(x, cond, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10, losses


def test_ragged_batches_pack_each_item_as_if_alone():
    model = randomized()
    x, cond = latents(), conditions()
    tokens, t = model._tokens(x), torch.tensor([0.2, 0.5, 0.9])
    counts = torch.tensor([5, 3, 2])
    packed = model._denoise(tokens, t, model.encode_conditions(cond, 3, 5), counts)
    for item, count in enumerate(counts.tolist()):
        alone = Conditions(text=cond.text[item:item + 1], text_mask=cond.text_mask[item:item + 1],
                           video=cond.video[item:item + 1], video_times=cond.video_times)
        expected = model._denoise(tokens[item:item + 1, :count], t[item:item + 1],
                                  model.encode_conditions(alone, 1, count))
        torch.testing.assert_close(packed[item, :count], expected[0], atol=1e-4, rtol=1e-4)
        assert not packed[item, count:].any()
    full = model.loss(x, cond, torch.Generator().manual_seed(5), lengths=torch.tensor([20] * 3))
    torch.testing.assert_close(full, model.loss(x, cond, torch.Generator().manual_seed(5)),
                               atol=1e-5, rtol=1e-5)


def test_bad_latents_and_lengths_are_refused():
    model = randomized()
    with pytest.raises(BackboneInputError, match="latents must have shape"):
        model.loss(torch.zeros(2, 8, 5))
    with pytest.raises(BackboneInputError, match="at least"):
        model.loss(latents(3), None, lengths=torch.tensor([20, 3, 20]))
    with pytest.raises(BackboneInputError, match="whole number"):
        model.velocity(latents(1, 6), 0.5)


# --- sampling ---------------------------------------------------------------------------------

def test_velocity_items_are_independent_and_conditions_matter():
    model = randomized()
    x, cond = latents(), conditions()
    t = torch.tensor([0.1, 0.4, 0.7])
    with torch.no_grad():
        batched = model.velocity(x, t, cond)
        other = x.clone()
        other[1] += 1.0
        changed = model.velocity(other, t, cond)
        torch.testing.assert_close(changed[[0, 2]], batched[[0, 2]], atol=1e-5, rtol=1e-5)
        assert not torch.allclose(changed[1], batched[1])
        assert not torch.allclose(model.velocity(x, t, None), batched)
        padded = attrs.evolve(cond, text=cond.text.clone())
        padded.text[0, 3:] += 5.0  # masked-out text tokens must not matter
        torch.testing.assert_close(model.velocity(x, t, padded), batched)


def test_guided_model_first_rows_see_nothing_so_paper_guidance_is_cfg_with_w2():
    model = randomized()
    cond = conditions()
    guided = model.guided_model(cond, batch_size=3)
    x = latents().repeat(3, 1, 1)
    t = torch.full((9,), 0.3)
    rows = torch.tensor([int(Condition.NONE)] * 3 + [int(Condition.FIRST)] * 3
                        + [int(Condition.ALL)] * 3)
    with torch.no_grad():
        out = guided(x, t, rows)
        torch.testing.assert_close(out[:3], out[3:6])
        torch.testing.assert_close(out[6:], model.velocity(x[:3], t[:3], cond), atol=1e-4,
                                   rtol=1e-4)
        torch.testing.assert_close(model.velocity(x[:3], t[:3], None), out[:3], atol=1e-4,
                                   rtol=1e-4)
        x3, t3 = latents(), torch.full((3,), 0.6)
        torch.testing.assert_close(multi_condition_guidance(guided, 1.4, 3.0)(x3, t3),
                                   classifier_free_guidance(guided, 3.0)(x3, t3),
                                   atol=1e-4, rtol=1e-4)


def test_generate_shapes_determinism_and_crop():
    model = randomized()
    cond = conditions()
    first = model.generate(18, cond, sampler=sampler(), batch_size=3,
                           generator=torch.Generator().manual_seed(7))
    again = model.generate(18, cond, sampler=sampler(), batch_size=3,
                           generator=torch.Generator().manual_seed(7))
    assert first.shape == (3, 18, 8) and torch.isfinite(first).all()
    assert torch.equal(first, again)
    other = model.generate(18, cond, sampler=sampler(), batch_size=3,
                           generator=torch.Generator().manual_seed(8))
    assert not torch.equal(first, other)
    with pytest.raises(BackboneInputError, match="positive integer"):
        model.generate(0, sampler=sampler())
