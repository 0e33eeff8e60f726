"""Streaming pipeline benchmark: first-chunk latency, steady-state RTF and peak memory of the
streaming model, beside the time to first audio of a same-size whole-clip baseline, in one run.

Every repeat runs the streaming pipeline and then the baseline on the same prompt and
duration (interleaved, so both see the same machine load); figures are medians over repeats.

* **First-chunk latency**: wall time from the ``stream(...)`` call (text and video encoding
  included) to the first yielded chunk.
* **RTF** (steady state): compute time of the chunks after the first, divided by the audio
  time they hold.
* **Peak memory**: in one more run of each after the timed ones (sampling slows what it
  watches): on the CPU, the process's resident set size sampled every 2 ms during the
  run (Linux ``/proc/self/statm``; elsewhere the process's lifetime high-water mark from
  ``getrusage``); it includes the weights and the Python/torch runtime, so the memory in use
  before the run (``memory.before_run_mb``) is reported beside it. On CUDA,
  ``torch.cuda.max_memory_allocated`` during the run.
* **Baseline first audio**: wall time from the call to the decoded clip of a ``global-dit``
  built from the same config (:meth:`GlobalBaseline.same_size_as`; random weights are fine
  for timing, and the report says which weights it used).
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch

from swansphere.cli_args import BENCH_PROMPT, DEFAULT_MODEL
from swansphere.config import apply_overrides, structure
from swansphere.errors import ConfigError
from swansphere.pipeline import BUILTIN_MODELS, CONFIG_FILE, Pipeline, PipelineConfig

from .baselines import GlobalBaseline

SAMPLE_SECONDS = 0.002


# --- memory ------------------------------------------------------------------------------------

def _rss_bytes() -> int | None:
    """Current resident set size from ``/proc/self/statm`` (None where there is none)."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident * os.sysconf("SC_PAGE_SIZE")


