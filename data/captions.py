"""Spatial captions: where each sound is and how it moves, in words.

Two routes produce the same kind of caption ("a cow moos behind on the left, moving right"):

* :func:`ground_truth_descriptions` reads a scene's simulated trajectories;
* :func:`describe_foa` reads only the FOA itself (a :func:`swansphere.spatial.direction_track`)
  plus the labels, and optionally each label's activity window, never its position.

Their agreement, measured by :func:`caption_agreement`, is the figure reported in
``docs/data.md``. Directions are egocentric: "left" is +90° azimuth, motion words follow the
largest change of the source's unit vector (front/back, left/right, up/down).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..errors import ConfigError
from ..spatial.words import (
    OVERHEAD_DEGREES,
    elevation_words,
    horizontal_words,
    position_words,
)
from .scenes import unit_vectors, vector_directions

MOTION_THRESHOLD_DEGREES = 15.0
"""Smaller changes of direction are called static."""

ACTIVITY_DB = -25.0
"""Frames quieter than this (relative to the loudest frame) count as silent."""

def motion_words(start: np.ndarray, end: np.ndarray,
                 threshold: float = MOTION_THRESHOLD_DEGREES) -> str:
    """``"moving left"`` etc. from start/end unit vectors (front, left, up); ``""`` if static."""
    cosine = float(np.clip(np.dot(start, end), -1.0, 1.0))
    if math.degrees(math.acos(cosine)) < threshold:
        return ""
    change = np.asarray(end) - np.asarray(start)
    axis = int(np.argmax(np.abs(change)))
    positive = change[axis] > 0
    return (("moving to the front", "moving to the back"), ("moving left", "moving right"),
            ("moving up", "moving down"))[axis][0 if positive else 1]


@attrs.frozen(kw_only=True)
class SourceDescription:
    """What a caption says about one sound: its words, mean direction and motion.

    ``label`` (the class), ``distance`` (metres) and the ``start``/``end`` directions
    (azimuth, elevation in degrees) are optional; :func:`natural_caption` uses them for
    synonyms, distance words and "from left to right".
    """

    noun: str
    verb: str
    azimuth: float
    elevation: float
    motion: str = ""
    label: str = ""
    distance: float | None = None
    start: tuple[float, float] | None = None
    end: tuple[float, float] | None = None

    @property
    def position(self) -> str:
        return position_words(self.azimuth, self.elevation)

    def words(self) -> dict[str, str]:
        """The parts scored by :func:`caption_agreement`."""
        elevation = self.elevation
        horizontal = "" if abs(elevation) > OVERHEAD_DEGREES else horizontal_words(self.azimuth)
        return {"horizontal": horizontal, "vertical": elevation_words(elevation),
                "motion": self.motion}

    def text(self) -> str:
        motion = f", {self.motion}" if self.motion else ""
        return f"{self.noun} {self.verb} {self.position}{motion}"


def caption(descriptions: Sequence[SourceDescription], diffuse: bool = False) -> str:
    """Join source phrases: "A", "A and B", "A, B, and C"; notes background noise."""
    phrases = [d.text() for d in descriptions]
    if not phrases:
        text = "silence"
    elif len(phrases) == 1:
        text = phrases[0]
    elif len(phrases) == 2:
        text = f"{phrases[0]}{',' if ',' in phrases[0] else ''} and {phrases[1]}"
    else:
        text = ", ".join(phrases[:-1]) + ", and " + phrases[-1]
    if diffuse:
        text += ", with background noise all around"
    return text[0].upper() + text[1:] + "."


def _mean_direction(vectors: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    mean = np.average(vectors, axis=0, weights=weights)
    azimuth, elevation = vector_directions(mean)
    return float(azimuth), float(elevation)


def describe_track(noun: str, verb: str, vectors: np.ndarray,
                   weights: np.ndarray | None = None) -> SourceDescription:
    """A description from successive unit vectors ``(T, 3)`` of one source (time order).

    The position is the (weighted) mean direction; motion compares the first and last thirds.
    """
    azimuth, elevation = _mean_direction(vectors, weights)
    third = max(1, len(vectors) // 3)
    head = vectors[:third].mean(axis=0)
    tail = vectors[-third:].mean(axis=0)
    head, tail = head / np.linalg.norm(head), tail / np.linalg.norm(tail)
    return SourceDescription(noun=noun, verb=verb, azimuth=azimuth, elevation=elevation,
                             motion=motion_words(head, tail))


def ground_truth_descriptions(metadata: Mapping[str, Any]) -> list[SourceDescription]:
    """Descriptions from a scene's metadata tracks (the simulated truth)."""
    times = np.asarray(metadata["track_times"])
    out = []
    for source in metadata["sources"]:
        inside = (times >= source["onset"]) & (times < source["offset"])
        if not inside.any():
            inside = np.ones_like(times, dtype=bool)
        vectors = unit_vectors(np.asarray(source["track"]["azimuth"])[inside],
                               np.asarray(source["track"]["elevation"])[inside])
        trajectory = source["trajectory"]
        start = unit_vectors(np.float64(trajectory["start_azimuth"]),
                             np.float64(trajectory["start_elevation"]))
        end = unit_vectors(np.float64(trajectory["end_azimuth"]),
                           np.float64(trajectory["end_elevation"]))
        azimuth, elevation = _mean_direction(vectors)
        moving = motion_words(start, end)
        out.append(SourceDescription(
            noun=source["noun"], verb=source["verb"], azimuth=azimuth, elevation=elevation,
            motion=moving, label=source.get("label", ""), distance=source.get("distance"),
            start=(trajectory["start_azimuth"], trajectory["start_elevation"]) if moving
            else None,
            end=(trajectory["end_azimuth"], trajectory["end_elevation"]) if moving else None))
    return out


