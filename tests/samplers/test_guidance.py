"""Guidance wrappers: one batched model call, the paper's formula, special cases."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere import ConfigError
from swansphere.samplers import (
    Condition,
    GaussianFlow,
    Guidance,
    GuidanceConfig,
    SamplingError,
    classifier_free_guidance,
    multi_condition_guidance,
)

DTYPE = torch.float64
PAPER_BRANCHES = (Condition.NONE, Condition.FIRST, Condition.ALL)


class ToyModel:
    """A different nonlinear velocity per condition; records every call."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.weights = torch.randn(len(Condition), 4, 4, generator=generator, dtype=DTYPE)
        self.biases = torch.randn(len(Condition), 4, generator=generator, dtype=DTYPE)
        self.calls: list[tuple[torch.Size, list[int]]] = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor, condition: torch.Tensor
                 ) -> torch.Tensor:
        self.calls.append((x.shape, condition.tolist()))
        mixed = torch.einsum("bi,bij->bj", x, self.weights[condition])
        return torch.tanh(mixed + self.biases[condition] * t[:, None])

    def branch(self, x: torch.Tensor, t: torch.Tensor, condition: Condition) -> torch.Tensor:
        return self(x, t, torch.full((x.shape[0],), int(condition), dtype=torch.long))


@pytest.fixture
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(5, 4, generator=generator, dtype=DTYPE)
    return x, torch.rand(5, generator=generator, dtype=DTYPE)