def _max_rss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class PeakMemory:
    """Peak memory while the ``with`` block runs (see the module doc for what is measured)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.before = self.peak = 0
        self.kind = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before = torch.cuda.memory_allocated(self.device)
            self.kind = "torch.cuda.max_memory_allocated during the run"
            return self
        current = _rss_bytes()
        if current is None:
            self.before = _max_rss_bytes()
            self.kind = "process max RSS (getrusage high-water mark, includes earlier work)"
            return self
        self.before = self.peak = current
        self.kind = f"process RSS sampled every {SAMPLE_SECONDS * 1000:g} ms (/proc/self/statm)"
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _rss_bytes() or 0)

    def __exit__(self, *_: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        elif self._thread is None:
            self.peak = _max_rss_bytes()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss_bytes() or 0)

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def before_mb(self) -> float:
        return self.before / 2**20


# --- loading -----------------------------------------------------------------------------------

def load_pipeline(model: str | None = None, config: str | Path | None = None, *,
                  registry: Any = None, overrides: Sequence[str] = ()
                  ) -> tuple[Pipeline, dict[str, Any]]:
    """The pipeline to time and a description: a saved/shipped ``model``, or a pipeline
    ``config`` TOML (a ``pipeline.toml`` or a training recipe with a ``[pipeline]`` table)
    built with random weights (weight paths in it are ignored); ``overrides``
    (``"key=value"``, as ``--set`` gives them) change its config first, and the description
    lists them. ``weights`` in the description is ``"shipped"`` (a model in the package),
    ``"saved"`` (a directory: trained or not, it does not say) or ``"random ..."``; never a
    claim of training it cannot check."""
    from swansphere.pipeline import without_weight_paths

    if config is not None:
        try:
            data = tomllib.loads(Path(config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # unreadable, not UTF-8, or not TOML
            raise ConfigError(f"cannot read {config} as a TOML config: {error}") from None
        table = apply_overrides(data.get("pipeline", data), overrides)
        structured = without_weight_paths(structure(table, PipelineConfig, registry=registry))
        torch.manual_seed(0)
        pipeline = Pipeline.from_config(structured, registry=registry)
        info = {"model": str(config), "weights": "random (config only; timing does not "
                "depend on the weights)"}
    else:
        model = model or DEFAULT_MODEL
        pipeline = Pipeline.from_pretrained(model, registry=registry, overrides=overrides)
        # A saved directory does not record how its weights came about (save_pretrained
        # writes random ones as readily as trained ones): say where they came from, no more.
        weights = "shipped" if shipped_model_exists(str(model)) else "saved"
        info = {"model": str(model), "weights": weights}
    for module in pipeline.modules().values():
        module.eval()
    if overrides:
        info["overrides"] = list(overrides)
    return pipeline, info | {"preset": preset_name(pipeline, model)}


def shipped_model_exists(name: str) -> bool:
    """Whether ``name`` is a model shipped in the package (a bare name, not a path)."""
    local = (Path(name) / CONFIG_FILE).is_file()  # a folder of that name wins, as in loading
    return Path(name).name == name and not local and (BUILTIN_MODELS / name /
                                                      CONFIG_FILE).is_file()


def preset_name(pipeline: Pipeline, model: str | None = None) -> str:
    """A shipped model's name, else the ``causal-dit`` preset its backbone equals, else
    ``"custom"``."""
    from swansphere.plugins.causal_dit.presets import PRESETS

    if model is not None and shipped_model_exists(str(model)):
        return str(model)
    config = getattr(pipeline.backbone, "config", None)
    return next((name for name, preset in PRESETS.items() if preset == config), "custom")


def move_pipeline(pipeline: Pipeline, device: torch.device,
                  dtype: torch.dtype | None = None) -> None:
    """Every trainable component to ``device`` (and floating weights to ``dtype``)."""
    for module in pipeline.modules().values():
        module.to(device=device, dtype=dtype)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()}, {os.cpu_count()} cores"


# --- timing ------------------------------------------------------------------------------------

def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_stream(pipeline: Pipeline, *, text: str | None, video: Any, duration: float,
                seed: int, device: torch.device) -> dict[str, Any]:
    """One streaming run: first-chunk latency, steady-state RTF, chunks."""
    start = time.perf_counter()
    chunks = pipeline.stream(text, video, duration, seed)
    first = next(chunks)
    _synchronize(device)
    first_at = time.perf_counter()
    rest_samples, count = 0, 1
    for chunk in chunks:
        rest_samples += chunk.audio.shape[-1]
        count += 1
    _synchronize(device)
    end = time.perf_counter()
    rest_seconds = rest_samples / pipeline.sample_rate
    total_seconds = rest_seconds + first.audio.shape[-1] / pipeline.sample_rate
    return {"first_chunk_latency_s": first_at - start,
            "rtf": (end - first_at) / rest_seconds if rest_samples else float("nan"),
            "total_rtf": (end - start) / total_seconds, "chunks": count,
            "audio_s": total_seconds}


def peak_memory(run: Callable[..., Any], **arguments: Any) -> dict[str, Any]:
    """Peak memory of one ``run(**arguments)`` on ``arguments["device"]`` (:class:`PeakMemory`),
    a run of its own: on the CPU the sampling thread takes time from the threads it watches
    (an ad-hoc look on 2 cores: the first chunk some 15 ms later), so no timed run is
    sampled."""
    with PeakMemory(arguments["device"]) as memory:
        run(**arguments)
    return {"peak_memory_mb": memory.peak_mb, "before_mb": memory.before_mb,
            "memory_kind": memory.kind}


def time_batched_streams(pipeline: Pipeline, count: int, *, text: str | None, video: Any,
                         duration: float, seed: int, device: torch.device) -> dict[str, Any]:
    """``count`` streams served together (:meth:`Pipeline.stream_many`, seeds ``seed`` …):
    the first step's latency and the steady-state RTF of each stream (compute time per second
    of one stream's audio, after the first step)."""
    start = time.perf_counter()
    steps = pipeline.stream_many([text] * count, [video] * count, duration=duration,
                                 seeds=range(seed, seed + count))
    first = next(steps)
    _synchronize(device)
    first_at = time.perf_counter()
    rest_samples = sum(step[0].audio.shape[-1] for step in steps)
    _synchronize(device)
    end = time.perf_counter()
    rest_seconds = rest_samples / pipeline.sample_rate
    return {"first_step_latency_s": first_at - start,
            "rtf_per_stream": (end - first_at) / rest_seconds if rest_samples else float("nan"),
            "first_chunk_s": first[0].audio.shape[-1] / pipeline.sample_rate}


def gpu_busy_fraction(pipeline: Pipeline, *, text: str | None, video: Any, duration: float,
                      seed: int, device: torch.device) -> float | None:
    """Kernel time over wall time of one streaming run on CUDA (the profiler's device time of
    every kernel, summed), ``None`` elsewhere: how much of the stream the GPU is computing
    rather than waiting for Python to launch the next kernel."""
    if device.type != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as profiler:
        start = time.perf_counter()
        for _ in pipeline.stream(text, video, duration, seed):
            pass
        _synchronize(device)
        wall = time.perf_counter() - start
    kernel_us = sum(event.self_device_time_total for event in profiler.key_averages())
    return kernel_us / 1e6 / wall


