"""Conformance suite for samplers (:class:`swansphere.protocols.Sampler`).

Every built-in sampler passes it, and a third-party sampler should too. Two ways to use it:

- subclass :class:`SamplerConformance` in a pytest module and implement ``make_sampler``
  (set ``stochastic = True`` for a sampler that draws noise)::

      from swansphere.testing.samplers import SamplerConformance

      class TestMySampler(SamplerConformance):
          def make_sampler(self):
              return MySampler(steps=8)

- or call :func:`check_sampler` (or one ``check_*`` function) on an instance.

What is checked, on tiny CPU tensors:

1. the protocol: ``sample`` and ``nfe`` exist; ``nfe(steps)`` is a positive int;
2. exact counting: one call evaluates ``velocity`` exactly ``nfe(steps)`` times, with
   ``t`` of shape ``(batch,)`` in [0, 1], in the noise's dtype and device;
3. determinism: the same generator seed gives bit-identical output; the global RNG is never
   touched; a deterministic sampler ignores the generator, a stochastic one depends on it and
   refuses to run without one (:class:`swansphere.SwanSphereError`);
4. no state between calls: calls with other shapes, dtypes and step counts in between leave
   the output bit-identical;
5. shape and dtype (float32 and float64) are preserved; the noise is not modified in place;
6. batch rows are independent: perturbing one row's noise leaves the other rows unchanged,
   and (deterministic samplers) each row of a batch equals sampling it alone;
7. consistency (deterministic samplers): a constant velocity c carries noise to noise + c,
   which also catches solvers that write into the velocity's output;
8. a late start, for a sampler that offers ``sample_from(velocity, x, start, steps,
   generator)`` (optional; what a pipeline's ``exemplar_anchor`` needs): times start at
   ``start``, the rest lies in (start, 1]; ``x`` is not modified; a constant velocity c carries
   x to x + (1 − start)·c (deterministic samplers); a start outside [0, 1) is refused; and,
   with ``late_start(velocity, noise, start)`` too, that it is noise + start·c.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from swansphere.errors import SwanSphereError
from swansphere.protocols import Sampler, Velocity

STEP_COUNTS = (1, 2, 3, 5, 8)
SHAPES = ((3,), (2, 5), (2, 3, 4))


def smooth_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A nonlinear, time-dependent field that acts on each element (so rows never mix)."""
    time = t.reshape(-1, *([1] * (x.dim() - 1)))
    return torch.sin(x) * (1 + time) - 0.5 * x + time


class CountingVelocity:
    """Wraps a velocity field; records every call's ``x`` and ``t`` metadata."""

    def __init__(self, field: Velocity = smooth_velocity) -> None:
        self.field = field
        self.calls: list[tuple[torch.Size, torch.dtype, torch.Size, torch.dtype, torch.Tensor]]
        self.calls = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.shape, x.dtype, t.shape, t.dtype, t.detach().clone()))
        return self.field(x, t)

    @property
    def count(self) -> int:
        return len(self.calls)


def make_noise(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float64
               ) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _generator(seed: int = 1234) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _run(sampler: Sampler, noise: torch.Tensor, steps: int | None = 4, seed: int = 1234,
         velocity: Velocity = smooth_velocity) -> torch.Tensor:
    return sampler.sample(velocity, noise, steps, generator=_generator(seed))


def check_protocol(sampler: Any) -> None:
    assert isinstance(sampler, Sampler), (
        f"{type(sampler).__name__} must define sample(velocity, noise, steps, generator) and "
        "nfe(steps)")
    for steps in STEP_COUNTS:
        count = sampler.nfe(steps)
        assert isinstance(count, int) and count >= 1, f"nfe({steps}) = {count!r}: want int >= 1"


def check_evaluation_count(sampler: Sampler) -> None:
    noise = make_noise((3, 2))
    for steps in (*STEP_COUNTS, None):
        velocity = CountingVelocity()
        _run(sampler, noise, steps, velocity=velocity)
        assert velocity.count == sampler.nfe(steps), (
            f"steps={steps}: velocity evaluated {velocity.count} times, nfe() says "
            f"{sampler.nfe(steps)}")


