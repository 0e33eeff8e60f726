"""Time grids: endpoints, monotonicity, the cosine formula, the shift, the late start."""

from __future__ import annotations

import math
import re
from itertools import pairwise

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere import ConfigError
from swansphere.samplers import GRIDS, time_grid
from swansphere.testing.samplers import CountingVelocity

grid_names = st.sampled_from(sorted(GRIDS))
shifts = st.floats(min_value=0.05, max_value=20.0)
starts = st.floats(min_value=0.0, max_value=0.95)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(steps=st.integers(1, 300), grid=grid_names, shift=shifts, start=starts)
def test_grid_rises_strictly_from_start_to_one(steps: int, grid: str, shift: float,
                                                start: float) -> None:
    times = time_grid(steps, grid, shift=shift if grid == "shifted" else None, start=start)
    assert len(times) == steps + 1
    assert times[0] == start and times[-1] == 1.0
    assert all(a < b for a, b in pairwise(times))


def test_uniform_and_cosine_formulas() -> None:
    steps = 20
    assert time_grid(steps, "uniform") == pytest.approx([i / steps for i in range(steps + 1)],
                                                        abs=1e-15)
    expected = [0.5 * (1 - math.cos(math.pi * i / steps)) for i in range(steps + 1)]
    assert time_grid(steps, "cosine") == pytest.approx(expected, abs=1e-15)


def test_cosine_grid_is_symmetric_with_small_steps_at_both_ends() -> None:
    times = time_grid(20, "cosine")
    steps = [b - a for a, b in pairwise(times)]
    assert steps == pytest.approx(steps[::-1], abs=1e-12)
    assert steps[0] < steps[10] and steps[-1] < steps[10]


def test_shift_one_is_uniform() -> None:
    assert time_grid(10, "shifted", shift=1.0) == pytest.approx(time_grid(10, "uniform"),
                                                                abs=1e-15)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(steps=st.integers(2, 100), low=shifts, high=shifts)
def test_larger_shift_moves_every_point_towards_the_data_end(steps: int, low: float,
                                                             high: float) -> None:
    low, high = sorted((low, high))
    lower = time_grid(steps, "shifted", shift=low)
    higher = time_grid(steps, "shifted", shift=high)
    assert all(a <= b for a, b in zip(lower, higher, strict=True))


def test_shift_above_one_puts_more_steps_near_the_data_end() -> None:
    def near_data(times: tuple[float, ...]) -> int:
        return sum(t >= 0.8 for t in times)

    uniform, shifted = time_grid(20, "uniform"), time_grid(20, "shifted", shift=3.0)
    assert near_data(shifted) > near_data(uniform)
    steps = [b - a for a, b in pairwise(shifted)]
    assert steps == sorted(steps, reverse=True), "steps shrink towards t = 1"
    assert steps[-1] == pytest.approx(1 / 20 / 3, rel=0.1), "dt/ds = 1/shift at the data end"


def test_shifted_grid_defaults_to_shift_three() -> None:
    assert time_grid(8, "shifted") == time_grid(8, "shifted", shift=3.0)


def test_late_start_maps_the_grid_affinely() -> None:
    base = time_grid(10, "cosine")
    late = time_grid(10, "cosine", start=0.25)
    assert late == pytest.approx([0.25 + 0.75 * t for t in base], abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be an integer >= 1"),
        ({"steps": True}, "steps must be an integer >= 1"),
        ({"steps": 4, "grid": "karras"}, "unknown grid 'karras'"),
        ({"steps": 4, "grid": "cosine", "shift": 2.0}, "shift applies only to grid = 'shifted'"),
        ({"steps": 4, "grid": "shifted", "shift": 0.0}, "shift must be a finite number > 0"),
        ({"steps": 4, "grid": "shifted", "shift": math.nan}, "shift must be a finite number"),
        ({"steps": 4, "start": 1.0}, "start must lie in [0, 1)"),
        ({"steps": 4, "start": -0.1}, "start must lie in [0, 1)"),
    ],
)
def test_bad_grid_arguments_raise_config_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        time_grid(**kwargs)


@pytest.mark.parametrize("grid", sorted(GRIDS))
def test_euler_evaluates_the_velocity_at_the_grid_times(grid: str) -> None:
    sampler = swansphere.create("sampler", {"type": "euler", "grid": grid, "steps": 6})
    velocity = CountingVelocity()
    sampler.sample(velocity, torch.zeros(2, 3, dtype=torch.float64))
    seen = [call[-1][0].item() for call in velocity.calls]
    assert seen == list(sampler.times()[:-1])
