"""Evaluate an ODPO run against its starting pipeline, in one run, on held-out prompts.

Both pipelines generate from the same held-out prompts (simulated scenes on a seed of their
own, built like the run's training prompts; with vocabulary prompts, of the held-out clips and
captions) with the same seeds. Reported per model:

* the paper's Δθ, Δφ, Δangular (rad) against each scene's reference FOA
  (:func:`swansphere.evaluation.metrics.clip_direction_errors`; silent clips excluded, and
  also counted as π in ``angular_worst_mean``) and the share of clips within 30° of the target;
* metrics that are not rewards: energy-map correlation with the reference (solid-angle
  weighted Pearson, :func:`~swansphere.evaluation.metrics.energy_map_correlation`) and the
  Fréchet distance of aisfx embeddings (W channel) to the references;
* the rewards the run optimised (weighted total and each one);
* the reference-KL proxy: the policy's mean squared velocity gap to the starting model on its
  own held-out clips (0 for the starting model by definition): a gain bought by drifting far
  from the reference is reward hacking, not progress;
* the paired per-clip change of Δangular and map correlation with a 95 % interval from a
  cluster bootstrap over prompts (:func:`paired_change`): the ``--samples`` clips of one prompt
  are correlated, so prompts, not clips, are the independent units.

Prints a table and writes JSON::

    python benchmarks/odpo_eval.py runs/odpo --prompts 64 --json odpo_eval.json

``runs/odpo`` is the run's ``output_dir``: its ``train.toml`` names the starting pipeline and
the prompt statistics, ``pipeline/`` is the ODPO model and ``text-audio/`` the semantic judge.
``--start`` / ``--odpo`` override the two pipelines.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import attrs
import torch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from swansphere.plugins.odpo.trainer import HELD_OUT_SEED

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the ODPO run's output_dir (holds train.toml)")
    parser.add_argument("--start", default=None, help="starting pipeline (default: the run's)")
    parser.add_argument("--odpo", default=None, help="ODPO pipeline (default: RUN/pipeline)")
    parser.add_argument("--prompts", type=int, default=64, help="held-out prompts (default 64)")
    parser.add_argument("--samples", type=int, default=1, help="clips per prompt (default 1)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="held-out scene seed")
    parser.add_argument("--no-fd", action="store_true", help="skip the Fréchet distance")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", default="cpu", help="where the pipelines run")
    parser.add_argument("--json", default="odpo_eval.json", help="where to write the figures")
    return parser.parse_args(argv)


def load_run(args: argparse.Namespace) -> tuple[Any, Path, Path]:
    """The run's training config, the starting and the ODPO pipeline directories."""
    from swansphere.errors import ConfigError
    from swansphere.training.tasks import load_training_config

    run = Path(args.run)
    task, config = load_training_config(run / "train.toml")
    if task.name != "odpo":
        raise ConfigError(f"{run / 'train.toml'} is a {task.name!r} run, not an ODPO run")
    return config, Path(args.start or config.pipeline), Path(args.odpo or run / "pipeline")


def build_rewards(config: Any, run: Path) -> Any:
    """The run's rewards; a semantic reward without a text model uses the run's judge."""
    from swansphere.errors import ResourceNotFoundError
    from swansphere.plugins.odpo.rewards import RewardMix
    from swansphere.plugins.odpo.trainer import JUDGE_DIR, needs_judge, with_judge
    from swansphere.registry import default_registry

    entries = list(config.rewards)
    if needs_judge(entries, config.prompts.video):
        judge = run / JUDGE_DIR
        if not judge.is_dir():
            raise ResourceNotFoundError(f"the semantic reward has no text model and {judge} "
                                        "does not exist; pass a run that trained its judge")
        entries = with_judge(entries, judge, config.prompts.video)
    registry = default_registry()
    return RewardMix([(entry.weight, registry.create("reward", entry.reward))
                      for entry in entries])


