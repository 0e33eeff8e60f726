"""Wall time of one optimizer step of a pipeline recipe, side by side: in float32 and in
bfloat16, and with the frozen text encoder's states precomputed once per training set or
computed at every step.

Every variant trains the same recipe, their steps alternating, so that changes of load hit
them alike; medians, minima and maxima per variant (docs/training.md, "Precision" and "Step
time")::

    SWANSPHERE_BANK=runs/bank .venv/bin/python benchmarks/train_step_time.py \\
        benchmarks/configs/tiny-next/stage1.toml --steps 10 --threads 2 \\
        --set data.train_scenes=64
    .venv/bin/python benchmarks/train_step_time.py benchmarks/configs/tiny-next/stage2.toml \\
        --precisions float32 --text-states precomputed every-step --steps 8 \\
        --set data.train_scenes=64 --set data.validation_scenes=2
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time

import attrs
import torch

from swansphere.training.common import PRECISIONS
from swansphere.training.pipeline import PipelineTrainer, TrainingSet
from swansphere.training.tasks import load_training_config

TEXT_STATES = ("precomputed", "every-step")


def without_text_states(data: TrainingSet) -> TrainingSet:
    """The training set as it was before precomputing: the text encoder runs at every step."""
    text = data.conditions.text
    if text is None or getattr(text, "states", None) is None:
        raise SystemExit("this recipe's text conditioner precomputes nothing to compare")
    return attrs.evolve(data, conditions=attrs.evolve(
        data.conditions, text=attrs.evolve(text, states=None)))


def trainers(args: argparse.Namespace, output: str) -> dict[str, PipelineTrainer]:
    """One trainer per variant (precision x text states), named by the variant."""
    task, config = load_training_config(args.config, overrides=args.set)
    if task.name != "pipeline":
        raise SystemExit(f"{args.config} is a {task.name!r} recipe; this times pipeline steps")
    built = {}
    for precision, states in itertools.product(args.precisions, args.text_states):
        name = precision if len(args.text_states) == 1 else f"{precision}, {states}"
        run = attrs.evolve(config.run, precision=precision, device=args.device,
                           output_dir=f"{output}/{len(built)}")
        trainer = PipelineTrainer(attrs.evolve(config, run=run), progress=False)
        data = trainer.training_set()  # scenes rendered (or read from the cache) and encoded
        if states == "every-step":
            trainer._sets[False] = without_text_states(data)
        built[name] = trainer
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a pipeline training recipe")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                        choices=list(PRECISIONS))
    parser.add_argument("--text-states", nargs="+", default=["precomputed"], choices=TEXT_STATES,
                        help="the frozen text encoder's states: once per set, or every step")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override the recipe, as swansphere train --set does")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as output:
        built = trainers(args, output)
        times: dict[str, list[float]] = {name: [] for name in built}
        losses: dict[str, float] = {}
        for step in range(args.warmup + args.steps):
            for name, trainer in built.items():
                start = time.perf_counter()
                losses[name] = trainer.train_step(step)["loss"]
                if step >= args.warmup:
                    times[name].append(time.perf_counter() - start)
    batch = next(iter(built.values())).config.run.batch_size
    print(f"{args.config}: batch {batch}, {args.threads} threads, device {args.device}, "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:>9}: step median {median:.3f} s (min {min(seconds):.3f}, max "
              f"{max(seconds):.3f}), {batch / median:.1f} examples/s, last loss "
              f"{losses[name]:.4f}")
    if len(times) == 2:
        (base, base_times), (other, other_times) = times.items()
        speed_up = statistics.median(base_times) / statistics.median(other_times)
        print(f"speed-up of {other} over {base}: {speed_up:.2f}x")


if __name__ == "__main__":
    main()
