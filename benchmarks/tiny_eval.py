"""Evaluation table of a generation model on held-out single-source scenes, beside baselines.

Scenes are :class:`~swansphere.data.synthetic.SyntheticFOADataset` scenes with one static
source on a seed no training recipe uses, with their ground-truth captions (explicit
directions) and panorama videos. Every system generates a clip per scene from the caption
(``text``), the video (``video``) or both, and is scored against the scene's FOA:

- Δθ, Δφ, Δangular (rad) between whole-clip directions (``swansphere.spatial.angular_errors``);
- for text, the angle to the direction the prompt names (``evaluation.metrics.prompt_direction``);
- the share of clips whose direction gets the scene's own position words (sector and height);
- energy-map correlation; FD on aisfx embeddings when its weights are installed;
- the output level (W, dBFS, mean over clips; the scenes' own beside it).

Systems: the streaming model; the cascade (its W channel panned toward the prompt or the
video: ``evaluation.baselines.CascadeBaseline``); optionally a trained global-DiT
(``--global-dit DIR``); and chance (the scene's own W re-encoded toward a random direction).

    python benchmarks/tiny_eval.py --model tiny --global-dit runs/tiny/global-dit/pipeline \\
        --scenes 64 --json runs/tiny_eval.json
"""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any

import numpy as np
import torch
from _run_options import add_override_option, add_run_options, set_threads, write_report
from tqdm.auto import tqdm

EVAL_SEED = 7_000_001
"""Scene seed of the evaluation (training recipes use 0 and 1, validation adds offsets)."""


def held_out_scenes(count: int, sample_rate: int, fps: float, seconds: float) -> list[dict]:
    """Single static sources with their captions and panoramas."""
    from swansphere.data.panorama import PanoramaRenderer
    from swansphere.data.synthetic import SyntheticFOADataset

    dataset = SyntheticFOADataset(sample_rate=sample_rate, clip_seconds=seconds, size=count,
                                  seed=EVAL_SEED, max_sources=1, moving_probability=0.0)
    renderer = PanoramaRenderer(width=128, height=64, fps=fps)
    scenes = []
    for index in range(count):
        item = dataset[index]
        frames, times = renderer.render(dataset.scene(index))
        source = item["sources"][0]
        scenes.append({"foa": item["foa"], "caption": item["caption"], "video": (frames, times),
                       "azimuth": float(source["azimuth"][0]),
                       "elevation": float(source["elevation"][0])})
    return scenes


def chance_clip(scene: dict, index: int) -> torch.Tensor:
    """The scene's own sound from a uniformly random direction."""
    from swansphere.spatial import encode

    rng = np.random.default_rng([EVAL_SEED, index])
    azimuth = rng.uniform(-180.0, 180.0)
    elevation = math.degrees(math.asin(rng.uniform(-1.0, 1.0)))
    return encode(scene["foa"][0], azimuth, elevation).float()


def score(scene: dict, audio: torch.Tensor, condition: str) -> dict[str, float]:
    """Direction and energy-map figures of one generated clip."""
    from swansphere.evaluation.level import level_db
    from swansphere.metrics.direction import (
        WITHOUT_DIRECTION_ERROR,
        angle_between,
        energy_map_correlation,
        has_direction,
        worst_case_direction_errors,
    )
    from swansphere.spatial import direction
    from swansphere.spatial.words import position_words, prompt_direction

    errors = worst_case_direction_errors(scene["foa"], audio)
    row = {name: float(value) for name, value in errors.items()}
    row["level_db"] = level_db(audio)
    target = prompt_direction(scene["caption"]) if condition != "video" else None
    if not bool(has_direction(audio)):  # silence: the worst error (docs/evaluation.md)
        row |= {"same_words": 0.0, "energy_map_correlation": 0.0}
        if target is not None:
            row["prompt_angular"] = WITHOUT_DIRECTION_ERROR
        return row
    azimuth, elevation = direction(audio)
    words = position_words(scene["azimuth"], scene["elevation"])
    row["same_words"] = float(position_words(float(azimuth), float(elevation)) == words)
    row["energy_map_correlation"] = float(energy_map_correlation(scene["foa"], audio))
    if target is not None:
        row["prompt_angular"] = math.radians(float(angle_between(
            float(azimuth), float(elevation), *target)))
    return row