def held_out_metrics(prompts: list[Any], clips: list[Any], sample_rate: int,
                     embedding: Any) -> dict[str, float]:
    """Direction errors, direction accuracy, energy-map correlation and FD of the clips (one
    :class:`swansphere.Takes` per prompt) against the prompts' reference clips."""
    from swansphere.evaluation.metrics import direction_accuracy
    from swansphere.metrics.direction import (
        aggregate_direction_errors,
        clip_direction_errors,
        energy_map_correlation,
        has_direction,
        summarize,
    )
    from swansphere.metrics.frechet import NotEnoughSamplesError, frechet_distance
    from swansphere.spatial import direction

    references = torch.stack([item.reference for item, takes in zip(prompts, clips, strict=True)
                              for _ in takes.seeds])
    audio = torch.cat([takes.audio.cpu() for takes in clips])
    errors = clip_direction_errors(references, audio)
    figures = aggregate_direction_errors(errors, "exclude")
    figures["angular_per_clip"] = errors["angular"].tolist()  # NaN: a silent side
    figures["angular_worst_mean"] = aggregate_direction_errors(errors, "worst")["angular_mean"]
    correlations = energy_map_correlation(references, audio)
    figures |= summarize(correlations, "energy_map_correlation")
    figures["energy_map_correlation_per_clip"] = correlations.tolist()  # NaN: a flat map
    targets = [(item.direction, clip) for item, takes in zip(prompts, clips, strict=True)
               for clip in takes.audio.cpu() if item.direction is not None]
    hits = []
    for target, clip in targets:
        if bool(has_direction(clip)):
            found = [float(angle) for angle in direction(clip)]
            hits.append(bool(direction_accuracy(*found, *target)["within_cone"][0]))
        else:
            hits.append(False)
    figures["within_30deg"] = sum(hits) / len(hits) if hits else math.nan
    if embedding is not None:
        generated = torch.cat([embedding.embed_foa(clip, sample_rate) for clip in audio])
        reference = torch.cat([embedding.embed_foa(clip, sample_rate) for clip in references])
        try:
            figures["fd"] = frechet_distance(generated, reference)
        except NotEnoughSamplesError:
            figures["fd"] = math.nan
    return figures


def evaluate_model(name: str, pipeline: Any, reference: Any, rewards: Any, odpo_config: Any,
                   prompts: list[Any], args: argparse.Namespace,
                   embedding: Any) -> dict[str, float]:
    from swansphere.plugins.odpo.optimizer import ODPO
    from swansphere.plugins.odpo.trainer import evaluate_clips, sample_prompts

    odpo = ODPO(odpo_config).attach(pipeline, rewards, reference=reference)
    started = time.perf_counter()
    clips = sample_prompts(pipeline, prompts, seed=0, samples=args.samples)
    generation_seconds = time.perf_counter() - started
    figures = held_out_metrics(prompts, clips, pipeline.sample_rate, embedding)
    figures |= {f"reward_{key}" if key != "reference_kl" else key: value
                for key, value in evaluate_clips(
                    pipeline, rewards, prompts, clips,
                    divergence=odpo.reference_divergence).items()
                if key != "angular_error"}
    figures["generation_seconds"] = generation_seconds
    print(f"{name}: {len(prompts) * args.samples} clips in {generation_seconds:.1f} s")
    return figures


PAIRED = (("angular", "angular_per_clip", "rad"),
          ("energy_map_correlation", "energy_map_correlation_per_clip", ""))
"""Per-clip figures whose paired change is reported: (name, per-clip key, unit)."""


