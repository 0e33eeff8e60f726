"""What the codec keeps of the exemplars an anchored stream varies (docs/codecs.md, "A
recording's own phases"): for held-out one-source prompts whose words find the named class's
exemplar, the named class's rank for the exemplar looped, for its round trip through the
model's codec, and for that round trip decoded with the exemplar's own phases.

    python benchmarks/exemplar_phases.py --model tiny-next --cases 100 --threads 2

Needs the sound sets (scripts/install-sound-sets.sh), as content_eval.py does.
"""

from __future__ import annotations

import argparse

from _run_options import add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-next", help="shipped name or pipeline directory")
    parser.add_argument("--cases", type=int, default=100, help="held-out one-source prompts")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per looped clip")
    add_run_options(parser)
    args = parser.parse_args(argv)

    from swansphere.evaluation.content import References, content_cases, exemplar_round_trips
    from swansphere.pipeline import Pipeline

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model)
    if pipeline.exemplars is None:
        parser.error(f"{args.model} has no exemplar bank")
    references, embedding = References.held_out(pipeline.sample_rate)
    cases = content_cases(sorted(references.clips), count=args.cases)
    report = exemplar_round_trips(pipeline, references, embedding, cases, args.duration)
    for kind, figures in report.items():
        print(f"{kind:>11}: {figures}")
    write_report(args.json, {"figures": report, "settings": {**vars(args),
                                                             "json": str(args.json)}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
