"""Give a pipeline its training latents' range (``latent_range``, docs/samplers.md), for a
model trained before the pipeline trainer wrote it: the recipe's training scenes (from its
scene cache, or rendered), encoded by the model's codec, in the backbone's space.

    python benchmarks/attach_latent_range.py benchmarks/configs/tiny-next/stage1.toml \\
        runs/tiny-next/stage1/pipeline runs/tiny-next/stage1/pipeline-ranged --scenes 512
"""

from __future__ import annotations

import argparse

import torch

from swansphere.pipeline import LatentRange, Pipeline
from swansphere.training.pipeline import render_pool
from swansphere.training.tasks import load_training_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", help="the pipeline recipe the model was trained with")
    parser.add_argument("model", help="the pipeline directory")
    parser.add_argument("output", help="where the pipeline with its range goes")
    parser.add_argument("--scenes", type=int, default=512, help="training scenes to encode")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task, config = load_training_config(args.recipe)
    if task.name != "pipeline":
        raise SystemExit(f"{args.recipe} is a {task.name!r} recipe, not a pipeline one")
    pipeline = Pipeline.from_pretrained(args.model)
    fps = getattr(pipeline.video_encoder, "frame_rate", 4.0)
    pool = render_pool(config.data, config.stage, pipeline.sample_rate, fps, validation=False)
    foa = pool.foa[:args.scenes]
    with torch.inference_mode():
        latents = torch.cat([pipeline.codec.encode(foa[i:i + 32]).float()
                             for i in range(0, len(foa), 32)])
    latent_range = LatentRange.of(latents / pipeline.config.latent_scale)
    pipeline.replace(latent_range=latent_range).save_pretrained(args.output)
    print(f"{args.output}: latent_range of {len(foa)} training scenes, low "
          f"{min(latent_range.low):.2f} .. high {max(latent_range.high):.2f} (backbone space)")


if __name__ == "__main__":
    main()
