"""How far exemplar banks get before any model (docs/evaluation.md, "Typical exemplars"):
for each way of choosing exemplars, each class's exemplar ranked among the held-out
references' classes in the aisfx embedding, as a generated clip is, how many held-out
one-source prompts find a class and the one they name, and how many prompts for sounds the
bank has no clip of find a class all the same.

    python benchmarks/exemplar_bank_eval.py --cases 100 --threads 2
"""

from __future__ import annotations

import argparse

from _run_options import add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--choices", default="first,typical",
                        help="comma-separated exemplar choices to compare")
    parser.add_argument("--cases", type=int, default=100, help="held-out one-source prompts")
    parser.add_argument("--absent", type=int, default=100,
                        help="one-source prompts naming vocabulary classes the bank has no "
                             "clip of (should find none)")
    parser.add_argument("--no-others", action="store_true",
                        help="banks without phrases of the sounds they lack (as before)")
    parser.add_argument("--family", choices=("held_out", "training"), default="held_out",
                        help="caption family of the prompts (default: held-out)")
    parser.add_argument("--as-written", action="store_true",
                        help="match the words as written, rarer sound nouns not rewritten "
                             "into the vocabulary's (as before)")
    parser.add_argument("--seconds", type=float, default=1.024, help="length of an exemplar")
    parser.add_argument("--sample-rate", type=int, default=16000)
    add_run_options(parser)
    args = parser.parse_args(argv)


    from swansphere.data.exemplars import exemplar_bank
    from swansphere.data.vocabulary import SOUND_CLASSES, training_phrases
    from swansphere.evaluation.content import References, bank_figures, content_cases
    from swansphere.training.pipeline import vocabulary_split

    set_threads(args.threads)
    references, embedding = References.held_out(args.sample_rate)
    cases = content_cases(sorted(references.clips), count=args.cases, family=args.family)
    clips = vocabulary_split(None, True, False)
    wordings = training_phrases({clip.label for clip in clips})
    absent = content_cases(sorted({sound.name for sound in SOUND_CLASSES} - set(wordings)),
                           count=args.absent, family=args.family) if args.absent else []
    report = {}
    for choice in args.choices.split(","):
        bank = exemplar_bank(clips, wordings, sample_rate=args.sample_rate,
                             seconds=args.seconds, choice=choice,
                             others=() if args.no_others else None)
        report[choice] = bank_figures(bank, references, embedding, cases, absent,
                                      sound_words=not args.as_written)
        print(f"{choice:>8}: {report[choice]}")
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
