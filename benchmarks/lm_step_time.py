"""Median wall time of one steady-state LM step (KV window full) of a causal-dit preset.

A small probe to hold two versions of the KV cache against each other: run it at each commit
(each installed in turn, or one through ``PYTHONPATH``), alternating, and compare medians::

    .venv/bin/python benchmarks/lm_step_time.py --preset small --steps 150 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from swansphere.plugins.causal_dit import preset
from swansphere.plugins.causal_dit.model import CausalDiT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = preset(args.preset)
    model = CausalDiT(config).eval()
    patch = torch.randn(1, config.patch_frames, config.latent_dim)
    with torch.inference_mode():
        _, state = model.step(None, model.init_state(1))
        history = patch.repeat(1, max(config.attention_window - 1, 1), 1)
        _, state = model.step(history, state)  # the window is full from here on
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            _, state = model.step(patch, state)
            times.append(time.perf_counter() - start)
    warm = times[min(10, len(times) - 1):]
    print(f"{args.preset}: median LM step {statistics.median(warm) * 1e3:.3f} ms "
          f"over {len(warm)} steps ({args.threads} threads)")


if __name__ == "__main__":
    main()