def paired_change(start: list[float], odpo: list[float], *, clusters: list[int] | None = None,
                  resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean per-clip change (ODPO − start) over the clips both scored, with a 95 % cluster
    bootstrap interval.

    Both models generate each prompt with the same seed, so the difference is paired and far
    less noisy than the difference of the two means. ``clusters`` names each clip's prompt:
    the clips of one prompt share its scene and target, so their changes are correlated and
    are not independent samples (128 prompts × 4 seeds are not 512 independent clips). The
    bootstrap therefore resamples whole prompts and takes the clip mean of each draw. Without
    ``clusters`` every clip is its own prompt.
    """
    clusters = list(range(len(start))) if clusters is None else list(clusters)
    kept = [(b - a, group) for a, b, group in zip(start, odpo, clusters, strict=True)
            if not (math.isnan(a) or math.isnan(b))]
    if not kept:
        return {"clips": 0, "clusters": 0, "mean": math.nan, "low": math.nan,
                "high": math.nan}
    values = torch.tensor([change for change, _ in kept], dtype=torch.float64)
    _, member = torch.unique(torch.tensor([group for _, group in kept]), return_inverse=True)
    count = int(member.max()) + 1
    sums = torch.zeros(count, dtype=torch.float64).index_add(0, member, values)
    sizes = torch.bincount(member, minlength=count).to(torch.float64)
    draws = torch.randint(count, (resamples, count),
                          generator=torch.Generator().manual_seed(seed))
    means = sums[draws].sum(dim=1) / sizes[draws].sum(dim=1)
    low, high = torch.quantile(means, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return {"clips": len(kept), "clusters": count, "mean": float(values.mean()),
            "low": float(low), "high": float(high)}


COLUMNS = (("angular_mean", "Δangular"), ("theta_mean", "Δθ"), ("phi_mean", "Δφ"),
           ("angular_worst_mean", "Δang(silent=π)"), ("within_30deg", "≤30°"),
           ("energy_map_correlation_mean", "map corr"), ("fd", "FD"), ("reward_reward", "R"),
           ("reference_kl", "ref-KL"))


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A markdown table: one row per model, then the ODPO - start difference."""
    shown = [(key, label) for key, label in COLUMNS
             if all(key in figures for figures in results.values())]
    rewards = sorted({key for figures in results.values() for key in figures
                      if key.startswith("reward_") and key != "reward_reward"})
    shown += [(key, key.removeprefix("reward_")) for key in rewards]
    lines = ["| model | " + " | ".join(label for _, label in shown) + " |",
             "|---|" + "---:|" * len(shown)]
    for name, figures in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{figures[key]:.4g}" for key, _ in shown)
                     + " |")
    if {"start", "odpo"} <= set(results):
        delta = [results["odpo"][key] - results["start"][key] for key, _ in shown]
        lines.append("| odpo − start | " + " | ".join(f"{value:+.4g}" for value in delta)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from swansphere.pipeline import Pipeline
    from swansphere.plugins.odpo.trainer import scene_prompts

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config, start_dir, odpo_dir = load_run(args)
    # the backbones' own takes, as ODPO sampled them (whatever a model does with places)
    pipelines = {"start": Pipeline.from_pretrained(start_dir).replace(sources="joint"),
                 "odpo": Pipeline.from_pretrained(odpo_dir).replace(sources="joint")}
    for pipeline in pipelines.values():
        for module in pipeline.modules().values():
            module.to(args.device).eval().requires_grad_(False)
    start = pipelines["start"]
    fps = start.video_encoder.frame_rate if config.prompts.video else None
    prompts = scene_prompts(config.prompts, start.sample_rate, count=args.prompts,
                            seed=args.seed, fps=fps, validation=True)
    rewards = build_rewards(config, Path(args.run))
    embedding = None
    if not args.no_fd:
        from swansphere.metrics.embedding import AisfxEmbedding

        embedding = AisfxEmbedding.load()
    reference = start.backbone
    results = {name: evaluate_model(name, pipeline, reference, rewards, config.odpo.config,
                                    prompts, args, embedding)
               for name, pipeline in pipelines.items()}
    table = format_table(results)
    prompt_of_clip = [index for index in range(len(prompts)) for _ in range(args.samples)]
    paired = {name: paired_change(results["start"][key], results["odpo"][key],
                                  clusters=prompt_of_clip)
              for name, key, _ in PAIRED}
    print(table)
    for name, _, unit in PAIRED:
        change = paired[name]
        print(f"paired {name} change (odpo − start) over {change['clips']} clips of "
              f"{change['clusters']} prompts: {change['mean']:+.4f}{' ' + unit if unit else ''}"
              ", 95 % bootstrap interval (prompts resampled) "
              f"[{change['low']:+.4f}, {change['high']:+.4f}]")
    report = {"run": str(args.run), "start": str(start_dir), "odpo": str(odpo_dir),
              "held_out_seed": args.seed, "prompts": args.prompts, "samples": args.samples,
              "prompt_config": attrs.asdict(config.prompts), "threads": args.threads,
              "device": args.device, "results": results, "table": table,
              "paired_change": paired}
    Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
