"""Codec benchmark: speed and round-trip quality of several codecs, side by side, in one run.

Speed (CPU, medians): offline encode and decode real-time factors (seconds of compute per
second of audio), and the latency of one streaming step: one latent frame through
``decode_step`` and one hop of audio through ``encode_step``. Quality: per-channel SI-SDR and
the paper's direction errors between synthesised FOA scenes and their reconstruction.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

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


def quality(codec: Any, scenes: torch.Tensor, batch_size: int = 4) -> dict[str, float]:
    """Mean per-channel SI-SDR (dB) and direction errors (rad) of the offline round trip."""
    references, estimates = [], []
    for batch in scenes.split(batch_size):
        estimate = round_trip(codec, batch)
        references.append(batch[..., :estimate.shape[-1]])
        estimates.append(estimate)
    return reconstruction_metrics(torch.cat(references), torch.cat(estimates))


def describe(codec: Any) -> dict[str, Any]:
    parameters = sum(p.numel() for p in codec.parameters()) if hasattr(codec,
                                                                         "parameters") else 0
    return {"sample_rate": codec.sample_rate, "hop_length": codec.hop_length,
            "latent_dim": codec.latent_dim, "frame_rate": codec.frame_rate,
            "parameters": parameters}


def run_benchmark(codecs: Mapping[str, tuple[Any, bool]], *, seconds: float = 10.0,
                  repeats: int = 5, step_frames: int = 1, scenes: int = 16,
                  scene_seconds: float = 2.0, progress: bool = True) -> dict[str, Any]:
    """Benchmark every ``name -> (codec, measure_quality)``; JSON-ready results."""
    from tqdm.auto import tqdm

    scene_cache: dict[int, torch.Tensor] = {}
    results: dict[str, Any] = {}
    for name, (codec, with_quality) in tqdm(codecs.items(), desc="codecs",
                                                   disable=None if progress else True):
        if hasattr(codec, "eval"):
            codec.eval()
        entry = {**describe(codec), "speed": speed(codec, seconds=seconds, repeats=repeats,
                                                   step_frames=step_frames)}
        if with_quality:
            if codec.sample_rate not in scene_cache:
                scene_cache[codec.sample_rate] = quality_scenes(
                    codec.sample_rate, scenes=scenes, seconds=scene_seconds)
            entry["quality"] = quality(codec, scene_cache[codec.sample_rate])
        results[name] = entry
    return {"device": "cpu", "threads": torch.get_num_threads(), "torch": torch.__version__,
            "machine": platform.machine(), "processor": platform.processor() or None,
            "seconds": seconds, "repeats": repeats, "step_frames": step_frames,
            "quality_scenes": scenes,
            "scene_seconds": scene_seconds, "codecs": results}


def format_table(report: Mapping[str, Any]) -> str:
    """A plain-text table of a :func:`run_benchmark` report."""
    width = max(len("codec"), *(len(name) for name in report["codecs"]))
    header = (f"{'codec':<{width}} {'params':>11} {'latent':>13} {'enc RTF':>8} {'dec RTF':>8} "
              f"{'dec step':>9} {'SI-SDR W/Y/Z/X dB':>24} {'Δang rad':>9}")
    lines = [header, "-" * len(header)]
    for name, entry in report["codecs"].items():
        s = entry["speed"]
        latent = f"{entry['latent_dim']}@{entry['frame_rate']:.4g}Hz"
        row = (f"{name:<{width}} {entry['parameters']:>11,} {latent:>13} "
               f"{s['encode_rtf']:>8.4f} {s['decode_rtf']:>8.4f} {s['decode_step_ms']:>7.2f}ms")
        q = entry.get("quality")
        if q:
            sdr = "/".join(f"{q[f'si_sdr_{c}']:.1f}" for c in "WYZX")
            row += f" {sdr:>24} {q['delta_angular']:>9.3f}"
        lines.append(row)
    return "\n".join(lines)
