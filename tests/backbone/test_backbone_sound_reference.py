"""A reference recording that LocDiT sees at every patch (``reference_frames``): which rows
and branches see it, in training, in the stream and in the fixed-shape step."""

from __future__ import annotations

import pytest
import torch
from backbone_helpers import conditions, latents, make_model
from test_backbone_captured import eager_stream, euler, fixed_shape_stream, noises

from swansphere.nn.conditions import BackboneInputError
from swansphere.plugins.causal_dit.captured import PatchStepper
from swansphere.plugins.causal_dit.model import HeadContext
from swansphere.samplers.guidance import Condition

FRAMES = 3


def reference_model(**changes):
    return make_model(reference_frames=FRAMES, **changes)


def recorded_calls(model) -> list[dict]:
    """LocDiT's keyword arguments, call by call."""
    calls: list[dict] = []
    model.locdit.register_forward_hook(
        lambda _module, _args, kwargs, _out: calls.append(kwargs), with_kwargs=True)
    return calls


def test_the_velocity_of_a_frame_is_read_from_its_own_noisy_token_not_the_reference() -> None:
    """With the transformer blocks switched off, a frame's velocity depends on that frame of
    the noisy patch alone: the output is read from the current patch's tokens, which the
    reference tokens follow."""
    model = reference_model()
    for block in model.locdit.blocks:
        torch.nn.init.zeros_(block.modulation.linear.weight)
        torch.nn.init.zeros_(block.modulation.linear.bias)
    x = torch.randn(2, model.patch_frames, model.latent_dim)
    h = torch.randn(2, model.h_dim)
    head = HeadContext(torch.randn(2, 1, model.latent_dim), torch.randn(2, FRAMES, 6),
                       torch.ones(2, dtype=torch.bool))
    other = HeadContext(head.frames, head.reference + 1.0, head.reference_valid)
    changed = x.clone()
    changed[:, 0] += 1.0
    with torch.no_grad():
        velocity = model.velocity(x, torch.full((2,), 0.5), h, head)
        other_reference = model.velocity(x, torch.full((2,), 0.5), h, other)
        other_frame = model.velocity(changed, torch.full((2,), 0.5), h, head)
    torch.testing.assert_close(other_reference, velocity, atol=0, rtol=0)
    assert not torch.allclose(other_frame[:, 0], velocity[:, 0])
    torch.testing.assert_close(other_frame[:, 1:], velocity[:, 1:], atol=0, rtol=0)


def test_a_reference_changes_the_velocity_and_an_invalid_one_is_the_null() -> None:
    model = reference_model()
    x, h = torch.randn(2, model.patch_frames, 6), torch.randn(2, model.h_dim)
    frames, reference = torch.randn(2, 2, 6), torch.randn(2, FRAMES, 6)
    t = torch.full((2,), 0.3)
    with torch.no_grad():
        none = model.velocity(x, t, h, frames)
        seen = model.velocity(x, t, h, HeadContext(frames, reference,
                                                   torch.tensor([True, False])))
        other = model.velocity(x, t, h, HeadContext(frames, -reference,
                                                    torch.tensor([True, False])))
    assert not torch.allclose(seen[0], none[0]) and not torch.allclose(other[0], seen[0])
    torch.testing.assert_close(seen[1], none[1], atol=0, rtol=0)
    torch.testing.assert_close(other[1], none[1], atol=0, rtol=0)


def test_guidance_shows_the_reference_to_the_rows_that_see_h_only() -> None:
    model = reference_model()
    calls = recorded_calls(model)
    batch = 2
    head = HeadContext(torch.randn(batch, 2, 6), torch.randn(batch, FRAMES, 6),
                       torch.tensor([True, False]))
    guided = model.guided_model(torch.randn(batch, model.h_dim), head)
    rows = torch.tensor([int(Condition.NONE)] * batch + [int(Condition.FIRST)] * batch
                        + [int(Condition.ALL)] * batch)
    with torch.no_grad():
        guided(torch.randn(3 * batch, model.patch_frames, 6), torch.full((3 * batch,), 0.5),
               rows)
    keep = calls[-1]["reference_keep"]
    assert keep.tolist() == [False, False, False, False, True, False]
    torch.testing.assert_close(calls[-1]["reference"][4], head.reference[0], atol=0, rtol=0)


