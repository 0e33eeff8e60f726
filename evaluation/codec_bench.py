"""Codec benchmark: speed and round-trip quality of several codecs, side by side, in one run.

Speed (CPU, medians): offline encode and decode real-time factors (seconds of compute per
second of audio), the latency of one streaming step (``step_frames`` latent frames through
``decode_step``, as many hops through ``encode_step``) and the streamed encode + decode
real-time factor at that step. Quality:

- synthesised FOA scenes: per-channel SI-SDR and the paper's direction errors;
- identity (:func:`identity`): held-out clips of the sound vocabulary's classes, each placed
  as a plane wave, identified by nearest class centroid in the aisfx embedding before and after
  the round trip (top-1 / top-5, chance), the Fréchet distance between the two embedding
  sets, and W's multi-resolution STFT distance and SI-SDR;
- space (:func:`spatial_quality`): scenes of the sound sets' clips, single static sources
  (half in simulated rooms) and mixed scenes of 1–3 moving sources with diffuse noise:
  Δangular and energy-map correlation between input and round trip.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import torch

from .codec_metrics import reconstruction_metrics, round_trip

QUALITY_SEED = 2_000_003  # disjoint from training (0) and validation seeds


def _median_seconds(work: Callable[[], Any], repeats: int) -> float:
    work()  # warm-up: allocator, oneDNN kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _step_latencies(step: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]],
                    chunks: list[torch.Tensor], state: Any) -> list[float]:
    latencies = []
    for chunk in chunks:
        start = time.perf_counter()
        _, state = step(chunk, state)
        latencies.append(time.perf_counter() - start)
    return latencies


def speed(codec: Any, *, seconds: float = 10.0, repeats: int = 5, step_frames: int = 1,
          seed: int = 0) -> dict[str, float]:
    """RTFs of offline encode/decode and streaming step latencies (ms), batch 1, no grad.

    A streaming decode step takes ``step_frames`` latent frames (1: the finest; the backbone
    emits patches of 4); an encode step takes as many hops of audio.
    """
    hop = codec.hop_length
    frames = max(int(seconds * codec.sample_rate) // hop, 1)
    generator = torch.Generator().manual_seed(seed)
    audio = 0.1 * torch.randn(1, 4, frames * hop, generator=generator)
    duration = frames * hop / codec.sample_rate
    with torch.no_grad():
        latents = codec.encode(audio)
        encode_s = _median_seconds(lambda: codec.encode(audio), repeats)
        decode_s = _median_seconds(lambda: codec.decode(latents), repeats)
        decode_steps = _step_latencies(codec.decode_step,
                                       list(latents.split(step_frames, dim=1)),
                                       codec.init_decode_state(1))
        encode_steps = _step_latencies(codec.encode_step,
                                       list(audio.split(step_frames * hop, dim=-1)),
                                       codec.init_encode_state(1))
    return {
        "audio_seconds": duration,
        "encode_rtf": encode_s / duration,
        "decode_rtf": decode_s / duration,
        "decode_step_ms": 1000 * statistics.median(decode_steps),
        "decode_step_p95_ms": 1000 * _quantile(decode_steps, 0.95),
        "encode_step_ms": 1000 * statistics.median(encode_steps),
        "stream_decode_rtf": sum(decode_steps) / duration,
        "stream_encode_rtf": sum(encode_steps) / duration,
        "stream_rtf": (sum(decode_steps) + sum(encode_steps)) / duration,
        "step_frames": step_frames,
        "step_audio_ms": 1000 * step_frames * hop / codec.sample_rate,
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def quality_scenes(sample_rate: int, *, scenes: int = 16, seconds: float = 2.0,
                   seed: int = QUALITY_SEED) -> torch.Tensor:
    """Held-out synthesised FOA scenes ``(scenes, 4, n)`` (1–3 static or moving sources)."""
    from swansphere.data.synthetic import SyntheticFOADataset

    dataset = SyntheticFOADataset(sample_rate=sample_rate, clip_seconds=seconds, size=scenes,
                                  seed=seed)
    return torch.stack([dataset[i]["foa"] for i in range(scenes)])


def _round_trips(codec: Any, scenes: torch.Tensor,
                 batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(references, round trips)`` of ``scenes``, aligned and trimmed to equal length."""
    references, estimates = [], []
    for batch in scenes.split(batch_size):
        estimate = round_trip(codec, batch)
        references.append(batch[..., :estimate.shape[-1]])
        estimates.append(estimate)
    return torch.cat(references), torch.cat(estimates)


