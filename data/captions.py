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
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from ..errors import ConfigError
from .scenes import unit_vectors, vector_directions

MOTION_THRESHOLD_DEGREES = 15.0
"""Smaller changes of direction are called static."""

OVERHEAD_DEGREES = 65.0
"""Above this elevation (or below its negative) only "above"/"below" is said."""

ELEVATION_DEGREES = 25.0
"""Elevation beyond which "above"/"below" is added to the horizontal words."""

ACTIVITY_DB = -25.0
"""Frames quieter than this (relative to the loudest frame) count as silent."""

_SECTORS = ("in front", "in front on the left", "on the left", "behind on the left", "behind",
            "behind on the right", "on the right", "in front on the right")


def horizontal_words(azimuth: float) -> str:
    """One of eight 45° sectors centred on front, front-left, left, ... (degrees)."""
    return _SECTORS[round((azimuth % 360.0) / 45.0) % 8]


def elevation_words(elevation: float) -> str:
    """``"above"``, ``"below"`` or ``""`` (near the horizon)."""
    if elevation > ELEVATION_DEGREES:
        return "above"
    if elevation < -ELEVATION_DEGREES:
        return "below"
    return ""


def position_words(azimuth: float, elevation: float) -> str:
    """E.g. ``"behind on the left"``, ``"above and in front"``, ``"overhead"``."""
    if elevation > OVERHEAD_DEGREES:
        return "overhead"
    if elevation < -OVERHEAD_DEGREES:
        return "below"
    vertical = elevation_words(elevation)
    horizontal = horizontal_words(azimuth)
    return f"{vertical} and {horizontal}" if vertical else horizontal


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
    """What a caption says about one sound: its words, mean direction and motion."""

    noun: str
    verb: str
    azimuth: float
    elevation: float
    motion: str = ""

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
        out.append(SourceDescription(noun=source["noun"], verb=source["verb"], azimuth=azimuth,
                                     elevation=elevation, motion=motion_words(start, end)))
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
