"""Two sounds, their words and a video (docs/evaluation.md, "Places from the video"): on
simulated scenes whose caption places two static sounds, the energy-map correlation of a
pipeline's clip with the scene, made from the caption and the scene's panorama video, and
from the caption alone.

    swansphere data simulate --out two --n 48 --free-field --max-sources 2 \\
        --moving-probability 0 --seed 7000003 --quiet
    python benchmarks/video_sources.py two --model tiny-next --threads 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _run_options import add_override_option, add_run_options, set_threads, write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenes", type=Path, help="a folder of simulated scenes")
    parser.add_argument("--model", default="tiny-next")
    add_override_option(parser)
    add_run_options(parser, threads=2)
    args = parser.parse_args(argv)
    set_threads(args.threads)

    import numpy as np

    from swansphere.metrics.direction import energy_map_correlation
    from swansphere.pipeline import Pipeline
    from swansphere.spatial import read_foa, read_panorama_video
    from swansphere.spatial.words import source_clauses

    pipeline = Pipeline.from_pretrained(args.model, overrides=args.set)
    rows = []
    for index, folder in enumerate(sorted(args.scenes.glob("scene-*"))):
        text = (folder / "caption.txt").read_text(encoding="utf-8").strip()
        if len(source_clauses(text)) != 2 or "moving" in text:
            continue  # two placed, static sounds only
        foa, _ = read_foa(folder / "foa.wav")
        frames, times, _ = read_panorama_video(folder / "video.npz")
        duration = foa.shape[-1] / pipeline.sample_rate
        row = {"scene": folder.name, "caption": text}
        for name, video in (("with_video", (frames, times)), ("words_only", None)):
            audio = pipeline.generate(text, video, duration, seed=index)
            row[name] = float(energy_map_correlation(foa, audio))
        rows.append(row)
        print(f"{folder.name}: video {row['with_video']:.3f}, words {row['words_only']:.3f}  "
              f"{text}")
    summary = {name: float(np.mean([row[name] for row in rows])) if rows else None
               for name in ("with_video", "words_only")}
    print(f"{len(rows)} scenes: energy-map correlation with the video {summary['with_video']}, "
          f"from the words alone {summary['words_only']}")
    write_report(args.json, {"model": args.model, "overrides": args.set, "scenes": len(rows),
                             "summary": summary, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
