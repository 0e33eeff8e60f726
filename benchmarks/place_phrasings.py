"""Direction error of a model on terse place phrasings, clock positions and angles, against
directions written down by hand (not read by the parser under test): docs/evaluation.md,
"Directions stated by prompts".

    python benchmarks/place_phrasings.py --model tiny --threads 2 [--set compound|numbers]
"""

from __future__ import annotations

import argparse
import math

from _run_options import add_run_options, set_threads, write_report

PROMPT_SETS = {  # (prompt, azimuth, elevation): left is +90°, 3 o'clock is the right
    "terse": (
        ("a bell rings, left", 90, 0), ("a siren wails (right)", -90, 0),
        ("left: a whistle", 90, 0), ("a bell on left", 90, 0), ("rain falls, rear", 180, 0),
        ("a siren, front", 0, 0), ("a bell at 3 o'clock", -90, 0),
        ("a whistle at 9 o'clock", 90, 0), ("a siren at six o'clock", 180, 0),
        ("a bell at 10 o'clock", 60, 0), ("a bell 45 degrees to the left", 45, 0),
        ("a siren 135 degrees right", -135, 0), ("a whistle to right.", -90, 0),
        ("a knock at 2 o'clock", -60, 0), ("a bell (rear)", 180, 0),
        ("a siren at 7 o'clock", 150, 0)),
    "compound": (
        ("a bell rings to the left and slightly behind", 135, 0),
        ("a siren wails up and to the right", -90, 45), ("a whistle from the upper left", 90, 45),
        ("a knock at the lower right", -90, -45), ("a bell rings over your left shoulder", 135, 0),
        ("someone talks in your right ear", -90, 0), ("a siren on the far left", 90, 0),
        ("a bell rings above you on the right", -90, 45),
        ("a whistle overhead to the left", 90, 45), ("a clock ticks at your feet", 0, -90),
        ("a bell rings left of you", 90, 0), ("a siren at azimuth -135", -135, 0),
        ("a knock just behind your right shoulder", -135, 0),
        ("a whistle beside you on the right", -90, 0), ("a bell rings over to the left", 90, 0),
        ("rain falls towards the right", -90, 0)),
    "numbers": (  # places stated in numbers between the caption vocabulary's directions
        ("a bell at 2 o'clock", -60, 0), ("a siren at 10 o'clock", 60, 0),
        ("a whistle at 1 o'clock", -30, 0), ("a knock at 7 o'clock", 150, 0),
        ("a bell 30 degrees to the left", 30, 0), ("a siren 70° right", -70, 0),
        ("a whistle 20 degrees above the horizon", 0, 20), ("a bell 10 degrees below you", 0, -10),
        ("a siren at azimuth 120, elevation 30", 120, 30),
        ("a knock at elevation 15 on the left", 90, 15),
        ("a bell 40 degrees to the left and 20 degrees up", 40, 20),
        ("rain falls at 5 o'clock", -150, 0), ("a whistle at azimuth -100", -100, 0),
        ("a siren 60 degrees to the right and 30 degrees down", -60, -30),
        ("a knock at elevation -20", 0, -20), ("a bell at 4 o'clock", -120, 0)),
}


def _unit(azimuth: float, elevation: float = 0.0) -> tuple[float, float, float]:
    a, e = math.radians(azimuth), math.radians(elevation)
    return math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="shipped name or pipeline directory")
    parser.add_argument("--set", dest="prompt_set", choices=sorted(PROMPT_SETS), default="terse",
                        help="terse places, clock positions and angles; places said in two "
                             "pieces, by the body, or as an azimuth; or places stated in numbers "
                             "between the sectors' centres")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration", type=float, default=4.0)
    add_run_options(parser)
    args = parser.parse_args(argv)


    from swansphere.pipeline import Pipeline
    from swansphere.spatial.analysis import direction

    set_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model)
    rows = []
    for text, azimuth, elevation in PROMPT_SETS[args.prompt_set]:
        got = direction(pipeline.generate(text, duration=args.duration, seed=args.seed))
        cosine = sum(a * b for a, b in zip(_unit(*map(float, got)), _unit(azimuth, elevation),
                                           strict=True))
        rows.append({"text": text, "azimuth": azimuth, "elevation": elevation,
                     "error": math.acos(max(-1.0, min(1.0, cosine)))})
        print(f"{text:45} Δangular {rows[-1]['error']:.2f} rad")
    mean = sum(row["error"] for row in rows) / len(rows)
    print(f"mean Δangular over {len(rows)} prompts: {mean:.2f} rad")
    write_report(args.json, {"mean": mean, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
