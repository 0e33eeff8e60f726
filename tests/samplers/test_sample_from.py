"""``sample_from``: a sampler that starts from a given sample at a given time (SDEdit)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.samplers import GaussianFlow, HeldSampler, SamplingError

FLOW = GaussianFlow(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64),
                    torch.tensor([0.3, 1.0, 0.7], dtype=torch.float64))
NOISE = torch.randn(16, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(start=st.floats(0.0, 0.95), mix=st.floats(0.0, 1.0))
def test_rk4_follows_the_exact_flow_from_any_start(start: float, mix: float) -> None:
    sampler = swansphere.create("sampler", {"type": "rk4", "grid": "uniform"})
    x = start * (mix * NOISE + 1.0) + (1.0 - start) * NOISE     # any sample at time `start`
    torch.testing.assert_close(sampler.sample_from(FLOW.velocity, x, start, 64),
                               FLOW.solve(x, start), rtol=1e-5, atol=1e-5)


def test_starting_at_zero_is_sampling_without_a_late_start() -> None:
    sampler = swansphere.create("sampler", {"type": "heun", "grid": "cosine"})
    assert torch.equal(sampler.sample_from(FLOW.velocity, NOISE, 0.0, 5),
                       sampler.sample(FLOW.velocity, NOISE, 5))


def test_the_configured_late_start_is_not_added() -> None:
    late = swansphere.create("sampler", {"type": "euler", "grid": "uniform", "start": 0.4})
    plain = swansphere.create("sampler", {"type": "euler", "grid": "uniform"})
    assert torch.equal(late.sample_from(FLOW.velocity, NOISE, 0.6, 4),
                       plain.sample_from(FLOW.velocity, NOISE, 0.6, 4))


def test_a_held_sampler_keeps_a_late_start_inside_its_range() -> None:
    low, high = torch.full((3,), -0.2, dtype=torch.float64), torch.full((3,), 0.1,
                                                                         dtype=torch.float64)
    held = HeldSampler(swansphere.create("sampler", {"type": "euler"}), low, high)
    out = held.sample_from(FLOW.velocity, 0.5 * NOISE + 0.5, 0.5, 3)
    assert bool(((out >= low - 1e-9) & (out <= high + 1e-9)).all())


def test_a_held_sampler_over_one_without_sample_from_says_so() -> None:
    class FromNoiseOnly:
        def sample(self, velocity, noise, steps=None, generator=None):
            return noise + velocity(noise, torch.zeros(noise.shape[0], dtype=noise.dtype))

        def nfe(self, steps=None):
            return 1

    held = HeldSampler(FromNoiseOnly(), torch.zeros(3), torch.ones(3))
    with pytest.raises(SamplingError, match="sample_from"):
        held.sample_from(FLOW.velocity, NOISE, 0.5)
