"""Does the model make the sound the prompt names, where it names it?

The content evaluation of a pipeline on the sound vocabulary's held-out material:

- **cases** (:func:`content_cases`): captions of one or two sources of the vocabulary's
  classes at random places, written with the *held-out* caption family (templates, place
  words and sound synonyms never used in training: "a fiddle", "a chap talks") or the training
  family; each source's target direction is what the prompt parser reads from the words;
- **references**: each class's held-out clips (:func:`~swansphere.data.vocabulary.split_clips`)
  give the class centroids in the aisfx embedding, and a reference scene per case (the named
  classes' held-out clips placed as plane waves where the words say);
- **figures** (:func:`evaluate_content`): identity of single-source clips (top-1 / top-5 among
  all classes, with chance, and the ceiling: the pipeline's codec round trip of the
  references), Δangular to the named place, identity of each source of two-source clips in a
  cardioid beam towards its own place (and of the reference scene's, a first-order beam's
  ceiling: the other source leaks into it), energy-map correlation with the reference scene, the
  Fréchet distance to the reference scenes, the output level (W, dBFS) beside the references',
  and the share of drop-out frames (:func:`dropped_frames`: the reference sounds and the clip
  is silent, 30 dB below its own loud frames, or 20 dB below the sound around it), beside the
  gaps inside the clip's own sounds; :func:`recording_dropouts` scores real recordings the
  same way, the floor those shares are read against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import torch

from swansphere.errors import ConfigError

from .level import level_db

FRAME_SECONDS = 0.064
DROPOUT_DB = -30.0
"""A frame is dropped when it is this far below the clip's 90th-percentile frame level (the
sound is missing there, whatever the frames around it do)."""
DIP_DB = -20.0
"""... or when it is this far below its local level (:func:`local_levels`) inside a sound:
a gap in a sustained sound. 20 dB is far beyond the frame-to-frame wobble of rain or an engine
(a few dB) and plainly audible as a gap."""
LOCAL_FRAMES = 4
"""Half-width in frames of the window whose median is a frame's local level (±256 ms): a dip
of up to 4 frames inside a sound is measured against the sound, while the end of a sound is
no drop-out (past it, most of the window is the silence that follows)."""
SOUNDING_DB = -20.0
"""A frame sounds when it is within this of the clip's 90th-percentile frame level (for the
reference: where a drop-out can happen; for a local level: inside a sound)."""
SILENCE_DB = -100.0
"""Frames below this absolute level (dB full scale) are silent whatever the clip's level."""
SILENT_CLIP_DB = -60.0
"""A generated clip whose W level is below this (dB full scale) made no sound to speak of."""


@attrs.frozen
class ContentCase:
    """One prompt: its text, caption family, the classes it names and their target places."""

    text: str
    family: str
    classes: tuple[str, ...]
    directions: tuple[tuple[float, float], ...]


def content_cases(classes: Sequence[str], *, count: int, sources: int = 1,
                  family: str = "held_out", seed: int = 0) -> list[ContentCase]:
    """``count`` captions naming ``sources`` distinct classes each (cycling through
    ``classes`` so every class is asked for), at area-uniform random static places.

    A case is kept only when the prompt parser reads one place per source from its text;
    those places are its targets.
    """
    from swansphere.data.captions import SourceDescription, natural_caption
    from swansphere.data.vocabulary import sound_class
    from swansphere.spatial.words import prompt_directions

    if sources < 1 or len(classes) < sources:
        raise ConfigError(f"need at least {sources} classes for {sources}-source cases, got "
                          f"{len(classes)}")
    rng = np.random.default_rng([seed, sources])
    order = list(classes)
    cases: list[ContentCase] = []
    attempt = 0
    while len(cases) < count and attempt < 20 * count:
        first = order[attempt % len(order)]
        others = [c for c in rng.permutation(order).tolist() if c != first][:sources - 1]
        named = (first, *others)
        attempt += 1
        descriptions = []
        for name in named:
            azimuth = float(rng.uniform(-180.0, 180.0))
            elevation = float(np.degrees(np.arcsin(rng.uniform(-0.6, 0.9))))
            sound = sound_class(name)
            descriptions.append(SourceDescription(noun=sound.noun, verb=sound.verb,
                                                  azimuth=azimuth, elevation=elevation,
                                                  label=name))
        caption = natural_caption(descriptions, rng, family=family)
        places = prompt_directions(caption.text)
        if len(places) == sources:
            cases.append(ContentCase(caption.text, family, named, tuple(places)))
    return cases


