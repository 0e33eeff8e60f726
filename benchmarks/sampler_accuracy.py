"""Error against velocity evaluations (NFE) for every built-in ODE sampler and time grid.

The problem is the exactly solvable Gaussian rectified flow (``swansphere.samplers.GaussianFlow``):
noise N(0, I) to data N(μ, diag σ²) in ``--dims`` dimensions, μ ~ N(0, 1) and σ log-uniform in
[``--min-std``, 1] (narrow conditional distributions, like a well-conditioned LocDiT patch, make
the flow curve sharply near t = 1). Each solver runs at exactly the NFE budget (steps chosen
so that ``nfe(steps)`` equals it) in float64 on the CPU; the error is the RMS over all samples
and dimensions of (x − x_exact)/σ, i.e. in units of each dimension's data standard deviation,
against the closed-form solution.

    .venv/bin/python benchmarks/sampler_accuracy.py --json sampler_accuracy.json

prints a Markdown table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path
from typing import Any

import torch

import swansphere
from swansphere.samplers import GaussianFlow

SOLVERS: dict[str, dict[str, Any]] = {
    "euler": {"type": "euler"},
    "heun": {"type": "heun"},
    "midpoint": {"type": "midpoint"},
    "rk4": {"type": "rk4"},
    "adams_bashforth (order 2)": {"type": "adams_bashforth", "order": 2},
    "adams_bashforth (order 3)": {"type": "adams_bashforth", "order": 3},
}
GRIDS: dict[str, dict[str, Any]] = {
    "uniform": {"grid": "uniform"},
    "cosine": {"grid": "cosine"},
    "shifted (3)": {"grid": "shifted", "shift": 3.0},
}


def make_problem(dims: int, batch: int, min_std: float, seed: int
                 ) -> tuple[GaussianFlow, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(dims, generator=generator, dtype=torch.float64)
    log_std = torch.rand(dims, generator=generator, dtype=torch.float64) * math.log(min_std)
    noise = torch.randn(batch, dims, generator=generator, dtype=torch.float64)
    return GaussianFlow(mean, log_std.exp()), noise


def steps_for_budget(sampler: Any, budget: int) -> int | None:
    """The step count whose NFE is exactly ``budget`` (None if there is none)."""
    for steps in range(1, budget + 1):
        if sampler.nfe(steps) == budget:
            return steps
    return None


def measure(flow: GaussianFlow, noise: torch.Tensor, budgets: list[int]
            ) -> list[dict[str, Any]]:
    exact = flow.solve(noise)
    rows = []
    for solver, solver_config in SOLVERS.items():
        for grid, grid_config in GRIDS.items():
            sampler = swansphere.create("sampler", {**solver_config, **grid_config})
            errors: dict[str, float | None] = {}
            for budget in budgets:
                steps = steps_for_budget(sampler, budget)
                if steps is None:
                    errors[str(budget)] = None
                    continue
                with torch.inference_mode():
                    out = sampler.sample(flow.velocity, noise, steps)
                errors[str(budget)] = ((out - exact) / flow.std).pow(2).mean().sqrt().item()
            rows.append({"solver": solver, "grid": grid, "errors": errors})
    return rows


def markdown(rows: list[dict[str, Any]], budgets: list[int]) -> str:
    header = "| solver | grid | " + " | ".join(f"NFE {b}" for b in budgets) + " |"
    rule = "|---|---|" + "---:|" * len(budgets)
    lines = [header, rule]
    for row in rows:
        cells = [("—" if row["errors"][str(b)] is None else f"{row['errors'][str(b)]:.1e}")
                 for b in budgets]
        lines.append(f"| {row['solver']} | {row['grid']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--min-std", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 20, 32, 64])
    parser.add_argument("--json", type=Path, default=Path("sampler_accuracy.json"))
    args = parser.parse_args(argv)

    flow, noise = make_problem(args.dims, args.batch, args.min_std, args.seed)
    rows = measure(flow, noise, args.budgets)
    print(markdown(rows, args.budgets))
    result = {
        "benchmark": "sampler_accuracy",
        "metric": "RMS of (x - x_exact) / sigma, float64",
        "problem": {"dims": args.dims, "batch": args.batch, "min_std": args.min_std,
                    "seed": args.seed},
        "device": "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": " ".join(["benchmarks/sampler_accuracy.py", *(argv or sys.argv[1:])]),
        "rows": rows,
    }
    args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
