"""The causal-dit backbone: causality in every input, training loss, velocity and guidance."""

from __future__ import annotations

import attrs
import pytest
import torch
from backbone_helpers import VIDEO_FPS, conditions, latents, make_model, micro_config

from swansphere.conditioning.alignment import frame_times, patch_end_times
from swansphere.nn.conditions import BackboneInputError, Conditions
from swansphere.plugins.causal_dit.model import CausalDiT
from swansphere.samplers.guidance import Condition

PATCHES = 6


def video_cut(model, k: int) -> int:
    """Index of the first video frame that arrives after patch k ends."""
    end = float(patch_end_times(k, 1, model.patch_frames, model.frame_rate)[0])
    return int((frame_times(64, VIDEO_FPS) <= end + 1e-9).sum())


@pytest.mark.parametrize("k", [0, 2, 4])
def test_later_patches_and_frames_leave_earlier_h_unchanged(k: int) -> None:
    model = make_model()
    x, cond = latents(2, PATCHES, model), conditions(2, model)
    with torch.no_grad():
        h = model.hidden_states(x, cond)
        changed_x = x.clone()
        changed_x[:, k * model.patch_frames:] += 1.0  # patch k on: h_{k+1} on may change
        cut = video_cut(model, k)
        video = cond.video.clone()
        video[:, cut:] = -video[:, cut:]
        changed = attrs.evolve(cond, video=video)
        other = model.hidden_states(changed_x, changed)
    torch.testing.assert_close(other[:, :k + 1], h[:, :k + 1], atol=0, rtol=0)
    assert not torch.allclose(other[:, k + 1:], h[:, k + 1:])


def test_hidden_history_leaves_h_to_the_conditions() -> None:
    """``history=False`` is what ``history_dropout`` trains: the start token at every position,
    so the audio's values cannot matter, while text and video still do."""
    model = make_model()
    x, cond = latents(1, PATCHES, model), conditions(1, model)
    with torch.no_grad():
        heard = model.hidden_states(x, cond)
        hidden = model.hidden_states(x, cond, history=False)
        other_audio = model.hidden_states(x + torch.randn_like(x), cond, history=False)
        other_text = model.hidden_states(x, attrs.evolve(cond, text=cond.text + 0.5),
                                         history=False)
    torch.testing.assert_close(other_audio, hidden, atol=0, rtol=0)
    torch.testing.assert_close(hidden[:, 0], heard[:, 0])      # nothing heard before patch 0
    assert ((hidden[:, 1:] - heard[:, 1:]).abs().amax(-1) > 1e-4).all()
    assert ((other_text - hidden).abs().amax(-1) > 1e-4).all()
    assert ((hidden[:, 1:] - hidden[:, :-1]).abs().amax(-1) > 1e-6).all()  # video reaches h


def test_a_frame_before_the_patch_end_does_change_h() -> None:
    model = make_model()
    x, cond = latents(1, PATCHES, model), conditions(1, model)
    cut = video_cut(model, 2)
    video = cond.video.clone()
    video[:, cut - 1] += 1.0  # the frame patch 2 sees
    with torch.no_grad():
        h = model.hidden_states(x, cond)
        other = model.hidden_states(x, attrs.evolve(cond, video=video))
    assert not torch.allclose(other[:, 2], h[:, 2])


def test_text_is_global_it_changes_every_h() -> None:
    model = make_model()
    x, cond = latents(1, PATCHES, model), conditions(1, model)
    with torch.no_grad():
        h = model.hidden_states(x, cond)
        other = model.hidden_states(x, attrs.evolve(cond, text=cond.text + 0.5))
        untexted = model.hidden_states(x, attrs.evolve(cond, text=None, text_mask=None))
    assert ((other - h).abs().amax(-1) > 1e-4).all()
    assert ((untexted - h).abs().amax(-1) > 1e-4).all()