@attrs.frozen(eq=False)
class References:
    """Held-out reference clips per class, rendered at one rate, and their class centroids."""

    clips: dict[str, list[torch.Tensor]]
    centroids: Any
    sample_rate: int
    embeddings: dict[str, torch.Tensor] = attrs.field(factory=dict)
    """Each class's clips' embeddings ``(clips, dim)``, in ``clips``' order: what
    :meth:`centroids_without` fits from."""

    @classmethod
    def build(cls, clips: Sequence[Any], *, embedding: Any, sample_rate: int,
              seconds: float = 4.0) -> References:
        """From vocabulary clips (:class:`~swansphere.data.clips.SoundClip`, relabelled)."""
        from .identity import ClassCentroids

        samples = round(seconds * sample_rate)
        by_class: dict[str, list[torch.Tensor]] = {}
        for clip in clips:
            for audio in _audible([clip], sample_rate, samples):
                by_class.setdefault(clip.label, []).append(torch.as_tensor(audio).float())
        labels = [label for label, audios in by_class.items() for _ in audios]
        embeddings = _embed(embedding, [a for audios in by_class.values() for a in audios],
                            sample_rate)
        per_class = dict(zip(by_class, embeddings.split([len(a) for a in by_class.values()]),
                             strict=True))
        return cls(by_class, ClassCentroids.fit(labels, embeddings), sample_rate, per_class)

    @classmethod
    def held_out(cls, sample_rate: int, *, sets: Sequence[str] | None = None,
                 permissive_only: bool = True, seconds: float = 4.0) -> tuple[References, Any]:
        """The installed sound sets' held-out clips of every vocabulary class as references,
        with the aisfx embedding that identifies them (what the content benchmarks compare
        against)."""
        from swansphere.data.sources import catalogue
        from swansphere.data.vocabulary import class_clips, split_clips
        from swansphere.metrics.embedding import AisfxEmbedding

        clips = class_clips(catalogue(list(sets) if sets else None),
                            permissive_only=permissive_only)
        embedding = AisfxEmbedding.load()
        return cls.build(split_clips(clips)[1], embedding=embedding, sample_rate=sample_rate,
                         seconds=seconds), embedding

    def scene_clip(self, name: str, index: int) -> int:
        """Which of class ``name``'s clips the reference scene of case ``index`` plays."""
        return index % len(self.clips[name])

    def scene(self, case: ContentCase, index: int) -> torch.Tensor:
        """The case's reference: a held-out clip of each named class where the words say."""
        from swansphere.spatial import encode

        parts = []
        for name, (azimuth, elevation) in zip(case.classes, case.directions, strict=True):
            audio = self.clips[name][self.scene_clip(name, index)]
            parts.append(encode(audio, azimuth, elevation))
        return torch.stack(parts).sum(0)

    def centroids_without(self, name: str, index: int) -> Any | None:
        """The class centroids fitted without clip ``index`` of class ``name``, or ``None``
        where that is its class's only clip. A recording judged against centroids that hold
        it is partly judged against itself (with two or three clips a class, that alone
        names most of them), so figures for the references' own clips leave them out."""
        from .identity import ClassCentroids

        if name not in self.embeddings:
            raise ConfigError(f"no reference embeddings of the class {name!r}")
        kept = dict(self.embeddings)
        rows = kept[name]
        kept[name] = torch.cat([rows[:index], rows[index + 1:]])
        if not len(kept[name]):
            return None
        labels = [label for label, rows in kept.items() for _ in range(len(rows))]
        return ClassCentroids.fit(labels, torch.cat(list(kept.values())))


def _embed(embedding: Any, signals: Sequence[torch.Tensor], sample_rate: int) -> torch.Tensor:
    return torch.stack([embedding.embed(signal, sample_rate).mean(0) for signal in signals])


