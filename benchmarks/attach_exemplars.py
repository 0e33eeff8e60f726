"""Give a pipeline an exemplar bank (docs/pipeline.md, "Exemplar prompts"): for each class of
the sound vocabulary, the loudest second of its most typical training clips (never a held-out
clip), and switch ``exemplar_prompts`` on; or, with ``--add-missing``, keep the pipeline's
bank and add the classes it lacks (with ``--all-licences``, from copyleft sound sets: a
local copy for one's own use, never to redistribute; with ``--refresh``, cutting some of its
own classes again).

    python benchmarks/attach_exemplars.py runs/tiny-next/stage1/pipeline \\
        runs/tiny-next/stage1/pipeline-exemplars --seconds 1.024
    python benchmarks/attach_exemplars.py tiny-next my-tiny-next --add-missing --all-licences
    python benchmarks/attach_exemplars.py tiny-next OUT --add-missing --per-class 4 \\
        --refresh dog,wind
"""

from __future__ import annotations

import argparse

import torch

from swansphere.conditioning.exemplars import DEFAULT_THRESHOLD
from swansphere.data.exemplars import CHOICES, exemplar_bank, with_classes_added, without_classes
from swansphere.data.vocabulary import training_phrases
from swansphere.pipeline import Pipeline
from swansphere.training.pipeline import vocabulary_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="shipped name or pipeline directory")
    parser.add_argument("output", help="where the pipeline with its bank goes")
    parser.add_argument("--seconds", type=float, default=1.024,
                        help="length of each exemplar (default: 8 patches of 128 ms)")
    parser.add_argument("--per-class", type=int, default=1, help="clips kept per class")
    parser.add_argument("--choice", choices=CHOICES, default="typical",
                        help="each class's most typical training clips, or its first ones")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="similarity a prompt needs to name a class")
    parser.add_argument("--all-licences", action="store_true",
                        help="every class, not only permissively licensed clips")
    parser.add_argument("--add-missing", action="store_true",
                        help="keep the pipeline's own exemplars and add the classes its bank "
                             "lacks (--seconds and --threshold are the bank's own)")
    parser.add_argument("--refresh", default="",
                        help="with --add-missing: comma-separated classes of the bank to cut "
                             "again (after a change to their clips)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.refresh and not args.add_missing:
        parser.error("--refresh needs --add-missing (it cuts classes of the pipeline's bank)")
    torch.set_num_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model)
    clips = vocabulary_split(None, not args.all_licences, False)
    wordings = training_phrases({clip.label for clip in clips})
    if args.add_missing:
        if pipeline.exemplars is None:
            parser.error(f"{args.model} has no exemplar bank to add to")
        refreshed = [name.strip() for name in args.refresh.split(",") if name.strip()]
        own = without_classes(pipeline.exemplars, refreshed) if refreshed else pipeline.exemplars
        bank = with_classes_added(own, clips, wordings,
                                  per_class=args.per_class, choice=args.choice)
    else:
        bank = exemplar_bank(clips, wordings, sample_rate=pipeline.sample_rate,
                             seconds=args.seconds, per_class=args.per_class,
                             threshold=args.threshold, choice=args.choice)
    pipeline.replace(exemplars=bank, exemplar_prompts=True).save_pretrained(args.output)
    seconds = bank.audio.shape[-1] / bank.sample_rate
    print(f"{args.output}: {len(bank.clip_classes)} exemplars of {len(bank.class_names)} classes,"
          f" {seconds:g} s each")


if __name__ == "__main__":
    main()