def quality(codec: Any, scenes: torch.Tensor, batch_size: int = 4) -> dict[str, float]:
    """Mean per-channel SI-SDR (dB) and direction errors (rad) of the offline round trip."""
    return reconstruction_metrics(*_round_trips(codec, scenes, batch_size))


def describe(codec: Any) -> dict[str, Any]:
    parameters = sum(p.numel() for p in codec.parameters()) if hasattr(codec,
                                                                         "parameters") else 0
    return {"sample_rate": codec.sample_rate, "hop_length": codec.hop_length,
            "latent_dim": codec.latent_dim, "frame_rate": codec.frame_rate,
            "parameters": parameters}


@attrs.frozen(kw_only=True)
class RealSoundSettings:
    """The sound-set sections of the benchmark (``None`` in :func:`run_benchmark` skips them).

    Attributes:
        sets: sound sets to draw clips from (``None``: every installed set).
        clip_seconds: length of each identity clip.
        scenes: scenes of each kind (single source, mixed) for the spatial figures.
        scene_seconds: length of each scene.
        embedding: an :class:`~swansphere.metrics.embedding.AisfxEmbedding`; ``None``
            skips identification (the spatial figures still run).
    """

    sets: list[str] | None = None
    clip_seconds: float = 2.5
    scenes: int = 16
    scene_seconds: float = 3.0
    embedding: Any = None


def run_benchmark(codecs: Mapping[str, tuple[Any, bool]], *, seconds: float = 10.0,
                  repeats: int = 5, step_frames: int = 4, scenes: int = 16,
                  scene_seconds: float = 2.0, real: RealSoundSettings | None = None,
                  progress: bool = True) -> dict[str, Any]:
    """Benchmark every ``name -> (codec, measure_quality)``; JSON-ready results.

    Speed for all; for the codecs with quality, the synthesised-scene figures and, with
    ``real``, the sound-set figures (``identity`` at the top level of the report,
    ``spatial_single`` / ``spatial_mixed`` per codec).
    """
    from tqdm.auto import tqdm

    load_before = os.getloadavg()
    scene_cache: dict[tuple[str, int], torch.Tensor] = {}

    def scenes_of(kind: str, rate: int) -> torch.Tensor:
        """The held-out scenes of one kind at one rate, rendered once for all codecs."""
        if (kind, rate) not in scene_cache:
            scene_cache[kind, rate] = (
                quality_scenes(rate, scenes=scenes, seconds=scene_seconds)
                if kind == "quality" else
                real_scenes(rate, scenes=real.scenes, seconds=real.scene_seconds,
                            single=kind == "spatial_single", sets=real.sets))
        return scene_cache[kind, rate]

    results: dict[str, Any] = {}
    for name, (codec, with_quality) in tqdm(codecs.items(), desc="codecs",
                                            disable=None if progress else True):
        if hasattr(codec, "eval"):
            codec.eval()
        entry = {**describe(codec), "speed": speed(codec, seconds=seconds, repeats=repeats,
                                                   step_frames=step_frames)}
        kinds = ("quality", "spatial_single", "spatial_mixed") if real else ("quality",)
        for kind in kinds if with_quality else ():
            measure = quality if kind == "quality" else spatial_quality
            entry[kind] = measure(codec, scenes_of(kind, codec.sample_rate))
        results[name] = entry
    report = {"device": "cpu", "threads": torch.get_num_threads(), "torch": torch.__version__,
              "machine": platform.machine(), "processor": platform.processor() or None,
              "seconds": seconds, "repeats": repeats, "step_frames": step_frames,
              "quality_scenes": scenes, "scene_seconds": scene_seconds,
              "load_average": list(load_before), "load_average_after": list(os.getloadavg()),
              "codecs": results}
    if real is not None and real.embedding is not None:
        report["identity"] = _identity_by_rate(
            {name: codec for name, (codec, with_quality) in codecs.items() if with_quality},
            real, progress)
    return report


def _identity_by_rate(codecs: Mapping[str, Any], real: RealSoundSettings,
                      progress: bool) -> dict[str, Any]:
    """:func:`identity` for the codecs of each sample rate (the clips rendered at it)."""
    report: dict[str, Any] = {}
    for rate in sorted({codec.sample_rate for codec in codecs.values()}):
        reference, held_out = identity_clips(rate, seconds=real.clip_seconds, sets=real.sets,
                                             progress=progress)
        same_rate = {name: codec for name, codec in codecs.items() if codec.sample_rate == rate}
        report[str(rate)] = identity(same_rate, reference, held_out, embedding=real.embedding,
                                     sample_rate=rate, progress=progress)
    return report