@pytest.mark.parametrize("summary", [True, False])
def test_the_text_summary_reaches_every_h_without_cross_attention(summary: bool) -> None:
    model = make_model(text_summary=summary)
    with torch.no_grad():
        for block in model.lm.blocks:
            block.cross.o_proj.weight.zero_()  # the text's only way in is the summary, if any
    x, cond = latents(1, PATCHES, model), conditions(1, model)
    with torch.no_grad():
        h = model.hidden_states(x, cond)
        other = model.hidden_states(x, attrs.evolve(cond, text=cond.text + 0.5))
    changed = (other - h).abs().amax(-1) > 1e-4
    assert changed.all() if summary else not changed.any()


def test_the_text_summary_of_dropped_or_absent_text_is_its_null() -> None:
    """Guidance drops text per item: the dropped item's summary must be the one of no text."""
    model = make_model()
    cond = conditions(2, model)
    with torch.no_grad():
        dropped = model._text_memory(cond, 2, drop=torch.tensor([True, False])).summary
        absent = model._text_memory(None, 2).summary
        present = model._text_memory(cond, 2).summary
    torch.testing.assert_close(dropped[0], absent[0])
    torch.testing.assert_close(dropped[1], present[1])
    assert not torch.allclose(present[0], absent[0])


def test_padding_tokens_of_the_text_are_ignored() -> None:
    model = make_model()
    x, cond = latents(1, PATCHES, model), conditions(1, model)
    padded = cond.text.clone()
    padded[:, -1] = 100.0  # the masked-off token
    with torch.no_grad():
        h = model.hidden_states(x, cond)
        other = model.hidden_states(x, attrs.evolve(cond, text=padded))
    torch.testing.assert_close(other, h)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_gradient_of_h_k_is_zero_on_later_patches_and_frames(k: int) -> None:
    model = make_model()
    x = latents(1, PATCHES, model).requires_grad_(True)
    cond = conditions(1, model)
    video = cond.video.clone().requires_grad_(True)
    h = model.hidden_states(x, attrs.evolve(cond, video=video))
    x_grad, video_grad = torch.autograd.grad(h[:, k].square().sum(), (x, video))
    per_patch = x_grad.abs().sum(-1).view(PATCHES, model.patch_frames).sum(-1)
    assert (per_patch[k:] == 0).all() and (per_patch[:k] > 0).all()
    per_frame = video_grad.abs().sum(-1)[0]
    cut = video_cut(model, k)
    assert (per_frame[cut:] == 0).all() and per_frame[cut - 1] > 0


def test_live_video_pushed_frame_by_frame_equals_offline_video() -> None:
    model = make_model(attention_window=3)
    x, cond = latents(2, PATCHES, model), conditions(2, model, frames=10)
    frames, times = cond.video, cond.video_times
    with torch.no_grad():
        expected = model.hidden_states(x, cond)
        state = model.init_state(2, attrs.evolve(cond, video=None, video_times=None))
        outputs, pushed = [], 0
        for patch in range(PATCHES):
            end = float(patch_end_times(patch, 1, model.patch_frames, model.frame_rate)[0])
            arrived = int((times <= end + 1e-9).sum())
            if arrived > pushed:
                state = model.push_video(state, frames[:, pushed:arrived],
                                         times[pushed:arrived])
                pushed = arrived
            previous = None if patch == 0 else x[:, (patch - 1) * 2:patch * 2]
            h, state = model.step(previous, state)
            outputs.append(h)
            assert state.video.frames <= 2  # frames no later patch needs are dropped
    torch.testing.assert_close(torch.cat(outputs, 1), expected, atol=1e-5, rtol=1e-4)


def test_pushing_frames_out_of_order_is_an_error() -> None:
    model = make_model()
    state = model.init_state(1, conditions(1, model, frames=3))
    with pytest.raises(BackboneInputError, match="non-decreasing"):
        model.push_video(state, torch.zeros(1, 1, 7), torch.tensor([0.1]))


def test_packed_ragged_batch_equals_each_item_alone() -> None:
    model = make_model(attention_window=2)
    x, cond = latents(2, PATCHES, model), conditions(2, model)
    lengths = torch.tensor([PATCHES * 2, 7])  # 6 patches and 3 whole patches
    with torch.no_grad():
        packed = model.hidden_states(x, cond, lengths=lengths)
        first = model.hidden_states(x[:1], _item(cond, 0))
        second = model.hidden_states(x[1:, :6], _item(cond, 1))
    torch.testing.assert_close(packed[:1], first, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[1:, :3], second, atol=1e-5, rtol=1e-4)
    assert (packed[1, 3:] == 0).all()


