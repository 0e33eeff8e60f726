"""Exemplar banks from the sound vocabulary's clips (docs/pipeline.md, "Exemplar prompts").

:func:`exemplar_bank` renders each class's training clips and keeps, per class, the loudest
second or so of its most typical ones (:func:`typical`) or of its first ones, with the
class's training wordings, as an :class:`~swansphere.conditioning.exemplars.ExemplarBank`;
:func:`with_classes_added` gives a bank the classes it lacks, keeping its own exemplars
(:func:`without_classes` first, to cut some again);
:func:`clip_window` cuts one clip's exemplar the same way (training on references cut from a
scene's own recording, docs/training.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from swansphere.conditioning.exemplars import DEFAULT_THRESHOLD, ExemplarBank
from swansphere.errors import ConfigError

from .render import clip_audio

SEARCH_SECONDS = 4.0
"""How far into a clip its exemplar is looked for."""
CHOICES = ("typical", "first")
"""How a class's exemplars are chosen among its training clips (:func:`exemplar_bank`)."""
TYPICAL_POOL = 16
"""Training clips of a class among which the typical ones are chosen."""


def exemplar_bank(clips: Sequence[Any], wordings: Mapping[str, Sequence[str]], *,
                  sample_rate: int, seconds: float, per_class: int = 1,
                  threshold: float = DEFAULT_THRESHOLD, choice: str = "typical",
                  others: Sequence[str] | None = None) -> ExemplarBank:
    """``per_class`` audible clips of each class (clips with a ``label`` and a
    ``render(rng, rate, samples)``; give training clips only), each cut by
    :func:`clip_window`: the most typical of the class's first :data:`TYPICAL_POOL` audible
    clips (:func:`typical`; an odd first clip would stand for the class otherwise), or with
    ``choice = "first"`` its first ones. ``wordings`` maps each class to the phrases that
    name it (give training wordings only: :func:`swansphere.data.vocabulary.training_phrases`);
    ``others`` the phrases of sounds it has no clip of (by default the sound vocabulary's:
    :func:`swansphere.data.vocabulary.other_phrases`)."""
    if choice not in CHOICES:
        raise ConfigError(f"an exemplar choice is one of {', '.join(CHOICES)}, got {choice!r}")
    pool = per_class if choice == "first" else max(per_class, TYPICAL_POOL)
    chosen: dict[str, list[np.ndarray]] = {}
    sources: dict[str, list[Any]] = {}
    for clip in clips:
        kept = chosen.setdefault(clip.label, [])
        if len(kept) < pool:
            window = clip_window(clip, sample_rate, seconds)
            if window is not None:
                kept.append(window)
                sources.setdefault(clip.label, []).append(clip)
    for name, kept in chosen.items():
        kept += further_draws(sources.get(name, []), sample_rate, seconds,
                              per_class - len(kept), kept)
    if choice == "typical":
        chosen = {name: [kept[i] for i in typical(kept, sample_rate, per_class)]
                  for name, kept in chosen.items() if kept}
    names = tuple(sorted(name for name, kept in chosen.items() if kept))
    if not names:
        raise ConfigError("no audible clips to make an exemplar bank from")
    missing = [name for name in names if not wordings.get(name)]
    if missing:
        raise ConfigError(f"no wordings for the classes {', '.join(missing[:5])}")
    clip_classes = tuple(index for index, name in enumerate(names) for _ in chosen[name])
    audio = torch.as_tensor(np.stack([a for name in names for a in chosen[name]]),
                            dtype=torch.float32)
    if others is None:
        from .vocabulary import other_phrases

        others = other_phrases(names)
    return ExemplarBank(names, tuple(tuple(dict.fromkeys(wordings[name])) for name in names),
                        clip_classes, audio, sample_rate, threshold, tuple(others))


def with_classes_added(bank: ExemplarBank, clips: Sequence[Any],
                       wordings: Mapping[str, Sequence[str]], *, per_class: int = 1,
                       choice: str = "typical") -> ExemplarBank:
    """``bank`` with exemplars of each class of ``clips`` it has none of, cut as
    :func:`exemplar_bank` cuts them to the bank's own length; its own classes keep their
    clips, and its phrases of absent sounds lose those of the classes added. What a model's
    bank gains from sound sets it could not ship (copyleft clips, for one's own use)."""
    new = [clip for clip in clips if clip.label not in bank.class_names]
    if not new:
        return bank
    added = exemplar_bank(new, wordings, sample_rate=bank.sample_rate,
                          seconds=bank.audio.shape[-1] / bank.sample_rate, per_class=per_class,
                          threshold=bank.threshold, choice=choice, others=())
    from .vocabulary import other_phrases

    names = bank.class_names + added.class_names
    offset = len(bank.class_names)
    return ExemplarBank(names, bank.wordings + added.wordings,
                        bank.clip_classes + tuple(offset + i for i in added.clip_classes),
                        torch.cat([bank.audio, added.audio.to(bank.audio)]), bank.sample_rate,
                        bank.threshold, other_phrases(names))