@pytest.mark.parametrize("frames", [FRAMES, 0])
def test_the_unreferenced_branch_sees_everything_but_the_reference(frames: int) -> None:
    """``UNREFERENCED`` rows are ``ALL`` rows with the reference hidden (the null tokens):
    what reference guidance pulls away from; a backbone without a reference gives ``ALL``."""
    model = make_model(reference_frames=frames)
    batch = 2
    x, h = torch.randn(batch, model.patch_frames, 6), torch.randn(batch, model.h_dim)
    frames_before = torch.randn(batch, 2, 6)
    head = (HeadContext(frames_before, torch.randn(batch, FRAMES, 6),
                        torch.ones(batch, dtype=torch.bool)) if frames else frames_before)
    t = torch.full((2 * batch,), 0.5)
    rows = torch.tensor([int(Condition.ALL)] * batch + [int(Condition.UNREFERENCED)] * batch)
    with torch.no_grad():
        seen, unreferenced = model.guided_model(h, head)(x.repeat(2, 1, 1), t, rows).chunk(2)
        without = model.velocity(x, t[:batch], h, frames_before)
    torch.testing.assert_close(unreferenced, without, atol=1e-6, rtol=1e-5)
    assert (not torch.allclose(seen, without)) if frames else torch.allclose(seen, without)


def clean_targets(monkeypatch: pytest.MonkeyPatch, model) -> list[tuple]:
    """LocDiT's positional arguments, call by call, at t = 1 (its input is the clean patch)."""
    monkeypatch.setattr(model, "_sample_times",
                        lambda count, _generator, device: torch.ones(count, device=device))
    calls: list[tuple] = []
    model.locdit.register_forward_hook(lambda _m, args, _out: calls.append(args))
    return calls