def time_baseline(baseline: GlobalBaseline, *, text: str | None, video: Any, duration: float,
                  seed: int, device: torch.device) -> dict[str, Any]:
    """One whole-clip run: time from the call to the decoded clip."""
    start = time.perf_counter()
    audio = baseline.generate(text, video, duration, seed)
    _synchronize(device)
    elapsed = time.perf_counter() - start
    seconds = audio.shape[-1] / baseline.sample_rate
    return {"first_audio_s": elapsed, "rtf": elapsed / seconds}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def run_pipeline_benchmark(pipeline: Pipeline, *, info: Mapping[str, Any] | None = None,
                           duration: float = 10.0, repeats: int = 3,
                           text: str | None = BENCH_PROMPT, video: Any = None, seed: int = 0,
                           device: str | torch.device = "cpu", dtype: torch.dtype | None = None,
                           baseline_patch_frames: int = 1, stream_count: int = 1,
                           compile_options: Mapping[str, Any] | None = None,
                           progress: bool = True) -> dict[str, Any]:
    """Time streaming and the same-size global baseline side by side; a JSON-ready report.

    ``baseline_patch_frames`` is the baseline's latent frames per token (1: one token per
    frame, the usual whole-clip DiT; the streaming model's patch size: its LM's grid).
    ``stream_count`` > 1 also times that many streams served together (per-stream RTF); on CUDA
    the report has the GPU-busy fraction of one streaming run. ``compile_options`` (for
    ``torch.compile``, e.g. ``{"mode": "reduce-overhead"}``, which replays CUDA graphs) runs
    the streams through :meth:`Pipeline.compile`; the warm-up, which compiles, is timed on
    its own."""
    from tqdm.auto import tqdm

    from swansphere.plugins.global_dit import count_parameters

    device = torch.device(device)
    if repeats < 1 or stream_count < 1 or not duration > 0:
        raise ConfigError("repeats and stream_count must be >= 1 and duration > 0")
    if text is not None and pipeline.text_encoder is None:
        text = None
    move_pipeline(pipeline, device, dtype)
    if compile_options is not None:
        pipeline.compile(**compile_options)
    baseline = GlobalBaseline.same_size_as(pipeline, patch_frames=baseline_patch_frames)
    move_pipeline(baseline.pipeline, device, dtype)
    baseline.pipeline.backbone.eval()
    arguments = {"text": text, "video": video, "seed": seed, "device": device}
    warm_up = 2 * pipeline.patch_seconds  # allocator, kernels, lazily built masks, compiling
    started = time.perf_counter()
    time_stream(pipeline, duration=warm_up, **arguments)
    warm_up_s = time.perf_counter() - started
    time_baseline(baseline, duration=warm_up, **arguments)
    load_before = os.getloadavg()
    streams, baselines = [], []
    for _ in tqdm(range(repeats), desc="bench pipeline", unit="repeat",
                  disable=None if progress else True):
        streams.append(time_stream(pipeline, duration=duration, **arguments))
        baselines.append(time_baseline(baseline, duration=duration, **arguments))
    memory = peak_memory(time_stream, pipeline=pipeline, duration=duration, **arguments)
    baseline_memory = peak_memory(time_baseline, baseline=baseline, duration=duration,
                                  **arguments)
    batched = None
    if stream_count > 1:
        time_batched_streams(pipeline, stream_count, duration=warm_up, **arguments)
        runs = [time_batched_streams(pipeline, stream_count, duration=duration, **arguments)
                for _ in range(repeats)]
        batched = {"count": stream_count,
                   "first_step_latency_s": _median(runs, "first_step_latency_s"),
                   "rtf_per_stream": _median(runs, "rtf_per_stream"),
                   "runs": {"rtf_per_stream": [run["rtf_per_stream"] for run in runs]}}
    busy = gpu_busy_fraction(pipeline, duration=duration, **arguments)
    latency = _median(streams, "first_chunk_latency_s")
    first_audio = _median(baselines, "first_audio_s")
    sampler = pipeline.sampler
    backbone_parameters = sum(p.numel() for p in pipeline.backbone.parameters())
    return {
        **dict(info or {}),
        "device": device.type, "device_name": describe_device(device),
        "dtype": str(dtype or next(pipeline.backbone.parameters()).dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "load_average": list(load_before), "load_average_after": list(os.getloadavg()),
        "duration_s": duration, "repeats": repeats, "text": text,
        "video": None if video is None else str(video), "seed": seed,
        "sample_rate": pipeline.sample_rate, "patch_seconds": pipeline.patch_seconds,
        "chunks": streams[0]["chunks"],
        "sampler": {"type": pipeline.config.sampler.type,
                    "steps": getattr(sampler.config, "steps", None),
                    "nfe_per_patch": sampler.nfe()},
        "guidance": attrs.asdict(pipeline.config.guidance),
        "compile": None if compile_options is None else dict(compile_options),
        "warm_up_s": warm_up_s,
        "parameters": backbone_parameters,
        "first_chunk_latency_s": latency,
        "rtf": _median(streams, "rtf"),
        "total_rtf": _median(streams, "total_rtf"),
        "peak_memory_mb": memory["peak_memory_mb"],
        "gpu_busy_fraction": busy,
        "batched_streams": batched,
        "memory": {"kind": memory["memory_kind"], "before_run_mb": memory["before_mb"],
                   "run": "one more run of each, after the timed ones"},
        "baseline_first_audio_s": first_audio,
        "baseline_rtf": _median(baselines, "rtf"),
        "baseline_peak_memory_mb": baseline_memory["peak_memory_mb"],
        "speedup_first_audio": first_audio / latency,
        "baseline": {"backbone": "global-dit",
                     "parameters": count_parameters(baseline.pipeline.backbone.config),
                     "layers": baseline.pipeline.backbone.config.dit.layers,
                     "patch_frames": baseline_patch_frames,
                     "tokens": -(-round(duration * pipeline.sample_rate)
                                 // (pipeline.codec.hop_length * baseline_patch_frames)),
                     "weights": "random (same-size global-dit built from this config; "
                                "timing does not depend on the weights)",
                     "guidance_branches": 2, "shares": "codec, conditioners, sampler"},
        "runs": {"first_chunk_latency_s": [run["first_chunk_latency_s"] for run in streams],
                 "rtf": [run["rtf"] for run in streams],
                 "baseline_first_audio_s": [run["first_audio_s"] for run in baselines]},
    }


def _spread(report: Mapping[str, Any]) -> list[str]:
    """The streaming runs' range and the machine's load before them, when there are several
    runs: on a shared machine one median can be far from the next run's."""
    latencies, rtfs = report["runs"]["first_chunk_latency_s"], report["runs"]["rtf"]
    if len(latencies) < 2:
        return []
    load = report["load_average"][0]
    return [f"streaming runs: first audio {min(latencies):.3f}-{max(latencies):.3f} s, RTF "
            f"{min(rtfs):.3f}-{max(rtfs):.3f} (load average {load:.2f} before the runs)"]


def format_table(report: Mapping[str, Any]) -> str:
    """A plain-text summary of a :func:`run_pipeline_benchmark` report."""
    rows: list[tuple[str, Callable[[], str]]] = [
        ("first audio (s)", lambda: f"{report['first_chunk_latency_s']:>12.3f} "
                                    f"{report['baseline_first_audio_s']:>12.3f}"),
        ("RTF", lambda: f"{report['rtf']:>12.3f} {report['baseline_rtf']:>12.3f}"),
        ("peak memory (MB)", lambda: f"{report['peak_memory_mb']:>12.0f} "
                                     f"{report['baseline_peak_memory_mb']:>12.0f}"),
        ("parameters", lambda: f"{report['parameters']:>12,} "
                               f"{report['baseline']['parameters']:>12,}"),
    ]
    header = f"{'':<18} {'streaming':>12} {'global':>12}"
    changed = "".join(f", {override}" for override in report.get("overrides", ()))
    lines = [f"{report.get('model', 'pipeline')} ({report.get('preset', '?')}{changed}), "
             f"{report['duration_s']:g} s of audio, {report['device']} "
             f"({report['device_name']}, {report['threads']} threads), median of "
             f"{report['repeats']}",
             header, "-" * len(header)]
    lines += [f"{label:<18} {cells()}" for label, cells in rows]
    lines += _spread(report)
    if report.get("compile"):
        lines.append(f"per-patch step compiled (torch.compile {report['compile']}); "
                     f"the warm-up that compiled it took {report['warm_up_s']:.1f} s")
    if report.get("gpu_busy_fraction") is not None:
        lines.append(f"GPU busy {report['gpu_busy_fraction']:.1%} of the streaming wall time")
    batched = report.get("batched_streams")
    if batched:
        lines.append(f"{batched['count']} streams served together: RTF per stream "
                     f"{batched['rtf_per_stream']:.3f}, first step "
                     f"{batched['first_step_latency_s']:.3f} s")
    lines.append(f"first audio {report['speedup_first_audio']:.1f}x sooner than the global "
                 f"baseline (RTF = compute / audio time after the first chunk; the global "
                 f"RTF is its whole-clip time / audio time)")
    return "\n".join(lines)