def _item(cond: Conditions, index: int) -> Conditions:
    return Conditions(text=cond.text[index:index + 1], text_mask=cond.text_mask[index:index + 1],
                      video=cond.video[index:index + 1], video_times=cond.video_times)


def test_loss_is_deterministic_per_generator_and_trains_every_part() -> None:
    model = make_model().train()
    x, cond = latents(2, PATCHES, model), conditions(2, model)
    loss = model.loss(x, cond, torch.Generator().manual_seed(3))
    again = model.loss(x, cond, torch.Generator().manual_seed(3))
    other = model.loss(x, cond, torch.Generator().manual_seed(4))
    assert loss.item() == again.item() != other.item()
    loss.backward()
    for part in ("lm", "caption", "text_summary", "video", "locenc", "locdit"):
        grads = [p.grad for p in getattr(model, part).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), part
    assert model.start.grad.abs().sum() > 0


def test_loss_accepts_ragged_lengths_and_missing_conditions() -> None:
    model = make_model()
    x = latents(3, PATCHES, model)
    loss = model.loss(x, None, torch.Generator().manual_seed(0), lengths=torch.tensor([12, 4, 9]))
    assert torch.isfinite(loss)
    with pytest.raises(BackboneInputError, match="at least"):
        model.loss(x, None, lengths=torch.tensor([12, 1, 9]))


class _Oracle(torch.nn.Module):
    """A LocDiT that knows the clean patch: it returns ``sign · (x1 − noise)`` given
    ``x_t = t·x1 + (1 − t)·noise``."""

    def __init__(self, clean: torch.Tensor, sign: float) -> None:
        super().__init__()
        self.clean, self.sign = clean, sign

    def forward(self, noisy, t, *_conditions):
        t = t[:, None, None]
        noise = (noisy - t * self.clean) / (1 - t)
        return self.sign * (self.clean - noise)


def test_loss_is_rectified_flow_on_the_current_patch() -> None:
    model = make_model(patch_keep_ratio=1.0, h_dropout=0.0, context_dropout=0.0)
    x = latents(1, 1, model)  # one patch: the one the loss must be about
    generator = torch.Generator().manual_seed(1)
    model.locdit = _Oracle(x.view(1, model.patch_frames, -1), 1.0)
    assert model.loss(x, None, generator).item() < 1e-8
    model.locdit = _Oracle(x.view(1, model.patch_frames, -1), -1.0)
    assert model.loss(x, None, generator).item() > 0.1


@pytest.mark.parametrize("history_dropout", [0.0, 1.0])
def test_history_dropout_hides_the_audio_history(history_dropout: float) -> None:
    model = make_model(history_dropout=history_dropout, patch_keep_ratio=1.0, h_dropout=0.0,
                       context_dropout=0.0)
    seen = []
    model.locdit.register_forward_hook(lambda _m, args, _out: seen.append(args))
    x = latents(1, 3, model)
    louder = x.clone()
    louder[:, :model.patch_frames] += 1.0  # another first patch, the same later ones
    for clip in (x, louder):
        model.loss(clip, None, torch.Generator().manual_seed(0))
    (_, _, h, _, _, context_valid, _), (_, _, louder_h, *_) = seen
    if history_dropout:
        assert torch.equal(h, louder_h) and not context_valid.any()
    else:
        assert not torch.allclose(h, louder_h) and context_valid.any()


