"""Preference pairs, the flow-matching DPO loss, and the backbone's per-item loss for it."""

from __future__ import annotations

import copy
import math

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from odpo_helpers import conditions, latents, make_model

from swansphere.nn.conditions import BackboneInputError
from swansphere.plugins.odpo.loss import (
    PairScorer,
    flow_dpo_loss,
    preference_pairs,
    velocity_divergence,
)

# ------------------------------------------------------------------------------------ pairs


def test_best_worst_pair_and_ties():
    assert preference_pairs(torch.tensor([0.1, 0.9, -0.3, 0.5])) == [(1, 2)]
    assert preference_pairs(torch.tensor([0.2, 0.2, 0.2])) == []
    assert preference_pairs(torch.tensor([0.1, 0.3]), margin=0.5) == []
    assert preference_pairs(torch.tensor([0.1, 0.9]), margin=0.5) == [(1, 0)]


def test_margin_pairs_are_widest_first_and_capped():
    rewards = torch.tensor([0.0, 1.0, 0.4])
    assert preference_pairs(rewards, mode="margin", margin=0.3) == [(1, 0), (1, 2), (2, 0)]
    assert preference_pairs(rewards, mode="margin", margin=0.5) == [(1, 0), (1, 2)]
    assert preference_pairs(rewards, mode="margin", margin=0.3, max_pairs=1) == [(1, 0)]
    with pytest.raises(ValueError, match="mode"):
        preference_pairs(rewards, mode="all")


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.floats(-1, 1), min_size=2, max_size=8), st.floats(0, 0.5))
def test_every_pair_prefers_the_higher_reward_by_the_margin(values, margin):
    rewards = torch.tensor(values)
    for mode in ("best-worst", "margin"):
        for winner, loser in preference_pairs(rewards, mode=mode, margin=margin):
            gap = float(rewards[winner] - rewards[loser])
            assert gap > 0 and gap >= margin - 1e-6


# ------------------------------------------------------------------------------------ loss


def test_dpo_loss_is_log_two_at_the_reference_with_gradient_beta_over_four():
    policy_w = torch.tensor([0.7, 0.2], requires_grad=True)
    policy_l = torch.tensor([0.5, 0.9], requires_grad=True)
    terms = flow_dpo_loss(policy_w, policy_l, policy_w.detach(), policy_l.detach(), beta=8.0)
    assert torch.allclose(terms.loss, torch.full((2,), math.log(2)))
    terms.loss.sum().backward()
    assert torch.allclose(policy_w.grad, torch.full((2,), 2.0))     # +β/4: lower L_w
    assert torch.allclose(policy_l.grad, torch.full((2,), -2.0))    # -β/4: raise L_l
    metrics = terms.metrics()
    assert metrics["implicit_accuracy"] == 0.0 and metrics["implicit_kl"] == 0.0


@settings(max_examples=30, deadline=None, derandomize=True)
@given(gap_w=st.floats(-1, 1), gap_l=st.floats(-1, 1), step=st.floats(0.01, 1))
def test_fitting_the_winner_better_lowers_the_loss(gap_w, gap_l, step):
    reference = torch.tensor([1.0])

    def loss(winner_gap: float, loser_gap: float) -> float:
        return float(flow_dpo_loss(reference + winner_gap, reference + loser_gap, reference,
                                   reference, beta=2.0).loss)

    assert loss(gap_w - step, gap_l) < loss(gap_w, gap_l)
    assert loss(gap_w, gap_l + step) < loss(gap_w, gap_l)


# ------------------------------------------------------------------------------------ backbone


def test_per_item_losses_average_to_the_mean_loss():
    model = make_model()
    x, cond = latents(3, 4, model), conditions(3, model)
    per_item = model.loss(x, cond, torch.Generator().manual_seed(5), reduction="none",
                          patch_keep_ratio=1.0)
    mean = model.loss(x, cond, torch.Generator().manual_seed(5), patch_keep_ratio=1.0)
    default = model.loss(x, cond, torch.Generator().manual_seed(5))
    explicit = model.loss(x, cond, torch.Generator().manual_seed(5), reduction="mean")
    assert per_item.shape == (3,)
    assert torch.allclose(per_item.mean(), mean, rtol=1e-5)
    assert torch.equal(default, explicit)
    with pytest.raises(BackboneInputError, match="reduction"):
        model.loss(x, cond, reduction="sum")
    with pytest.raises(BackboneInputError, match="patch_keep_ratio"):
        model.loss(x, cond, patch_keep_ratio=0.0)


