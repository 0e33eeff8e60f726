"""Flow-matching samplers, time grids and guidance.

Samplers are built from config through the registry (``swansphere.create("sampler",
{"type": "heun", "steps": 20, "grid": "cosine"})``); this package holds their implementation
and the pieces users combine with them. Names are loaded on first use, so importing
``swansphere.samplers.config`` (what the plugin module does) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SolverConfig": "config",
    "AdamsBashforthConfig": "config",
    "EulerMaruyamaConfig": "config",
    "GuidanceConfig": "config",
    "GRIDS": "grids",
    "time_grid": "grids",
    "SamplingError": "solvers",
    "FlowSampler": "solvers",
    "ButcherTableau": "solvers",
    "RungeKuttaSampler": "solvers",
    "HeldSampler": "solvers",
    "AdamsBashforthSampler": "solvers",
    "EulerMaruyamaSampler": "solvers",
    "adams_bashforth_weights": "solvers",
    "EULER": "solvers",
    "HEUN": "solvers",
    "MIDPOINT": "solvers",
    "RK4": "solvers",
    "Condition": "guidance",
    "Guidance": "guidance",
    "GuidedModel": "guidance",
    "classifier_free_guidance": "guidance",
    "multi_condition_guidance": "guidance",
    "GaussianFlow": "gaussian",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
