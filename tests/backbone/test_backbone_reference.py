"""Streaming equals training, patch by patch: what generation feeds LocDiT (``h_t`` and the
context of previous patches) is what the teacher-forced training forward feeds it.

The reference is built by hand from the whole sequence (:func:`reference_context`: the
patches just before ``t``, in time order), not by the code under test, so a context that is
reversed, stale, shifted by one patch or dropped fails here, at every context length (the
first patches of a stream have fewer previous patches than ``context_patches``).
"""

from __future__ import annotations

import pytest
import torch
from backbone_helpers import (
    RecordingSampler,
    conditions,
    latents,
    make_model,
    reference_context,
    reference_guided_velocity,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.plugins.causal_dit.generation import generate
from swansphere.samplers.config import GuidanceConfig

PATCHES = 6


@settings(max_examples=12, deadline=None)
@given(chunks=st.lists(st.integers(1, 3), min_size=1, max_size=PATCHES),
       context_patches=st.integers(1, 3), window=st.sampled_from([0, 2, 4]))
def test_streamed_h_and_context_equal_the_sequence_for_any_chunking(chunks, context_patches,
                                                                     window):
    model = make_model(context_patches=context_patches, attention_window=window)
    total = sum(chunks)
    x, cond = latents(2, total + 1, model, seed=3), conditions(2, model)
    frames = model.patch_frames
    with torch.no_grad():
        expected_h = model.hidden_states(x, cond)
        h, state = model.step(None, model.init_state(2, cond))
        streamed = [h]
        done = 0
        for size in chunks:
            context, valid = reference_context(model, x, done)
            torch.testing.assert_close(model.pad_context(model.context(state), 2, x),
                                       (context, valid), atol=0, rtol=0)
            h, state = model.step(x[:, done * frames:(done + size) * frames], state)
            streamed.append(h)
            done += size
        context, valid = reference_context(model, x, done)
        torch.testing.assert_close(model.pad_context(model.context(state), 2, x),
                                   (context, valid), atol=0, rtol=0)
    torch.testing.assert_close(torch.cat(streamed, 1), expected_h[:, :total + 1],
                               atol=1e-5, rtol=1e-4)


def test_training_feeds_locdit_the_teacher_forced_h_and_the_previous_patches():
    model = make_model(patch_keep_ratio=1.0, context_patches=2)
    x, cond = latents(1, PATCHES, model, seed=4), conditions(1, model)
    seen = []
    model.locdit.register_forward_hook(lambda _m, args, _out: seen.append(args))
    with torch.no_grad():
        expected_h = model.hidden_states(x, cond)[0]
        model.loss(x, cond, torch.Generator().manual_seed(0), condition_dropout=False)
    [(_, _, h, h_keep, context, context_valid, _)] = seen
    assert h_keep.all() and h.shape[0] == PATCHES
    steps = torch.cdist(h, expected_h).argmin(1)  # which patch each LocDiT row trains
    assert sorted(steps.tolist()) == list(range(PATCHES))
    for row, step in enumerate(steps.tolist()):
        torch.testing.assert_close(h[row], expected_h[step], atol=1e-5, rtol=1e-4)
        reference, valid = reference_context(model, x, step)
        assert torch.equal(context_valid[row], valid[0]), step
        torch.testing.assert_close(context[row][valid[0]], reference[0][valid[0]])


@pytest.mark.parametrize("context_patches", [1, 2, 3])
def test_generation_integrates_the_training_time_guided_velocity(context_patches):
    """Each patch's sampled field equals, at probe points, the hand-made guided combination
    of training-time LocDiT branches on the generated sequence (w1 ≠ w2)."""
    model = make_model(context_patches=context_patches, attention_window=3)
    cond = conditions(2, model)
    w1, w2 = 1.7, 3.2
    sampler = RecordingSampler(swansphere.create("sampler", {"type": "euler", "steps": 2}))
    out = generate(model, sampler, PATCHES, conditions=cond, batch_size=2,
                   guidance=GuidanceConfig(w1=w1, w2=w2),
                   generator=torch.Generator().manual_seed(1))
    probe = torch.Generator().manual_seed(2)
    with torch.inference_mode():
        h = model.hidden_states(out, cond)
        for patch, field in enumerate(sampler.fields):
            x = torch.randn(2, model.patch_frames, model.latent_dim, generator=probe)
            t = torch.rand(2, generator=probe)
            expected = reference_guided_velocity(model, out, h[:, patch], patch, x, t, w1, w2)
            torch.testing.assert_close(field(x, t), expected, atol=1e-4, rtol=1e-4)
    assert len(sampler.fields) == PATCHES