def metadata_caption(metadata: Mapping[str, Any]) -> str:
    """The ground-truth caption of a simulated scene."""
    return caption(ground_truth_descriptions(metadata),
                   diffuse=metadata.get("diffuse_db") is not None)


@attrs.frozen(kw_only=True)
class LabelledSource:
    """A label to place: caption words, optionally with a known activity window (seconds)."""

    noun: str
    verb: str
    onset: float | None = None
    offset: float | None = None

    @classmethod
    def from_label(cls, label: str) -> LabelledSource:
        """``"dog:barks"`` → noun "dog", verb "barks"; a bare label gets "is heard"."""
        noun, _, verb = label.partition(":")
        noun = noun.strip().replace("_", " ")
        if not noun:
            raise ConfigError(f"empty label {label!r}; write labels as NOUN or NOUN:VERB")
        if not noun.lower().startswith(("a ", "an ", "the ", "someone", "rain", "steam")):
            noun = f"{'an' if noun[0].lower() in 'aeiou' else 'a'} {noun}"
        return cls(noun=noun, verb=verb.strip() or "is heard")


def describe_foa(foa: Any, sample_rate: int, sources: Sequence[LabelledSource],
                 frame_seconds: float = 0.1, hop_seconds: float = 0.05,
                 activity_db: float = ACTIVITY_DB) -> list[SourceDescription]:
    """Describe each labelled source from the FOA's own direction track.

    Frames are active when their energy is within ``activity_db`` of the loudest. A source
    with an activity window is placed from the active frames where it plays alone; when it
    never does, from the frames it shares with one already-placed source, whose contribution
    is removed from the intensity vector (:func:`separate_known_source`); failing that, from
    all its frames. Sources without windows share the remaining active frames, split by
    k-means on direction and matched to labels in order of first appearance.
    """
    from ..spatial import direction_track

    track = direction_track(foa, sample_rate, frame_seconds, hop_seconds)
    times = track.times.numpy()
    energy = np.nan_to_num(track.energy.numpy())
    active = energy > energy.max() * 10 ** (activity_db / 10) if energy.max() > 0 else (
        np.zeros_like(energy, dtype=bool))
    vectors = unit_vectors(np.nan_to_num(track.azimuth.numpy()),
                           np.nan_to_num(track.elevation.numpy()))
    weights = energy * (1.0 - track.diffuseness.numpy()) + 1e-12
    frames = _FrameAnalysis(active=active, vectors=vectors, weights=weights, energy=energy)
    windows = [_window_mask(times, s) for s in sources]
    descriptions = _describe_windowed(sources, windows, frames)
    unplaced = [i for i, window in enumerate(windows) if window is None]
    if unplaced:
        claimed = np.zeros_like(active)
        for mask in windows:
            if mask is not None:
                claimed |= mask
        free = _first_nonempty(active & ~claimed, active, np.ones_like(active))
        for index, mask in zip(unplaced, _cluster_frames(vectors, weights, free, len(unplaced)),
                               strict=True):
            source = sources[index]
            descriptions[index] = describe_track(source.noun, source.verb, vectors[mask],
                                                 weights[mask])
    return [d for d in descriptions if d is not None]