def frame_levels(signal: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """RMS per :data:`FRAME_SECONDS` frame of a mono signal, in dB (full scale = 1)."""
    frame = max(round(FRAME_SECONDS * sample_rate), 1)
    frames = signal[:signal.shape[-1] // frame * frame].reshape(-1, frame).double()
    return 10.0 * torch.log10(frames.square().mean(-1).clamp_min(1e-24))


def local_levels(levels: torch.Tensor, half: int = LOCAL_FRAMES) -> torch.Tensor:
    """Median of each frame's window of ``2·half + 1`` frame levels (cut at the clip's ends):
    the level of the sound around a frame, which a short dip does not move."""
    padded = torch.cat([levels.new_full((half,), math.nan), levels,
                        levels.new_full((half,), math.nan)])
    return padded.unfold(0, 2 * half + 1, 1).nanmedian(-1).values


def dropped_frames(levels: torch.Tensor) -> torch.Tensor:
    """Which frames of a clip (its :func:`frame_levels`) have dropped out: silent, or
    :data:`DROPOUT_DB` below the clip's 90th-percentile frame, or, inside a sound (the local
    level sounds), :data:`DIP_DB` below the local level."""
    top = levels.quantile(0.9)
    local = local_levels(levels)
    inside = local > top + SOUNDING_DB
    return ((levels < SILENCE_DB) | (levels < top + DROPOUT_DB)
            | (inside & (levels < local + DIP_DB)))


def dropout_share(generated: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Share of the frames where the reference sounds (within :data:`SOUNDING_DB` of its
    90th percentile) but the generated W has dropped out (:func:`dropped_frames`); NaN if
    the reference never sounds."""
    ours, theirs = frame_levels(generated, sample_rate), frame_levels(reference, sample_rate)
    frames = min(ours.shape[0], theirs.shape[0])
    dropped = dropped_frames(ours)[:frames]
    theirs = theirs[:frames]
    sounding = (theirs > theirs.quantile(0.9) + SOUNDING_DB) & (theirs > SILENCE_DB)
    if not bool(sounding.any()):
        return math.nan
    return float((dropped & sounding).sum() / sounding.sum())


def sustained_dropout_share(signal: torch.Tensor, sample_rate: int) -> float:
    """Without a reference: the share of the frames inside a sound (the local level within
    :data:`SOUNDING_DB` of the clip's 90th percentile) that dip :data:`DIP_DB` below it or
    are silent. NaN for a clip with no such frame (silence)."""
    levels = frame_levels(signal, sample_rate)
    inside = (local_levels(levels) > levels.quantile(0.9) + SOUNDING_DB) \
        & (levels.quantile(0.9) > SILENCE_DB)
    if not bool(inside.any()):
        return math.nan
    return float((dropped_frames(levels) & inside).sum() / inside.sum())


def evaluate_content(pipeline: Any, references: References, cases: Sequence[ContentCase], *,
                     embedding: Any, duration: float = 4.0, seeds: Sequence[int] = (0,),
                     windows: int = 1, cascade: bool = False,
                     progress: bool = True) -> dict[str, Any]:
    """Generate every case with every seed and score it (see the module doc); JSON-ready.

    ``pipeline`` streams (``causal-dit``) or makes whole clips (``global-dit``, the same-size
    baseline): both are scored alike (:func:`generated_takes`). ``windows`` above 1 also
    ranks the named class in each of that many equal parts of a one-source clip
    (``window_ranks``): whether a stream keeps the sound it started with. A pipeline that
    starts streams from exemplar prompts gets the rank of each one-source case's exemplar
    too (``exemplar_rank``): what its streams continue. ``cascade`` scores the cascade
    baseline of ``pipeline`` instead (:class:`~swansphere.evaluation.baselines.
    CascadeBaseline`: each take's W channel panned toward the place its prompt states, the
    front for a prompt of several places): the same model, so the same data and budget.
    """
    if windows < 1:
        raise ConfigError(f"windows must be at least 1, got {windows}")
    from tqdm.auto import tqdm

    from swansphere.metrics.direction import energy_map_correlation, worst_case_direction_errors
    from swansphere.metrics.frechet import frechet_distance

    from .baselines import CascadeBaseline

    rate = references.sample_rate
    if pipeline.sample_rate != rate:
        raise ConfigError(f"references are at {rate} Hz, the pipeline at "
                          f"{pipeline.sample_rate} Hz")
    rows: list[dict[str, Any]] = []
    generated_w, reference_w = [], []
    panning = CascadeBaseline(pipeline) if cascade else None
    for number, case in enumerate(tqdm(cases, desc="cases", disable=None if progress else True)):
        takes = generated_takes(pipeline, case.text, duration, seeds)
        if panning is not None:
            takes = torch.stack([panning.pan(take[0], case.text) for take in takes])
        reference = references.scene(case, number)[..., :takes.shape[-1]]
        for seed, audio in zip(seeds, takes, strict=True):
            row = {"case": number, "sources": len(case.classes), "family": case.family}
            omni = audio[0]
            row["level_db"] = level_db(omni)
            row["reference_level_db"] = level_db(reference[0])
            row["dropout_share"] = dropout_share(omni, reference[0], rate)
            row["gap_share"] = sustained_dropout_share(omni, rate)
            row["map_correlation"] = float(energy_map_correlation(reference, audio))
            if len(case.classes) == 1:
                # a silent clip counts as pi (docs/evaluation.md, clips without a direction)
                row["angular"] = float(worst_case_direction_errors(reference, audio)["angular"])
                row.update(_single_source_ranks(pipeline, references, embedding, case, seed,
                                                omni, windows))
            else:
                row["beam_ranks"] = _beam_ranks(references, embedding, case, audio)
                row["reference_beam_ranks"] = _beam_ranks(references, embedding, case,
                                                          reference, scene=number)
            rows.append(row)
            generated_w.append(omni)
            reference_w.append(reference[0])
    summary = summarise(rows, len(references.centroids.labels))
    summary["fd"] = frechet_distance(_embed(embedding, reference_w, rate),
                                     _embed(embedding, generated_w, rate))
    summary["ceiling"] = codec_ceiling(pipeline.codec, references, embedding)
    summary["recordings"] = recording_dropouts(references)
    return {"summary": summary, "rows": rows}


def _beam_ranks(references: References, embedding: Any, case: ContentCase,
                audio: torch.Tensor, scene: int | None = None) -> list[int]:
    """Each named class's rank in a cardioid beam of ``audio`` towards its own place. For
    ``audio`` the reference scene of case number ``scene``, each class is judged without the
    scene's own clip of it (:meth:`References.centroids_without`; a class whose only clip
    it is is not judged)."""
    from swansphere.spatial import beam_weights

    ranks = []
    for name, place in zip(case.classes, case.directions, strict=True):
        centroids = references.centroids if scene is None else \
            references.centroids_without(name, references.scene_clip(name, scene))
        if centroids is not None:
            ranks.append(_rank(references, embedding, beam_weights(*place).float() @ audio,
                               name, centroids))
    return ranks


def _single_source_ranks(pipeline: Any, references: References, embedding: Any,
                         case: ContentCase, seed: int, omni: torch.Tensor,
                         windows: int) -> dict[str, Any]:
    """The named class's rank in the clip, in each of its ``windows`` parts (if more than
    one) and in the exemplar prompt the stream started from (if any), and whether that
    exemplar is of the named class (``exemplar_named``: the words found it)."""
    name = case.classes[0]
    ranks: dict[str, Any] = {"rank": _rank(references, embedding, omni, name)}
    if windows > 1:
        ranks["window_ranks"] = [_rank(references, embedding, part, name)
                                 for part in omni.tensor_split(windows)]
    bank = pipeline.exemplars
    if pipeline.config.exemplar_prompts and bank is not None:
        match = bank.prompt_matches([case.text])[0]
        if match is not None:
            prompt = bank.class_prompt(match[0], case.text, seed,
                                       chain=pipeline.config.exemplar_chain)
            ranks["exemplar_rank"] = _rank(references, embedding, prompt[0], name)
            ranks["exemplar_named"] = match[0] == name
    return ranks


def generated_takes(pipeline: Any, text: str, duration: float,
                    seeds: Sequence[int]) -> torch.Tensor:
    """``(K, 4, n)``: one clip per seed. A streaming pipeline samples them as one batch
    (:meth:`~swansphere.pipeline.Pipeline.generate_takes`); a whole-clip one has no batched
    takes, so each is its own :meth:`~swansphere.pipeline.Pipeline.generate` call."""
    if pipeline.streams:
        return pipeline.generate_takes(text=text, duration=duration, seeds=seeds).audio
    return torch.stack([pipeline.generate(text, duration=duration, seed=seed)
                        for seed in seeds])


def _rank(references: References, embedding: Any, signal: torch.Tensor, name: str,
          centroids: Any = None) -> int:
    """1-based rank of class ``name`` for ``signal`` among all reference classes (judged
    against ``centroids``, by default the references')."""
    return _embedded_rank(references.centroids if centroids is None else centroids,
                          _embed(embedding, [signal], references.sample_rate)[0], name)


def _embedded_rank(centroids: Any, embedded: torch.Tensor, name: str) -> int:
    """1-based rank of class ``name`` among ``centroids`` for one embedding ``(dim,)``."""
    ranks = centroids.ranks(embedded[None])[0]
    return int((ranks == centroids.labels.index(name)).nonzero()[0, 0]) + 1


def summarise(rows: Sequence[dict[str, Any]], classes: int) -> dict[str, Any]:
    """Means of the per-clip figures, split by source count; chance beside identity.

    ``median_rank`` (of the named class among all, one source) moves before top-1 does, so it
    tells early whether a model starts to make the named sound; ``over_full_scale`` is the
    share of clips whose W level is above 0 dBFS: blown-up generations, which a mean level in
    dB hides; ``silent_clips`` the share below :data:`SILENT_CLIP_DB`, and
    ``median_level_db`` the level of a typical clip, which a few silent clips cannot drag down
    (``reference_median_level_db`` the references' own, to compare it with); ``gap_share``
    the share of frames inside a clip's own sounds that dip out
    (:func:`sustained_dropout_share`), with no reference to mistake a drum's rests for gaps.
    ``window_median_ranks`` is the median rank in each part of the clips, first to last
    (empty unless ranked by parts). ``exemplar`` (``None`` without exemplar prompts) compares
    like with like: over the clips whose stream started from an exemplar (``clips``), the
    :func:`rank_summary` of the exemplars, and of those clips themselves (``stream``, and
    ``stream_window_median_ranks``), and of the clips whose exemplar is of the named class
    (``named`` of them, ``stream_named``); the other figures mix them with unprimed clips.
    """
    single = [row for row in rows if row["sources"] == 1]
    primed = [row for row in single if "exemplar_rank" in row]
    double = [row for row in rows if row["sources"] > 1]
    beams = [rank for row in double for rank in row["beam_ranks"]]
    reference_beams = [rank for row in double for rank in row.get("reference_beam_ranks", ())]
    mean = _finite_mean
    return {
        "classes": classes, "chance_top1": 1 / classes, "chance_top5": min(5, classes) / classes,
        "single_clips": len(single),
        "top1": mean([row["rank"] == 1 for row in single]),
        "top5": mean([row["rank"] <= 5 for row in single]),
        "median_rank": float(np.median([row["rank"] for row in single])) if single else math.nan,
        "chance_median_rank": (classes + 1) / 2,
        "angular": mean([row["angular"] for row in single]),
        "two_source_clips": len(double),
        "beam_top1": mean([rank == 1 for rank in beams]),
        "beam_top5": mean([rank <= 5 for rank in beams]),
        "reference_beam_top1": mean([rank == 1 for rank in reference_beams]),
        "reference_beam_top5": mean([rank <= 5 for rank in reference_beams]),
        "map_correlation_single": mean([row["map_correlation"] for row in single]),
        "map_correlation_two": mean([row["map_correlation"] for row in double]),
        "level_db": mean([row["level_db"] for row in rows]),
        "reference_level_db": mean([row["reference_level_db"] for row in rows]),
        "dropout_share": mean([row["dropout_share"] for row in rows]),
        "gap_share": mean([row.get("gap_share", math.nan) for row in rows]),
        "over_full_scale": mean([row["level_db"] > 0.0 for row in rows]),
        "silent_clips": mean([row["level_db"] < SILENT_CLIP_DB for row in rows]),
        "median_level_db": float(np.median([row["level_db"] for row in rows])),
        "reference_median_level_db": float(np.median([row["reference_level_db"]
                                                      for row in rows])),
        "window_median_ranks": _window_medians(single),
        "exemplar": _exemplar_summary(primed) if primed else None,
    }


def _finite_mean(values: Sequence[float]) -> float:
    """The mean of the values that are not NaN (NaN if none are)."""
    finite = [value for value in values if not math.isnan(value)]
    return float(np.mean(finite)) if finite else math.nan


def _exemplar_summary(primed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The primed clips' exemplars and streams, and the streams whose words found the named
    class's exemplar (``named``: how many; ``stream_named``: their ranks): what a stream
    keeps of the right sound, apart from what the words got wrong."""
    named = [row for row in primed if row.get("exemplar_named")]
    return {"clips": len(primed), **rank_summary([row["exemplar_rank"] for row in primed]),
            "stream": rank_summary([row["rank"] for row in primed]),
            "stream_window_median_ranks": _window_medians(primed),
            "named": len(named),
            "stream_named": rank_summary([row["rank"] for row in named]) if named else None}


def _window_medians(rows: Sequence[dict[str, Any]]) -> list[float]:
    """The median rank in each part of the clips ranked by parts, first to last."""
    parts = [row["window_ranks"] for row in rows if "window_ranks" in row]
    return [float(np.median(part)) for part in zip(*parts, strict=True)]


def caption_identity(text_encoder: Any, classes: Sequence[str], *, captions: int = 600,
                     held_out: int = 300, seed: int = 0,
                     states: Callable[[Sequence[str]], torch.Tensor] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """How much of the sound's identity a pipeline's words carry: each held-out-family
    caption's class found as the nearest centroid of training-family captions, in the text
    conditioner's output (``"conditioner"``) and, where it has one, its frozen encoder's
    states (``"frozen"``, from ``precompute``). Each is a masked mean over tokens, a floor on
    what the features hold: a generator could read more from them, and identity from words
    is bounded by what they carry. ``states`` maps captions to further features ``(n, d)``,
    reported as ``"states"`` (for a streaming model, the LM's ``h`` with the history hidden:
    :func:`~swansphere.evaluation.teacher_forced.words_only_states`, what reaches the
    per-patch head). Top-k with chance as in :meth:`ClassCentroids.accuracy`."""
    from .identity import ClassCentroids

    training = content_cases(classes, count=captions, family="training", seed=seed)
    held = content_cases(classes, count=held_out, family="held_out", seed=seed)
    fitted_texts, held_texts = [c.text for c in training], [c.text for c in held]
    fitted_labels, held_labels = [c.classes[0] for c in training], [c.classes[0] for c in held]
    fitted = _pooled_captions(text_encoder, fitted_texts)
    measured = _pooled_captions(text_encoder, held_texts)
    if states is not None:
        fitted["states"], measured["states"] = states(fitted_texts), states(held_texts)
    report = {name: ClassCentroids.fit(fitted_labels, fitted[name]).accuracy(held_labels,
                                                                             measured[name])
              for name in fitted}
    if states is not None:
        report["states_linear"] = linear_probe(fitted_labels, fitted["states"], held_labels,
                                               measured["states"])
    return report


def linear_probe(labels: Sequence[str], features: torch.Tensor, test_labels: Sequence[str],
                 test_features: torch.Tensor, *, ridge: float = 1.0) -> dict[str, Any]:
    """Top-1 / top-5 of a least-squares linear classifier (one-hot targets, ``ridge``
    penalty, centred features) fitted on ``features`` and scored on ``test_features``, with
    chance; ``train_top1`` on the fitted set itself. Where a nearest centroid is a floor, this
    says whether the classes are there for one linear layer to read."""
    from .identity import top_k_report

    classes = sorted(set(labels))
    unknown = sorted(set(test_labels) - set(classes))
    if unknown:
        raise ConfigError(f"no fitted features for {', '.join(unknown[:5])}")
    index = {name: number for number, name in enumerate(classes)}
    truth = torch.tensor([index[name] for name in labels])
    mean = features.double().mean(0)
    centred = features.double() - mean
    gram = centred.T @ centred + ridge * torch.eye(centred.shape[1], dtype=torch.float64)
    targets = torch.eye(len(classes), dtype=torch.float64)[truth]
    weights = torch.linalg.solve(gram, centred.T @ (targets - targets.mean(0)))
    scores = (test_features.double() - mean) @ weights
    report = top_k_report(scores.argsort(-1, descending=True),
                          torch.tensor([index[name] for name in test_labels]), len(classes))
    report["train_top1"] = float(((centred @ weights).argmax(-1) == truth).double().mean())
    return report


def _pooled_captions(text_encoder: Any, texts: Sequence[str],
                     batch: int = 64) -> dict[str, torch.Tensor]:
    """Each caption's masked mean over tokens, ``(len(texts), d)``, of the conditioner's
    output and (where the encoder has ``precompute``) of the frozen states it reads: one
    encoder pass for both."""
    from swansphere.nn.adapters import masked_mean

    rows: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            prepared = text_encoder.prepare(list(texts[start:start + batch]))
            readouts = {}
            if hasattr(text_encoder, "precompute"):
                prepared = text_encoder.precompute(prepared)
                readouts["frozen"] = (prepared.states, prepared.mask)
            tokens = text_encoder(prepared)
            readouts["conditioner"] = (tokens.tokens, tokens.mask)
            for name, (states, mask) in readouts.items():
                rows.setdefault(name, []).append(
                    masked_mean(states.float(), mask.to(states.device)).cpu())
    return {name: torch.cat(parts) for name, parts in rows.items()}


def scene_silences(scenes: Sequence[torch.Tensor], sample_rate: int,
                   first_seconds: float) -> dict[str, float]:
    """What training scenes (AmbiX ``(4, n)`` each) show a model, in the terms
    :func:`summarise` gives its clips: ``silent_clips``, ``median_level_db`` and
    ``mean_level_db`` of W; ``silent_first`` the share whose first ``first_seconds`` (a
    model's first step) is below :data:`SILENT_CLIP_DB`: the streams that start in silence;
    ``dropout_share`` the mean :func:`sustained_dropout_share` (gaps inside a sound, with no
    reference to compare to; NaN-free clips only)."""
    first = max(round(first_seconds * sample_rate), 1)
    levels = np.array([level_db(scene) for scene in scenes])
    starts = np.array([level_db(scene[:, :first]) for scene in scenes])
    dropouts = [sustained_dropout_share(scene[0], sample_rate) for scene in scenes]
    return {"scenes": len(scenes),
            "silent_clips": float(np.mean(levels < SILENT_CLIP_DB)),
            "silent_first": float(np.mean(starts < SILENT_CLIP_DB)),
            "median_level_db": float(np.median(levels)),
            "mean_level_db": float(np.mean(levels)),
            "dropout_share": _finite_mean(dropouts)}


def recording_dropouts(references: References) -> dict[str, float]:
    """The drop-out figures of real recordings, the floor a generator's are read against:
    ``dropout_share``, each held-out clip scored as a generated clip against the next clip of
    its class as the reference (:func:`dropout_share`: a second recording of a clock or a
    drum has its quiet between strikes where the first one sounds); ``gap_share``, the
    clips' own gaps inside their sounds (:func:`sustained_dropout_share`). Means over the
    pairs and clips where they are defined; NaN when there are none."""
    rate = references.sample_rate
    pairs, gaps = [], []
    for audios in references.clips.values():
        gaps.extend(sustained_dropout_share(audio, rate) for audio in audios)
        if len(audios) > 1:
            pairs.extend(dropout_share(audio, audios[(index + 1) % len(audios)], rate)
                         for index, audio in enumerate(audios))
    return {"dropout_share": _finite_mean(pairs), "gap_share": _finite_mean(gaps),
            "pairs": sum(not math.isnan(value) for value in pairs)}


def codec_ceiling(codec: Any, references: References, embedding: Any) -> dict[str, Any]:
    """What real recordings of a class reach, and a perfect generator with ``codec``: the
    :func:`rank_summary` of the references themselves (``recordings``) and of their round
    trip through ``codec``, placed in front (``round_trip``), each judged against centroids
    that leave its own clip out (:meth:`References.centroids_without`; classes with one clip
    are not judged), and of the round trip judged against centroids that hold it
    (``own_centroid``, every clip: it overstates the ceiling, since a clip is then partly
    compared with itself)."""
    from swansphere.spatial import encode

    from .codec_metrics import round_trip

    signals = [round_trip(codec, encode(references.clips[name][index], 0.0, 0.0)[None])[0, 0]
               for name, index in _clip_positions(references)]
    decoded = _embed(embedding, signals, references.sample_rate)
    ranks: dict[str, list[int]] = {"recordings": [], "round_trip": [], "own_centroid": []}
    for row, (name, index) in enumerate(_clip_positions(references)):
        ranks["own_centroid"].append(_embedded_rank(references.centroids, decoded[row], name))
        centroids = references.centroids_without(name, index)
        if centroids is not None:
            recorded = references.embeddings[name][index]
            ranks["recordings"].append(_embedded_rank(centroids, recorded, name))
            ranks["round_trip"].append(_embedded_rank(centroids, decoded[row], name))
    return {kind: {"clips": len(values), **(rank_summary(values) if values else {})}
            for kind, values in ranks.items()}


def _clip_positions(references: References) -> list[tuple[str, int]]:
    """``(class, index)`` of every reference clip, in ``clips``' order."""
    return [(name, index) for name, audios in references.clips.items()
            for index in range(len(audios))]


def training_oracles(codec: Any, references: References, training_clips: Sequence[Any],
                     embedding: Any, *, clips_per_class: int = 8, seed: int = 0
                     ) -> dict[str, dict[str, float]]:
    """How far simple stand-ins for a generator get, judged like generated clips: for every
    reference class, from up to ``clips_per_class`` of its *training* clips (vocabulary
    clips, :class:`~swansphere.data.clips.SoundClip`) through ``codec``, placed in front:

    - ``training_clip``: the first such clip's round trip: a generator that reproduced its
      training material exactly (held-out clips of a class differ from the training ones,
      so this is under :func:`codec_ceiling`);
    - ``shuffled_frames``: as many latent frames as a clip has, drawn at random from all of
      the class's clips: the class's distribution of frames with no order in time;
    - ``mean_latent``: the class's mean latent frame, held for the whole clip: what a model
      that learnt only each caption's average sound would make.

    Top-1, top-5 and the median rank of the class among all reference classes, per kind.
    """
    from swansphere.spatial import encode

    rate = references.sample_rate
    samples = next(iter(references.clips.values()))[0].shape[-1]
    by_class: dict[str, list[Any]] = {}
    for clip in training_clips:
        by_class.setdefault(clip.label, []).append(clip)
    missing = sorted(set(references.clips) - set(by_class))
    if missing:
        raise ConfigError(f"no training clips for {', '.join(missing[:5])}")
    draws = torch.Generator().manual_seed(seed)
    ranks: dict[str, list[int]] = {"training_clip": [], "shuffled_frames": [],
                                   "mean_latent": []}
    with torch.inference_mode():
        for name in sorted(references.clips):
            latents = [codec.encode(encode(torch.as_tensor(audio).float(), 0.0, 0.0)[None])
                       for audio in _audible(by_class[name][:clips_per_class], rate, samples)]
            if not latents:
                raise ConfigError(f"every training clip of {name!r} is silent")
            frames = torch.cat(latents, 1)
            count = latents[0].shape[1]
            kinds = {"training_clip": latents[0],
                     "shuffled_frames": frames[:, torch.randint(frames.shape[1], (count,),
                                                                 generator=draws)],
                     "mean_latent": frames.mean(1, keepdim=True).expand(-1, count, -1)}
            for kind, value in kinds.items():
                ranks[kind].append(_rank(references, embedding, codec.decode(value)[0, 0],
                                         name))
    return {kind: rank_summary(r) for kind, r in ranks.items()}


def bank_figures(bank: Any, references: References, embedding: Any,
                 cases: Sequence[ContentCase], absent: Sequence[ContentCase] = (), *,
                 sound_words: bool = True) -> dict[str, Any]:
    """How far an exemplar bank (:class:`~swansphere.conditioning.exemplars.ExemplarBank`)
    gets before any model: ``exemplars``, the :func:`rank_summary` of each reference class's
    first exemplar in the bank, ranked among all reference classes as a generated clip
    would be; ``retrieval``, over the one-source ``cases``, the share whose words find a
    class (``primed``) and the share that find the one they name (``right``), and over
    ``absent`` (one-source prompts naming classes the bank has no clip of) the share that
    find a class all the same (``false_primed``: a wrong sound to start from); ``sound_words``
    as for the bank's ``match``."""
    if bank.sample_rate != references.sample_rate:
        raise ConfigError(f"the bank is at {bank.sample_rate} Hz, the references at "
                          f"{references.sample_rate} Hz")
    ranks = [_rank(references, embedding, bank.audio[bank.clip_classes.index(index)], name)
             for index, name in enumerate(bank.class_names) if name in references.clips]
    single = [case for case in cases if len(case.classes) == 1]
    found = bank.match([case.text for case in single], sound_words=sound_words)
    retrieval = {"cases": len(single),
                 "primed": float(np.mean([match is not None for match in found])),
                 "right": float(np.mean([match is not None and match[0] == case.classes[0]
                                         for match, case in zip(found, single, strict=True)]))}
    absent = [case for case in absent if len(case.classes) == 1]
    if absent:
        wrong = bank.match([case.text for case in absent], sound_words=sound_words)
        retrieval |= {"absent_cases": len(absent),
                      "false_primed": float(np.mean([match is not None for match in wrong]))}
    return {"exemplars": {"classes": len(ranks), **rank_summary(ranks)}, "retrieval": retrieval}


def exemplar_round_trips(pipeline: Any, references: References, embedding: Any,
                         cases: Sequence[ContentCase], seconds: float = 4.0
                         ) -> dict[str, dict[str, float]]:
    """What the pipeline's codec keeps of the exemplars a stream varies, before any model:
    over the one-source ``cases`` whose words find the named class's exemplar, that
    exemplar looped to ``seconds`` (``looped``), its round trip through the codec
    (``round_trip``: a ``power`` low band's decoder invents the phases) and, where the codec
    guides phases (``phase_guide``), its round trip decoded with its own (``own_phases``:
    what ``exemplar_phases`` gives an anchored stream), each the :func:`rank_summary` of the
    named class among all reference classes, as a generated clip is ranked."""
    from swansphere.spatial import encode

    bank, codec = pipeline.exemplars, pipeline.codec
    samples = round(seconds * references.sample_rate)
    guide_of = getattr(codec, "phase_guide", None)
    ranks: dict[str, list[int]] = {"looped": [], "round_trip": [], "own_phases": []}
    single = [case for case in cases if len(case.classes) == 1]
    for case, match in zip(single, bank.prompt_matches([case.text for case in single]),
                           strict=True):
        name = case.classes[0]
        if match is None or match[0] != name:
            continue
        exemplar = bank.class_prompt(name, None)[0]
        looped = encode(exemplar.repeat(-(-samples // exemplar.shape[-1]))[:samples], 0.0,
                        0.0)[None]
        with torch.inference_mode():
            latents = codec.encode(looped)
            state = codec.init_decode_state(1)
            decoded = {"round_trip": codec.decode_step(latents, state)[0]}
            guide = guide_of(looped) if guide_of is not None else None
            if guide is not None:
                decoded["own_phases"] = codec.guided_decode_step(latents, state, guide)[0]
        ranks["looped"].append(_rank(references, embedding, looped[0, 0], name))
        for kind, audio in decoded.items():
            ranks[kind].append(_rank(references, embedding, audio[0, 0], name))
    return {kind: {"clips": len(values), **rank_summary(values)}
            for kind, values in ranks.items() if values}


def rank_summary(ranks: Sequence[int]) -> dict[str, float]:
    """Top-1, top-5 and median of 1-based ranks of the named class."""
    values = np.asarray(ranks)
    return {"top1": float(np.mean(values == 1)), "top5": float(np.mean(values <= 5)),
            "median_rank": float(np.median(values))}


def _audible(clips: Sequence[Any], rate: int, samples: int) -> list[np.ndarray]:
    """The clips rendered (a fixed draw), the silent ones left out."""
    rendered = [clip.render(np.random.default_rng(0), rate, samples) for clip in clips]
    return [audio for audio in rendered if np.abs(audio).max() > 0]
