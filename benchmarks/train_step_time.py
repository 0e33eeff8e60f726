"""Wall time of one optimizer step of a pipeline recipe, in float32 and in bfloat16.

Both precisions train the same recipe side by side, their steps alternating, so that changes
of load hit both alike; medians, minima and maxima per precision (docs/training.md,
"Precision")::

    SWANSPHERE_BANK=runs/bank .venv/bin/python benchmarks/train_step_time.py \\
        benchmarks/configs/tiny-next/stage1.toml --steps 10 --threads 2 \\
        --set data.train_scenes=64
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import attrs
import torch

from swansphere.training.common import PRECISIONS
from swansphere.training.pipeline import PipelineTrainer
from swansphere.training.tasks import load_training_config


def trainers(args: argparse.Namespace, output: str) -> dict[str, PipelineTrainer]:
    task, config = load_training_config(args.config, overrides=args.set)
    if task.name != "pipeline":
        raise SystemExit(f"{args.config} is a {task.name!r} recipe; this times pipeline steps")
    built = {}
    for precision in args.precisions:
        run = attrs.evolve(config.run, precision=precision, device=args.device,
                           output_dir=f"{output}/{precision}")
        built[precision] = PipelineTrainer(attrs.evolve(config, run=run), progress=False)
        built[precision].training_set()  # scenes rendered (or read from the cache) and encoded
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a pipeline training recipe")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per precision")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per precision")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                        choices=list(PRECISIONS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override the recipe, as swansphere train --set does")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as output:
        built = trainers(args, output)
        times: dict[str, list[float]] = {precision: [] for precision in built}
        losses: dict[str, float] = {}
        for step in range(args.warmup + args.steps):
            for precision, trainer in built.items():
                start = time.perf_counter()
                losses[precision] = trainer.train_step(step)["loss"]
                if step >= args.warmup:
                    times[precision].append(time.perf_counter() - start)
    batch = next(iter(built.values())).config.run.batch_size
    print(f"{args.config}: batch {batch}, {args.threads} threads, device {args.device}, "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    for precision, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{precision:>9}: step median {median:.3f} s (min {min(seconds):.3f}, max "
              f"{max(seconds):.3f}), {batch / median:.1f} examples/s, last loss "
              f"{losses[precision]:.4f}")
    if len(times) == 2:
        (base, base_times), (other, other_times) = times.items()
        speed_up = statistics.median(base_times) / statistics.median(other_times)
        print(f"speed-up of {other} over {base}: {speed_up:.2f}x")


if __name__ == "__main__":
    main()
