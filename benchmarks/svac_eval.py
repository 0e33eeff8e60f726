"""Evaluate trained SVAC models side by side on held-out simulated scenes.

Every model sees the same held-out scenes (a seed disjoint from training and validation):
video -> audio and audio -> video retrieval R@1 among all scenes, rotation / roll
discrimination among K yaws and time discrimination among all circular shifts, each with its
chance level. An untrained model of the first
model's config runs beside them as a floor. Prints a table and writes JSON.

    python benchmarks/svac_eval.py runs/svac/svac runs/svac-semantic/svac \
        --names svac semantic-only --scenes 128 --json svac_eval.json

(the model directories are what ``swansphere train benchmarks/configs/svac*.toml`` exports).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import attrs
import torch

HELD_OUT_SEED = 20_261_126
"""Scene seed of the held-out set (training uses the config's seed, validation seed + 1000003)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="saved SVAC model directories")
    parser.add_argument("--names", nargs="+", default=None, help="a label per model")
    parser.add_argument("--train-config", default="benchmarks/configs/svac.toml",
                        help="training config whose [data] section describes the scenes")
    parser.add_argument("--scenes", type=int, default=128, help="held-out scenes (default 128)")
    parser.add_argument("--rotations", type=int, default=8, help="K yaws (default 8)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="held-out scene seed")
    parser.add_argument("--cache-dir", default=None, help="cache of rendered FOA scenes")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--json", default="svac_eval.json", help="where to write the figures")
    return parser.parse_args()


def held_out_pool(data, model, scenes: int, seed: int, cache_dir: str | None):
    """``scenes`` synthetic scenes from ``seed``, panoramas at ``model``'s size."""
    from swansphere.plugins.svac.trainer import synthetic_pool

    held_out = attrs.evolve(data, source="synthetic", seed=seed, train_scenes=scenes,
                            cache_dir=cache_dir or data.cache_dir)
    return synthetic_pool(held_out, model, validation=False, progress=False)


def main() -> int:
    from swansphere.plugins.svac.evaluation import evaluate_svac
    from swansphere.plugins.svac.model import SVACModel, load_svac
    from swansphere.training.tasks import load_training_config

    args = parse_args()
    torch.set_num_threads(args.threads)
    names = args.names or [Path(m).parent.name for m in args.models]
    if len(names) != len(args.models):
        raise SystemExit("give one name per model")
    _, train_config = load_training_config(args.train_config)
    models = {name: load_svac(path) for name, path in zip(names, args.models, strict=True)}
    torch.manual_seed(0)
    first = next(iter(models.values()))
    models["untrained"] = SVACModel(first.config).eval()
    results = {}
    for name, model in models.items():
        pool = held_out_pool(train_config.data, model, args.scenes, args.seed, args.cache_dir)
        start = time.process_time()
        figures = evaluate_svac(model, pool.foa, pool.frames, pool.times,
                                rotations=args.rotations)
        figures["cpu_seconds"] = time.process_time() - start
        results[name] = figures
    print_table(results)
    report = {"held_out_seed": args.seed, "scenes": args.scenes, "rotations": args.rotations,
              "threads": args.threads, "models": dict(zip(names, args.models, strict=True)),
              "results": results}
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


def print_table(results: dict[str, dict[str, float]]) -> None:
    columns = ("v2a_r1", "a2v_r1", "rotation_accuracy", "roll_accuracy", "time_accuracy")
    print(f"{'model':<16}" + "".join(f"{c:>19}" for c in columns))
    for name, figures in results.items():
        print(f"{name:<16}" + "".join(f"{figures[c]:>19.3f}" for c in columns))
    any_figures = next(iter(results.values()))
    print(f"{'chance':<16}" + f"{any_figures['retrieval_chance']:>19.3f}" * 2
          + f"{any_figures['rotation_chance']:>19.3f}" * 2
          + f"{any_figures['time_chance']:>19.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