@attrs.frozen
class _FrameAnalysis:
    active: np.ndarray
    vectors: np.ndarray
    weights: np.ndarray
    energy: np.ndarray


def _describe_windowed(sources: Sequence[LabelledSource], windows: list[np.ndarray | None],
                       frames: _FrameAnalysis) -> list[SourceDescription | None]:
    descriptions: list[SourceDescription | None] = [None] * len(sources)
    known: dict[int, np.ndarray] = {}
    overlapped = []
    for index, window in enumerate(windows):
        if window is None:
            continue
        others = _others(windows, index)
        solo = frames.active & window & ~others
        if solo.any():
            source = sources[index]
            descriptions[index] = describe_track(source.noun, source.verb,
                                                 frames.vectors[solo], frames.weights[solo])
            known[index] = unit_vectors(np.float64(descriptions[index].azimuth),
                                        np.float64(descriptions[index].elevation))
        else:
            overlapped.append(index)
    for index in overlapped:
        source, window = sources[index], windows[index]
        vectors, weights = _separated(index, windows, known, frames)
        if not len(vectors):
            mask = _first_nonempty(frames.active & window, window)
            vectors, weights = frames.vectors[mask], frames.weights[mask]
        descriptions[index] = describe_track(source.noun, source.verb, vectors, weights)
    return descriptions


def _others(windows: list[np.ndarray | None], index: int) -> np.ndarray:
    mask = np.zeros_like(windows[index])
    for other, window in enumerate(windows):
        if other != index and window is not None:
            mask |= window
    return mask


