"""Time grids: where a sampler evaluates the velocity between t = 0 (noise) and t = 1 (data).

A grid is a warp ``s -> t`` of the unit interval, applied to ``steps + 1`` evenly spaced points
``s``. Grids are plain Python floats (exact, no tensor device or dtype to choose); solvers turn
the step sizes into tensor arithmetic in the noise's dtype.

- ``uniform``: t = s.
- ``cosine``: t = ½(1 − cos πs), the paper's grid: small steps at both ends.
- ``shifted``: t = shift·s / (1 + (shift − 1)·s); shift > 1 packs steps near the data end
  (t = 1), where a narrow data distribution makes the velocity change fastest. shift = 1 is
  uniform; 0 < shift < 1 packs them near the noise end. This is the time shift of Stable
  Diffusion 3 written in this library's direction of time.

A start time t0 > 0 (see :class:`~swansphere.samplers.config.SolverConfig.start`) maps the
warped points affinely onto [t0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

from swansphere.errors import ConfigError

DEFAULT_SHIFT = 3.0


def uniform(s: float) -> float:
    return s


def cosine(s: float) -> float:
    return 0.5 * (1.0 - math.cos(math.pi * s))


def shifted(s: float, shift: float = DEFAULT_SHIFT) -> float:
    return shift * s / (1.0 + (shift - 1.0) * s)


GRIDS: dict[str, Callable[..., float]] = {"uniform": uniform, "cosine": cosine,
                                          "shifted": shifted}
"""Grid name -> warp of [0, 1]; only ``shifted`` takes a parameter (``shift``)."""

TAKES_SHIFT = frozenset({"shifted"})


def check_grid(grid: str, shift: float | None) -> None:
    """Raise ConfigError unless ``grid`` names a grid and ``shift`` fits it."""
    if grid not in GRIDS:
        raise ConfigError(f"unknown grid {grid!r}; use one of: {', '.join(GRIDS)}")
    if shift is None:
        return
    if grid not in TAKES_SHIFT:
        raise ConfigError(f"shift applies only to grid = 'shifted', not {grid!r}; remove shift "
                          "or set grid = 'shifted'")
    if not (math.isfinite(shift) and shift > 0):
        raise ConfigError(f"shift must be a finite number > 0, got {shift}")


def check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")


def check_start(start: float) -> None:
    if not (math.isfinite(start) and 0.0 <= start < 1.0):
        raise ConfigError(f"start must lie in [0, 1) (0 starts from pure noise), got {start}")


def time_grid(steps: int, grid: str = "cosine", *, shift: float | None = None,
              start: float = 0.0) -> tuple[float, ...]:
    """``steps + 1`` increasing times from ``start`` to exactly 1.0.

    Args:
        steps: number of intervals (>= 1).
        grid: a name in :data:`GRIDS`.
        shift: parameter of the ``shifted`` grid (default :data:`DEFAULT_SHIFT`); an error for
            the other grids.
        start: first time t0 in [0, 1); the warped grid is mapped onto [t0, 1].
    """
    check_steps(steps)
    check_grid(grid, shift)
    check_start(start)
    warp = GRIDS[grid]
    params = {} if shift is None else {"shift": shift}
    inner = [start + (1.0 - start) * warp(i / steps, **params) for i in range(1, steps)]
    return (start, *inner, 1.0)
