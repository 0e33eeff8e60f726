"""Where a stream's first chunk spends its time: the median of each stage over many streams.

``swansphere bench pipeline`` says how long the first audio takes; this says what it is made
of (reading the words, matching the exemplar bank, priming the LM and the decoder, the first
LM step, sampling and decoding the first patch), to see which stage a change moved. Streams
are opened one after another in one process, each timed to its first chunk only::

    python benchmarks/first_chunk.py --model tiny-next --streams 20 --threads 2

A stage is a method of the pipeline, its session, backbone, codec or exemplar bank, timed
where it exists in the version installed, so the script runs on older commits too (a stage
that version lacks is left out); a stage inside another is counted in both.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from _run_options import add_override_option, add_run_options, set_threads, write_report

from swansphere.cli_args import BENCH_PROMPT, DEFAULT_MODEL
from swansphere.conditions import ConditionEncoder
from swansphere.pipeline import LiveSession, Pipeline

WARM_UP = 3
"""Streams run before the timed ones: the first loads lazily read tables and warms caches."""


def stages(pipeline: Pipeline) -> dict[str, tuple[Any, str]]:
    """Each stage's name -> (the class whose method it is, the method's name): the first of
    its names that the installed version has."""
    backbone, bank = pipeline.backbone, pipeline.exemplars
    candidates = {
        "words and video to conditions": (Pipeline, ("_clip_inputs", "clip_inputs")),
        "conditioners' forward": (ConditionEncoder, ("tokens",)),
        "MiniLM pass with the bank's query": (type(pipeline.text_encoder), ("precompute_with",)),
        "conditions to a session": (Pipeline, ("_open",)),
        "exemplar bank: match and clip": (LiveSession, ("_exemplar_prompts",)),
        "exemplar bank: MiniLM match": (type(bank), ("match",)),
        "prompt to latents (codec)": (Pipeline, ("prompt_latents",)),
        "priming (LM and decoder)": (LiveSession, ("_prime", "prime_latents")),
        "LM steps": (type(backbone), ("step",)),
        "LM priming pass": (type(backbone), ("prime",)),
        "first patch: sampling": (LiveSession, ("_sample_patch",)),
        "codec decode steps": (LiveSession, ("_decode",))}
    found = {}
    for name, (owner, methods) in candidates.items():
        method = next((method for method in methods if hasattr(owner, method)), None)
        if method is not None and owner is not type(None):
            found[name] = (owner, method)
    return found


def timed(times: dict[str, list[float]], name: str, method: Callable) -> Callable:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            times[name].append(time.perf_counter() - start)
    return wrapper


def first_chunks(pipeline: Pipeline, text: str, streams: int) -> dict[str, Any]:
    """Per stage, its median total per stream (ms) and calls per stream; the first audio's
    median, minimum and maximum."""
    times: dict[str, list[float]] = defaultdict(list)
    patched = stages(pipeline)
    originals = {name: getattr(owner, method) for name, (owner, method) in patched.items()}
    for name, (owner, method) in patched.items():
        setattr(owner, method, timed(times, name, originals[name]))
    try:
        firsts, per_stream = [], []
        for index in range(WARM_UP + streams):
            times.clear()
            start = time.perf_counter()
            next(pipeline.stream(text, None, 10.0, seed=index))
            if index >= WARM_UP:
                firsts.append(time.perf_counter() - start)
                per_stream.append({name: list(values) for name, values in times.items()})
    finally:
        for name, (owner, method) in patched.items():
            setattr(owner, method, originals[name])
    report = {"first_audio_ms": {"median": statistics.median(firsts) * 1e3,
                                 "min": min(firsts) * 1e3, "max": max(firsts) * 1e3},
              "stages_ms": {}}
    for name in patched:
        totals = [sum(stream.get(name, ())) * 1e3 for stream in per_stream]
        calls = statistics.median(len(stream.get(name, ())) for stream in per_stream)
        if calls:
            report["stages_ms"][name] = {"median": statistics.median(totals), "calls": calls}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--text", default=BENCH_PROMPT)
    parser.add_argument("--streams", type=int, default=20)
    add_override_option(parser)
    add_run_options(parser, threads=2)
    args = parser.parse_args()
    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    report = first_chunks(pipeline, args.text, args.streams)
    first = report["first_audio_ms"]
    print(f"{args.model}, {args.text!r}: first audio median {first['median']:.1f} ms "
          f"(min {first['min']:.1f}, max {first['max']:.1f}) over {args.streams} streams")
    for name, stage in report["stages_ms"].items():
        print(f"  {name:32s} {stage['median']:7.1f} ms  ({stage['calls']:g} calls)")
    write_report(args.json, {"model": args.model, "text": args.text, "set": args.set, **report})


if __name__ == "__main__":
    main()