def _separated(index: int, windows: list[np.ndarray | None], known: dict[int, np.ndarray],
               frames: _FrameAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Directions of source ``index`` in frames shared with exactly one placed source."""
    vectors, weights = [], []
    for frame in np.flatnonzero(frames.active & windows[index]):
        playing = [j for j, w in enumerate(windows) if j != index and w is not None and w[frame]]
        if len(playing) != 1 or playing[0] not in known:
            continue
        intensity = frames.vectors[frame] * frames.weights[frame]
        found = separate_known_source(intensity, float(frames.energy[frame]), known[playing[0]])
        if found is not None:
            vectors.append(found[0])
            weights.append(found[1])
    return np.asarray(vectors).reshape(-1, 3), np.asarray(weights)


def separate_known_source(intensity: np.ndarray, energy: float,
                          known: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Direction and power of the second of two uncorrelated plane waves in one frame.

    With powers p, q and directions u (known), v: I = p·u + q·v and E = p + q. Requiring
    ‖I − p·u‖ = E − p gives p = (E² − ‖I‖²) / (2(E − I·u)); then v = (I − p·u)/(E − p).
    Returns ``None`` when the frame does not fit the model (e.g. a single source at u).
    """
    denominator = 2.0 * (energy - float(intensity @ known))
    if denominator <= 1e-12 * max(energy, 1e-30):
        return None
    power = (energy ** 2 - float(intensity @ intensity)) / denominator
    rest = energy - power
    if not 0.0 <= power < energy or rest <= 0.05 * energy:
        return None
    residual = intensity - power * known
    norm = float(np.linalg.norm(residual))
    return (residual / norm, rest) if norm > 0 else None


def _window_mask(times: np.ndarray, source: LabelledSource) -> np.ndarray | None:
    if source.onset is None or source.offset is None:
        return None
    return (times >= source.onset) & (times < source.offset)


def _first_nonempty(*masks: np.ndarray) -> np.ndarray:
    for mask in masks:
        if mask.any():
            return mask
    return np.ones_like(masks[0])


def _cluster_frames(vectors: np.ndarray, weights: np.ndarray, frames: np.ndarray,
                    count: int, iterations: int = 20) -> list[np.ndarray]:
    """Split the ``frames`` mask into ``count`` direction clusters, in order of first frame.

    Deterministic k-means on unit vectors, seeded by farthest-point picks from the loudest
    frame. An empty cluster falls back to all frames.
    """
    indices = np.flatnonzero(frames)
    points = vectors[indices]
    centres = [points[int(np.argmax(weights[indices]))]]
    while len(centres) < count:
        similarity = np.max(points @ np.stack(centres).T, axis=1)
        centres.append(points[int(np.argmin(similarity))])
    centres_array = np.stack(centres)
    for _ in range(iterations):
        assignment = np.argmax(points @ centres_array.T, axis=1)
        for k in range(count):
            members = points[assignment == k]
            if len(members):
                mean = np.average(members, axis=0, weights=weights[indices][assignment == k])
                centres_array[k] = mean / (np.linalg.norm(mean) + 1e-12)
    assignment = np.argmax(points @ centres_array.T, axis=1)
    masks = []
    for k in range(count):
        mask = np.zeros_like(frames)
        mask[indices[assignment == k]] = True
        masks.append(mask if mask.any() else frames.copy())
    masks.sort(key=lambda mask: int(np.argmax(mask)))
    return masks


def labelled_sources(metadata: Mapping[str, Any],
                     use_windows: bool = True) -> list[LabelledSource]:
    """The labels (and, when asked, activity windows) of a scene's metadata, never positions."""
    return [LabelledSource(noun=s["noun"], verb=s["verb"],
                           onset=s["onset"] if use_windows else None,
                           offset=s["offset"] if use_windows else None)
            for s in metadata["sources"]]


def caption_agreement(pairs: Sequence[tuple[Sequence[SourceDescription],
                                            Sequence[SourceDescription]]]) -> dict[str, float]:
    """Share of sources whose FOA-derived words equal the ground truth, per part and overall.

    ``pairs`` holds (ground truth, estimate) description lists of equal length per scene.
    """
    counts = {"horizontal": 0, "vertical": 0, "motion": 0, "all": 0}
    total = 0
    for truth, estimate in pairs:
        for expected, found in zip(truth, estimate, strict=True):
            expected_words, found_words = expected.words(), found.words()
            matches = {part: expected_words[part] == found_words[part]
                       for part in ("horizontal", "vertical", "motion")}
            for part, same in matches.items():
                counts[part] += same
            counts["all"] += all(matches.values())
            total += 1
    return {part: count / total if total else math.nan for part, count in counts.items()} | {
        "sources": total}


# ---------------------------------------------------------------- captions as people write them

_SIDES = {"left": "right", "right": "left"}


def _mirror(phrase: str) -> str:
    """The same phrase for the other side ("to your left" -> "to your right")."""
    return re.sub(r"left|right", lambda m: _SIDES[m.group(0)], phrase)


_FRONT = {"training": ("in front", "ahead", "in front of you", "straight ahead"),
          "held_out": ("dead ahead", "in front of me", "directly in front")}
_FRONT_LEFT = {"training": ("in front on the left", "front-left", "ahead and to the left",
                            "in front of you on the left"),
               "held_out": ("ahead on your left", "to the front left", "left-front")}
_LEFT = {"training": ("on the left", "to your left", "to the left", "on my left",
                      "on your left-hand side"),
         "held_out": ("off to the left", "to my left", "at your left", "on the left-hand side")}
_BACK_LEFT = {"training": ("behind on the left", "back-left", "behind you on the left",
                           "behind and to the left", "rear left"),
              "held_out": ("behind on your left", "left rear", "to the back left")}
_BACK = {"training": ("behind", "behind you", "at the back", "to the rear"),
         "held_out": ("behind me", "at your back", "in the rear")}

HORIZONTAL_PHRASES: dict[str, tuple[tuple[str, ...], ...]] = {
    family: (_FRONT[family], _FRONT_LEFT[family], _LEFT[family], _BACK_LEFT[family],
             _BACK[family], tuple(_mirror(p) for p in _BACK_LEFT[family]),
             tuple(_mirror(p) for p in _LEFT[family]),
             tuple(_mirror(p) for p in _FRONT_LEFT[family]))
    for family in ("training", "held_out")}
"""Ways to name each 45° sector, in the order of :func:`horizontal_words` (front, front
left, left, ...), per family; held-out phrases never appear in training captions."""

VERTICAL_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "training": {"above": ("{h} and above", "above and {h}", "high up {h}", "{h}, high up"),
                 "below": ("{h} and below", "below and {h}", "low down {h}"),
                 "overhead": ("overhead", "directly above", "above your head", "straight up"),
                 "underfoot": ("below", "beneath you", "underneath", "directly below")},
    "held_out": {"above": ("up high {h}", "{h}, up high"),
                 "below": ("down low {h}", "{h} and underneath", "beneath and {h}"),
                 "overhead": ("right above your head", "over your head", "high above you"),
                 "underfoot": ("under your feet", "below me")}}
