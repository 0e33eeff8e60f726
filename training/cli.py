"""``swansphere train CONFIG.toml``: run the training task a config file names.

Import-light: torch and the trainers load inside the handler.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    parser = subparsers.add_parser(
        "train", help="train a model from a TOML config (task = \"codec\", ...)",
        description="Train what CONFIG names in its top-level 'task' key. Checkpoints go to "
                    "<run.output_dir>/checkpoints/step-*/ (written atomically); the trained "
                    "model to <run.output_dir>/<task>/; metrics to metrics.jsonl.")
    parser.add_argument("config", help="training config (TOML)")
    parser.add_argument("--resume", metavar="PATH", default=None,
                        help="continue from a checkpoint directory, or the newest checkpoint "
                             "of a run directory")
    parser.add_argument("--output-dir", metavar="DIR", default=None,
                        help="override run.output_dir")
    parser.add_argument("--steps", type=int, default=None, help="override run.steps")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (overrides run.threads)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace, registry: Any) -> int:
    import torch

    from swansphere.errors import ConfigError

    from .tasks import load_training_config, with_run_overrides

    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    task, config = load_training_config(args.config, registry=registry)
    config = with_run_overrides(config, output_dir=args.output_dir, steps=args.steps,
                                threads=args.threads)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    summary = task.run(config, resume=args.resume, registry=registry,
                       progress=not args.no_progress)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    validation = summary.get("validation") or {}
    figures = ", ".join(f"{k}={v:.4g}" for k, v in validation.items())
    print(f"trained {task.name} for {summary['steps']} steps "
          f"(from step {summary['resumed_from']}); model in {summary[f'{task.name}_dir']}"
          + (f"; validation: {figures}" if figures else ""))
    return 0