def check_time_arguments(sampler: Sampler) -> None:
    for dtype in (torch.float32, torch.float64):
        noise = make_noise((3, 2), dtype=dtype)
        velocity = CountingVelocity()
        _run(sampler, noise, 5, velocity=velocity)
        for x_shape, x_dtype, t_shape, t_dtype, t in velocity.calls:
            assert x_shape == noise.shape and x_dtype == dtype, (
                f"velocity got x {tuple(x_shape)} {x_dtype}, want {tuple(noise.shape)} {dtype}")
            assert t_shape == (noise.shape[0],) and t_dtype == dtype, (
                f"velocity got t {tuple(t_shape)} {t_dtype}, want ({noise.shape[0]},) {dtype}")
            assert bool(((t >= 0) & (t <= 1)).all()), f"t outside [0, 1]: {t.tolist()}"


def check_determinism(sampler: Sampler, *, stochastic: bool = False) -> None:
    noise = make_noise((4, 3))
    rng_state = torch.random.get_rng_state()
    first = _run(sampler, noise, seed=7)
    again = _run(sampler, noise, seed=7)
    assert torch.equal(torch.random.get_rng_state(), rng_state), (
        "the sampler used the global RNG; draw from the generator argument")
    assert torch.equal(first, again), "same generator seed gave different outputs"
    other_seed = _run(sampler, noise, seed=8)
    if stochastic:
        assert not torch.equal(first, other_seed), "stochastic sampler ignored its generator"
        try:
            sampler.sample(smooth_velocity, noise, 4, generator=None)
        except SwanSphereError:
            return
        raise AssertionError("a stochastic sampler ran without a generator; raise a "
                             "SwanSphereError that asks for one")
    assert torch.equal(first, other_seed), "deterministic sampler depends on the generator"
    unseeded = sampler.sample(smooth_velocity, noise, 4, generator=None)
    assert torch.equal(first, unseeded), "deterministic sampler differs without a generator"


def check_no_state_between_calls(sampler: Sampler) -> None:
    noise = make_noise((3, 2))
    reference = _run(sampler, noise, 4)
    _run(sampler, make_noise((5, 3, 2), seed=1), 7)
    _run(sampler, make_noise((1,), seed=2, dtype=torch.float32), 1)
    _run(sampler, make_noise((2, 2), seed=3), 2)
    assert torch.equal(_run(sampler, noise, 4), reference), (
        "output changed after calls with other shapes or step counts: state leaks between calls")


def check_shape_and_dtype(sampler: Sampler) -> None:
    for dtype in (torch.float32, torch.float64):
        for shape in SHAPES:
            noise = make_noise(shape, dtype=dtype)
            original = noise.clone()
            out = _run(sampler, noise, 3)
            assert out.shape == noise.shape, f"shape {tuple(out.shape)}, want {shape}"
            assert out.dtype == dtype, f"dtype {out.dtype}, want {dtype}"
            assert out.device == noise.device
            assert bool(torch.isfinite(out).all()), "non-finite output"
            assert torch.equal(noise, original), "the sampler modified the noise in place"


def check_batch_independence(sampler: Sampler, *, stochastic: bool = False) -> None:
    noise = make_noise((4, 3))
    batched = _run(sampler, noise)
    perturbed = noise.clone()
    perturbed[0] += 1.0
    moved = _run(sampler, perturbed)
    torch.testing.assert_close(moved[1:], batched[1:], msg="changing one row changed others")
    assert not torch.equal(moved[0], batched[0]), "output ignores the noise"
    if stochastic:
        return
    for row in range(noise.shape[0]):
        alone = _run(sampler, noise[row:row + 1])
        torch.testing.assert_close(alone[0], batched[row],
                                   msg=f"row {row} sampled alone differs from the batch")