"""Elevation bands (25-65°: ``{h}`` is the horizontal phrase) and the poles."""

DISTANCE_PHRASES = {"training": {"near": ("close by", "nearby"),
                                 "far": ("far away", "in the distance")},
                    "held_out": {"near": ("up close",), "far": ("a long way off",)}}
NEAR_METRES, FAR_METRES = 1.5, 3.0
"""Sources nearer than NEAR_METRES may be called near, beyond FAR_METRES far."""

_ENDPOINTS = ({"front": "the front", "left": "left", "back": "behind", "right": "right"},
              {"front": "the front", "left": "the left", "back": "the back", "right": "the right"},
              {"front": "in front of you", "left": "your left", "back": "behind you",
               "right": "your right"})
"""Three consistent styles for the two ends of a motion ("from left to right", ...)."""
MOTION_TEMPLATES = {"training": ("moving from {a} to {b}", "going from {a} to {b}"),
                    "held_out": ("travelling from {a} to {b}", "sweeping from {a} over to {b}")}
"""Motion between two named places; the place words there are not the source's position."""
DRIFT_VERBS = {"training": ("moving",), "held_out": ("heading", "drifting")}
"""Verbs for the short form ("moving left") after a stated position."""

CLAUSE_TEMPLATES = {
    "training": ("{noun} {finite} {place}", "{noun} {ing} {place}", "{place}, {noun} {finite}",
                 "there {is} {noun} {ing} {place}", "you can hear {noun} {place}",
                 "the sound of {noun} {ing} {place}", "{noun} {place}"),
    "held_out": ("{noun} can be heard {place}", "{place}, you hear {noun} {ing}",
                 "somewhere {place}, {noun} {finite}", "{noun} {is} {ing} {place}",
                 "I hear {noun} {place}")}
"""One source's clause; templates starting with the place open a caption only (after another
clause, a leading place would read as part of that clause's place)."""