def test_training_shows_each_patch_its_own_items_reference_hidden_with_h(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = reference_model(patch_keep_ratio=1.0, reference_dropout=0.0, h_dropout=0.5)
    calls, positional = recorded_calls(model), clean_targets(monkeypatch, model)
    batch, patches = 4, 5
    x = latents(batch, patches, model)
    reference = torch.randn(batch, FRAMES + 2, 6)  # longer than needed: its first frames
    valid = torch.tensor([True, True, False, True])
    model.loss(x, None, torch.Generator().manual_seed(0), reference=reference,
               reference_valid=valid)
    (targets, _, _, h_keep, *_), kwargs = positional[-1], calls[-1]
    clean = x.view(batch, patches, model.patch_frames, -1)
    items = torch.tensor([int((clean == target).all(-1).all(-1).nonzero()[0, 0])
                          for target in targets])
    torch.testing.assert_close(kwargs["reference"], reference[items, :FRAMES], atol=0, rtol=0)
    assert torch.equal(kwargs["reference_keep"], valid[items] & h_keep)
    assert h_keep.any() and not h_keep.all()


def test_reference_dropout_hides_whole_items(monkeypatch: pytest.MonkeyPatch) -> None:
    model = reference_model(patch_keep_ratio=1.0, reference_dropout=0.5, h_dropout=0.0)
    calls, positional = recorded_calls(model), clean_targets(monkeypatch, model)
    batch, patches = 64, 3
    x = latents(batch, patches, model)
    model.loss(x, None, torch.Generator().manual_seed(1), reference=torch.randn(batch, 3, 6))
    clean = x.view(batch, patches, model.patch_frames, -1)
    items = torch.tensor([int((clean == target).all(-1).all(-1).nonzero()[0, 0])
                          for target in positional[-1][0]])
    keep = calls[-1]["reference_keep"]
    per_item = torch.zeros(batch).index_add(0, items, keep.float()) / patches
    assert set(per_item.tolist()) == {0.0, 1.0}  # an item's patches all see it, or none
    assert 0.25 < per_item.mean() < 0.75
    model.loss(x, None, torch.Generator().manual_seed(1), reference=torch.randn(batch, 3, 6),
               condition_dropout=False)
    assert calls[-1]["reference_keep"].all()


def test_a_model_without_reference_frames_trains_as_before_and_refuses_one() -> None:
    x = latents(2, 4, make_model())
    losses = [make_model().loss(x, None, torch.Generator().manual_seed(3)) for _ in range(2)]
    with_option = make_model(reference_dropout=0.9).loss(x, None,
                                                         torch.Generator().manual_seed(3))
    torch.testing.assert_close(with_option, losses[0], atol=0, rtol=0)
    with pytest.raises(BackboneInputError, match="reference"):
        make_model().loss(x, None, reference=torch.randn(2, FRAMES, 6))
    model = make_model()
    with pytest.raises(BackboneInputError, match="reference"):
        model.with_reference(model.init_state(2), torch.randn(2, FRAMES, 6))


@pytest.mark.parametrize("reference, valid", [
    (torch.randn(2, FRAMES - 1, 6), None),      # too short
    (torch.randn(3, FRAMES, 6), None),          # another batch
    (torch.randn(2, FRAMES, 5), None),          # another latent size
    (torch.randn(2, FRAMES, 6), torch.ones(2)),  # validity not boolean
])
def test_malformed_references_are_refused(reference, valid) -> None:
    model = reference_model()
    with pytest.raises(BackboneInputError, match="reference"):
        model.with_reference(model.init_state(2), reference, valid)
    with pytest.raises(BackboneInputError, match="reference"):
        model.loss(latents(2, 3, model), None, reference=reference, reference_valid=valid)


def test_a_stream_keeps_its_reference_and_hands_it_to_locdit() -> None:
    model = reference_model()
    calls = recorded_calls(model)
    reference = torch.randn(2, FRAMES, 6)
    with torch.inference_mode():
        state = model.with_reference(model.init_state(2), reference,
                                     torch.tensor([True, False]))
        h, state = model.step(None, state)
        h, state = model.step(torch.randn(2, model.patch_frames, 6), state)
        copy = state.clone()
        model.guided_model(h[:, -1], model.context(copy))(
            torch.randn(2, model.patch_frames, 6), torch.full((2,), 0.5),
            torch.full((2,), int(Condition.ALL)))
    torch.testing.assert_close(calls[-1]["reference"], reference, atol=0, rtol=0)
    assert calls[-1]["reference_keep"].tolist() == [True, False]


@pytest.mark.parametrize("batch, patches, seed, guide", [(1, 4, 0, 0.0), (3, 7, 1, 0.0),
                                                         (3, 5, 2, 2.5)])
def test_the_fixed_shape_step_follows_the_reference_as_the_stream_does(
        batch: int, patches: int, seed: int, guide: float) -> None:
    model = reference_model(attention_window=3)
    cond = conditions(batch, model, seed=seed)
    draws = noises(batch, patches, model, seed)
    reference = torch.randn(batch, FRAMES, 6, generator=torch.Generator().manual_seed(seed))
    valid = torch.arange(batch) % 2 == 0
    init_state = model.init_state
    stepper = PatchStepper(model, euler(), w1=1.4, w2=3.0, reference=guide)
    with torch.inference_mode():
        plain = eager_stream(model, cond, batch, draws, 1.4, 3.0, guide)
        model.init_state = lambda *args: model.with_reference(init_state(*args), reference,
                                                              valid)
        expected = eager_stream(model, cond, batch, draws, 1.4, 3.0, guide)
        got = fixed_shape_stream(stepper, model, cond, batch, draws)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)
    assert not torch.allclose(expected[0], plain[0])
    if batch > 1:
        torch.testing.assert_close(expected[1], plain[1], atol=2e-5, rtol=1e-4)