def format_table(report: Mapping[str, Any]) -> str:
    """Plain-text tables of a :func:`run_benchmark` report: speed and synthesised scenes,
    then (when measured) space on sound-set scenes and identity."""
    width = max(len("codec"), *(len(name) for name in report["codecs"]))
    header = (f"{'codec':<{width}} {'params':>11} {'latent':>13} {'enc RTF':>8} {'dec RTF':>8} "
              f"{'dec step':>9} {'stream RTF':>10} {'SI-SDR W/Y/Z/X dB':>24} {'Δang rad':>9}")
    lines = [header, "-" * len(header)]
    for name, entry in report["codecs"].items():
        s = entry["speed"]
        latent = f"{entry['latent_dim']}@{entry['frame_rate']:.4g}Hz"
        row = (f"{name:<{width}} {entry['parameters']:>11,} {latent:>13} "
               f"{s['encode_rtf']:>8.4f} {s['decode_rtf']:>8.4f} {s['decode_step_ms']:>7.2f}ms"
               f" {s['stream_rtf']:>10.4f}")
        q = entry.get("quality")
        if q:
            sdr = "/".join(f"{q[f'si_sdr_{c}']:.1f}" for c in "WYZX")
            row += f" {sdr:>24} {q['delta_angular']:>9.3f}"
        lines.append(row)
    spatial = [(name, entry) for name, entry in report["codecs"].items()
               if "spatial_single" in entry]
    if spatial:
        header = (f"\n{'sound-set scenes':<{width}} {'1 source: Δang':>15} {'map corr':>9} "
                  f"{'1-3 sources: Δang':>18} {'map corr':>9}")
        lines += [header, "-" * len(header.strip())]
        for name, entry in spatial:
            one, mixed = entry["spatial_single"], entry["spatial_mixed"]
            lines.append(f"{name:<{width}} {one['delta_angular']:>15.4f} "
                         f"{one['energy_map_correlation']:>9.4f} "
                         f"{mixed['delta_angular']:>18.4f} "
                         f"{mixed['energy_map_correlation']:>9.4f}")
    for rate, table in report.get("identity", {}).items():
        raw = table["raw"]
        header = (f"\n{'identity @' + rate + ' Hz':<{width}} {'top-1':>7} {'top-5':>7} "
                  f"{'vs raw':>7} {'FD':>8} {'MR-STFT W':>10} {'SI-SDR W':>9}")
        lines += [header, "-" * len(header.strip()),
                  f"{'chance':<{width}} {raw['chance_top1']:>7.3f} {raw['chance_top5']:>7.3f}",
                  f"{'raw clips':<{width}} {raw['top1']:>7.3f} {raw['top5']:>7.3f} "
                  f"{1.0:>7.3f} {0.0:>8.1f}"]
        for name, entry in table.items():
            if name != "raw":
                lines.append(f"{name:<{width}} {entry['top1']:>7.3f} {entry['top5']:>7.3f} "
                             f"{entry['relative_top1']:>7.3f} {entry['fd']:>8.1f} "
                             f"{entry['mrstft']:>10.3f} {entry['si_sdr']:>9.1f}")
        lines.append(f"({raw['clips']} held-out clips of {raw['classes']} classes)")
    return "\n".join(lines)


# ---------------------------------------------------------------- identity on real clips

IDENTITY_SEED = 2_000_011
SPATIAL_SEED = 2_000_017


@attrs.frozen
class LabelledClip:
    """One mono clip of a class, rendered at the benchmark's rate."""

    label: str
    key: str
    audio: torch.Tensor


def identity_clips(sample_rate: int, *, seconds: float = 2.5, sets: list[str] | None = None,
                   progress: bool = True) -> tuple[list[LabelledClip], list[LabelledClip]]:
    """``(reference, held_out)`` clips of every installed class of the sound vocabulary, all
    licences: the vocabulary's own split (:func:`~swansphere.data.vocabulary.split_clips`),
    so the held-out clips are the ones no model trains on."""
    import numpy as np
    from tqdm.auto import tqdm

    from swansphere.data.sources import catalogue
    from swansphere.data.vocabulary import class_clips, split_clips
    from swansphere.errors import AudioFileError

    reference, held_out = split_clips(class_clips(catalogue(sets)))
    samples = round(seconds * sample_rate)

    def render(chosen: list) -> list[LabelledClip]:
        clips = []
        for clip in tqdm(chosen, desc="render clips", disable=None if progress else True):
            try:
                mono = clip.render(np.random.default_rng(IDENTITY_SEED), sample_rate, samples)
            except AudioFileError:
                continue  # a broken file costs only itself
            if np.abs(mono).max() > 0:
                clips.append(LabelledClip(clip.label, clip.clip_id,
                                          torch.as_tensor(mono, dtype=torch.float32)))
        return clips

    return render(reference), render(held_out)