JOINERS = {"training": {2: ("{0} and {1}", "{0}, while {1}", "{0}; {1}"),
                        3: ("{0}, {1} and {2}", "{0}, {1}, and {2}", "{0}; {1}; {2}")},
           "held_out": {2: ("{0}, as {1}", "{0}. Meanwhile, {1}"),
                        3: ("{0}. Meanwhile, {1}, and {2}", "{0}, as {1}, and {2}")}}
"""Joiners with "while", "as" or "Meanwhile" need full clauses (a verb) after them."""

_NOMINAL = ("{noun} {ing} {place}", "the sound of {noun} {ing} {place}", "{noun} {place}")
"""Clause templates without a finite verb ("a violin on the left")."""
DIFFUSE_PHRASES = {"training": ("with background noise all around", "over a noisy background"),
                   "held_out": ("against a bed of ambient noise",)}


@attrs.frozen
class NaturalCaption:
    """A caption in everyday words, with what it used and what it states.

    ``parts`` names every template and phrase used as ``kind:family:text`` (the held-out
    check reads it); ``stated`` gives, per source, the direction whose sector its place words
    name (the description's mean direction), or ``None`` when only motion endpoints are said.
    """

    text: str
    family: str
    parts: tuple[str, ...]
    stated: tuple[tuple[float, float] | None, ...]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def place_phrase(azimuth: float, elevation: float, rng: np.random.Generator,
                 family: str = "training") -> str:
    """Everyday words for the caption sector of (azimuth, elevation), drawn from ``family``."""
    vertical = VERTICAL_PHRASES[family]
    if elevation > OVERHEAD_DEGREES:
        return _pick(rng, vertical["overhead"])
    if elevation < -OVERHEAD_DEGREES:
        return _pick(rng, vertical["underfoot"])
    horizontal = _pick(rng, HORIZONTAL_PHRASES[family][round((azimuth % 360.0) / 45.0) % 8])
    band = elevation_words(elevation)
    return _pick(rng, vertical[band]).format(h=horizontal) if band else horizontal


def _quadrant(direction: tuple[float, float]) -> str:
    return ("front", "left", "back", "right")[round((direction[0] % 360.0) / 90.0) % 4]


@attrs.frozen
class _Words:
    noun: str
    finite: str
    ing: str | None
    is_: str
    nominal: str
    """What a clause without a verb names (``Wording.nominal``: "someone knocking")."""


def _words(description: SourceDescription, family: str, rng: np.random.Generator,
           wordings: Mapping[str, Any] | None) -> tuple[_Words, str]:
    from .vocabulary import class_for_label

    sound = (wordings or {}).get(description.label) or class_for_label(description.label)
    if sound is None:
        return (_Words(description.noun, description.verb, None, "is", description.noun),
                "wording:own")
    options = sound.family_wordings(family)
    wording = options[int(rng.integers(len(options)))]
    used = family if family == "training" or sound.held_out_wordings else "training"
    return (_Words(wording.noun, wording.finite, wording.participle,
                   "are" if wording.plural else "is", wording.nominal),
            f"wording:{used}:{wording.phrase}")


