"""Does a trained pipeline's backbone listen to its caption? (docs/evaluation.md, "Why the
caption goes unheard")

For the validation scenes of a training config, the flow error at clip onsets with each
scene's own caption against its neighbour's (:mod:`swansphere.evaluation.reliance`), overall
and, for ``foa-parametric`` latents, per part of the latent frame.

    python benchmarks/caption_reliance.py benchmarks/configs/cpu-probe/caption-arcade.toml \\
        runs/cpu-probe/caption-arcade --threads 2
"""

from __future__ import annotations

import argparse

import torch
from _run_options import add_run_options, set_threads, write_report

from swansphere.codecs.config import FoaParametricConfig
from swansphere.evaluation.reliance import caption_reliance
from swansphere.training.pipeline import PipelineTrainer
from swansphere.training.tasks import load_training_config


def latent_parts(codec_config: object) -> dict[str, slice]:
    """The named parts of a ``foa-parametric`` latent frame (docs/codecs.md); else one part."""
    if not isinstance(codec_config, FoaParametricConfig):
        return {"all": slice(None)}
    return {"all": slice(None), **codec_config.latent_parts()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="the training config whose validation scenes to use")
    parser.add_argument("run", help="a run directory (its newest checkpoint) or a checkpoint")
    parser.add_argument("--windows", type=int, default=8, help="onsets per clip")
    parser.add_argument("--max-time", type=float, default=0.15,
                        help="flow times drawn from U(0, max-time): high noise")
    parser.add_argument("--seed", type=int, default=0)
    add_run_options(parser, threads=2)
    args = parser.parse_args()
    set_threads(args.threads)

    _, config = load_training_config(args.config)
    trainer = PipelineTrainer(config, progress=False)
    step = trainer.restore(args.run)
    data = trainer.training_set(validation=True)
    for module in trainer.pipeline.modules().values():
        module.eval()
    rows = torch.arange(len(data))
    with torch.no_grad():
        own = trainer.conditions(data, rows)
        swapped = trainer.conditions(data, rows.roll(1))
    reliance = caption_reliance(trainer.pipeline.backbone, data.latents, own, swapped,
                                windows=args.windows, max_time=args.max_time,
                                generator=torch.Generator().manual_seed(args.seed))
    parts = latent_parts(trainer.pipeline.config.codec.config)
    report = {"step": step, "clips": len(data), "parts": {
        name: {"own": float(reliance.own[dims].mean()),
               "swapped": float(reliance.swapped[dims].mean()),
               "gain": reliance.gain(dims)} for name, dims in parts.items()}}
    print(f"step {step}, {len(data)} validation clips, {args.windows} onsets each, "
          f"t < {args.max_time}")
    print(f"{'part':<12} {'own caption':>12} {'swapped':>9} {'gain':>7}")
    for name, row in report["parts"].items():
        print(f"{name:<12} {row['own']:>12.3f} {row['swapped']:>9.3f} {row['gain']:>7.1%}")
    write_report(args.json, report)


if __name__ == "__main__":
    main()