def _plane_waves(clips: list[LabelledClip], seed: int) -> torch.Tensor:
    """Each clip as a plane wave from a random direction (area-uniform), ``(n, 4, samples)``."""
    from swansphere.spatial import encode

    generator = torch.Generator().manual_seed(seed)
    azimuth = 360.0 * torch.rand(len(clips), generator=generator) - 180.0
    elevation = torch.rad2deg(torch.asin(2.0 * torch.rand(len(clips), generator=generator) - 1))
    return torch.stack([encode(clip.audio, float(a), float(e))
                        for clip, a, e in zip(clips, azimuth, elevation, strict=True)])


def identity(codecs: Mapping[str, Any], reference: list[LabelledClip],
             held_out: list[LabelledClip], *, embedding: Any, sample_rate: int,
             batch_size: int = 8, progress: bool = True) -> dict[str, Any]:
    """Nearest-class identification of held-out clips, raw and through each codec.

    Returns ``{"raw": {...}, "<codec>": {...}}`` with top-1/top-5 accuracy and chance,
    ``relative_top1`` (the codec's top-1 over the raw clips'), ``fd`` (Fréchet distance of
    the round trips' embeddings to the raw clips'), and W's ``mrstft`` and ``si_sdr``.
    """
    from tqdm.auto import tqdm

    from swansphere.codecs.losses import multi_resolution_stft_loss
    from swansphere.metrics.frechet import frechet_distance

    from .codec_metrics import pooled_si_sdr
    from .identity import ClassCentroids

    def embed(signals: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        return torch.stack([embedding.embed(signal, sample_rate).mean(0) for signal in signals])

    centroids = ClassCentroids.fit([clip.label for clip in reference],
                                   embed([clip.audio for clip in reference]))
    labels = [clip.label for clip in held_out]
    raw = embed([clip.audio for clip in held_out])
    report: dict[str, Any] = {"raw": centroids.accuracy(labels, raw)}
    scenes = _plane_waves(held_out, IDENTITY_SEED)
    for name, codec in tqdm(codecs.items(), desc="identity", disable=None if progress else True):
        decoded = torch.cat([round_trip(codec, batch) for batch in scenes.split(batch_size)])
        omni = decoded[:, 0]
        length = omni.shape[-1]
        entry = centroids.accuracy(labels, embed(omni))
        entry["relative_top1"] = entry["top1"] / max(report["raw"]["top1"], 1e-12)
        entry["fd"] = frechet_distance(raw, embed(omni))
        reference_omni = scenes[:, 0, :length]
        entry["mrstft"] = float(multi_resolution_stft_loss(reference_omni[:, None],
                                                           omni[:, None]))
        entry["si_sdr"] = float(pooled_si_sdr(reference_omni[:, None], omni[:, None])[0])
        report[name] = entry
    return report


# ---------------------------------------------------------------- space on real scenes

def real_scenes(sample_rate: int, *, scenes: int = 16, seconds: float = 3.0,
                single: bool = True, sets: list[str] | None = None) -> torch.Tensor:
    """Scenes of the installed sound sets' clips, ``(scenes, 4, samples)``: one static
    source each (half in simulated rooms) when ``single``, else 1–3 moving or static
    sources with diffuse noise (half in rooms)."""
    from swansphere.data.render import render_scene
    from swansphere.data.scenes import SceneSampler
    from swansphere.data.sources import catalogue

    clips = catalogue(sets)
    sampler = (SceneSampler(sample_rate=sample_rate, duration=seconds, max_sources=1,
                            moving_probability=0.0, diffuse_probability=0.0,
                            room_probability=0.5) if single
               else SceneSampler(sample_rate=sample_rate, duration=seconds,
                                 room_probability=0.5))
    seed = SPATIAL_SEED + (0 if single else 1)
    return torch.stack([render_scene(sampler.sample(clips, seed, index))[0]
                        for index in range(scenes)])


def spatial_quality(codec: Any, scenes: torch.Tensor, batch_size: int = 4) -> dict[str, float]:
    """Mean Δangular (rad) and energy-map correlation between scenes and round trips."""
    from swansphere.metrics.direction import energy_map_correlation

    reference, estimate = _round_trips(codec, scenes, batch_size)
    errors = reconstruction_metrics(reference, estimate)
    correlation = energy_map_correlation(reference, estimate)
    return {"delta_angular": errors["delta_angular"],
            "energy_map_correlation": float(correlation.nanmean()),
            "energy_map_correlation_min": float(correlation.nan_to_num(1.0).min())}
