"""Where does a streaming model lose what a sound is? Identity of held-out clips resynthesised
patch by patch from their true history, part by part, continued and free
(swansphere.evaluation.teacher_forced; figures in docs/evaluation.md).

    python benchmarks/identity_probe.py --model runs/tiny-next/stage1/pipeline --cases 20 \\
        --threads 1 --json runs/identity-probe.json
"""

from __future__ import annotations

import argparse
import sys

from _run_options import add_override_option, add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="shipped name or pipeline directory")
    parser.add_argument("--cases", type=int, default=20, help="single-source prompts")
    parser.add_argument("--family", choices=("held_out", "training"), default="held_out",
                        help="caption family of the prompts (default: held_out)")
    parser.add_argument("--prime-seconds", type=float, default=1.0,
                        help="how much of the clip the continued stream is given")
    add_override_option(parser)
    add_run_options(parser)
    args = parser.parse_args(argv)


    from swansphere.evaluation.content import References, content_cases
    from swansphere.evaluation.teacher_forced import identity_probe
    from swansphere.pipeline import Pipeline

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    references, embedding = References.held_out(pipeline.sample_rate)
    cases = content_cases(sorted(references.clips), count=args.cases, family=args.family)
    report = identity_probe(pipeline, references, cases, embedding=embedding,
                            prime_seconds=args.prime_seconds)
    print(f"{report['cases']} cases, {report['classes']} classes (chance: top-1 "
          f"{report['chance_top1']:.2f}, median rank {report['chance_median_rank']})")
    print(f"{'clip':28s} {'top-1':>6s} {'top-5':>6s} {'median rank':>12s}")
    for kind, figures in report["clips"].items():
        print(f"{kind:28s} {figures['top1']:6.2f} {figures['top5']:6.2f} "
              f"{figures['median_rank']:12.1f}")
    write_report(args.json, {"model": args.model, "settings": args.set, **report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
