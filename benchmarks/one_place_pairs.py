"""Two sounds named at one place ("I hear a fiddle and a chap talking behind you"): does
the clip hold both?

Each prompt joins the held-out nominals of two classes that have held-out references ("a
fiddle", "someone playing the oboe") with "and" before one place phrase; the model makes it
once (4 s), and the clip's W channel is ranked against every reference class in the aisfx
embedding, as the content benchmark ranks a one-source clip
(:mod:`swansphere.evaluation.content`). Both named classes should rank high: a pipeline that
takes the clause whole starts from one exemplar and keeps one sound. ``--set
'sources="joint"'`` takes every prompt whole, for the comparison::

    python benchmarks/one_place_pairs.py --model tiny-next --pairs 40 --threads 2
    python benchmarks/one_place_pairs.py --model tiny-next --pairs 40 --threads 2 \
        --set 'sources="joint"'
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from _run_options import add_run_options, set_threads, write_report

PLACES = ("behind you", "on your left", "up high in front", "to the right", "at your back",
          "ahead on the left")
"""Place phrases of one place each, read by the prompt parser."""


def pair_prompts(classes: list[str], count: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``count`` (prompt, first class, second class): two distinct classes' held-out nominals
    joined by "and" before one place, every class asked for in turn."""
    from swansphere.data.vocabulary import sound_class

    rng = np.random.default_rng(seed)
    prompts = []
    for index in range(count):
        first = classes[index % len(classes)]
        second = str(rng.choice([name for name in classes if name != first]))
        nouns = [str(rng.choice([w.nominal for w in sound_class(name).family_wordings("held_out")]))
                 for name in (first, second)]
        place = PLACES[index % len(PLACES)]
        prompts.append((f"I hear {nouns[0]} and {nouns[1]} {place}", first, second))
    return prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-next")
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="override the model's config, as swansphere "
                                                  "generate --set does; repeatable")
    add_run_options(parser, threads=2)
    args = parser.parse_args()
    set_threads(args.threads)

    from swansphere.evaluation.content import References, _rank
    from swansphere.pipeline import Pipeline

    pipeline = Pipeline.from_pretrained(args.model, overrides=args.settings)
    references, embedding = References.held_out(pipeline.sample_rate)
    rows = []
    for text, first, second in pair_prompts(sorted(references.clips), args.pairs):
        audio = pipeline.generate(text, duration=args.duration, seed=0)
        ranks = [_rank(references, embedding, audio[0], name) for name in (first, second)]
        streams = len(pipeline.read_prompt(text))
        rows.append({"text": text, "classes": [first, second], "ranks": ranks,
                     "streams": streams})
    both = [max(row["ranks"]) for row in rows]
    report = {"model": args.model, "settings": args.settings, "pairs": len(rows),
              "classes": len(references.clips),
              "cut_into_two": float(np.mean([row["streams"] == 2 for row in rows])),
              "each_named_top5": float(np.mean([r <= 5 for row in rows for r in row["ranks"]])),
              "both_named_top5": float(np.mean([rank <= 5 for rank in both])),
              "each_named_median_rank": statistics.median(r for row in rows
                                                          for r in row["ranks"]),
              "worse_of_two_median_rank": statistics.median(both), "rows": rows}
    print(f"{args.model} {' '.join(args.settings)}: {len(rows)} prompts of two sounds at one "
          f"place, {report['classes']} classes; cut into two streams "
          f"{report['cut_into_two']:.2f}; each named class top-5 {report['each_named_top5']:.2f}"
          f", both {report['both_named_top5']:.2f}; median rank of each "
          f"{report['each_named_median_rank']:.1f}, of the worse of the two "
          f"{report['worse_of_two_median_rank']:.1f}")
    write_report(args.json, report)


if __name__ == "__main__":
    main()
