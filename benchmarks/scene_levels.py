"""What a model is shown: the level and silences of rendered training scenes, measured as the
content evaluation measures generated clips (swansphere.evaluation.content), so that the two
compare. Reads scene caches (``runs/<recipe>/cache/*-scenes-*.safetensors``, written by
``swansphere train``) and prints one row per cache with the settings it was drawn with.

    python benchmarks/scene_levels.py runs/tiny-next/cache/pipeline-scenes-*.safetensors \\
        --clips 400
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cache_row(path: Path, clips: int, first_seconds: float, sample_rate: int) -> dict:
    """The settings a cache was drawn with and the figures of its first ``clips`` scenes."""
    from safetensors import safe_open

    from swansphere.evaluation.content import scene_silences

    with safe_open(str(path), "pt") as handle:
        settings = json.loads((handle.metadata() or {}).get("scenes", "{}"))
        scenes = handle.get_slice("foa")[:clips]
    return {"cache": path.name, "settings": settings,
            **scene_silences(list(scenes), sample_rate, first_seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("caches", nargs="+", type=Path, help="scene cache files")
    parser.add_argument("--clips", type=int, default=400, help="scenes read from each cache")
    parser.add_argument("--first-seconds", type=float, default=0.128,
                        help="a model's first step (tiny-next: 8 frames at 62.5 Hz)")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = [cache_row(path, args.clips, args.first_seconds, args.sample_rate)
            for path in args.caches]
    print(f"{'cache':46s} {'clips':>5s} {'silent':>7s} {'silent 1st':>10s} {'median dB':>9s} "
          f"{'mean dB':>8s} {'drop-outs':>9s}")
    for row in rows:
        print(f"{row['cache']:46s} {row['scenes']:5d} {row['silent_clips']:7.2f} "
              f"{row['silent_first']:10.2f} {row['median_level_db']:9.1f} "
              f"{row['mean_level_db']:8.1f} {row['dropout_share']:9.2f}")
        print(f"    {json.dumps(row['settings'])[:200]}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
