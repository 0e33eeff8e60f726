"""The sampler's prediction bound: each evaluation's clean prediction held inside [−b, b]."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere import ConfigError
from swansphere.config import SamplerSpec, dumps_toml, loads_toml
from swansphere.samplers import GaussianFlow, HeldSampler, SamplingError
from swansphere.samplers.solvers import bound_prediction

SOLVERS: list[dict[str, Any]] = [
    {"type": "euler"}, {"type": "heun"}, {"type": "midpoint"}, {"type": "rk4"},
    {"type": "adams_bashforth", "order": 2}, {"type": "adams_bashforth"},
    {"type": "euler_maruyama", "noise_scale": 0.0}, {"type": "euler", "start": 0.4},
]
NAMES = [str(sorted(config.items())) for config in SOLVERS]
NOISE = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _sample(config: dict[str, Any], flow: GaussianFlow, bound: float | None,
            steps: int = 6) -> torch.Tensor:
    sampler = swansphere.create("sampler", {**config, "prediction_bound": bound})
    return sampler.sample(flow.velocity, NOISE, steps)


def _flow(mean: float, std: float) -> GaussianFlow:
    return GaussianFlow(torch.full((3,), mean, dtype=torch.float64),
                        torch.full((3,), std, dtype=torch.float64))


@pytest.mark.parametrize("config", SOLVERS, ids=NAMES)
def test_a_bound_the_predictions_never_reach_changes_nothing(config) -> None:
    flow = _flow(0.5, 0.4)
    assert torch.equal(_sample(config, flow, bound=1e6), _sample(config, flow, bound=None))


@pytest.mark.parametrize("config", SOLVERS, ids=NAMES)
def test_samples_of_data_far_outside_the_bound_end_near_it(config) -> None:
    far = _flow(40.0, 0.1)
    unbounded, bounded = _sample(config, far, None), _sample(config, far, bound=3.0)
    assert unbounded.min() > 35.0
    assert bounded.abs().max() <= 3.0 * 1.05


@settings(max_examples=30, deadline=None, derandomize=True)
@given(mean=st.floats(-50, 50), std=st.floats(0.05, 5.0), bound=st.floats(0.1, 10.0),
       steps=st.integers(1, 8))
def test_euler_lands_inside_the_bound_for_any_flow(mean, std, bound, steps) -> None:
    # Euler's last step goes from t to 1, exactly onto the held prediction.
    samples = _sample({"type": "euler"}, _flow(mean, std), bound, steps)
    assert samples.abs().max() <= bound * (1 + 1e-9)


def test_the_velocity_changes_only_where_the_prediction_leaves_the_bound() -> None:
    x = torch.tensor([0.0, 1.0, -1.0, 2.0, 9.0], dtype=torch.float64)
    v = torch.tensor([1.0, 4.0, -4.0, 0.5, -13.0], dtype=torch.float64)
    held = bound_prediction(x, v, 0.5, -2.5, 2.5)        # predictions 0.5, 3, -3, 2.25, 2.5
    assert torch.equal(held[[0, 3, 4]], v[[0, 3, 4]])
    assert torch.equal(x[1:3] + 0.5 * held[1:3], torch.tensor([2.5, -2.5], dtype=torch.float64))


@pytest.mark.parametrize("bound", [0.0, -1.0, float("inf"), float("nan")])
def test_a_bound_must_be_a_positive_finite_number(bound: float) -> None:
    with pytest.raises(ConfigError, match="prediction_bound must be a finite number > 0"):
        swansphere.create("sampler", {"type": "euler", "prediction_bound": bound})


def test_the_bound_round_trips_through_toml() -> None:
    import attrs

    @attrs.frozen(kw_only=True)
    class Settings:
        sampler: SamplerSpec

    loaded = loads_toml('sampler = {type = "euler", steps = 3, prediction_bound = 4.0}', Settings)
    assert loads_toml(dumps_toml(loaded), Settings) == loaded
    assert swansphere.create("sampler", loaded.sampler).config.prediction_bound == 4.0
    unbounded = loads_toml('sampler = {type = "euler"}', Settings)
    assert "prediction_bound" not in dumps_toml(unbounded)


# ------------------------------------------------------------------ a range per dimension


def _held(config: dict[str, Any], low: torch.Tensor, high: torch.Tensor) -> HeldSampler:
    return HeldSampler(swansphere.create("sampler", config), low, high)


@pytest.mark.parametrize("config", SOLVERS, ids=NAMES)
def test_a_range_the_predictions_never_reach_changes_nothing(config) -> None:
    flow = _flow(0.5, 0.4)
    wide = _held(config, torch.full((3,), -1e6), torch.full((3,), 1e6))
    assert torch.equal(wide.sample(flow.velocity, NOISE, 6), _sample(config, flow, None))
    assert wide.nfe(6) == swansphere.create("sampler", config).nfe(6)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(means=st.lists(st.floats(-50, 50), min_size=3, max_size=3),
       lows=st.lists(st.floats(-10, 10), min_size=3, max_size=3),
       widths=st.lists(st.floats(0.0, 5.0), min_size=3, max_size=3),
       steps=st.integers(1, 8))
def test_euler_lands_inside_each_dimensions_range(means, lows, widths, steps) -> None:
    flow = GaussianFlow(torch.tensor(means, dtype=torch.float64),
                        torch.full((3,), 0.5, dtype=torch.float64))
    low = torch.tensor(lows, dtype=torch.float64)
    high = low + torch.tensor(widths, dtype=torch.float64)
    samples = _held({"type": "euler"}, low, high).sample(flow.velocity, NOISE, steps)
    assert bool(((samples >= low - 1e-9) & (samples <= high + 1e-9)).all())


def test_each_row_is_held_at_its_own_time() -> None:
    x = torch.tensor([[0.0, 3.0], [0.0, 3.0]], dtype=torch.float64)
    v = torch.tensor([[4.0, 0.0], [4.0, 0.0]], dtype=torch.float64)
    t = torch.tensor([0.5, 0.75], dtype=torch.float64)      # predictions 2, 3 and 1, 3
    low = torch.tensor([-1.0, 2.5], dtype=torch.float64)
    high = torch.tensor([1.5, 3.5], dtype=torch.float64)
    held = bound_prediction(x, v, t, low, high)
    assert torch.equal(x[0] + 0.5 * held[0], torch.tensor([1.5, 3.0], dtype=torch.float64))
    assert torch.equal(held[1], v[1])                         # row 1 is inside at t = 0.75
    at_the_end = bound_prediction(x, v, torch.ones(2, dtype=torch.float64), low, low)
    assert torch.equal(at_the_end, v)                          # t = 1 predicts nothing


def test_a_held_range_must_be_ordered() -> None:
    with pytest.raises(SamplingError, match="low <= high"):
        _held({"type": "euler"}, torch.ones(3), torch.zeros(3))
