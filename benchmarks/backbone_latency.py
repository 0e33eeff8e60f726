"""Per-patch latency of the causal-dit backbone, broken down into its parts.

For one stream (batch 1) it times, with medians over repeats:

- the **first patch** (the paper's "first chunk"): the LM step on the start token, then
  LocDiT × sampling steps (guided: the guidance branches batched in one call);
- the **steady state** with the KV window full: LocEnc of the previous patch, one LM step,
  one (guided) LocDiT evaluation, LocDiT × sampling steps, and the whole patch (``step`` +
  ``generate_patch``), with the real-time factor (compute time / audio time of a patch).

Usage (the figures in docs/backbone.md come from this)::

    .venv/bin/python benchmarks/backbone_latency.py --preset tiny --threads 1 \\
        --json backbone_latency.json

``benchmarks/gpu_attention_check.py`` reuses :func:`measure` for ``paper-l`` on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch

from swansphere.conditioning.alignment import frame_times
from swansphere.nn.attention import cached_mask
from swansphere.nn.conditions import Conditions
from swansphere.plugins.causal_dit import count_parameters, preset
from swansphere.plugins.causal_dit.generation import generate_patch, patch_velocity
from swansphere.plugins.causal_dit.model import CausalDiT
from swansphere.samplers.config import GuidanceConfig, SolverConfig
from swansphere.samplers.solvers import EULER, RungeKuttaSampler

TEXT_TOKENS = 16
VIDEO_FPS = 4.0


def median_ms(call: Callable[[], Any], repeats: int, warmup: int, device: torch.device
              ) -> dict[str, float]:
    """Median (10th/90th percentile) wall time of ``call`` in ms, and its median CPU time.

    On a shared machine wall time includes waiting for a core; the process CPU time (all
    threads) does not, so the two together tell load from cost.
    """
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        call()
    synchronize()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        synchronize()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    deciles = (statistics.quantiles(wall, n=10, method="inclusive") if len(wall) > 1
               else wall * 9)
    return {"median_ms": statistics.median(wall), "p10_ms": deciles[0], "p90_ms": deciles[-1],
            "cpu_median_ms": statistics.median(cpu)}


def _conditions(model: CausalDiT, seconds: float, device: torch.device,
                dtype: torch.dtype) -> Conditions:
    generator = torch.Generator().manual_seed(0)
    frames = int(seconds * VIDEO_FPS) + 2
    config = model.config
    return Conditions(
        text=torch.randn(1, TEXT_TOKENS, config.text_dim, generator=generator).to(device, dtype),
        video=torch.randn(1, frames, config.video_dim, generator=generator).to(device, dtype),
        video_times=frame_times(frames, VIDEO_FPS))


def measure(preset_name: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32,
            steps: int = 20, repeats: int = 30, warmup: int = 3,
            guidance: GuidanceConfig | None = None, backend: str = "auto") -> dict[str, Any]:
    """Latency breakdown of one preset (random weights: timing does not depend on them).

    ``backend`` is the attention path (``auto``: xformers on CUDA, SDPA on the CPU).
    """
    torch_device = torch.device(device)
    torch.manual_seed(0)
    config = attrs.evolve(preset(preset_name), attention_backend=backend)
    with torch_device:  # parameters are created where they run (paper-l: no 4 GB CPU copy)
        model = CausalDiT(config).to(dtype).eval()
    guidance = GuidanceConfig() if guidance is None else guidance
    sampler = RungeKuttaSampler(SolverConfig(steps=steps, grid="cosine"), EULER)
    fill = max(config.attention_window - 1, 0) or 64
    seconds = (fill + 2) * config.patch_seconds
    generator = torch.Generator(device=torch_device).manual_seed(0)

    def timed(call: Callable[[], Any]) -> dict[str, float]:
        return median_ms(call, repeats, warmup, torch_device)

    with torch.inference_mode():
        fresh = model.init_state(1, _conditions(model, seconds, torch_device, dtype))
        starts = iter([fresh.clone() for _ in range(repeats + warmup)])  # a step consumes one
        h0, first_state = model.step(None, fresh)
        first = {
            "lm_step": timed(lambda: model.step(None, next(starts))),
            "locdit_sampling": timed(lambda: generate_patch(
                model, first_state, h0[:, -1], sampler, generator=generator, steps=steps,
                guidance=guidance)),
        }
        history = torch.randn(1, fill * config.patch_frames, config.latent_dim,
                              generator=generator, device=torch_device).to(dtype)
        _, state = model.step(history, first_state)  # the KV window is now full
        patch = history[:, -config.patch_frames:]
        h, state = model.step(patch, state)
        token = model.locenc(patch, model._backend).unsqueeze(1)
        velocity = patch_velocity(model, h[:, -1], model.context(state), guidance)
        noisy = torch.randn(1, config.patch_frames, config.latent_dim, device=torch_device,
                            dtype=dtype)
        t = torch.full((1,), 0.5, device=torch_device, dtype=dtype)

        stream = {"state": state}  # each timed step continues the stream (steps consume states)

        def lm_step() -> None:
            cache = stream["state"].cache
            position = torch.arange(cache.position, cache.position + 1, device=torch_device)
            _, cache = model.lm(token, position, cached_mask(config.attention_window),
                                text=state.text, query_seqlens=[1], cache=cache,
                                backend=model._backend)
            stream["state"] = stream["state"].evolve(cache=cache)

        def whole_patch() -> None:
            new_h, stream["state"] = model.step(patch, stream["state"])
            generate_patch(model, stream["state"], new_h[:, -1], sampler, generator=generator,
                           steps=steps, guidance=guidance)

        steady = {
            "locenc": timed(lambda: model.locenc(patch, model._backend)),
            "lm_step": timed(lm_step),
            "locdit_evaluation": timed(lambda: velocity(noisy, t)),
            "locdit_sampling": timed(lambda: generate_patch(
                model, state, h[:, -1], sampler, generator=generator, steps=steps,
                guidance=guidance)),
            "patch_total": timed(whole_patch),
        }
    patch_ms = config.patch_seconds * 1e3
    steady["real_time_factor"] = steady["patch_total"]["median_ms"] / patch_ms
    steady["cpu_real_time_factor"] = steady["patch_total"]["cpu_median_ms"] / patch_ms
    return {
        "preset": preset_name,
        "parameters": count_parameters(config)["total"],
        "device": _device_name(torch_device),
        "dtype": str(dtype).removeprefix("torch."),
        "attention_backend": backend,
        "threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0],
        "sampling_steps": steps,
        "guidance": {"w1": guidance.w1, "w2": guidance.w2,
                     "branches": len(guidance.wrap(model.guided_model(h[:, -1])).conditions)},
        "patch_ms_of_audio": patch_ms,
        "kv_window_patches": config.attention_window,
        "cached_patches_in_steady_state": state.cache.length,
        "repeats": repeats,
        "first_patch": first,
        "steady_state": steady,
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def print_report(result: dict[str, Any]) -> None:
    print(f"causal-dit {result['preset']} ({result['parameters'] / 1e6:.1f} M parameters) on "
          f"{result['device']}, {result['dtype']}, attention {result['attention_backend']}, "
          f"{result['threads']} threads, "
          f"{result['sampling_steps']} steps, guidance {result['guidance']}")
    print(f"patch = {result['patch_ms_of_audio']:.1f} ms of audio; steady state with "
          f"{result['cached_patches_in_steady_state']} cached patches; load average "
          f"{result['load_average_1min']:.2f}")
    print(f"{'part':<36}{'median ms':>11}{'p10':>9}{'p90':>9}{'CPU ms':>9}")
    for phase in ("first_patch", "steady_state"):
        for part, figures in result[phase].items():
            if isinstance(figures, dict):
                print(f"{phase + ' / ' + part:<36}{figures['median_ms']:>11.2f}"
                      f"{figures['p10_ms']:>9.2f}{figures['p90_ms']:>9.2f}"
                      f"{figures['cpu_median_ms']:>9.2f}")
    print(f"real-time factor (steady state): {result['steady_state']['real_time_factor']:.3f} "
          f"wall, {result['steady_state']['cpu_real_time_factor']:.3f} CPU time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16",
                                                                "float16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, nargs=2, default=(1.4, 3.0),
                        metavar=("W1", "W2"),
                        help="guidance weights; 1 1 evaluates one branch (no guidance)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: leave torch's default)")
    parser.add_argument("--json", type=Path, default=Path("backbone_latency.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    guidance = GuidanceConfig(w1=args.guidance[0], w2=args.guidance[1])
    result = measure(args.preset, device=args.device, dtype=getattr(torch, args.dtype),
                     steps=args.steps, repeats=args.repeats, guidance=guidance)
    print_report(result)
    args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