def natural_caption(descriptions: Sequence[SourceDescription],
                    rng: np.random.Generator | int = 0, *, family: str = "training",
                    diffuse: bool = False,
                    wordings: Mapping[str, Any] | None = None) -> NaturalCaption:
    """A caption as a person might write it, from the same descriptions as :func:`caption`.

    Every choice (clause template, sound wording from :mod:`swansphere.data.vocabulary`,
    place, distance and motion words, joiner) is drawn from ``family`` (``"training"`` or
    ``"held_out"``), deterministically from ``rng`` (a generator or a seed). Each source is
    bound to its own place ("a violin plays on the left and a man talks behind you"); a
    moving source either keeps its mean place with "moving right" or is described from its
    start to its end ("moving from behind to the front"). ``wordings`` maps labels to
    :class:`~swansphere.data.vocabulary.SoundClass` for labels outside the vocabulary.
    """
    if family not in ("training", "held_out"):
        raise ConfigError(f"family must be 'training' or 'held_out', got {family!r}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    clauses, parts, stated = [], [], []
    joiner = (_pick(rng, JOINERS[family][min(len(descriptions), 3)])
              if len(descriptions) > 1 else "")
    finite = any(word in joiner for word in ("while", "as", "Meanwhile"))
    for index, description in enumerate(descriptions):
        words, used = _words(description, family, rng, wordings)
        parts.append(used)
        clause, clause_parts, place = _clause(description, words, index == 0, family, rng,
                                              finite=finite and index > 0)
        clauses.append(clause)
        parts.extend(clause_parts)
        stated.append(place)
    if not clauses:
        text = "silence"
    elif len(clauses) == 1:
        text = clauses[0]
    else:
        parts.append(f"joiner:{family}:{joiner}")
        text = joiner.format(*clauses[:2], ", ".join(clauses[2:]))
    if diffuse:
        background = _pick(rng, DIFFUSE_PHRASES[family])
        parts.append(f"diffuse:{family}:{background}")
        text += f", {background}"
    return NaturalCaption(text=text[0].upper() + text[1:] + ".", family=family,
                          parts=tuple(parts), stated=tuple(stated))


def _clause(description: SourceDescription, words: _Words, first: bool, family: str,
            rng: np.random.Generator, finite: bool = False
            ) -> tuple[str, list[str], tuple[float, float] | None]:
    parts = []
    start, end = description.start, description.end
    if start is not None and end is not None and _quadrant(start) != _quadrant(end) \
            and "up" not in description.motion and "down" not in description.motion \
            and rng.random() < 0.6:
        ends = _ENDPOINTS[int(rng.integers(len(_ENDPOINTS)))]
        motion = _pick(rng, MOTION_TEMPLATES[family]).format(a=ends[_quadrant(start)],
                                                             b=ends[_quadrant(end)])
        parts.append(f"motion:{family}:{motion}")
        if words.ing is not None and not finite and rng.random() < 0.5:
            return f"{words.noun} {words.ing}, {motion}", parts, None
        return f"{words.noun} {words.finite}, {motion}", parts, None
    place = place_phrase(description.azimuth, description.elevation, rng, family)
    parts.append(f"place:{family}:{place}")
    distance = description.distance
    nearness = ("near" if distance is not None and distance < NEAR_METRES else
                "far" if distance is not None and distance > FAR_METRES else None)
    if nearness and rng.random() < 0.5:
        word = _pick(rng, DISTANCE_PHRASES[family][nearness])
        parts.append(f"distance:{family}:{word}")
        place = f"{word} {place}" if rng.random() < 0.5 else f"{place}, {word}"
    templates = [t for t in CLAUSE_TEMPLATES[family]
                 if (first or (not t.startswith("{place}") and not t.startswith("somewhere")))
                 and (words.ing is not None or "{ing}" not in t)
                 and not (finite and t in _NOMINAL)]
    template = _pick(rng, templates)
    parts.append(f"template:{family}:{template}")
    verbless = "{finite}" not in template and "{ing}" not in template
    clause = template.format(noun=words.nominal if verbless else words.noun,
                             finite=words.finite, ing=words.ing, place=place,
                             **{"is": words.is_})
    if description.motion:
        verb = _pick(rng, DRIFT_VERBS[family])
        drift = description.motion.replace("moving", verb, 1)
        parts.append(f"drift:{family}:{verb}")
        clause += f", {drift}"
    return clause, parts, (description.azimuth, description.elevation)


def metadata_natural_caption(metadata: Mapping[str, Any], rng: np.random.Generator | int = 0,
                             family: str = "training") -> NaturalCaption:
    """:func:`natural_caption` of a simulated scene's ground truth."""
    return natural_caption(ground_truth_descriptions(metadata), rng, family=family,
                           diffuse=metadata.get("diffuse_db") is not None)
