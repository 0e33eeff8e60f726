"""Every built-in sampler, in several configurations, passes the sampler conformance suite."""

from __future__ import annotations

from typing import Any, ClassVar

import swansphere
from swansphere.testing.samplers import SamplerConformance


class _Registered(SamplerConformance):
    config: ClassVar[dict[str, Any]]

    def make_sampler(self) -> Any:
        return swansphere.create("sampler", self.config)


class TestEuler(_Registered):
    config: ClassVar = {"type": "euler", "steps": 6}


class TestEulerLateStart(_Registered):
    config: ClassVar = {"type": "euler", "grid": "uniform", "start": 0.3}


class TestHeun(_Registered):
    config: ClassVar = {"type": "heun", "grid": "shifted", "shift": 2.0}


class TestMidpoint(_Registered):
    config: ClassVar = {"type": "midpoint", "grid": "uniform"}


class TestRK4(_Registered):
    config: ClassVar = {"type": "rk4", "start": 0.5}


class TestAdamsBashforth2(_Registered):
    config: ClassVar = {"type": "adams_bashforth", "order": 2}


class TestAdamsBashforth3(_Registered):
    config: ClassVar = {"type": "adams_bashforth", "order": 3, "grid": "shifted", "start": 0.2}


class TestEulerMaruyama(_Registered):
    stochastic: ClassVar = True
    config: ClassVar = {"type": "euler_maruyama", "noise_scale": 0.5}


class TestEulerMaruyamaWithoutNoise(_Registered):
    config: ClassVar = {"type": "euler_maruyama", "noise_scale": 0.0, "grid": "uniform"}
