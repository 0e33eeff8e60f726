"""How well do a pipeline's words alone name the sound? Held-out-family captions identified
by the nearest class centroid of training-family captions in its text conditioner's output, its
frozen text encoder's states and, for a causal-dit model, the LM's h with the audio history
hidden (swansphere.evaluation.content.caption_identity; figures in docs/evaluation.md).

    python benchmarks/caption_identity.py --model runs/tiny-next/stage2-history-s/pipeline
"""

from __future__ import annotations

import argparse
from functools import partial

from _run_options import add_override_option, add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="shipped name or pipeline directory")
    parser.add_argument("--captions", type=int, default=600,
                        help="training-family captions that make the centroids")
    parser.add_argument("--held-out", type=int, default=300, help="held-out captions identified")
    parser.add_argument("--all-licences", action="store_true",
                        help="every class, not only permissively licensed ones")
    add_override_option(parser)
    add_run_options(parser)
    args = parser.parse_args(argv)


    from swansphere.evaluation.content import caption_identity
    from swansphere.evaluation.teacher_forced import words_only_states
    from swansphere.pipeline import Pipeline
    from swansphere.training.pipeline import vocabulary_split

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    if pipeline.text_encoder is None:
        parser.error(f"{args.model} has no text conditioner")
    # the content evaluation's classes: those with held-out clips installed
    held_out = vocabulary_split(None, not args.all_licences, True)
    classes = sorted({clip.label for clip in held_out})
    causal = pipeline.config.backbone.type == "causal-dit"  # h with the history hidden, too
    states = partial(words_only_states, pipeline) if causal else None
    report = caption_identity(pipeline.text_encoder.eval(), classes, captions=args.captions,
                              held_out=args.held_out, states=states)
    for readout, figures in report.items():
        print(f"{readout:>12}: top-1 {figures['top1']:.3f} (chance {figures['chance_top1']:.3f}),"
              f" top-5 {figures['top5']:.3f}, {figures['clips']} captions, "
              f"{figures['classes']} classes"
              + (f", {figures['train_top1']:.3f} of the fitted ones" if "train_top1" in figures
                 else ""))
    write_report(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
