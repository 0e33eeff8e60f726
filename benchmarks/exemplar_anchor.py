"""How much of an anchored stream is its exemplar: latents against the exemplar's, and takes
against each other, for several ``exemplar_anchor`` values.

    python benchmarks/exemplar_anchor.py --model tiny-next --cases 40 --anchors 0 0.5 0.7 \\
        --threads 2 --json runs/exemplar-anchor.json

For each held-out one-source prompt of the content benchmark whose words find an exemplar, two
takes (seeds 0 and 1) of ``--duration`` seconds; per anchor, the mean over prompts of

- ``from_exemplar``: ‖stream − exemplar looped‖ / ‖exemplar looped‖ in the backbone's latent
  space, both centred on the exemplars' mean latent frame (0: the stream is its exemplar
  played again and again; about √2 for unrelated clips of the same spread);
- ``between_takes``: ‖take 0 − take 1‖ / the takes' RMS norm, centred alike (0: every seed
  makes the same clip; about √2 for unrelated takes);
- ``repeats``: the stream against itself one bank clip later, ‖x[t + L] − x[t]‖ / ‖x‖ over
  the frames where both exist (L: a clip's length, what one exemplar looped repeats at; a
  model with ``exemplar_chain`` plays several in turn), centred alike (0: the stream loops
  exactly; one exemplar looped scores 0);

and, for scale, ``other_exemplars``: one prompt's exemplar looped against the next prompt's
(another class), measured as ``from_exemplar``.

What the anchor keeps and what it redraws (docs/pipeline.md, "Anchored sampling"). Needs the
sound sets (scripts/install-sound-sets.sh) or a clip bank, as content_eval.py does.
"""

from __future__ import annotations

import argparse
import statistics

from _run_options import add_override_option, add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny-next", help="shipped name or pipeline directory")
    parser.add_argument("--cases", type=int, default=40, help="one-source held-out prompts")
    parser.add_argument("--anchors", type=float, nargs="+", default=[0.0, 0.5, 0.7])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per take")
    add_override_option(parser)
    add_run_options(parser)
    args = parser.parse_args(argv)

    import torch
    from tqdm.auto import tqdm

    from swansphere.evaluation.content import References, content_cases
    from swansphere.pipeline import Pipeline

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    if pipeline.exemplars is None:
        parser.error(f"{args.model} has no exemplar bank: nothing to anchor to")
    references, _ = References.held_out(pipeline.sample_rate, seconds=args.duration)
    cases = content_cases(sorted(references.clips), count=args.cases)
    seeds = (0, 1)
    period = (pipeline.exemplars.audio.shape[-1] // pipeline.samples_per_patch
              * pipeline.backbone.patch_frames)
    loops, takes = [], {anchor: [] for anchor in args.anchors}
    for case in tqdm(cases, desc="prompts"):
        exemplars = pipeline.exemplars.prompts([case.text] * len(seeds), list(seeds),
                                               chain=pipeline.config.exemplar_chain)
        if exemplars[0] is None:
            continue
        loops.append([looped_latents(pipeline, exemplar, args.duration, seed)
                      for exemplar, seed in zip(exemplars, seeds, strict=True)])
        for anchor in args.anchors:
            anchored = pipeline.replace(exemplar_anchor=anchor, exemplar_prompts=True)
            takes[anchor].append([stream_latents(anchored, case.text, args.duration, seed)
                                  for seed in seeds])
    primed = len(loops)
    if not primed:
        parser.error("no prompt found an exemplar")
    # centred on the exemplars' mean frame: the level every latent frame shares would make
    # any two clips look alike
    centre = torch.cat([loop for pair in loops for loop in pair]).mean(0)
    summary = {str(anchor): distances(takes[anchor], loops, period, centre)
               for anchor in args.anchors}
    summary["other_exemplars"] = statistics.mean(
        float((one[0] - other[0]).norm() / (one[0] - centre).norm())
        for one, other in zip(loops, loops[1:] + loops[:1], strict=True)) if primed > 1 else None
    print(f"{primed} of {len(cases)} prompts find an exemplar")
    for anchor in args.anchors:
        print(f"exemplar_anchor = {anchor}: " + ", ".join(
            f"{name} {value:.3f}" for name, value in summary[str(anchor)].items()))
    print(f"one prompt's exemplar from the next one's (another class): "
          f"{summary['other_exemplars']}")
    write_report(args.json, {"primed": primed, "cases": len(cases), "summary": summary,
                             "settings": {**vars(args), "json": str(args.json)}})
    return 0


def distances(takes, loops, period: int, centre) -> dict[str, float]:
    """Mean ``from_exemplar``, ``between_takes`` and ``repeats`` (at a lag of ``period``
    frames) over prompts (see the module's doc)."""
    import torch

    from_exemplar, between_takes, repeats = [], [], []
    for pair, loop_pair in zip(takes, loops, strict=True):
        pair = [take - centre for take in pair]
        repeats.append(statistics.mean(float((take[period:] - take[:-period]).norm()
                                             / take[period:].norm()) for take in pair))
        from_exemplar.append(statistics.mean(
            float((take - (loop - centre)).norm() / (loop - centre).norm())
            for take, loop in zip(pair, loop_pair, strict=True)))
        scale = torch.sqrt((pair[0].square().sum() + pair[1].square().sum()) / 2)
        between_takes.append(float((pair[0] - pair[1]).norm() / scale))
    return {"from_exemplar": statistics.mean(from_exemplar),
            "between_takes": statistics.mean(between_takes),
            "repeats": statistics.mean(repeats)}


def stream_latents(pipeline, text: str, duration: float, seed: int):
    """The stream's latents ``(frames, D)`` in the backbone's space."""
    import torch

    return torch.cat([chunk.latents for chunk in pipeline.stream(text, duration=duration,
                                                                 seed=seed)])


def looped_latents(pipeline, exemplar, duration: float, seed: int):
    """The exemplar's latents repeated over ``duration`` seconds from the patch a take of
    ``seed`` starts its loop from, as the anchor loops them."""
    import torch

    from swansphere.pipeline import loop_phase

    frames_per_patch = pipeline.backbone.patch_frames
    with torch.inference_mode():
        latents = pipeline.prompt_latents(exemplar[None])[0]
    phase = loop_phase(seed, latents.shape[0] // frames_per_patch)
    latents = latents.roll(-phase * frames_per_patch, 0)
    frames = round(duration * pipeline.backbone.frame_rate)
    frames = -(-frames // pipeline.backbone.patch_frames) * pipeline.backbone.patch_frames
    return latents.repeat(-(-frames // latents.shape[0]), 1)[:frames]


if __name__ == "__main__":
    raise SystemExit(main())
