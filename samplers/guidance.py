"""Guidance as a wrapper that turns a conditional model into a plain ``velocity(x, t)``.

The wrapped model is a *guided model*: ``model(x, t, condition) -> velocity`` where
``condition`` is a ``(rows,)`` long tensor that says, row by row, which conditions that row sees
(:class:`Condition`): ``NONE`` (every condition replaced by its learned null), ``FIRST`` (only
the first condition; the backbone documents which one that is) or ``ALL``. A guidance wrapper
stacks ``x`` once per branch it needs along the batch dimension, calls the model ONCE on the
stacked batch, and combines the branches:

    v = Σ_k c_k · v_k,   Σ_k c_k = 1

so where all branches agree, guidance changes nothing. Branches with a zero coefficient are not
evaluated: classifier-free guidance with scale 1 costs one branch, not two.

- classifier-free guidance, scale w: v = v_u + w·(v_c − v_u)
  (branches NONE and ALL);
- the paper's multi-condition guidance: v = v_u + w1·(v_c1 − v_u) + w2·(v_all − v_c1)
  (branches NONE, FIRST, ALL), (w1, w2) = (1.4, 3) by default. With w1 = w2 it is
  classifier-free guidance; with w1 = w2 = 1 it is the fully conditional model. A
  ``reference`` weight wr adds wr·(v_all − v_unreferenced) (branch UNREFERENCED: everything
  but the recording a backbone follows), a pull towards that recording; 0 by default.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from typing import Protocol

import attrs
import torch

from swansphere.errors import ConfigError

from .solvers import SamplingError


class Condition(enum.IntEnum):
    """Which conditions one row of a guided batch sees."""

    NONE = 0
    FIRST = 1
    ALL = 2
    UNREFERENCED = 3
    """Every condition but a reference recording (``ALL`` for a backbone that follows none)."""


class GuidedModel(Protocol):
    """``model(x, t, condition)``: x ``(rows, ...)``, t ``(rows,)``, condition ``(rows,)`` long
    tensor of :class:`Condition` values; returns a velocity shaped like x."""

    def __call__(self, x: torch.Tensor, t: torch.Tensor,
                 condition: torch.Tensor) -> torch.Tensor: ...


def _branches(coefficients: Iterable[tuple[Condition | int, float]]
              ) -> tuple[tuple[Condition, float], ...]:
    pairs = tuple((Condition(condition), float(weight)) for condition, weight in coefficients)
    conditions = [condition for condition, _ in pairs]
    if len(set(conditions)) != len(conditions):
        raise ConfigError(f"guidance names a condition twice: {conditions}")
    if not all(math.isfinite(weight) for _, weight in pairs):
        raise ConfigError(f"guidance weights must be finite, got {pairs}")
    if not math.isclose(sum(weight for _, weight in pairs), 1.0, abs_tol=1e-9):
        raise ConfigError("guidance coefficients must sum to 1 (so that agreeing branches leave "
                          f"the velocity unchanged), got {pairs}")
    return tuple((condition, weight) for condition, weight in pairs if weight != 0.0)


@attrs.frozen
class Guidance:
    """``velocity(x, t) = Σ_k c_k · model(x, t, condition_k)`` in one batched model call.

    Build it with :func:`classifier_free_guidance` or :func:`multi_condition_guidance`, or
    directly from ``(condition, coefficient)`` pairs summing to 1.
    """

    model: GuidedModel
    coefficients: tuple[tuple[Condition, float], ...] = attrs.field(converter=_branches)

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """The branches evaluated, in batch order."""
        return tuple(condition for condition, _ in self.coefficients)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return weighted_branches(self.model, self.coefficients, x, t)


def weighted_branches(model: GuidedModel, coefficients: tuple[tuple[Condition, float], ...],
                      x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What a :class:`Guidance` computes, as a plain function of checked ``coefficients``
    (``Guidance(...).coefficients``): code traced by ``torch.compile`` calls this rather than
    building a ``Guidance`` inside the traced region."""
    branches = len(coefficients)
    batch = x.shape[0]
    selector = torch.cat([torch.full((batch,), int(c), dtype=torch.long, device=x.device)
                          for c, _ in coefficients])  # fills, not a host copy: capturable
    stacked = x.repeat(branches, *([1] * (x.dim() - 1)))
    out = model(stacked, t.repeat(branches), selector)
    if not isinstance(out, torch.Tensor) or out.shape != stacked.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SamplingError(f"guided model returned {shape} for input {tuple(stacked.shape)}"
                            "; it must return one velocity per input row")
    parts = out.unflatten(0, (branches, batch))
    result = coefficients[0][1] * parts[0]
    for (_, weight), part in zip(coefficients[1:], parts[1:], strict=True):
        result = result + weight * part
    return result


def classifier_free_guidance(model: GuidedModel, scale: float) -> Guidance:
    """v = v_u + scale·(v_c − v_u): branches ``NONE`` and ``ALL`` (one branch if scale is 0
    or 1)."""
    return Guidance(model, ((Condition.NONE, 1.0 - scale), (Condition.ALL, scale)))


def multi_condition_guidance(model: GuidedModel, w1: float = 1.4, w2: float = 3.0,
                             reference: float = 0.0) -> Guidance:
    """The paper's v = v_u + w1·(v_c1 − v_u) + w2·(v_all − v_c1), i.e. coefficients
    (1 − w1, w1 − w2, w2) on branches ``NONE``, ``FIRST``, ``ALL``, plus
    ``reference``·(v_all − v_unreferenced): the ``UNREFERENCED`` branch is evaluated only
    when ``reference`` is not 0."""
    return Guidance(model, ((Condition.NONE, 1.0 - w1), (Condition.FIRST, w1 - w2),
                            (Condition.ALL, w2 + reference),
                            (Condition.UNREFERENCED, -reference)))