def frechet(embedding: Any, references: list[torch.Tensor], clips: list[torch.Tensor],
            sample_rate: int) -> float | None:
    from swansphere.metrics.frechet import frechet_distance

    if embedding is None:
        return None

    def embed(audio: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([embedding.embed(clip[0], sample_rate) for clip in audio])

    return frechet_distance(embed(references), embed(clips))


def load_embedding() -> Any:
    from swansphere.errors import SwanSphereError
    from swansphere.metrics.embedding import AisfxEmbedding

    try:
        return AisfxEmbedding.load()
    except (SwanSphereError, OSError) as error:  # FD is optional: say why it is missing
        print(f"FD skipped: {error}")
        return None


def evaluate(systems: dict[str, Any], scenes: list[dict], conditions: list[str],
             embedding: Any, sample_rate: int, progress: bool = True) -> dict[str, Any]:
    """Rows ``system / condition`` with the mean of every figure."""
    table = {}
    for system, generator in systems.items():
        for condition in conditions:
            if system == "chance" and condition != "text":
                continue
            clips, rows = [], []
            for index, scene in enumerate(tqdm(scenes, desc=f"{system} / {condition}",
                                               disable=None if progress else True)):
                audio = generate(generator, scene, condition, index)
                clips.append(audio)
                rows.append(score(scene, audio, condition))
            name = "chance" if system == "chance" else f"{system} / {condition}"
            table[name] = {key: statistics.fmean(row[key] for row in rows if key in row)
                           for key in rows[0]}
            fd = frechet(embedding, [s["foa"] for s in scenes], clips, sample_rate)
            if fd is not None:
                table[name]["fd"] = fd
    return table


def generate(generator: Any, scene: dict, condition: str, index: int) -> torch.Tensor:
    if generator == "chance":
        return chance_clip(scene, index)
    text = scene["caption"] if "text" in condition else None
    video = scene["video"] if "video" in condition else None
    duration = scene["foa"].shape[-1] / generator.sample_rate
    with torch.inference_mode():
        return generator.generate(text, video, duration=duration, seed=index).float()


def markdown(table: dict[str, dict[str, float]]) -> str:
    columns = ["angular", "theta", "phi", "prompt_angular", "same_words",
               "energy_map_correlation", "fd", "level_db"]
    header = ("| system / condition | Δangular | Δθ | Δφ | to the prompt | same words | "
              "energy-map corr. | FD | level (dBFS) |")
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for name, row in table.items():
        cells = [(f"{row[c]:.1f}" if c == "level_db" else f"{row[c]:.3f}") if c in row
                 else "–" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--global-dit", default=None, help="a trained global-dit pipeline")
    parser.add_argument("--scenes", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--conditions", nargs="+", default=["text", "video", "text+video"])
    parser.add_argument("--systems", nargs="+", default=["streaming", "cascade", "chance"],
                        help="of streaming, cascade, chance (global-dit: --global-dit DIR)")
    parser.add_argument("--sampler-steps", type=int, default=None,
                        help="override the model's sampling steps")
    add_override_option(parser)
    parser.add_argument("--no-fd", action="store_true")
    add_run_options(parser, threads=2)
    args = parser.parse_args()
    set_threads(args.threads)

    from swansphere.evaluation.baselines import CascadeBaseline, GlobalBaseline
    from swansphere.evaluation.level import mean_level_db
    from swansphere.pipeline import Pipeline

    model = Pipeline.from_pretrained(args.model, overrides=args.set)
    if args.sampler_steps is not None:
        model.sampler = with_steps(model.config.sampler, args.sampler_steps)
    available = {"streaming": model, "cascade": CascadeBaseline(model), "chance": "chance"}
    systems: dict[str, Any] = {name: available[name] for name in args.systems}
    if args.global_dit:
        systems["global-dit"] = GlobalBaseline.from_pretrained(args.global_dit)
    fps = model.video_frame_rate
    scenes = held_out_scenes(args.scenes, model.sample_rate, fps, args.seconds)
    embedding = None if args.no_fd else load_embedding()
    table = evaluate(systems, scenes, args.conditions, embedding, model.sample_rate)
    print(markdown(table))
    print(f"scenes' own level: {mean_level_db(s['foa'] for s in scenes):.1f} dBFS")
    write_report(args.json, {"model": str(args.model), "scenes": args.scenes,
                             "seconds": args.seconds, "seed": EVAL_SEED,
                             "sampler_steps": args.sampler_steps, "overrides": args.set,
                             "scene_level_db": mean_level_db(s["foa"] for s in scenes),
                             "table": table})


def with_steps(spec: Any, steps: int) -> Any:
    """The model's sampler with another number of steps."""
    import attrs

    from swansphere.registry import default_registry

    return default_registry().create(
        "sampler", attrs.evolve(spec, config=attrs.evolve(spec.config, steps=steps)))


if __name__ == "__main__":
    main()
