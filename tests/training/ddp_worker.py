"""Run several ``swansphere train`` commands in one torchrun launch (one process group).

``python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py '[["train", "a.toml"], ...]'``:
starting torch in three processes costs more than the tiny trainings themselves, so the
distributed tests share one launch. Each command goes through the CLI, which joins the
process group this script opened (:func:`swansphere.training.distributed.launch`).

``["pipeline-gradients", CONFIG.toml, OUT_DIR]`` is not a CLI command: it runs one pipeline
training step with :func:`per_scene_loss` and writes each rank's gradients to
``OUT_DIR/rank-<r>.safetensors``, for comparison with the single-process gradient.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import torch

from swansphere.cli import main
from swansphere.config import structure
from swansphere.training.distributed import launch
from swansphere.training.pipeline import PipelineTrainConfig, PipelineTrainer


def per_scene_loss(trainer: PipelineTrainer, index: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """The mean of per-scene flow losses, each scene drawing its noise from its own seed, so
    a scene's loss does not depend on which rank holds it (the trainer's own loss draws one
    stream per rank, equal to the single-process step only in distribution)."""
    data = trainer.training_set()
    losses = [trainer.pipeline.backbone.loss(
        data.latents[scene:scene + 1].to(trainer.device),
        trainer.conditions(data, index[row:row + 1]),
        generator=torch.Generator().manual_seed(1000 + scene))
        for row, scene in enumerate(index.tolist())]
    return torch.stack(losses).mean()


def step_gradients(config_path: str) -> dict[str, torch.Tensor]:
    """The gradients of the trainable weights after step 0 of a pipeline training run
    whose batch loss is :func:`per_scene_loss` (DDP-averaged under torchrun)."""
    config = structure(tomllib.loads(Path(config_path).read_text()), PipelineTrainConfig)
    original = PipelineTrainer.batch_loss
    PipelineTrainer.batch_loss = per_scene_loss  # bound into the DDP forward at __init__
    try:
        trainer = PipelineTrainer(config, progress=False)
    finally:
        PipelineTrainer.batch_loss = original
    trainer.train_step(0)
    return {f"{part}.{name}": parameter.grad.detach().clone()
            for part, module in trainer.trainable.items()
            for name, parameter in module.named_parameters() if parameter.grad is not None}


if __name__ == "__main__":
    with launch() as dist:
        for argv in json.loads(sys.argv[1]):
            if argv[0] == "pipeline-gradients":
                from safetensors.torch import save_file

                save_file(step_gradients(argv[1]),
                          str(Path(argv[2]) / f"rank-{dist.rank}.safetensors"))
                continue
            code = main(argv)
            if code:
                sys.exit(f"rank {dist.rank}: {argv} exited with {code}")