def check_constant_velocity(sampler: Sampler) -> None:
    noise = make_noise((3, 4))
    constant = torch.linspace(-1.0, 2.0, 12, dtype=noise.dtype).reshape(3, 4)
    kept = constant.clone()
    out = _run(sampler, noise, 5, velocity=lambda x, t: constant)
    assert torch.equal(constant, kept), "the sampler modified the velocity's output in place"
    torch.testing.assert_close(out, noise + constant,
                               msg="a constant velocity c must carry noise to noise + c")


def check_sample_from(sampler: Any, *, stochastic: bool = False) -> None:
    """The late start of a sampler with ``sample_from`` (check 8)."""
    x = make_noise((3, 4))
    kept = x.clone()
    constant = torch.linspace(-1.0, 2.0, 12, dtype=x.dtype).reshape(3, 4)
    for start in (0.0, 0.3, 0.75):
        counting = CountingVelocity()
        sampler.sample_from(counting, x, start, 4, generator=_generator(7))
        times = torch.cat([call[4] for call in counting.calls])
        assert counting.calls and float(times.min()) >= start - 1e-6, (
            f"sample_from(start={start}) evaluated the velocity before its start")
        assert float(times.max()) <= 1.0
        assert torch.equal(x, kept), "sample_from modified its starting sample in place"
        if not stochastic:
            out = sampler.sample_from(lambda y, t: constant, x, start, 3)
            torch.testing.assert_close(out, x + (1.0 - start) * constant, msg=(
                "a constant velocity c must carry x at start s to x + (1 - s)·c"))
    for start in (-0.1, 1.0, float("nan")):
        with pytest.raises(SwanSphereError):
            sampler.sample_from(smooth_velocity, x, start, 3, generator=_generator(7))
    if hasattr(sampler, "late_start"):
        torch.testing.assert_close(sampler.late_start(lambda y, t: constant, x, 0.4),
                                   x + 0.4 * constant, msg="late_start(c) must be noise + start·c")


def check_sampler(sampler: Sampler, *, stochastic: bool = False) -> None:
    """Run every check on ``sampler``; raises AssertionError on the first failure."""
    check_protocol(sampler)
    check_evaluation_count(sampler)
    check_time_arguments(sampler)
    check_determinism(sampler, stochastic=stochastic)
    check_no_state_between_calls(sampler)
    check_shape_and_dtype(sampler)
    check_batch_independence(sampler, stochastic=stochastic)
    if not stochastic:
        check_constant_velocity(sampler)
    if hasattr(sampler, "sample_from"):
        check_sample_from(sampler, stochastic=stochastic)


class SamplerConformance:
    """pytest mixin: subclass as ``Test...``, implement :meth:`make_sampler`."""

    stochastic: ClassVar[bool] = False
    """Set to True for a sampler that draws noise from its generator."""

    def make_sampler(self) -> Sampler:
        raise NotImplementedError("implement make_sampler() to return the sampler under test")

    def test_follows_protocol(self) -> None:
        check_protocol(self.make_sampler())

    def test_counts_velocity_evaluations_exactly(self) -> None:
        check_evaluation_count(self.make_sampler())

    def test_passes_batch_times(self) -> None:
        check_time_arguments(self.make_sampler())

    def test_deterministic_under_explicit_generator(self) -> None:
        check_determinism(self.make_sampler(), stochastic=self.stochastic)

    def test_keeps_no_state_between_calls(self) -> None:
        check_no_state_between_calls(self.make_sampler())

    def test_preserves_shape_and_dtype(self) -> None:
        check_shape_and_dtype(self.make_sampler())

    def test_batch_rows_are_independent(self) -> None:
        check_batch_independence(self.make_sampler(), stochastic=self.stochastic)

    def test_constant_velocity_is_integrated_exactly(self) -> None:
        if self.stochastic:
            pytest.skip("a stochastic sampler does not follow a constant velocity exactly")
        check_constant_velocity(self.make_sampler())

    def test_starts_late_from_a_given_sample(self) -> None:
        sampler = self.make_sampler()
        if not hasattr(sampler, "sample_from"):
            pytest.skip("the sampler offers no sample_from (optional)")
        check_sample_from(sampler, stochastic=self.stochastic)
