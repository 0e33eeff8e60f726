"""Built-in samplers, registered through the ``swansphere.plugins`` entry point like any plugin.

Only the (torch-free) config classes are imported here; the solvers load inside the factories.
"""

from __future__ import annotations

from typing import Any

from swansphere import Component, hookimpl
from swansphere.samplers.config import AdamsBashforthConfig, EulerMaruyamaConfig, SolverConfig


def _runge_kutta(tableau_name: str):
    def factory(config: SolverConfig) -> Any:
        from swansphere.samplers import solvers

        return solvers.RungeKuttaSampler(config, getattr(solvers, tableau_name))

    return factory


def _adams_bashforth(config: AdamsBashforthConfig) -> Any:
    from swansphere.samplers.solvers import AdamsBashforthSampler

    return AdamsBashforthSampler(config)


def _euler_maruyama(config: EulerMaruyamaConfig) -> Any:
    from swansphere.samplers.solvers import EulerMaruyamaSampler

    return EulerMaruyamaSampler(config)


@hookimpl
def swansphere_register_samplers() -> list[Component]:
    def runge_kutta(name: str, tableau: str, description: str) -> Component:
        return Component(name=name, kind="sampler", factory=_runge_kutta(tableau),
                         config_class=SolverConfig, description=description)

    return [
        runge_kutta("euler", "EULER", "Euler ODE solver: 1 evaluation per step, order 1 "
                    "(the paper's sampler)"),
        runge_kutta("heun", "HEUN", "Heun (explicit trapezoid) ODE solver: 2 evaluations per "
                    "step, order 2"),
        runge_kutta("midpoint", "MIDPOINT", "explicit midpoint ODE solver: 2 evaluations per "
                    "step, order 2"),
        runge_kutta("rk4", "RK4", "classic Runge–Kutta ODE solver: 4 evaluations per step, "
                    "order 4"),
        Component(name="adams_bashforth", kind="sampler", factory=_adams_bashforth,
                  config_class=AdamsBashforthConfig,
                  description="variable-step Adams–Bashforth multistep ODE solver, order 3 (or "
                  "2): about 1 evaluation per step"),
        Component(name="euler_maruyama", kind="sampler", factory=_euler_maruyama,
                  config_class=EulerMaruyamaConfig,
                  description="stochastic sampler: Euler–Maruyama on the marginal-preserving "
                  "flow SDE (needs a generator)"),
    ]
