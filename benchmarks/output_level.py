"""Where a model's output level goes: training scenes, codec round trip, latents, sampling.

Renders the first ``--scenes`` training scenes of a recipe (the scenes the model trained on:
same simulator, seed and statistics), then measures, on the model's own codec and sampler:

1. the scenes' W level (dBFS, mean over clips), and the codec round trip's (encode, decode);
2. the real latents' standard deviation in codec space and, divided by ``latent_scale``, in
   the backbone's space (the spread sampling must reproduce);
3. for each ``--setting`` (``--set``-style overrides; none = as saved), clips generated from
   the scenes' captions (seed = scene index): their level, the generated latents' spread per
   dimension against the real latents' (``spread_ratio``, and in dB; over the clips generated
   as one stream, not those mixed from several sources' streams), what the sampler keeps of
   an exact Gaussian flow with the real per-dimension spreads (``gaussian_spread``: the loss
   the sampler causes with a perfect model), the level of the first patch, the second and the
   rest, frame-level percentiles (is the level lost in the loud frames or in the quiet ones?)
   and the drop-out share inside sustained sounds (whistle, engine, rain, siren scenes).

    python benchmarks/output_level.py --model tiny --scenes 32 --threads 2 \\
        --setting "" --setting "sampler.steps=8" --json runs/output-level.json
"""

from __future__ import annotations

import argparse
import statistics
import tomllib
from pathlib import Path
from typing import Any

import torch
from _run_options import add_run_options, set_threads, write_report

SUSTAINED = ("whistle", "engine", "rain", "siren")
"""The synthesised classes that hold one sound for their whole active window."""
RECIPE = "benchmarks/configs/tiny/stage2-history.toml"


def training_scenes(recipe: str | Path, count: int, sample_rate: int) -> list[dict[str, Any]]:
    """The first ``count`` training scenes of a recipe's synthesised ``[data]``."""
    from swansphere.data.synthetic import SyntheticFOADataset

    data = tomllib.loads(Path(recipe).read_text())["data"]
    dataset = SyntheticFOADataset(
        sample_rate=sample_rate, clip_seconds=data.get("clip_seconds", 4.0), size=count,
        seed=data.get("seed", 0), min_sources=data.get("min_sources", 1),
        max_sources=data.get("max_sources", 1),
        moving_probability=data.get("moving_probability", 0.3),
        diffuse_probability=data.get("diffuse_probability", 0.3))
    return [{"foa": item["foa"].float(), "caption": item["caption"],
             "labels": [source["label"] for source in item["sources"]]}
            for item in (dataset[index] for index in range(count))]


def patch_profile(clips: list[torch.Tensor], samples_per_patch: int) -> dict[str, float]:
    """W level (dB of the mean power over clips) of the first patch, the second, the rest."""
    def level(part: slice) -> float:
        power = statistics.fmean(float(clip[0, part].double().square().mean()) for clip in clips)
        return 10.0 * torch.log10(torch.tensor(max(power, 1e-24))).item()

    n = samples_per_patch
    return {"first_patch_db": level(slice(0, n)), "second_patch_db": level(slice(n, 2 * n)),
            "rest_db": level(slice(2 * n, None))}


def frame_percentiles(clips: list[torch.Tensor], rate: int) -> dict[str, float]:
    """Mean over clips of the 10th, 50th and 90th percentile of the W frame levels."""
    from swansphere.evaluation.content import frame_levels

    levels = [frame_levels(clip[0], rate) for clip in clips]
    return {f"p{q}_db": statistics.fmean(float(lv.quantile(q / 100)) for lv in levels)
            for q in (10, 50, 90)}


def sustained_dropouts(clips: list[torch.Tensor], scenes: list[dict], rate: int) -> float:
    """Mean drop-out share inside sustained sounds over the sustained-class scenes."""
    from swansphere.evaluation.content import sustained_dropout_share

    pairs = zip(clips, scenes, strict=True)
    shares = [sustained_dropout_share(clip[0], rate) for clip, scene in pairs
              if set(scene["labels"]) <= set(SUSTAINED)]
    shares = [share for share in shares if share == share]
    return statistics.fmean(shares) if shares else float("nan")


def peak_figures(clips: list[torch.Tensor]) -> dict[str, float]:
    """The loudest sample of any channel (dBFS): its median and maximum over clips, and the
    share of clips whose peak passes full scale (the headroom an output gain has)."""
    peaks = [20.0 * torch.log10(clip.abs().max().double().clamp(min=1e-12)).item()
             for clip in clips]
    return {"peak_db_median": statistics.median(peaks), "peak_db_max": max(peaks),
            "peaks_over_full_scale": statistics.fmean(peak > 0.0 for peak in peaks)}


def clip_figures(clips: list[torch.Tensor], scenes: list[dict], rate: int,
                 samples_per_patch: int) -> dict[str, float]:
    from swansphere.evaluation.level import level_db, mean_level_db

    return {"level_db": mean_level_db(clips), **patch_profile(clips, samples_per_patch),
            **frame_percentiles(clips, rate), **peak_figures(clips),
            "sustained_dropout_share": sustained_dropouts(clips, scenes, rate),
            "over_full_scale": statistics.fmean(level_db(clip) > 0.0 for clip in clips)}


