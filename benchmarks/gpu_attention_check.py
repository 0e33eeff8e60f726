"""Prepared check for a lent GPU: xformers vs SDPA on CUDA, then paper-l per-patch latency.

Part 1 runs every attention mask the backbone uses (causal, causal with a window, packed
variable-length block-diagonal, KV-cache offset masks, packed text cross-attention) at paper-l
head sizes (16 query / 8 KV heads of 64) through ``xformers.ops.memory_efficient_attention``
and through PyTorch SDPA with the materialized mask, in bf16 and fp16. It reports both paths'
largest difference to a float32 SDPA reference and to each other, forward medians and, for
the training masks, forward + backward medians. A case no xformers kernel supports is
reported as such (the backbone's ``auto`` backend then falls back to SDPA).

Part 2 times the ``paper-l`` backbone (1.07 B parameters, bf16, 20 Euler steps, guidance
(1.4, 3)) per patch with ``backbone_latency.measure``, with xformers and with SDPA attention,
and sets the first patch beside the paper's first chunk: Spatial LM 0.03 s, LocDiT 0.14 s.

It prints tables and writes everything as JSON. Exit status 1 if xformers disagrees with the
reference beyond the dtype's tolerance. Sized for under two minutes on one H100 or H200 (its
H200 result is in docs/backbone.md, "GPU check"). The machines lent here hold torch but not
xformers or this package, so carry wheels (see there) and run::

    python3 benchmarks/gpu_attention_check.py --json "$OUT/gpu_attention_check.json"
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from backbone_latency import measure, median_ms

from swansphere.nn.attention import (
    AttentionMask,
    cached_mask,
    causal_mask,
    packed_causal_mask,
    packed_mask,
    sdpa_attention,
    xformers_attention,
)

HEADS, KV_HEADS, HEAD_DIM = 16, 8, 64
TOLERANCE = {torch.bfloat16: 3e-2, torch.float16: 4e-3}
PAPER_FIRST_CHUNK_S = {"lm_step": 0.03, "locdit_sampling": 0.14}


def mask_cases(tokens: int = 512) -> list[dict[str, Any]]:
    """Every pattern the backbone uses, at ``tokens`` tokens per training sequence."""
    packed = [tokens * 75 // 128, tokens * 15 // 64, tokens // 8]
    packed.append(tokens - sum(packed))
    text = [16, 9, 20, 12]
    window = max(tokens // 8, 2)

    def case(name: str, batch: int, queries: int, keys: int, mask: AttentionMask,
             trains: bool) -> dict[str, Any]:
        return {"name": name, "batch": batch, "queries": queries, "keys": keys, "mask": mask,
                "trains": trains}

    return [
        case(f"causal (training, 4 x {tokens})", 4, tokens, tokens, causal_mask(), True),
        case(f"causal, window {window}", 4, tokens, tokens, causal_mask(window), True),
        case(f"packed varlen causal ({'+'.join(map(str, packed))})", 1, tokens, tokens,
             packed_causal_mask(packed), True),
        case(f"packed varlen causal, window {window}", 1, tokens, tokens,
             packed_causal_mask(packed, window), True),
        case(f"kv-cache decode: 1 query, {window - 1} cached", 4, 1, window,
             cached_mask(window), False),
        case(f"kv-cache decode: 1 query, {tokens - 1} cached", 4, 1, tokens, cached_mask(),
             False),
        case(f"kv-cache chunk: 8 queries, {tokens // 2} keys, window {window}", 4, 8,
             tokens // 2, cached_mask(window), False),
        case("text cross-attention: 4 x 54 queries, packed text", 1, 216, sum(text),
             packed_mask([54] * 4, text), True),
    ]


def _inputs(batch: int, queries: int, keys: int, dtype: torch.dtype, device: torch.device,
            seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator(device=device).manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, device=device, dtype=dtype)

    return (randn(batch, queries, HEADS, HEAD_DIM), randn(batch, keys, KV_HEADS, HEAD_DIM),
            randn(batch, keys, KV_HEADS, HEAD_DIM))


def _train_step(attend: Callable, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                mask: AttentionMask) -> Callable[[], None]:
    leaves = [x.detach().requires_grad_(True) for x in (q, k, v)]

    def step() -> None:
        attend(*leaves, mask).float().square().mean().backward()

    return step


def check_case(case: dict[str, Any], dtype: torch.dtype, device: torch.device,
               repeats: int) -> dict[str, Any]:
    q, k, v = _inputs(case["batch"], case["queries"], case["keys"], dtype, device, seed=0)
    mask = case["mask"]
    row: dict[str, Any] = {"case": case["name"], "dtype": str(dtype).removeprefix("torch.")}
    with torch.no_grad():
        reference = sdpa_attention(q.float(), k.float(), v.float(), mask)
        sdpa = sdpa_attention(q, k, v, mask)
        try:
            xformers = xformers_attention(q, k, v, mask)
        except (NotImplementedError, ValueError) as error:
            row["xformers"] = "unsupported: " + (str(error).splitlines() or ["?"])[0]
            xformers = None
    row["sdpa_vs_fp32_max_abs"] = (sdpa.float() - reference).abs().max().item()
    row["sdpa_forward"] = _timed(lambda: sdpa_attention(q, k, v, mask), repeats, device)
    if case["trains"]:
        row["sdpa_forward_backward"] = _timed(_train_step(sdpa_attention, q, k, v, mask),
                                              repeats, device)
    if xformers is None:
        return row
    row["xformers"] = "ok"
    row["xformers_vs_fp32_max_abs"] = (xformers.float() - reference).abs().max().item()
    row["xformers_vs_sdpa_max_abs"] = (xformers.float() - sdpa.float()).abs().max().item()
    row["agrees"] = row["xformers_vs_fp32_max_abs"] <= TOLERANCE[dtype]
    row["xformers_forward"] = _timed(lambda: xformers_attention(q, k, v, mask), repeats, device)
    if case["trains"]:
        row["xformers_forward_backward"] = _timed(
            _train_step(xformers_attention, q, k, v, mask), repeats, device)
    return row


def _timed(call: Callable[[], Any], repeats: int, device: torch.device) -> dict[str, Any]:
    """Median timing, or the error of a path that has no kernel for this case (backward)."""
    try:
        return median_ms(call, repeats, 3, device)
    except (NotImplementedError, ValueError, RuntimeError) as error:
        return {"error": (str(error).splitlines() or [type(error).__name__])[0]}


HEADER = (f"{'case':<52}{'dtype':>9}{'xf-ref':>9}{'sdpa-ref':>9}{'xf-sdpa':>9}"
          f"{'xf fwd':>9}{'sdpa fwd':>9}{'xf f+b':>9}{'sdpa f+b':>9}  (max abs; ms)")


def _ms(row: dict[str, Any], key: str) -> str:
    if key not in row:
        return f"{'-':>9}"
    return f"{row[key]['median_ms']:9.3f}" if "median_ms" in row[key] else f"{'error':>9}"


def _diff(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:9.1e}" if key in row else f"{'-':>9}"


def print_row(row: dict[str, Any]) -> None:
    print(f"{row['case']:<52}{row['dtype']:>9}{_diff(row, 'xformers_vs_fp32_max_abs')}"
          f"{_diff(row, 'sdpa_vs_fp32_max_abs')}{_diff(row, 'xformers_vs_sdpa_max_abs')}"
          f"{_ms(row, 'xformers_forward')}{_ms(row, 'sdpa_forward')}"
          f"{_ms(row, 'xformers_forward_backward')}{_ms(row, 'sdpa_forward_backward')}"
          f"  {row['xformers']}", flush=True)


def compare_with_paper(result: dict[str, Any]) -> dict[str, Any]:
    first = result["first_patch"]
    return {part: {"ours_s": first[part]["median_ms"] / 1e3, "paper_s": seconds}
            for part, seconds in PAPER_FIRST_CHUNK_S.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path("gpu_attention_check.json"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--latency-repeats", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=512,
                        help="tokens per training sequence in the attention cases")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--preset", default="paper-l", help="backbone preset to time")
    parser.add_argument("--device", default="cuda",
                        help="cuda; 'cpu' only dry-runs the script (xformers has no CPU kernels)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)"
    report: dict[str, Any] = {"device": name, "torch": torch.__version__}
    try:
        import xformers

        report["xformers"] = xformers.__version__
    except ImportError:
        report["xformers"] = None
    print(f"{report['device']}, torch {report['torch']}, xformers {report['xformers']}")
    print(HEADER)
    rows = report["attention"] = []
    for dtype in (torch.bfloat16, torch.float16):
        for case in mask_cases(args.tokens):
            try:
                rows.append(check_case(case, dtype, device, args.repeats))
            except (NotImplementedError, ValueError, RuntimeError) as error:  # keep going
                rows.append({"case": case["name"], "dtype": str(dtype).removeprefix("torch."),
                             "xformers": f"case failed: {str(error).splitlines()[0]}"})
            print_row(rows[-1])
    _write(report, args.json)
    if not args.skip_latency:
        report["latency"] = {}
        for backend in ("xformers", "sdpa"):
            try:
                result = measure(args.preset, device=args.device, dtype=torch.bfloat16,
                                 steps=20, repeats=args.latency_repeats, backend=backend)
            except (NotImplementedError, ValueError, RuntimeError) as error:
                report["latency"][backend] = {"error": str(error).splitlines()[0]}
                print(f"{args.preset} with {backend} attention failed: {error}")
                continue
            result["paper_first_chunk"] = compare_with_paper(result)
            report["latency"][backend] = result
            _print_latency(result)
            _write(report, args.json)
    disagreements = [row["case"] for row in rows if row.get("agrees") is False]
    if disagreements:
        print(f"xformers disagrees with the fp32 reference in: {disagreements}")
    return 1 if disagreements else 0


def _print_latency(result: dict[str, Any]) -> None:
    from backbone_latency import print_report

    print()
    print_report(result)
    for part, figures in result["paper_first_chunk"].items():
        print(f"first chunk {part}: ours {figures['ours_s']:.3f} s, paper {figures['paper_s']} s")


def _write(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