def test_without_condition_dropout_the_conditions_always_count():
    model = make_model()
    dropped = attrs.evolve(model.config, text_dropout=1.0, video_dropout=1.0, h_dropout=1.0,
                           context_dropout=1.0)
    model.config = dropped
    x = latents(2, 3, model)
    first, other = conditions(2, model, seed=1), conditions(2, model, seed=2)

    def loss(cond, dropout: bool) -> torch.Tensor:
        return model.loss(x, cond, torch.Generator().manual_seed(0), reduction="none",
                          condition_dropout=dropout, patch_keep_ratio=1.0)

    assert torch.equal(loss(first, True), loss(other, True))      # everything dropped
    assert not torch.allclose(loss(first, False), loss(other, False))


def test_pair_scoring_shares_noise_times_and_patches():
    model = make_model()
    scorer = PairScorer(model, patch_keep_ratio=0.5)
    x = latents(2, 4, model)
    cond = conditions(2, model)
    with torch.no_grad():
        same_w, same_l = scorer(x, x.clone(), cond, seed=7)
        assert torch.equal(same_w, same_l)      # identical clips, identical draws
        w, l_ = scorer(x, x + 0.5, cond, seed=7)
        assert torch.equal(w, same_w)           # the winner's draws ignore the loser
        other_w, _ = scorer(x, x, cond, seed=8)
    assert not torch.equal(other_w, same_w)
    assert not torch.equal(w, l_)


def test_several_noise_draws_average_draws_taken_in_turn_and_quiet_the_loss():
    model = make_model()
    x, cond = latents(2, 4, model), conditions(2, model)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(5)
        single = [model.loss(x, cond, generator, reduction="none", condition_dropout=False,
                             patch_keep_ratio=1.0)
                  for _ in range(3)]
        averaged, _ = PairScorer(model, noise_draws=3)(x, x, cond, seed=5)
        torch.testing.assert_close(averaged, torch.stack(single).mean(0))

        def spread(draws: int) -> float:  # across seeds, of a pair's loss difference
            scorer = PairScorer(model, noise_draws=draws)
            gaps = [torch.sub(*scorer(x, x + 0.2, cond, seed=seed)) for seed in range(24)]
            return float(torch.stack(gaps).std(dim=0).mean())

        assert spread(8) < 0.6 * spread(1)


def test_dpo_through_the_backbone_log_two_at_start_zero_gradient_for_equal_clips():
    policy = make_model()
    reference = copy.deepcopy(policy).requires_grad_(False)
    scorer, frozen = PairScorer(policy), PairScorer(reference)
    x, cond = latents(2, 3, policy), conditions(2, policy)

    def dpo(winners, losers):
        policy_w, policy_l = scorer(winners, losers, cond, seed=3)
        with torch.no_grad():
            reference_w, reference_l = frozen(winners, losers, cond, seed=3)
        return flow_dpo_loss(policy_w, policy_l, reference_w, reference_l, beta=50.0).loss.mean()

    same = dpo(x, x)
    assert float(same.detach()) == pytest.approx(math.log(2), abs=1e-6)
    same.backward()
    assert all(p.grad is None or float(p.grad.abs().max()) < 1e-6 for p in policy.parameters())
    policy.zero_grad()
    losers = x + 0.3 * latents(2, 3, policy, seed=9)
    loss = dpo(x, losers)
    assert float(loss.detach()) == pytest.approx(math.log(2), abs=1e-6)
    loss.backward()
    with torch.no_grad():
        for parameter in policy.parameters():
            if parameter.grad is not None:
                parameter -= 1e-3 * parameter.grad
    assert float(dpo(x, losers).detach()) < math.log(2)   # one step towards the winner lowers it


def test_velocity_divergence_is_zero_for_the_reference_and_grows_with_drift():
    policy = make_model()
    reference = copy.deepcopy(policy)
    x, cond = latents(2, 3, policy), conditions(2, policy)
    generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert velocity_divergence(policy, reference, x, cond, generator()) == 0.0
    with torch.no_grad():
        for parameter in policy.locdit.parameters():
            parameter.add_(0.01)
    small = velocity_divergence(policy, reference, x, cond, generator())
    with torch.no_grad():
        for parameter in policy.locdit.parameters():
            parameter.add_(0.05)
    assert 0.0 < small < velocity_divergence(policy, reference, x, cond, generator())
