"""Content evaluation: does a pipeline make the sound its prompt names, where it names it?

    python benchmarks/content_eval.py --model tiny --cases 100 --pairs 50 --seeds 0 1 \\
        --threads 2 --json runs/content-eval.json
    python benchmarks/content_eval.py --model tiny-next --classes "man speaking,woman speaking" \\
        --cases 24 --pairs 0 --seeds 0 1 --all-licences --sets synthetic,tuxpaint,sonic-pi,\\
gcompris,hydrogen,freedesktop,sound-icons,arcade,espeak-ng,fluidsynth

(the second: prompts for two classes only, among every licence's references but Flite's,
so that speech is judged against espeak-ng's voices, which made none of the exemplars)

Prompts name the sound vocabulary's classes (permissive ones by default, the shipped model's
material) in the held-out caption family; references are each class's held-out clips. Needs
the sound sets (scripts/install-sound-sets.sh) or a clip bank, and aisfx (setup.sh). What each
figure means: swansphere.evaluation.content and docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys

from _run_options import add_override_option, add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="shipped name or pipeline directory")
    parser.add_argument("--cases", type=int, default=100, help="single-source prompts")
    parser.add_argument("--pairs", type=int, default=50, help="two-source prompts")
    parser.add_argument("--family", choices=("held_out", "training"), default="held_out",
                        help="caption family of the prompts (default: held_out)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="takes per prompt")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per clip")
    parser.add_argument("--windows", type=int, default=1,
                        help="also rank the named class in this many equal parts of each "
                             "one-source clip (default: 1, the whole clip only)")
    parser.add_argument("--sets", default=None, help="comma-separated sound sets (default: all)")
    parser.add_argument("--classes", default=None,
                        help="comma-separated classes the prompts name (default: every class "
                             "with references); each clip is still ranked among all of them")
    parser.add_argument("--all-licences", action="store_true",
                        help="every class, not only permissively licensed clips")
    parser.add_argument("--cascade", action="store_true",
                        help="score the model's cascade baseline instead: each clip's W channel "
                             "panned toward the place the prompt states (front for several)")
    add_override_option(parser)
    add_run_options(parser)
    args = parser.parse_args(argv)

    import torch

    from swansphere.evaluation.content import References, content_cases, evaluate_content
    from swansphere.pipeline import Pipeline

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    references, embedding = References.held_out(
        pipeline.sample_rate, sets=args.sets.split(",") if args.sets else None,
        permissive_only=not args.all_licences, seconds=args.duration)
    classes = sorted(references.clips)
    if args.classes:
        named = [name.strip() for name in args.classes.split(",")]
        if unknown := sorted(set(named) - set(classes)):
            parser.error(f"no held-out references of {', '.join(unknown)}")
        classes = sorted(named)
        if args.pairs and len(classes) < 2:
            parser.error("two-source prompts (--pairs) need at least two --classes")
    cases = content_cases(classes, count=args.cases, family=args.family)
    if args.pairs:
        cases += content_cases(classes, count=args.pairs, sources=2, family=args.family)
    report = evaluate_content(pipeline, references, cases, embedding=embedding,
                              duration=args.duration, seeds=args.seeds,
                              windows=args.windows, cascade=args.cascade)
    report["settings"] = {**vars(args), "json": str(args.json) if args.json else None,
                          "command": " ".join(sys.argv), "threads": torch.get_num_threads()}
    report["cases"] = [{"text": case.text, "classes": case.classes,
                        "directions": case.directions} for case in cases]
    for key, value in report["summary"].items():
        print(f"{key:>24}: {value}")
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
