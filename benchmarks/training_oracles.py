"""How far do simple stand-ins for a generator get? A class's training clip, its frames in
random order and its mean latent frame, each through a model's codec, identified among the
held-out references as generated clips are (swansphere.evaluation.content.training_oracles;
figures in docs/evaluation.md), beside what the held-out recordings themselves and their
round trip reach, each judged without its own clip (content.codec_ceiling).

    python benchmarks/training_oracles.py --model runs/tiny-next/stage1/pipeline --threads 1
"""

from __future__ import annotations

import argparse
import sys

from _run_options import add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="shipped name or pipeline directory")
    parser.add_argument("--clips-per-class", type=int, default=8,
                        help="training clips of each class to draw frames from")
    add_run_options(parser)
    args = parser.parse_args(argv)

    from swansphere.evaluation.content import References, codec_ceiling, training_oracles
    from swansphere.pipeline import Pipeline
    from swansphere.training.pipeline import vocabulary_split

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model)
    references, embedding = References.held_out(pipeline.sample_rate)
    training = vocabulary_split(None, True, False)  # the permissive classes' training clips
    report = training_oracles(pipeline.codec, references, training, embedding,
                              clips_per_class=args.clips_per_class)
    ceiling = codec_ceiling(pipeline.codec, references, embedding)
    report |= {f"held_out_{kind}": figures for kind, figures in ceiling.items()}
    classes = len(references.clips)
    print(f"{classes} classes (chance: top-1 {1 / classes:.2f}, median rank "
          f"{(classes + 1) / 2})")
    print(f"{'stand-in':23s} {'top-1':>6s} {'top-5':>6s} {'median rank':>12s}")
    for kind, figures in report.items():
        print(f"{kind:23s} {figures['top1']:6.2f} {figures['top5']:6.2f} "
              f"{figures['median_rank']:12.1f}")
    write_report(args.json, {"model": args.model, "classes": classes, **report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