def test_history_noise_blurs_the_history_each_item_its_own_level_never_the_target(
        monkeypatch: pytest.MonkeyPatch) -> None:
    noise = 0.5
    model = make_model(history_noise=noise, patch_keep_ratio=1.0, context_patches=1)
    monkeypatch.setattr(model, "_sample_times",  # t = 1: LocDiT's input is its target
                        lambda count, _generator, device: torch.ones(count, device=device))
    seen = []
    model.locdit.register_forward_hook(lambda _m, args, _out: seen.append(args))
    batch, patches = 4, 12
    x = latents(batch, patches, model)
    with torch.no_grad():
        model.loss(x, None, torch.Generator().manual_seed(0), condition_dropout=False)
        clean_h = model.hidden_states(x)
    [(targets, _, h, _, context, context_valid, _)] = seen
    clean = x.view(batch, patches, model.patch_frames, -1)
    item, step = [], []
    for target in targets:  # each LocDiT target is one clean patch, bit for bit
        [(found_item, found_step)] = (clean == target).all(-1).all(-1).nonzero().tolist()
        item.append(found_item)
        step.append(found_step)
    item, step = torch.tensor(item), torch.tensor(step)
    assert not torch.allclose(h, clean_h[item, step])  # the LM heard noisy patches
    has_context = context_valid.all(-1)
    blur = (context - clean[item, (step - 1).clamp(min=0)])[has_context]
    levels = torch.stack([blur[item[has_context] == i].std() for i in range(batch)])
    assert (levels > 0.01).all() and (levels < noise * 1.15).all()
    assert levels.max() - levels.min() > 0.05  # drawn per item, not one level for all


def _targets_of(model: CausalDiT, x: torch.Tensor, **loss_args) -> list[tuple]:
    """``(item, step)`` of every patch LocDiT was trained on in one ``loss`` call (at t = 1
    its input is its clean target; every patch of ``x`` is distinct)."""
    seen = []
    hook = model.locdit.register_forward_hook(lambda _m, args, _out: seen.append(args))
    with torch.no_grad():
        model.loss(x, None, torch.Generator().manual_seed(0), **loss_args)
    hook.remove()
    clean = x.view(x.shape[0], -1, model.patch_frames, x.shape[-1])
    return [tuple((clean == target).all(-1).all(-1).nonzero()[0].tolist())
            for target in seen[0][0]], seen[0]


def test_given_patches_are_history_never_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(patch_keep_ratio=1.0, history_dropout=1.0, h_dropout=0.0,
                       context_dropout=0.0)
    monkeypatch.setattr(model, "_sample_times",
                        lambda count, _generator, device: torch.ones(count, device=device))
    x = latents(3, 5, model)
    given = torch.tensor([2, 0, 4])
    targets, (_, _, h, _, _, context_valid, _) = _targets_of(model, x, given_patches=given)
    assert sorted(targets) == [(0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4),
                               (2, 4)]
    # A prompted item always hears its prompt: history dropout (here every item) spares it.
    primed = torch.tensor([item != 1 for item, _ in targets])
    first_of_primed = torch.tensor([item != 1 and step == given[item] for item, step in targets])
    assert context_valid[first_of_primed].any(-1).all() and not context_valid[~primed].any()
    louder = x.clone()
    louder[:, :model.patch_frames] += 1.0  # another first patch: the prompt's, for item 0
    _, (_, _, louder_h, *_) = _targets_of(model, louder, given_patches=given)
    changed = ~torch.isclose(h, louder_h).all(-1)
    assert changed.tolist() == primed.tolist()


def test_given_patches_stay_clean_under_history_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(patch_keep_ratio=1.0, history_noise=0.5, context_patches=1,
                       h_dropout=0.0, context_dropout=0.0)
    monkeypatch.setattr(model, "_sample_times",
                        lambda count, _generator, device: torch.ones(count, device=device))
    x = latents(2, 4, model)
    clean = x.view(2, 4, model.patch_frames, -1)
    targets, (_, _, _, _, context, context_valid, _) = _targets_of(
        model, x, given_patches=torch.tensor([2, 2]))
    for row, (item, step) in enumerate(targets):
        previous = clean[item, step - 1]
        assert context_valid[row].all()
        # The prompt's last patch (step 1) is clean context; the model's own (step 2) is not.
        assert torch.equal(context[row], previous) == (step - 1 < 2)


def test_given_patches_must_leave_a_patch_to_learn_from() -> None:
    model = make_model()
    x = latents(2, 3, model)
    for bad in (torch.tensor([0, 3]), torch.tensor([-1, 0]), torch.tensor([1.0, 0.0]),
                torch.tensor([1])):
        with pytest.raises(BackboneInputError, match="given_patches"):
            model.loss(x, None, torch.Generator().manual_seed(0), given_patches=bad)


