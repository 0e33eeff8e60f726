"""Memory of an unbounded stream: resident memory while streaming minutes of audio.

Builds a tiny-preset pipeline (foa-vae tiny codec, causal-dit tiny, Euler) with random weights
(memory does not depend on the weights), streams ``--minutes`` of text-conditioned audio and
records the process's resident set size every ``--every`` seconds of audio. A flat curve
means every state (KV window, decoder receptive field, video buffer) is bounded.

    python benchmarks/stream_memory.py --minutes 10 --json runs/stream_memory.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch
from _run_options import add_run_options, set_threads, write_report

from swansphere.config import structure
from swansphere.pipeline import Pipeline, PipelineConfig

CONFIG = {
    "codec": {"type": "foa-vae", "preset": "tiny"},
    "backbone": {"type": "causal-dit", "text_dim": 256},
    "sampler": {"type": "euler", "steps": 2},
    "text": {"type": "text-transformer"},
    "guidance": {"w1": 1.0, "w2": 1.0},
}


def resident_mb() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds of audio per sample")
    add_run_options(parser, threads=1)
    args = parser.parse_args()
    set_threads(args.threads)
    torch.manual_seed(0)
    pipeline = Pipeline.from_config(structure(CONFIG, PipelineConfig))
    for module in pipeline.modules().values():
        module.eval()
    samples, next_mark, started = [], 0.0, time.perf_counter()
    for chunk in pipeline.stream(text="a bird sings above", duration=args.minutes * 60):
        if chunk.end >= next_mark:
            samples.append({"audio_s": round(chunk.end, 2), "rss_mb": round(resident_mb(), 1),
                            "wall_s": round(time.perf_counter() - started, 1)})
            print(json.dumps(samples[-1]), flush=True)
            next_mark += args.every
    half = len(samples) // 2
    report = {"minutes": args.minutes, "threads": args.threads, "samples": samples,
              "rss_first_half_max_mb": max(s["rss_mb"] for s in samples[:half] or samples),
              "rss_second_half_max_mb": max(s["rss_mb"] for s in samples[half:]),
              "device": "cpu"}
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