def reference_figures(pipeline: Any, scenes: list[dict]) -> tuple[dict, torch.Tensor]:
    """Scenes, codec round trip and latent figures; the real latents in backbone space."""
    from swansphere.evaluation.level import mean_level_db

    foa = torch.stack([scene["foa"] for scene in scenes])
    with torch.inference_mode():
        latents = pipeline.codec.encode(foa).float()
        decoded = pipeline.codec.decode(latents).float()
    rate, patch = pipeline.sample_rate, pipeline.samples_per_patch
    scale = pipeline.config.latent_scale
    figures = {
        "scenes": {"level_db": mean_level_db(foa), **frame_percentiles(list(foa), rate),
                   **peak_figures(list(foa)),
                   "sustained_dropout_share": sustained_dropouts(list(foa), scenes, rate)},
        "round_trip": clip_figures(list(decoded), scenes, rate, patch),
        "latents": {"latent_scale": scale, "codec_std": float(latents.std()),
                    "backbone_std": float(latents.std() / scale),
                    "backbone_dim_std_min": float((latents / scale).std((0, 1)).min()),
                    "backbone_dim_std_max": float((latents / scale).std((0, 1)).max()),
                    "backbone_abs_p999": float((latents / scale).abs().flatten()
                                               .float().quantile(0.999)),
                    "backbone_abs_max": float((latents / scale).abs().max())},
    }
    return figures, latents / scale


def setting_figures(pipeline: Any, scenes: list[dict], real: torch.Tensor) -> dict[str, Any]:
    """Generate every scene's caption with ``pipeline`` and measure level and spread."""
    from swansphere.evaluation.level import gaussian_spread, spread_db, spread_ratio

    clips, latents = [], []
    for index, scene in enumerate(scenes):
        seconds = scene["foa"].shape[-1] / pipeline.sample_rate
        takes = pipeline.generate_takes(text=scene["caption"], duration=seconds, seeds=(index,))
        clips.append(takes.audio[0])
        if takes.latents is not None:  # None: a sum of separately streamed sources
            latents.append(takes.latents[0])
    exact = gaussian_spread(pipeline.sampler, real.reshape(-1, real.shape[-1]).std(0))
    figures = {**clip_figures(clips, scenes, pipeline.sample_rate, pipeline.samples_per_patch),
               "gaussian_spread_db": spread_db(exact), "nfe": pipeline.sampler.nfe(),
               "spread_clips": len(latents)}
    if latents:
        ratio = spread_ratio(torch.stack(latents), real)
        figures |= {"spread_ratio_mean": float(ratio.mean()),
                    "spread_ratio_min": float(ratio.min()),
                    "spread_ratio_max": float(ratio.max()), "spread_db": spread_db(ratio)}
    return figures


def markdown(report: dict[str, Any]) -> str:
    ref = report["reference"]
    lines = [f"scenes {ref['scenes']['level_db']:.1f} dBFS, codec round trip "
             f"{ref['round_trip']['level_db']:.1f} dBFS; latent_scale "
             f"{ref['latents']['latent_scale']:.4f}, real latents' std "
             f"{ref['latents']['codec_std']:.4f} (backbone space "
             f"{ref['latents']['backbone_std']:.2f}; |value| p99.9 "
             f"{ref['latents']['backbone_abs_p999']:.2f}, max "
             f"{ref['latents']['backbone_abs_max']:.2f})", "",
             "| setting | NFE | level (dBFS) | spread (dB) | exact-flow spread (dB) | first / "
             "second / rest patch (dB) | p10 / p50 / p90 frame (dB) | peak median / max "
             "(dBFS) | drop-outs in sustained | clips over 0 dBFS | peaks over 0 dBFS |",
             "|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|"]
    rows = {"scenes": ref["scenes"], "codec round trip": ref["round_trip"],
            **report["settings"]}
    for name, row in rows.items():
        profile = " / ".join(_cell(row, k) for k in ("first_patch_db", "second_patch_db",
                                                     "rest_db"))
        frames = " / ".join(_cell(row, k) for k in ("p10_db", "p50_db", "p90_db"))
        peaks = " / ".join(_cell(row, k) for k in ("peak_db_median", "peak_db_max"))
        lines.append(f"| {name or 'as saved'} | {_cell(row, 'nfe', 'd')} | "
                     f"{_cell(row, 'level_db')} | {_cell(row, 'spread_db')} | "
                     f"{_cell(row, 'gaussian_spread_db')} | {profile} | {frames} | {peaks} | "
                     f"{_cell(row, 'sustained_dropout_share', '.3f')} | "
                     f"{_cell(row, 'over_full_scale', '.2f')} | "
                     f"{_cell(row, 'peaks_over_full_scale', '.2f')} |")
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str, fmt: str = ".1f") -> str:
    return format(row[key], fmt) if key in row else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--recipe", default=RECIPE, help="training recipe whose [data] to render")
    parser.add_argument("--scenes", type=int, default=32)
    parser.add_argument("--setting", action="append", default=None,
                        help="space-separated --set overrides, e.g. 'sampler.steps=8 "
                             "guidance.w2=2' (repeatable; '' = as saved; default: as saved)")
    add_run_options(parser, threads=2)
    args = parser.parse_args()
    set_threads(args.threads)

    from swansphere.pipeline import Pipeline

    base = Pipeline.from_pretrained(args.model)
    scenes = training_scenes(args.recipe, args.scenes, base.sample_rate)
    reference, real = reference_figures(base, scenes)
    settings = {}
    for setting in args.setting if args.setting is not None else [""]:
        pipeline = Pipeline.from_pretrained(args.model, overrides=setting.split())
        settings[setting] = setting_figures(pipeline, scenes, real)
        print(f"{setting or 'as saved'}: {settings[setting]['level_db']:.1f} dBFS", flush=True)
    report = {"model": args.model, "recipe": args.recipe, "scenes": args.scenes,
              "reference": reference, "settings": settings}
    print(markdown(report))
    write_report(args.json, report)


if __name__ == "__main__":
    main()