def test_a_heard_history_feeds_the_stream_and_the_clip_stays_the_target(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model(patch_keep_ratio=1.0, context_patches=1, h_dropout=0.0,
                       context_dropout=0.0)
    monkeypatch.setattr(model, "_sample_times",
                        lambda count, _generator, device: torch.ones(count, device=device))
    x = latents(2, 4, model)
    heard = x + 1.0
    targets, (_, _, h, _, context, _, _) = _targets_of(model, x, history=heard)
    assert sorted(targets) == [(item, step) for item in range(2) for step in range(4)]
    own = heard.view(2, 4, model.patch_frames, -1)
    for row, (item, step) in enumerate(targets):
        if step:
            assert torch.equal(context[row], own[item, step - 1])
    with torch.no_grad():
        torch.testing.assert_close(h, model.hidden_states(heard)[tuple(zip(*targets, strict=True))])
    with pytest.raises(BackboneInputError, match="history must have the shape"):
        model.loss(x, None, torch.Generator().manual_seed(0), history=heard[:1])


def test_patch_keep_ratio_sets_how_many_patches_train_locdit() -> None:
    model = make_model(patch_keep_ratio=0.6)
    calls = []
    model.locdit.register_forward_hook(lambda _m, args, _out: calls.append(args[0].shape[0]))
    model.loss(latents(2, 5, model), None, torch.Generator().manual_seed(0))
    assert calls == [6]  # 60 % of 2 × 5 patches


def test_velocity_branches_match_guided_model_rows() -> None:
    model = make_model()
    x = latents(2, 1, model)
    h = torch.randn(2, model.h_dim, generator=torch.Generator().manual_seed(0))
    context = latents(2, 2, model, seed=5)
    t = torch.tensor([0.3, 0.8])
    guided = model.guided_model(h, context)
    rows = torch.tensor([Condition.NONE] * 2 + [Condition.FIRST] * 2 + [Condition.ALL] * 2)
    with torch.no_grad():
        stacked = guided(x.repeat(3, 1, 1), t.repeat(3), rows)
        expected = torch.cat([model.velocity(x, t, None, None),
                              model.velocity(x, t, None, context),
                              model.velocity(x, t, h, context)])
    torch.testing.assert_close(stacked, expected, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(expected[:2], expected[2:4])
    assert not torch.allclose(expected[2:4], expected[4:])


def test_short_context_is_padded_with_null_frames() -> None:
    model = make_model()
    x = latents(1, 1, model)
    context = latents(1, 2, model, seed=2)
    t = torch.tensor([0.5])
    with torch.no_grad():
        partial = model.velocity(x, t, None, context[:, -2:])  # one patch of two
        full = model.velocity(x, t, None, context)
        none = model.velocity(x, t, None, context[:, :0])
        dropped = model.velocity(x, t, None, None)
    assert not torch.allclose(partial, full)
    torch.testing.assert_close(none, dropped)
    with pytest.raises(BackboneInputError, match="context"):
        model.velocity(x, t, None, latents(1, 3, model))


def test_stream_misuse_raises_clear_errors() -> None:
    model = make_model()
    state = model.init_state(1)
    with pytest.raises(BackboneInputError, match="first step"):
        model.step(latents(1, 1, model), state)
    _, state = model.step(None, state)
    with pytest.raises(BackboneInputError, match="only starts"):
        model.step(None, state)
    with pytest.raises(BackboneInputError, match="shape"):
        model.step(torch.zeros(1, 3, model.latent_dim), state)
    with pytest.raises(BackboneInputError, match="latents"):
        model.hidden_states(torch.zeros(1, 4, 5))


@pytest.mark.parametrize("window", [{}, {"attention_window": 3}])
def test_priming_in_one_pass_is_the_start_then_the_prompt(window) -> None:
    """``prime`` is ``step(None)`` then ``step(prompt)`` in one LM pass (what a stream that
    continues a prompt costs on a CPU): the same ``h`` for every patch, the same context, and
    a state that steps on as the two-call one does (a window shorter than the prompt too)."""
    model = make_model(**window)
    prompt, following = latents(2, 4, model), latents(2, 1, model, seed=5)
    with torch.no_grad():
        started, two_calls = model.step(None, model.init_state(2, conditions(2, model)))
        prompted, two_calls = model.step(prompt, two_calls)
        h, one_pass = model.prime(model.init_state(2, conditions(2, model)), prompt)
        torch.testing.assert_close(h, torch.cat((started, prompted), 1), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.context(one_pass), model.context(two_calls))
        later, _ = model.step(following, one_pass)
        expected, _ = model.step(following, two_calls)
    torch.testing.assert_close(later, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(h[:, -1], h[:, -2])  # the prompt's patches reach h


def test_priming_needs_a_fresh_state() -> None:
    model = make_model()
    _, state = model.step(None, model.init_state(1))
    with pytest.raises(BackboneInputError, match="fresh state"):
        model.prime(state, latents(1, 2, model))
    with pytest.raises(BackboneInputError, match="shape"):
        model.prime(model.init_state(1), torch.zeros(1, 3, model.latent_dim))


def test_conditions_are_validated() -> None:
    model = make_model()
    with pytest.raises(BackboneInputError, match="video_times"):
        Conditions(video=torch.zeros(1, 2, 7))
    with pytest.raises(BackboneInputError, match="text_mask"):
        Conditions(text_mask=torch.ones(1, 2, dtype=torch.bool))
    bad_dim = Conditions(text=torch.zeros(1, 2, 4))
    with pytest.raises(BackboneInputError, match=r"\(1, n, 5\)"):
        model.init_state(1, bad_dim)
    backwards = Conditions(video=torch.zeros(1, 2, 7), video_times=torch.tensor([0.5, 0.1]))
    with pytest.raises(BackboneInputError, match="non-decreasing"):
        model.init_state(1, backwards)


def test_state_snapshot_is_independent_and_detached() -> None:
    model = make_model(attention_window=3)
    state = model.init_state(1, conditions(1, model))
    _, state = model.step(None, state)
    _, state = model.step(latents(1, 1, model), state)
    snapshot = state.clone()
    assert snapshot.cache.keys[0].data_ptr() != state.cache.keys[0].data_ptr()
    assert not snapshot.cache.keys[0].requires_grad
    with torch.no_grad():
        h, _ = model.step(latents(1, 1, model, seed=9), state)
        again, _ = model.step(latents(1, 1, model, seed=9), snapshot)
    assert torch.equal(h, again)


def test_a_prompt_stepped_under_autocast_fills_the_ring_as_one_patch_at_a_time_does() -> None:
    """Priming a stream steps several patches at once; under CPU bfloat16 autocast their keys
    are 16-bit and go into the float32 ring as the one-patch path stores them."""
    model = make_model(attention_window=4)
    prompt = latents(1, 3, model)
    frames = model.patch_frames
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        _, together = model.step(None, model.init_state(1, conditions(1, model)))
        _, together = model.step(prompt, together)
        _, one_by_one = model.step(None, model.init_state(1, conditions(1, model)))
        for k in range(3):
            _, one_by_one = model.step(prompt[:, k * frames:(k + 1) * frames], one_by_one)
    for stored, expected in zip(together.cache.keys + together.cache.values,
                                one_by_one.cache.keys + one_by_one.cache.values, strict=True):
        assert stored.dtype == torch.float32
        torch.testing.assert_close(stored, expected, atol=0.05, rtol=0.05)


def test_conditions_from_conditioner_tokens() -> None:
    from swansphere.conditioning.types import ConditionTokens

    model = make_model()
    cond = conditions(2, model)
    times = cond.video_times.expand(2, -1)
    rebuilt = Conditions.from_tokens(
        text=ConditionTokens(tokens=cond.text, mask=cond.text_mask),
        video=ConditionTokens(tokens=cond.video, mask=torch.ones(times.shape, dtype=torch.bool),
                              times=times))
    x = latents(2, 3, model)
    with torch.no_grad():
        torch.testing.assert_close(model.hidden_states(x, rebuilt), model.hidden_states(x, cond))


@pytest.mark.parametrize("distribution", ["uniform", "logit-normal"])
def test_time_shift_warps_the_training_times_as_the_shifted_grid(distribution: str) -> None:
    plain = make_model(time_distribution=distribution)
    noisier = make_model(time_distribution=distribution, time_shift=0.25)
    times = plain._sample_times(4096, torch.Generator().manual_seed(0), torch.device("cpu"))
    warped = noisier._sample_times(4096, torch.Generator().manual_seed(0), torch.device("cpu"))
    torch.testing.assert_close(warped, 0.25 * times / (1 - 0.75 * times))
    assert warped.median() < 0.5 * times.median()  # most of the training at high noise


def test_the_patch_mean_head_adds_one_vector_to_every_frames_velocity() -> None:
    """Zero at first (a model gains the head without changing what it samples), then the
    same vector on every frame of a patch, read from ``h`` or, where dropped, the null token."""
    plain = make_model()
    headed = make_model(patch_mean_weight=1.0)
    missing, _ = headed.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["locdit.mean_head.bias", "locdit.mean_head.weight"]
    fresh = CausalDiT(micro_config(patch_mean_weight=1.0)).locdit.mean_head
    assert not fresh.weight.any() and not fresh.bias.any()
    with torch.no_grad():
        headed.locdit.mean_head.weight.zero_()     # make_model perturbs every parameter
        headed.locdit.mean_head.bias.zero_()
    x, t = torch.randn(3, 2, 6), torch.tensor([0.1, 0.5, 0.9])
    h, keep = torch.randn(3, 32), torch.tensor([True, False, True])
    context, valid = torch.randn(3, 4, 6), torch.ones(3, 4, dtype=torch.bool)
    with torch.no_grad():
        base = plain.locdit(x, t, h, keep, context, valid)
        torch.testing.assert_close(headed.locdit(x, t, h, keep, context, valid), base)
        headed.locdit.mean_head.weight.normal_()
        headed.locdit.mean_head.bias.normal_()
        shifted = headed.locdit(x, t, h, keep, context, valid) - base
        mean = headed.locdit.patch_mean(h, keep)
        torch.testing.assert_close(shifted, mean.unsqueeze(1).expand_as(shifted))
        null = headed.locdit.mean_head(headed.locdit.null_h)
    torch.testing.assert_close(mean[1], null)
    assert not torch.allclose(mean[0], mean[2])
    with pytest.raises(RuntimeError, match="patch_mean"):
        plain.locdit.patch_mean(h, keep)


def test_the_patch_mean_loss_fits_the_head_to_each_patchs_mean_at_its_weight() -> None:
    """Every patch repeats one frame pattern whose mean is m: with the head's output m the
    extra term vanishes, with anything else it grows with the weight."""
    frames_pattern = torch.randn(2, 6)             # patch_frames = 2
    x = frames_pattern.repeat(2, PATCHES, 1)       # (2, PATCHES·2, 6)
    pattern_mean = frames_pattern.mean(0)

    def loss(weight: float, bias: torch.Tensor) -> float:
        model = make_model(patch_mean_weight=weight)
        with torch.no_grad():
            model.locdit.mean_head.weight.zero_()
            model.locdit.mean_head.bias.copy_(bias)
        return model.loss(x, None, torch.Generator().manual_seed(5)).item()

    assert loss(1.0, pattern_mean) == pytest.approx(loss(3.0, pattern_mean), abs=1e-6)
    first_frame = frames_pattern[0]
    extra_1 = loss(1.0, first_frame) - loss(1.0, pattern_mean)
    extra_3 = loss(3.0, first_frame) - loss(3.0, pattern_mean)
    assert extra_1 > 0.01
    # the flow term moves with the bias too (it is added to the velocity); the mean term is
    # (first_frame - pattern_mean)² averaged, times the weight
    gap = (first_frame - pattern_mean).square().mean().item()
    assert extra_3 - extra_1 == pytest.approx(2 * gap, rel=1e-4)
