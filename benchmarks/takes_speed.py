"""Several takes of one prompt: one batch (``generate_takes``) against one call per seed.

Both ways run side by side in one process, alternating, and the medians are compared; the
largest difference between the two ways' audio is printed too (float rounding only)::

    python benchmarks/takes_speed.py --takes 8 --seconds 2 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="pipeline directory or shipped name")
    parser.add_argument("--text", default="A bell rings on the left.")
    parser.add_argument("--takes", type=int, default=8, help="seeds per prompt (default 8)")
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import torch

    from swansphere import Pipeline

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model)
    for module in pipeline.modules().values():
        module.eval()
    seeds = list(range(args.takes))

    def one_at_a_time() -> torch.Tensor:
        return torch.stack([pipeline.generate(args.text, None, args.seconds, seed)
                            for seed in seeds])

    def batched() -> torch.Tensor:
        return pipeline.generate_takes(args.text, None, args.seconds, seeds).audio

    gap = float((one_at_a_time() - batched()).abs().max())  # also the warm-up
    times: dict[str, list[float]] = {"one at a time": [], "one batch": []}
    for _ in range(args.repeats):
        for name, run in (("one at a time", one_at_a_time), ("one batch", batched)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    sequential, batch = (statistics.median(times[name]) for name in times)
    print(f"{args.takes} takes of {args.seconds:g} s, {args.threads} thread(s), median of "
          f"{args.repeats}: one at a time {sequential:.2f} s, one batch {batch:.2f} s "
          f"(x{sequential / batch:.1f}); largest audio difference {gap:.1e}")


if __name__ == "__main__":
    main()
