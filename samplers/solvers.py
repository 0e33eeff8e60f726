"""Flow-matching ODE/SDE solvers, k-diffusion style.

Every sampler is an immutable object holding only its config: ``sample(velocity, noise, steps,
generator)`` integrates ``dx/dt = velocity(x, t)`` from t = 0 (noise) to t = 1 (data), the
rectified-flow convention x_t = t·x1 + (1 − t)·noise, v = x1 − noise. Nothing is kept between
calls, and ``nfe(steps)`` says exactly how many times one call evaluates ``velocity``.

``velocity`` receives ``x`` shaped like the noise and ``t`` of shape ``(batch,)`` in the noise's
dtype and device. Solvers run under the caller's autograd mode: wrap generation in
``torch.inference_mode()``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import attrs
import torch

from swansphere.errors import SwanSphereError
from swansphere.protocols import Velocity

from .config import AdamsBashforthConfig, EulerMaruyamaConfig, SolverConfig
from .grids import check_start, check_steps, time_grid


class SamplingError(SwanSphereError, ValueError):
    """A sampling call got unusable arguments (noise, steps, generator, velocity output)."""


class _Field:
    """``velocity`` seen by a solver: scalar time in, output checked against ``x`` and, with a
    ``bound``, its clean prediction held inside it. (A plain class: ``torch.compile`` traces
    its construction, which it cannot do for a frozen attrs class.)"""

    __slots__ = ("bound", "velocity")

    def __init__(self, velocity: Velocity, bound: float | None = None) -> None:
        self.velocity, self.bound = velocity, bound

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        times = torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)
        v = self.velocity(x, times)
        if not isinstance(v, torch.Tensor) or v.shape != x.shape:
            shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise SamplingError(f"velocity returned {shape} for x of shape {tuple(x.shape)}; "
                                "velocity(x, t) must return a tensor shaped like x")
        v = v.to(x.dtype)
        if self.bound is None or t >= 1.0:
            return v
        return bound_prediction(x, v, t, -self.bound, self.bound)


def bound_prediction(x: torch.Tensor, v: torch.Tensor, t: float | torch.Tensor,
                     low: float | torch.Tensor, high: float | torch.Tensor) -> torch.Tensor:
    """``v`` with the clean sample it predicts, x̂1 = x + (1 − t)·v, held inside [low, high]
    (numbers, or tensors that broadcast against ``x``: a range per latent dimension);
    unchanged (the same tensor values) where x̂1 is inside or t = 1. ``t`` is a number or one
    time per row ``(batch,)``, as a velocity receives it."""
    remaining = 1.0 - t
    if isinstance(remaining, torch.Tensor):
        remaining = remaining.to(x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    predicted = x + remaining * v
    held = predicted.clamp(low, high)
    keep = (predicted == held) | (remaining == 0)
    return torch.where(keep, v, (held - x) / remaining)


class HeldSampler:
    """Any sampler (the :class:`~swansphere.protocols.Sampler` protocol) whose velocity
    evaluations keep their clean prediction inside ``[low, high]`` per latent dimension (the
    training latents' range, docs/samplers.md): ``sample`` wraps the velocity and hands it to
    ``sampler``; every other attribute is ``sampler``'s. (A plain class, so that a compiled
    patch step can trace it.)"""

    def __init__(self, sampler: Any, low: torch.Tensor, high: torch.Tensor) -> None:
        if low.shape != high.shape or bool((low > high).any()):
            raise SamplingError("a held range needs low <= high, of one shape")
        self.sampler, self.low, self.high = sampler, low, high

    def sample(self, velocity: Velocity, noise: torch.Tensor, steps: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sampler.sample(self._held(velocity, noise), noise, steps,
                                   generator=generator)

    def sample_from(self, velocity: Velocity, x: torch.Tensor, start: float,
                    steps: int | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """:meth:`FlowSampler.sample_from` with the held velocity; a :class:`SamplingError`
        if the wrapped sampler cannot start late."""
        return self._wrapped("sample_from")(self._held(velocity, x), x, start, steps,
                                            generator=generator)

    def late_start(self, velocity: Velocity, noise: torch.Tensor, start: float) -> torch.Tensor:
        """:meth:`FlowSampler.late_start` with the held velocity."""
        return self._wrapped("late_start")(self._held(velocity, noise), noise, start)

    def _wrapped(self, name: str) -> Any:
        method = getattr(self.sampler, name, None)
        if method is None:
            raise SamplingError(f"{type(self.sampler).__name__} has no {name}(): it cannot "
                                "start late from a given sample")
        return method

    def _held(self, velocity: Velocity, like: torch.Tensor) -> Velocity:
        low, high = self.low.to(like), self.high.to(like)

        def held(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return bound_prediction(x, velocity(x, t).to(x.dtype), t, low, high)

        return held

    def __getattr__(self, name: str) -> Any:
        if name == "sampler":  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.sampler, name)


def _late_start(field: _Field, noise: torch.Tensor, start: float) -> torch.Tensor:
    return noise + start * field(noise, 0.0)


def _check_noise(noise: torch.Tensor) -> None:
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point():
        raise SamplingError("noise must be a floating-point tensor shaped (batch, ...)")
    if noise.dim() == 0 or noise.shape[0] == 0:
        raise SamplingError(f"noise must have a non-empty batch dimension first, got shape "
                            f"{tuple(noise.shape)}")


@attrs.frozen
class FlowSampler(abc.ABC):
    """Shared machinery: step count, time grid, the optional late start, NFE bookkeeping."""

    config: SolverConfig

    def times(self, steps: int | None = None) -> tuple[float, ...]:
        """The ``steps + 1`` times of the integration grid (ending at exactly 1.0)."""
        return self._grid(steps, self.config.start)

    def nfe(self, steps: int | None = None) -> int:
        """Velocity evaluations of one :meth:`sample` call with this many steps."""
        return self._evaluations(self._steps(steps)) + (1 if self.config.start > 0 else 0)

    def sample(self, velocity: Velocity, noise: torch.Tensor, steps: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Integrate ``velocity`` from ``noise`` (t = 0, or ``config.start``) to t = 1.

        Args:
            velocity: ``velocity(x, t) -> tensor shaped like x``, ``t`` of shape ``(batch,)``.
            noise: standard normal noise ``(batch, ...)``; its dtype and device are kept.
            steps: number of steps; ``None`` uses ``config.steps``.
            generator: source of randomness for stochastic samplers (ignored by ODE solvers).
        """
        times = self.times(steps)
        _check_noise(noise)
        field = _Field(velocity, self.config.prediction_bound)
        x = noise
        if self.config.start > 0:
            x = _late_start(field, noise, self.config.start)
        return self._integrate(field, x, times, generator)

    def late_start(self, velocity: Velocity, noise: torch.Tensor, start: float) -> torch.Tensor:
        """Where :meth:`sample` with ``config.start = start`` begins: one Euler step from 0,
        start·x̂1 + (1 − start)·noise with the model's guess x̂1 = noise + v(noise, 0); with
        :meth:`sample_from` at ``start`` it is that sampling."""
        _check_noise(noise)
        return _late_start(_Field(velocity, self.config.prediction_bound), noise, start)

    def sample_from(self, velocity: Velocity, x: torch.Tensor, start: float,
                    steps: int | None = None,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """Integrate ``velocity`` from ``x``, a sample at time ``start`` in [0, 1), to t = 1:
        the configured grid mapped onto [start, 1] and no late start of the config's own.

        What varies a clean sample x1 rather than making one from nothing (SDEdit):
        ``x = start·x1 + (1 − start)·noise`` keeps x1's coarse shape, more of it the later
        ``start``. ``start = 0`` from noise is :meth:`sample` without a late start.
        """
        _check_noise(x)
        try:
            check_start(start)
        except SwanSphereError as error:
            raise SamplingError(str(error)) from None
        field = _Field(velocity, self.config.prediction_bound)
        return self._integrate(field, x, self._grid(steps, start), generator)

    def _grid(self, steps: int | None, start: float) -> tuple[float, ...]:
        """The configured grid of ``steps`` steps mapped onto [start, 1]."""
        config = self.config
        return time_grid(self._steps(steps), config.grid, shift=config.shift, start=start)

    def _steps(self, steps: int | None) -> int:
        steps = self.config.steps if steps is None else steps
        try:
            check_steps(steps)
        except SwanSphereError as error:
            raise SamplingError(str(error)) from None
        return steps

    @abc.abstractmethod
    def _evaluations(self, steps: int) -> int:
        """Velocity evaluations of the integration itself (without the late start)."""

    @abc.abstractmethod
    def _integrate(self, field: _Field, x: torch.Tensor, times: Sequence[float],
                   generator: torch.Generator | None) -> torch.Tensor:
        """Carry ``x`` from ``times[0]`` to ``times[-1]``."""


# ------------------------------------------------------------------ one-step (Runge–Kutta)


@attrs.frozen
class ButcherTableau:
    """An explicit Runge–Kutta method: stage times ``nodes`` (c), the strictly lower
    triangular ``coupling`` (A, row i holds i entries) and the final ``weights`` (b)."""

    nodes: tuple[float, ...]
    coupling: tuple[tuple[float, ...], ...]
    weights: tuple[float, ...]

    @property
    def stages(self) -> int:
        return len(self.nodes)


EULER = ButcherTableau(nodes=(0.0,), coupling=((),), weights=(1.0,))
HEUN = ButcherTableau(nodes=(0.0, 1.0), coupling=((), (1.0,)), weights=(0.5, 0.5))
MIDPOINT = ButcherTableau(nodes=(0.0, 0.5), coupling=((), (0.5,)), weights=(0.0, 1.0))
RK4 = ButcherTableau(nodes=(0.0, 0.5, 0.5, 1.0),
                     coupling=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
                     weights=(1 / 6, 1 / 3, 1 / 3, 1 / 6))


def _combine(x: torch.Tensor, scales: Sequence[float], slopes: Sequence[torch.Tensor]
             ) -> torch.Tensor:
    """x + Σ scale·slope, skipping zero scales."""
    for scale, slope in zip(scales, slopes, strict=True):
        if scale != 0.0:
            x = x + scale * slope
    return x


def _stage_time(t: float, t_next: float, node: float) -> float:
    # t + 1·(t_next − t) may round past t_next (past 1.0 on the last step).
    return t_next if node == 1.0 else t + node * (t_next - t)


def runge_kutta_step(field: _Field, x: torch.Tensor, t: float, t_next: float,
                     tableau: ButcherTableau, first_slope: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """One explicit Runge–Kutta step from ``t`` to ``t_next``; ``first_slope`` reuses a known
    velocity at ``(x, t)``."""
    h = t_next - t
    slopes: list[torch.Tensor] = []
    for node, row in zip(tableau.nodes, tableau.coupling, strict=True):
        if not slopes and first_slope is not None:
            slopes.append(first_slope)
            continue
        stage_x = _combine(x, [a * h for a in row], slopes)
        slopes.append(field(stage_x, _stage_time(t, t_next, node)))
    return _combine(x, [b * h for b in tableau.weights], slopes)


@attrs.frozen
class RungeKuttaSampler(FlowSampler):
    """Explicit Runge–Kutta ODE solver: ``tableau.stages`` evaluations per step."""

    tableau: ButcherTableau

    def _evaluations(self, steps: int) -> int:
        return steps * self.tableau.stages

    def _integrate(self, field: _Field, x: torch.Tensor, times: Sequence[float],
                   generator: torch.Generator | None) -> torch.Tensor:
        for t, t_next in pairwise(times):
            x = runge_kutta_step(field, x, t, t_next, self.tableau)
        return x


# ------------------------------------------------------------------ multistep (Adams–Bashforth)


def _times_linear(coefficients: list[float], root: float) -> list[float]:
    """Coefficients (lowest degree first) of p(u)·(u − root)."""
    shifted = [0.0, *coefficients]
    padded = [*coefficients, 0.0]
    return [s - root * p for s, p in zip(shifted, padded, strict=True)]


def adams_bashforth_weights(nodes: Sequence[float], t_next: float) -> tuple[float, ...]:
    """Weights w_j with x_next = x + Σ w_j·v_j on any (non-uniform) grid.

    ``nodes`` are the past times, oldest first, ending at the current time; w_j integrates the
    Lagrange basis polynomial of node j from the current time to ``t_next``.
    """
    origin = nodes[-1]
    local = [node - origin for node in nodes]
    h = t_next - origin
    weights = []
    for j, node in enumerate(local):
        coefficients, denominator = [1.0], 1.0
        for k, other in enumerate(local):
            if k != j:
                coefficients = _times_linear(coefficients, other)
                denominator *= node - other
        integral = sum(c * h ** (i + 1) / (i + 1) for i, c in enumerate(coefficients))
        weights.append(integral / denominator)
    return tuple(weights)


@attrs.frozen
class AdamsBashforthSampler(FlowSampler):
    """Variable-step Adams–Bashforth of order 2 or 3: one evaluation per step.

    The start-up steps are of lower order but accurate enough to keep the global order: order 2
    starts with one Euler step; order 3 with one Heun step (one extra evaluation) and one
    second-order step.
    """

    config: AdamsBashforthConfig

    def _evaluations(self, steps: int) -> int:
        return steps + (1 if self.config.order == 3 else 0)

    def _integrate(self, field: _Field, x: torch.Tensor, times: Sequence[float],
                   generator: torch.Generator | None) -> torch.Tensor:
        order = self.config.order
        history: list[tuple[float, torch.Tensor]] = []
        for index, (t, t_next) in enumerate(pairwise(times)):
            history = [*history[-(order - 1):], (t, field(x, t))]
            if order == 3 and index == 0:
                x = runge_kutta_step(field, x, t, t_next, HEUN, first_slope=history[0][1])
                continue
            weights = adams_bashforth_weights([time for time, _ in history], t_next)
            x = _combine(x, weights, [slope for _, slope in history])
        return x


# ------------------------------------------------------------------ stochastic (SDE)


@attrs.frozen
class EulerMaruyamaSampler(FlowSampler):
    """Euler–Maruyama on the SDE with the same marginals as the flow.

    With diffusion g(t)² = 2c(1 − t) and the score of the rectified flow,
    ∇log p_t(x) = (t·v − x)/(1 − t), the SDE is
    dx = [v + c·(t·v − x)] dt + √(2c(1 − t)) dW: no division, and no noise at the data end.
    Needs an explicit ``generator`` when c > 0.
    """

    config: EulerMaruyamaConfig

    def _evaluations(self, steps: int) -> int:
        return steps

    def _integrate(self, field: _Field, x: torch.Tensor, times: Sequence[float],
                   generator: torch.Generator | None) -> torch.Tensor:
        scale = self.config.noise_scale
        if scale > 0 and generator is None:
            raise SamplingError("euler_maruyama draws noise: pass generator="
                                "torch.Generator(device).manual_seed(seed)")
        for t, t_next in pairwise(times):
            h = t_next - t
            v = field(x, t)
            if scale == 0:
                x = x + h * v
                continue
            drift = v + scale * (t * v - x)
            kick = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = x + h * drift + math.sqrt(2.0 * scale * (1.0 - t) * h) * kick
        return x
