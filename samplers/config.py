"""Configs of the built-in samplers: frozen, keyword-only attrs classes (TOML tables).

Kept free of torch so that the plugin module that registers the samplers imports fast.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from swansphere.errors import ConfigError

from .grids import check_grid, check_start, check_steps


def _steps(_instance: Any, _attribute: attrs.Attribute, value: int) -> None:
    check_steps(value)


def _shift(instance: SolverConfig, _attribute: attrs.Attribute, value: float | None) -> None:
    check_grid(instance.grid, value)


def _start(_instance: Any, _attribute: attrs.Attribute, value: float) -> None:
    check_start(value)


def _bound(_instance: Any, _attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0.0):
        raise ConfigError(f"prediction_bound must be a finite number > 0 (or unset), got {value}")


@attrs.frozen(kw_only=True)
class SolverConfig:
    """Options shared by every built-in flow sampler.

    Attributes:
        steps: integration steps used when ``sample`` is called with ``steps=None``
            (the paper: 20).
        grid: time grid, one of ``uniform``, ``cosine`` (the paper's), ``shifted``
            (see :mod:`swansphere.samplers.grids`).
        shift: parameter of the ``shifted`` grid (default 3.0; > 1 puts more steps near the
            data end). Setting it with another grid is an error.
        start: start time t0 in [0, 1) ("temperature", as in DiTAR, whose τ is 1 − t0).
            With t0 > 0 the sampler first spends one velocity evaluation to estimate the data
            mean, x̂1 = noise + v(noise, 0), starts from x_t0 = t0·x̂1 + (1 − t0)·noise and
            integrates [t0, 1]. Larger t0, less diversity; t0 = 0 is plain sampling.
        prediction_bound: b > 0 holds the clean sample that each velocity evaluation
            predicts, x̂1 = x + (1 − t)·v, inside [−b, b] (element-wise): where x̂1 is
            outside, the solver sees v = (clamp(x̂1) − x)/(1 − t) instead. Strong guidance
            extrapolates past anything seen in training; holding its prediction inside the
            training data's range keeps such steps from carrying the sample far out (the
            static thresholding of image diffusion, on the flow's clean estimate). Where the
            prediction is inside, the velocity is untouched, bit for bit. Unset: no bound.
    """

    steps: int = attrs.field(default=20, validator=_steps)
    grid: str = "cosine"
    shift: float | None = attrs.field(default=None, validator=_shift)
    start: float = attrs.field(default=0.0, validator=_start)
    prediction_bound: float | None = attrs.field(default=None, validator=_bound)


def _order(_instance: Any, _attribute: attrs.Attribute, value: int) -> None:
    if value not in (2, 3):
        raise ConfigError(f"order must be 2 or 3, got {value!r}")


@attrs.frozen(kw_only=True)
class AdamsBashforthConfig(SolverConfig):
    """Adams–Bashforth multistep options.

    Attributes:
        order: 3 (default: one velocity evaluation per step plus one, for a Heun first step,
            then one second-order step, then third order) or 2 (one evaluation per step, an
            Euler first step).
    """

    order: int = attrs.field(default=3, validator=_order)


def _noise_scale(_instance: Any, _attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ConfigError(f"noise_scale must be a finite number >= 0, got {value}")


@attrs.frozen(kw_only=True)
class EulerMaruyamaConfig(SolverConfig):
    """Stochastic (SDE) sampling options.

    Attributes:
        noise_scale: c >= 0 in the diffusion coefficient g(t)² = 2c(1 − t); 0 is plain Euler.
    """

    noise_scale: float = attrs.field(default=1.0, validator=_noise_scale)


def _finite(_instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not math.isfinite(value):
        raise ConfigError(f"{attribute.name} must be a finite number, got {value}")


@attrs.frozen(kw_only=True)
class GuidanceConfig:
    """Weights of the paper's multi-condition guidance (a TOML table ``{w1 = 1.4, w2 = 3.0}``).

    v = v_u + w1·(v_c1 − v_u) + w2·(v_all − v_c1). w1 = w2 = w is classifier-free guidance
    with scale w; w1 = w2 = 1 is the plain conditional model (one branch, no extra cost).
    ``reference`` adds reference·(v_all − v_unreferenced), a pull towards the recording a
    backbone follows (one more branch; 0, the default, costs nothing).
    """

    w1: float = attrs.field(default=1.4, validator=_finite)
    w2: float = attrs.field(default=3.0, validator=_finite)
    reference: float = attrs.field(default=0.0, validator=_finite)

    def wrap(self, model: Any) -> Any:
        """A ``velocity(x, t)`` from a guided ``model(x, t, condition)``
        (see :mod:`swansphere.samplers.guidance`)."""
        from .guidance import multi_condition_guidance

        return multi_condition_guidance(model, self.w1, self.w2, self.reference)