def test_multi_condition_is_one_batched_call_matching_three_separate_ones(inputs) -> None:
    x, t = inputs
    model = ToyModel()
    guided = multi_condition_guidance(model, 1.4, 3.0)(x, t)
    assert len(model.calls) == 1
    shape, selector = model.calls[0]
    assert shape == (15, 4)
    assert selector == [0] * 5 + [1] * 5 + [2] * 5
    v_u, v_c1, v_all = (model.branch(x, t, c) for c in PAPER_BRANCHES)
    expected = v_u + 1.4 * (v_c1 - v_u) + 3.0 * (v_all - v_c1)
    torch.testing.assert_close(guided, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(w1=st.floats(-3, 8), w2=st.floats(-3, 8))
def test_multi_condition_formula_for_any_weights(w1: float, w2: float) -> None:
    model = ToyModel()
    x = torch.linspace(-2, 2, 12, dtype=DTYPE).reshape(3, 4)
    t = torch.tensor([0.0, 0.4, 1.0], dtype=DTYPE)
    v_u, v_c1, v_all = (model.branch(x, t, c) for c in PAPER_BRANCHES)
    expected = v_u + w1 * (v_c1 - v_u) + w2 * (v_all - v_c1)
    torch.testing.assert_close(multi_condition_guidance(model, w1, w2)(x, t), expected,
                               rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(w1=st.floats(-3, 8), w2=st.floats(-3, 8), reference=st.floats(-4, 12))
def test_reference_guidance_adds_the_pull_of_the_reference(w1: float, w2: float,
                                                           reference: float) -> None:
    model = ToyModel()
    x = torch.linspace(-2, 2, 12, dtype=DTYPE).reshape(3, 4)
    t = torch.tensor([0.0, 0.4, 1.0], dtype=DTYPE)
    v_u, v_c1, v_all, v_unreferenced = (model.branch(x, t, c) for c in Condition)
    expected = (v_u + w1 * (v_c1 - v_u) + w2 * (v_all - v_c1)
                + reference * (v_all - v_unreferenced))
    guided = multi_condition_guidance(model, w1, w2, reference)
    torch.testing.assert_close(guided(x, t), expected, rtol=1e-10, atol=1e-10)
    assert (Condition.UNREFERENCED in guided.conditions) == (reference != 0)
    assert GuidanceConfig(w1=w1, w2=w2, reference=reference).wrap(model).coefficients == (
        guided.coefficients)


def test_classifier_free_guidance_formula(inputs) -> None:
    x, t = inputs
    model = ToyModel()
    v_u, v_c = model.branch(x, t, Condition.NONE), model.branch(x, t, Condition.ALL)
    torch.testing.assert_close(classifier_free_guidance(model, 4.5)(x, t),
                               v_u + 4.5 * (v_c - v_u), rtol=1e-12, atol=1e-12)


def test_equal_weights_reduce_to_classifier_free_guidance(inputs) -> None:
    x, t = inputs
    model = ToyModel()
    multi = multi_condition_guidance(model, 2.5, 2.5)
    assert multi.conditions == (Condition.NONE, Condition.ALL)
    torch.testing.assert_close(multi(x, t), classifier_free_guidance(model, 2.5)(x, t),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "branch"),
    [
        (lambda m: classifier_free_guidance(m, 0.0), Condition.NONE),
        (lambda m: classifier_free_guidance(m, 1.0), Condition.ALL),
        (lambda m: multi_condition_guidance(m, 0.0, 0.0), Condition.NONE),
        (lambda m: multi_condition_guidance(m, 1.0, 0.0), Condition.FIRST),
        (lambda m: multi_condition_guidance(m, 1.0, 1.0), Condition.ALL),
    ],
)
def test_weights_zero_and_one_give_one_branch_exactly(inputs, make, branch) -> None:
    x, t = inputs
    model = ToyModel()
    guided = make(model)(x, t)
    assert model.calls == [(x.shape, [int(branch)] * 5)], "only the needed branch runs"
    assert torch.equal(guided, model.branch(x, t, branch))


def test_guided_sampling_counts_one_model_call_per_evaluation() -> None:
    model = ToyModel()
    sampler = swansphere.create("sampler", {"type": "heun", "steps": 5, "start": 0.2})
    sampler.sample(multi_condition_guidance(model), torch.zeros(2, 4, dtype=DTYPE))
    assert len(model.calls) == sampler.nfe() == 11
    assert all(shape == (6, 4) for shape, _ in model.calls)


def test_guidance_of_gaussian_flows_is_the_flow_of_the_guided_mean() -> None:
    """v is affine in μ, so guidance of flows sharing σ is the flow to Σ c_k μ_k."""
    std = torch.tensor([0.5, 1.0], dtype=DTYPE)
    means = torch.tensor([[0.0, 0.0], [1.0, -1.0], [2.0, 0.5]], dtype=DTYPE)
    flows = [GaussianFlow(mean, std) for mean in means]

    def model(x: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        each = torch.stack([flow.velocity(x, t) for flow in flows])
        return each[condition, torch.arange(x.shape[0])]

    noise = torch.randn(6, 2, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    sampler = swansphere.create("sampler", {"type": "rk4", "steps": 32})
    out = sampler.sample(multi_condition_guidance(model, 1.4, 3.0), noise)
    guided_mean = (1 - 1.4) * means[0] + (1.4 - 3.0) * means[1] + 3.0 * means[2]
    torch.testing.assert_close(out, GaussianFlow(guided_mean, std).solve(noise),
                               rtol=0, atol=1e-6)


def test_guidance_config_defaults_are_the_papers(inputs) -> None:
    x, t = inputs
    model = ToyModel()
    config = GuidanceConfig()
    assert (config.w1, config.w2) == (1.4, 3.0)
    torch.testing.assert_close(config.wrap(model)(x, t), multi_condition_guidance(model)(x, t))
    with pytest.raises(ConfigError, match="w2 must be a finite number"):
        GuidanceConfig(w2=float("inf"))


@pytest.mark.parametrize(
    ("coefficients", "message"),
    [
        (((Condition.NONE, 0.5), (Condition.ALL, 0.6)), "must sum to 1"),
        (((Condition.ALL, 0.5), (Condition.ALL, 0.5)), "names a condition twice"),
        (((Condition.NONE, float("nan")), (Condition.ALL, 1.0)), "must be finite"),
    ],
)
def test_inconsistent_coefficients_are_config_errors(coefficients, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Guidance(ToyModel(), coefficients)


def test_model_returning_the_wrong_shape_is_reported(inputs) -> None:
    x, t = inputs
    with pytest.raises(SamplingError, match="one velocity per input row"):
        classifier_free_guidance(lambda x, t, c: x[:1], 2.0)(x, t)
