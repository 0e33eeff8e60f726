"""The conformance suite fails samplers that break each rule (so it can fail at all)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from swansphere.testing import samplers as suite


class Euler:
    """A minimal correct sampler, the base of the broken ones below."""

    def nfe(self, steps: int | None = None) -> int:
        return steps or 4

    def sample(self, velocity, noise, steps=None, generator=None):
        steps = steps or 4
        x = noise
        for i in range(steps):
            t = torch.full((noise.shape[0],), i / steps, dtype=noise.dtype)
            x = x + velocity(x, t) / steps
        return x


class MiscountedEuler(Euler):
    def nfe(self, steps=None):
        return (steps or 4) + 1


class CountingEuler(Euler):
    """Keeps a call counter and lets it change the result: hidden state."""

    def __init__(self) -> None:
        self.calls = 0

    def sample(self, velocity, noise, steps=None, generator=None):
        self.calls += 1
        return super().sample(velocity, noise, steps) + 1e-3 * self.calls


class GlobalNoiseEuler(Euler):
    def sample(self, velocity, noise, steps=None, generator=None):
        return super().sample(velocity, noise, steps) + 0.01 * torch.randn(noise.shape,
                                                                           dtype=noise.dtype)


class RowMixingEuler(Euler):
    def sample(self, velocity, noise, steps=None, generator=None):
        x = super().sample(velocity, noise, steps)
        return x - 0.1 * x.mean(0, keepdim=True)


class InPlaceEuler(Euler):
    def sample(self, velocity, noise, steps=None, generator=None):
        steps = steps or 4
        for i in range(steps):
            t = torch.full((noise.shape[0],), i / steps, dtype=noise.dtype)
            noise += velocity(noise, t) / steps
        return noise


class Float32Euler(Euler):
    def sample(self, velocity, noise, steps=None, generator=None):
        return super().sample(velocity, noise, steps).float()


class ScalarTimeEuler(Euler):
    def sample(self, velocity, noise, steps=None, generator=None):
        steps = steps or 4
        x = noise
        for i in range(steps):
            x = x + velocity(x, torch.tensor(i / steps, dtype=noise.dtype)) / steps
        return x


class InconsistentEuler(Euler):
    def sample(self, velocity, noise, steps=None, generator=None):
        steps = steps or 4
        x = noise
        for i in range(steps):
            t = torch.full((noise.shape[0],), i / steps, dtype=noise.dtype)
            x = x + 0.9 * velocity(x, t) / steps
        return x


class NoGeneratorNeededNoise(Euler):
    """Stochastic, but silently falls back to the global RNG without a generator."""

    def sample(self, velocity, noise, steps=None, generator=None):
        kick = torch.randn(noise.shape, generator=generator, dtype=noise.dtype)
        return super().sample(velocity, noise, steps) + 0.01 * kick


def test_a_correct_sampler_passes() -> None:
    suite.check_sampler(Euler())


@pytest.mark.parametrize(
    ("sampler", "check"),
    [
        (MiscountedEuler(), suite.check_evaluation_count),
        (CountingEuler(), suite.check_no_state_between_calls),
        (GlobalNoiseEuler(), suite.check_determinism),
        (RowMixingEuler(), suite.check_batch_independence),
        (InPlaceEuler(), suite.check_shape_and_dtype),
        (Float32Euler(), suite.check_shape_and_dtype),
        (ScalarTimeEuler(), suite.check_time_arguments),
        (InconsistentEuler(), suite.check_constant_velocity),
        (object(), suite.check_protocol),
    ],
    ids=lambda value: type(value).__name__ if not callable(value) else value.__name__,
)
def test_each_check_catches_its_violation(sampler: object, check: Callable) -> None:
    with pytest.raises(AssertionError):
        check(sampler)


def test_stochastic_sampler_must_refuse_to_run_without_a_generator() -> None:
    with pytest.raises(AssertionError, match="ran without a generator"):
        suite.check_determinism(NoGeneratorNeededNoise(), stochastic=True)


def test_deterministic_sampler_declared_stochastic_fails() -> None:
    with pytest.raises(AssertionError, match="ignored its generator"):
        suite.check_determinism(Euler(), stochastic=True)
