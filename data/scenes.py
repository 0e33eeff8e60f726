"""Scene descriptions: which clips play where, when, and how they move.

A :class:`Scene` is pure data, drawn deterministically from a seed by :func:`sample_scene` and
written as JSON next to every simulated clip, so a scene can be re-rendered, audited (licence
of every ingredient) and captioned from its ground truth. Rendering lives in
:mod:`swansphere.data.render`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from ..errors import ConfigError
from .clips import SoundClip


def unit_vectors(azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 3)`` (front, left, up) of directions given in degrees (float64).

    The first-order plane-wave gains (W, Y, Z, X) = (1, y, z, x) are the unit vector.
    """
    from ..spatial import plane_wave_gains

    return plane_wave_gains(azimuth, elevation)[..., [3, 1, 2]].numpy()


def vector_directions(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation in degrees of vectors ``(..., 3)`` (front, left, up)."""
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))


@attrs.frozen(kw_only=True)
class Trajectory:
    """A path on the sphere: a great-circle arc from the start to the end direction.

    Progress runs from 0 at the source's onset to 1 at its offset; a static source has equal
    ends. Angles are degrees (docs/conventions.md).
    """

    start_azimuth: float
    start_elevation: float
    end_azimuth: float
    end_elevation: float

    @classmethod
    def static(cls, azimuth: float, elevation: float) -> Trajectory:
        return cls(start_azimuth=azimuth, start_elevation=elevation, end_azimuth=azimuth,
                   end_elevation=elevation)

    @property
    def moving(self) -> bool:
        return self.arc_degrees > 1e-6

    @property
    def arc_degrees(self) -> float:
        """Angle travelled along the path (atan2 form: exact for tiny arcs too)."""
        start, end = self._ends()
        return math.degrees(math.atan2(float(np.linalg.norm(np.cross(start, end))),
                                       float(start @ end)))

    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        return (unit_vectors(np.float64(self.start_azimuth), np.float64(self.start_elevation)),
                unit_vectors(np.float64(self.end_azimuth), np.float64(self.end_elevation)))

    def vectors(self, progress: np.ndarray) -> np.ndarray:
        """Unit vectors ``(n, 3)`` at ``progress`` in [0, 1] (clamped), by spherical lerp."""
        start, end = self._ends()
        progress = np.clip(np.asarray(progress, dtype=np.float64), 0.0, 1.0)
        omega = math.radians(self.arc_degrees)
        if omega < 1e-9:
            return np.broadcast_to(start, (*progress.shape, 3)).copy()
        weight_start = np.sin((1 - progress) * omega) / math.sin(omega)
        weight_end = np.sin(progress * omega) / math.sin(omega)
        return weight_start[..., None] * start + weight_end[..., None] * end

    def directions(self, progress: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Azimuth and elevation (degrees) at ``progress`` in [0, 1]."""
        return vector_directions(self.vectors(progress))


@attrs.frozen(kw_only=True)
class SourceEvent:
    """One clip placed in a scene: active from ``onset`` to ``offset`` seconds."""

    clip: SoundClip
    trajectory: Trajectory
    onset: float
    offset: float
    gain_db: float = 0.0
    distance: float = 2.0
    seed: int = 0
    repeat: bool = False
    """Whether the recording plays again while the window lasts: a sustained sound
    (:attr:`SceneSampler.sustained_probability`)."""

    def progress(self, times: np.ndarray) -> np.ndarray:
        """Position along the trajectory at scene ``times`` (clamped outside the event)."""
        span = max(self.offset - self.onset, 1e-9)
        return np.clip((np.asarray(times, dtype=np.float64) - self.onset) / span, 0.0, 1.0)

    def directions(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.trajectory.directions(self.progress(times))

    def active(self, times: np.ndarray) -> np.ndarray:
        times = np.asarray(times)
        return (times >= self.onset) & (times < self.offset)


@attrs.frozen(kw_only=True)
class RoomSpec:
    """A shoebox room (metres) with the listener inside; ``absorption`` is the energy ratio."""

    dimensions: tuple[float, float, float]
    listener: tuple[float, float, float]
    absorption: float = 0.3
    max_order: int = 12


@attrs.frozen(kw_only=True)
class Scene:
    """Everything needed to render one clip again, bit for bit."""

    seed: int
    sample_rate: int
    duration: float
    events: tuple[SourceEvent, ...]
    room: RoomSpec | None = None
    diffuse_db: float | None = None

    @property
    def num_samples(self) -> int:
        return round(self.duration * self.sample_rate)


@attrs.frozen(kw_only=True)
class SceneSampler:
    """Draws random scenes from a clip catalogue (all ranges are inclusive bounds).

    ``elevation_range`` bounds the start elevation (sampled area-uniformly inside it);
    ``room_probability`` picks a pyroomacoustics shoebox instead of free field.
    ``sustained_probability`` is the share of events that sound through the whole scene,
    from its first sample to its last, their recordings repeated: a named sound heard as
    the stream starts and for as long as it lasts. The others sound for a random window of
    at least ``min_event_seconds``, which begins in silence.
    """

    sample_rate: int = 16000
    duration: float = 4.0
    min_sources: int = 1
    max_sources: int = 3
    moving_probability: float = 0.5
    diffuse_probability: float = 0.3
    room_probability: float = 0.0
    elevation_range: tuple[float, float] = (-40.0, 60.0)
    arc_range: tuple[float, float] = (30.0, 120.0)
    gain_db_range: tuple[float, float] = (-6.0, 0.0)
    diffuse_db_range: tuple[float, float] = (-30.0, -15.0)
    min_event_seconds: float = 0.8
    sustained_probability: float = attrs.field(
        default=0.0, validator=[attrs.validators.ge(0), attrs.validators.le(1)])

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.min_sources <= self.max_sources:
            raise ConfigError(f"need 1 <= min_sources <= max_sources, got {self.min_sources}"
                              f" and {self.max_sources}")
        if self.duration <= 0 or self.sample_rate <= 0:
            raise ConfigError("scene duration and sample rate must be positive")

    def sample(self, catalogue: Sequence[SoundClip], seed: int,
               index: int = 0) -> Scene:
        """The scene number ``index`` of the stream seeded by ``seed`` (deterministic)."""
        if not catalogue:
            raise ConfigError("the clip catalogue is empty; install sound sets or use the "
                              "synthetic sources")
        rng = np.random.default_rng([seed, index])
        count = int(rng.integers(self.min_sources, self.max_sources + 1))
        chosen = rng.choice(len(catalogue), size=count, replace=count > len(catalogue))
        events = tuple(self._event(rng, catalogue[int(i)]) for i in chosen)
        room = self._room(rng) if rng.random() < self.room_probability else None
        diffuse = (float(rng.uniform(*self.diffuse_db_range))
                   if rng.random() < self.diffuse_probability else None)
        return Scene(seed=int(rng.integers(2**31)), sample_rate=self.sample_rate,
                     duration=self.duration, events=events, room=room, diffuse_db=diffuse)

    def _event(self, rng: np.random.Generator, clip: SoundClip) -> SourceEvent:
        # Drawn only when sustained events are possible: scenes without them stay as before.
        sustained = self.sustained_probability > 0 and rng.random() < self.sustained_probability
        onset, offset = (0.0, self.duration) if sustained else self._window(rng, clip)
        return SourceEvent(clip=clip, trajectory=self._trajectory(rng), onset=onset,
                           offset=offset, gain_db=float(rng.uniform(*self.gain_db_range)),
                           distance=float(rng.uniform(1.0, 4.0)),
                           seed=int(rng.integers(2**31)), repeat=sustained)

    def _window(self, rng: np.random.Generator, clip: SoundClip) -> tuple[float, float]:
        """An activity window of at least ``min_event_seconds`` (the clip length if shorter)."""
        shortest = min(self.min_event_seconds, self.duration)
        length = float(rng.uniform(shortest, self.duration))
        if clip.duration is not None:
            length = max(min(length, clip.duration), min(shortest, clip.duration))
        onset = float(rng.uniform(0.0, self.duration - length))
        return round(onset, 4), round(onset + length, 4)

    def _trajectory(self, rng: np.random.Generator) -> Trajectory:
        low, high = np.sin(np.radians(self.elevation_range))
        azimuth = float(rng.uniform(-180.0, 180.0))
        elevation = float(np.degrees(np.arcsin(rng.uniform(low, high))))
        if rng.random() >= self.moving_probability:
            return Trajectory.static(azimuth, elevation)
        heading = math.radians(rng.normal(0.0, 25.0)) + math.pi * rng.integers(2)
        return _arc(azimuth, elevation, heading, float(rng.uniform(*self.arc_range)))

    def _room(self, rng: np.random.Generator) -> RoomSpec:
        size = (float(rng.uniform(4.0, 10.0)), float(rng.uniform(3.5, 8.0)),
                float(rng.uniform(2.5, 4.0)))
        listener = tuple(float(rng.uniform(0.35, 0.65)) * side for side in size)
        return RoomSpec(dimensions=size, listener=listener,
                        absorption=float(rng.uniform(0.2, 0.6)), max_order=10)


def _arc(azimuth: float, elevation: float, heading: float, arc: float) -> Trajectory:
    """The trajectory leaving (azimuth, elevation) along ``heading`` for ``arc`` degrees.

    ``heading`` 0 moves counter-clockwise (towards larger azimuth), π/2 moves up.
    """
    start = unit_vectors(np.float64(azimuth), np.float64(elevation))
    east = np.array([-math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth)), 0.0])
    north = np.cross(start, east)
    tangent = math.cos(heading) * east + math.sin(heading) * north
    angle = math.radians(arc)
    end = math.cos(angle) * start + math.sin(angle) * tangent
    end_az, end_el = vector_directions(end)
    return Trajectory(start_azimuth=azimuth, start_elevation=elevation,
                      end_azimuth=float(end_az), end_elevation=float(end_el))


def scene_metadata(scene: Scene, hop_seconds: float = 0.05) -> dict:
    """JSON-ready ground truth: sources (provenance, window, trajectory track), room, diffuse."""
    times = np.arange(0.0, scene.duration, hop_seconds)
    sources = []
    for event in scene.events:
        azimuth, elevation = event.directions(times)
        sources.append({
            **event.clip.metadata(), "onset": event.onset, "offset": event.offset,
            "gain_db": event.gain_db, "distance": event.distance, "seed": event.seed,
            "trajectory": attrs.asdict(event.trajectory),
            "track": {"azimuth": np.round(azimuth, 3).tolist(),
                      "elevation": np.round(elevation, 3).tolist()}})
    return {"seed": scene.seed, "sample_rate": scene.sample_rate, "duration": scene.duration,
            "track_times": np.round(times, 6).tolist(), "sources": sources,
            "room": attrs.asdict(scene.room) if scene.room else None,
            "diffuse_db": scene.diffuse_db,
            "licences": sorted({event.clip.licence for event in scene.events}),
            "permissive": all(event.clip.permissive for event in scene.events)}
