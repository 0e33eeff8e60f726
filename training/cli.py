"""``swansphere train CONFIG.toml``: run the training task a config file names.

Multi-process (DDP): ``torchrun --nproc_per_node N -m swansphere.cli train CONFIG.toml`` (or
``torchrun --nproc_per_node N --no-python swansphere train CONFIG.toml``); each process joins
the process group for the run (:func:`~swansphere.training.distributed.launch`) and only rank 0
prints. Import-light: torch and the trainers load inside the handler.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from swansphere import cli_args


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    parser = subparsers.add_parser(
        "train", help="train a model from a TOML config (task = \"codec\", ...)",
        description="Train what CONFIG names in its top-level 'task' key. Checkpoints go to "
                    "<run.output_dir>/checkpoints/step-*/ (written atomically); the trained "
                    "model to <run.output_dir>/<task>/; metrics to metrics.jsonl, metrics.csv "
                    "and TensorBoard events files (tensorboard --logdir <run.output_dir>). "
                    "A run folder belongs to one run: a second 'train' into it is refused while "
                    "the first runs, and a fresh run into a folder with another run's "
                    "checkpoints or logs needs --resume or --overwrite. "
                    "Several processes: torchrun --nproc_per_node N -m swansphere.cli train "
                    "CONFIG.")
    parser.add_argument("config", type=cli_args.input_file, help="training config (TOML)")
    parser.add_argument("--resume", metavar="PATH", default=None,
                        help="continue from a checkpoint directory, or the newest valid "
                             "checkpoint of a run directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in a run folder that holds another run: its "
                             "checkpoints and logs are deleted first")
    parser.add_argument("--output-dir", metavar="DIR", default=None,
                        help="override run.output_dir")
    parser.add_argument("--steps", type=cli_args.positive_int, default=None,
                        help="override run.steps")
    parser.add_argument("--threads", type=cli_args.threads, default=None,
                        help="torch CPU threads (overrides run.threads)")
    parser.add_argument("--device", default=None,
                        help="train on this device, e.g. cuda (overrides run.device)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override any config value, e.g. --set data.workers=8 (TOML "
                             "syntax; repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace, registry: Any) -> int:
    import contextlib

    import torch

    from .distributed import launch
    from .run_folder import claim_run_folder
    from .tasks import load_training_config, with_run_overrides

    task, config = load_training_config(args.config, registry=registry,
                                        overrides=args.overrides)
    config = with_run_overrides(config, output_dir=args.output_dir, steps=args.steps,
                                threads=args.threads, device=args.device)
    output_dir = cli_args.OutputDir(config.run.output_dir)
    cli_args.check_paths(inputs=[args.config], outputs=[output_dir])  # resume may be the run
    if config.run.device != "cpu":
        cli_args.check_device(config.run.device)
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    resume = args.resume
    with launch(device=config.run.device) as dist:
        dist.shard_sizes(config.run.batch_size)  # a batch too small to split fails up front
        claim = (claim_run_folder(output_dir, resume=resume or False,
                                  overwrite=args.overwrite)
                 if dist.is_main else contextlib.nullcontext())
        with claim:
            summary = task.run(config, resume=resume, registry=registry,
                               progress=not args.no_progress)
    if not dist.is_main:
        return 0
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    validation = summary.get("validation") or {}
    figures = ", ".join(f"{k}={v:.4g}" for k, v in validation.items())
    done = (f"fitted {task.name} statistics on {summary['fitted_frames']} frames"
            if summary.get("fitted") else
            f"trained {task.name} for {summary['steps']} steps "
            f"(from step {summary['resumed_from']})")
    print(f"{done}; model in {summary[f'{task.name}_dir']}"
          + (f"; validation: {figures}" if figures else ""))
    return 0
