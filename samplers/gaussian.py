"""A rectified flow with a closed-form solution: N(0, I) noise to N(μ, diag σ²) data.

Used to measure solver accuracy. With independent x0 ~ N(0, I), x1 ~ N(μ, σ²) and
x_t = t·x1 + (1 − t)·x0, each coordinate of x_t is normal with mean t·μ and variance

    s(t)² = t²σ² + (1 − t)².

The marginal velocity is the conditional expectation v(x, t) = E[x1 − x0 | x_t = x]; x1 − x0 and
x_t are jointly normal with Cov(x1 − x0, x_t) = tσ² − (1 − t) = s(t)·s'(t), so

    v(x, t) = μ + (tσ² − (1 − t)) / s(t)² · (x − t·μ),

linear in x. Its ODE dx/dt = v keeps the standardised value (x − tμ)/s(t) constant, so the exact
flow map from time a to time b is

    x(b) = b·μ + s(b)/s(a) · (x(a) − a·μ).

A narrow data distribution (small σ) makes v change fast near t = 1 − σ, where the flow is
hardest to integrate.
"""

from __future__ import annotations

import attrs
import torch


def _broadcast_time(t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return t.reshape(-1, *([1] * (x.dim() - 1))) if t.dim() else t


@attrs.frozen
class GaussianFlow:
    """The exactly solvable flow; ``mean`` and ``std`` broadcast against the trailing
    (non-batch) dimensions of ``x``."""

    mean: torch.Tensor
    std: torch.Tensor

    def marginal_std(self, t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
        """s(t) = sqrt(t²σ² + (1 − t)²), broadcast to ``like``'s batch layout."""
        t = _broadcast_time(t, like)
        return torch.sqrt((t * self.std.to(like)) ** 2 + (1 - t) ** 2)

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """v(x, t) = μ + (tσ² − (1 − t))/s(t)² · (x − tμ), ``t`` of shape ``(batch,)``."""
        t = _broadcast_time(t, x)
        mean, var = self.mean.to(x), self.std.to(x) ** 2
        slope = (t * var - (1 - t)) / (t**2 * var + (1 - t) ** 2)
        return mean + slope * (x - t * mean)

    def solve(self, x: torch.Tensor, start: float = 0.0, end: float = 1.0) -> torch.Tensor:
        """The exact ODE solution at ``end`` from ``x`` at time ``start``."""
        mean = self.mean.to(x)
        ratio = self.marginal_std(end, x) / self.marginal_std(start, x)
        return end * mean + ratio * (x - start * mean)