def without_classes(bank: ExemplarBank, names: Sequence[str]) -> ExemplarBank:
    """``bank`` without the classes ``names`` and their clips (to cut their exemplars again
    with :func:`with_classes_added`); its phrases of absent sounds are kept."""
    unknown = sorted(set(names) - set(bank.class_names))
    if unknown:
        raise ConfigError(f"the exemplar bank has no class {', '.join(map(repr, unknown))}")
    kept = [index for index, name in enumerate(bank.class_names) if name not in names]
    if not kept:
        raise ConfigError("an exemplar bank needs at least one class")
    renumber = {old: new for new, old in enumerate(kept)}
    clips = [index for index, owner in enumerate(bank.clip_classes) if owner in renumber]
    return ExemplarBank(tuple(bank.class_names[i] for i in kept),
                        tuple(bank.wordings[i] for i in kept),
                        tuple(renumber[bank.clip_classes[i]] for i in clips),
                        bank.audio[clips], bank.sample_rate, bank.threshold, bank.others)


def typical(windows: Sequence[np.ndarray], sample_rate: int, count: int) -> list[int]:
    """Indices of the ``count`` most typical of one class's ``windows``, the most typical
    first (a bank's first clip of a class is the one a single prompt starts from): the
    medoids of their sound profiles (each window's mean normalised log-mel spectrum, the
    aisfx front end's, compared by cosine distance). No learned model takes part."""
    import torchaudio.functional

    from swansphere.metrics.embedding import SAMPLE_RATE, LogMelFrontEnd

    front_end = LogMelFrontEnd()
    with torch.no_grad():
        profiles = torch.stack([front_end(torchaudio.functional.resample(
            torch.as_tensor(window, dtype=torch.float32), sample_rate, SAMPLE_RATE)).mean(0)
            for window in windows])
    profiles = F.normalize(profiles, dim=-1)
    spread = (1 - profiles @ profiles.T).sum(1)
    return spread.argsort(stable=True)[:count].tolist()


def further_draws(clips: Sequence[Any], sample_rate: int, seconds: float, wanted: int,
                  kept: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Up to ``wanted`` more exemplars of a class with too few clips: other draws of its
    ``clips`` (:func:`clip_window`'s ``draw``), those unlike every window ``kept`` so far. A
    recording sounds the same at every draw and gives none; a synthesised clip (the
    procedural wind, a dog) gives another wind or dog, so its class's chain varies several
    rather than looping one second."""
    found: list[np.ndarray] = []
    for draw in range(1, wanted + 1):
        for clip in clips:
            if len(found) >= wanted:
                return found
            window = clip_window(clip, sample_rate, seconds, draw)
            if window is not None and not any(np.allclose(window, other, atol=1e-4)
                                              for other in (*kept, *found)):
                found.append(window)
    return found


def clip_window(clip: Any, sample_rate: int, seconds: float, draw: int = 0
                ) -> np.ndarray | None:
    """A clip's exemplar: its loudest ``seconds`` within its first :data:`SEARCH_SECONDS`,
    as its renderer levels it (the fixed ``draw`` of its generator) and repeated as a
    scene's sustained source is (:func:`swansphere.data.render.clip_audio`), or ``None`` for
    a silent clip. A one-shot shorter than the window plays again, so the exemplar does not
    end in silence, which a stream that continues it would continue."""
    samples = round(seconds * sample_rate)
    audio = clip_audio(clip, np.random.default_rng(draw), sample_rate,
                       max(samples, round(SEARCH_SECONDS * sample_rate)), repeat=True)
    if not np.abs(audio).max() > 0:
        return None
    return loudest_window(audio, samples).astype(np.float32)


def loudest_window(audio: np.ndarray, samples: int) -> np.ndarray:
    """The ``samples`` of ``audio`` with the most energy (starts on a 1/64 grid of the window,
    so a clip that opens with silence, a clock between ticks, still gives its sound)."""
    energy = np.concatenate(([0.0], np.cumsum(np.square(audio, dtype=np.float64))))
    starts = np.arange(0, audio.size - samples + 1, max(1, samples // 64))
    best = int(starts[np.argmax(energy[starts + samples] - energy[starts])])
    return audio[best:best + samples]
