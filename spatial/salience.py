"""Where a panorama video shows something: the salient direction of each frame.

A pixel is salient when it is colourful and stands out from its surroundings; a frame's
direction is the saliency-weighted mean direction of the pixels of its most salient object
(:func:`salient_directions`). That is what the simulator's videos draw where a sound is (a
coloured sprite or glyph on a sky-and-hills background, docs/data.md), so it finds their
sources to within a few degrees; on real footage it finds whatever is most colourful and
unlike its surroundings, which need not be what sounds. :class:`SalientTrack` keeps the
directions of a video as its frames arrive, for a stream that follows them causally: the
direction at a time is that of the last salient frame at or before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from swansphere.errors import GenerationError

from .encoding import unit_vectors
from .erp import erp_grid, is_panorama

SALIENCY_GRID = (64, 32)
"""ERP resolution (width, height) at which video saliency is computed (5.6° pixels)."""

BACKGROUND_WINDOW = 9
"""Side of the square window (pixels of the saliency grid, ≈ 50°) whose median colour is a
pixel's local background: larger than a sounding object, so the median ignores the object
but follows edges such as a horizon."""

OBJECT_RADIUS_DEGREES = 30.0
"""Pixels this far or nearer from a frame's most salient pixel belong to its object: wider
than a sounding object (the simulator draws 12° glyphs), narrower than the gap between two,
so that two objects alike in saliency give the direction of one, not the empty middle."""

MAX_OBJECTS = 3
"""Objects a frame is read for (the simulator places up to three sources)."""

MIN_SALIENCY = 0.15
"""Frames whose strongest saliency is below this show nothing that stands out (measured on
simulated scenes: background-only frames peak at 0.05–0.09, frames with a source at
0.3–0.7)."""

def saliency(frames: torch.Tensor) -> torch.Tensor:
    """Per-pixel saliency ``(T, height, width)`` of ERP frames ``(T, 3, H, W)`` in [0, 1].

    A pixel is salient when it is colourful and differs from its local background: the RGB
    distance to the median colour of the surrounding window (:data:`BACKGROUND_WINDOW`,
    wrapping around in azimuth), times the pixel's chroma (max − min of RGB), times the
    cosine of its elevation (its solid angle), on a :data:`SALIENCY_GRID` panorama.
    """
    width, height = SALIENCY_GRID
    small = F.adaptive_avg_pool2d(frames.float(), (height, width))
    pad = BACKGROUND_WINDOW // 2
    padded = F.pad(small, (pad, pad, 0, 0), mode="circular")
    padded = F.pad(padded, (0, 0, pad, pad), mode="replicate")
    windows = padded.unfold(2, BACKGROUND_WINDOW, 1).unfold(3, BACKGROUND_WINDOW, 1)
    background = windows.flatten(-2).median(dim=-1).values
    contrast = (small - background).norm(dim=1)
    chroma = small.amax(dim=1) - small.amin(dim=1)
    _, elevation = erp_grid(width, height)
    return contrast * chroma * torch.cos(torch.deg2rad(elevation.float()))


def salient_directions(frames: torch.Tensor, times: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Times ``(k,)`` and unit vectors ``(k, 3)`` (front, left, up) of the frames that show
    something salient, or ``None`` if none does: each frame's most salient object
    (:func:`salient_objects`)."""
    found = salient_objects(frames, times, count=1)
    return None if found is None else (found[0], found[1][:, 0])


def salient_objects(frames: torch.Tensor, times: torch.Tensor, count: int = MAX_OBJECTS
                    ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Times ``(k,)`` and unit vectors ``(k, count, 3)`` of the frames that show something
    salient, up to ``count`` objects each, most salient first (NaN where a frame shows
    fewer), or ``None`` if no frame shows anything.

    An object is the saliency-weighted mean direction of the pixels within half of its peak
    and within :data:`OBJECT_RADIUS_DEGREES` of it; the first is the frame's peak, each next
    one the peak of what is left once the objects before it are taken out, kept while it is
    at least :data:`MIN_SALIENCY` and half the first one's (alike in saliency, not the
    background's stray pixels). Frames whose peak is below :data:`MIN_SALIENCY` are skipped.
    """
    maps = saliency(frames)
    if not maps.shape[0]:
        return None
    width, height = SALIENCY_GRID
    azimuth, elevation = erp_grid(width, height)
    pixels = unit_vectors(torch.deg2rad(azimuth.double()),
                          torch.deg2rad(elevation.double())).float().flatten(0, 1)
    left = maps.flatten(1).clone()
    first = left.amax(dim=1)
    objects = torch.full((maps.shape[0], count, 3), math.nan, dtype=torch.float64)
    for index in range(count):
        peak, where = left.max(dim=1)
        near = pixels[where] @ pixels.T >= math.cos(math.radians(OBJECT_RADIUS_DEGREES))
        weights = torch.where(near & (left >= 0.5 * peak[:, None]), left, 0.0)
        vectors = (weights @ pixels).double()
        found = (peak >= MIN_SALIENCY) & (peak >= 0.5 * first) & (vectors.norm(dim=-1) > 0)
        objects[found, index] = vectors[found] / vectors[found].norm(dim=-1, keepdim=True)
        left = torch.where(near, 0.0, left)
    keep = ~objects[:, 0, 0].isnan()
    if not bool(keep.any()):
        return None
    return torch.as_tensor(times)[keep].double(), objects[keep]


def per_sample_directions(times: torch.Tensor, vectors: torch.Tensor, samples: int,
                          sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation (degrees) per sample: the frame directions interpolated
    linearly in time (held before the first and after the last frame), so panning glides."""
    sample_times = np.arange(samples) / sample_rate
    track = np.stack([np.interp(sample_times, times.numpy(), component)
                      for component in vectors.numpy().T], axis=-1)
    track /= np.maximum(np.linalg.norm(track, axis=-1, keepdims=True), 1e-12)
    azimuth = np.degrees(np.arctan2(track[:, 1], track[:, 0]))
    elevation = np.degrees(np.arcsin(np.clip(track[:, 2], -1.0, 1.0)))
    return azimuth, elevation


@attrs.define(eq=False)
class SalientTrack:
    """The salient directions of one video, frame by frame as its frames arrive (in time
    order). :meth:`at` is causal: it never looks at a frame later than the time asked.

    ``interval`` spaces the frames read: one is read only if it is stamped at least that long
    after the last one read, so a 30 fps video costs what a few frames a second do (the
    saliency of a 1024 × 512 frame takes milliseconds) and a hold that follows the track,
    which smooths over seconds anyway, sees the same places. Which frames are read depends
    on their times only, never on how they were split into calls. Frames are read when
    :meth:`at` first asks for a time at or after theirs, so a stream of a long video file
    starts as soon as its first frames are read, not all of them."""

    interval: float = 0.0
    times: torch.Tensor = attrs.field(factory=lambda: torch.zeros(0, dtype=torch.float64))
    """The times of the salient frames read so far."""
    objects: torch.Tensor = attrs.field(
        factory=lambda: torch.zeros(0, MAX_OBJECTS, 3, dtype=torch.float64))
    """Per salient frame read, its objects' directions, most salient first (NaN: none)."""
    latest: float = -math.inf
    """The time of the last frame added, read or not."""
    last_read: float = -math.inf
    """The time of the last frame read."""
    pending: list[tuple[Callable[[np.ndarray], torch.Tensor], torch.Tensor, int]] = (
        attrs.field(factory=list))
    """Frames added and not all asked for yet: a loader, the times of the frames it makes,
    and the index of the first frame not yet reached."""

    def add(self, frames: torch.Tensor | Callable[[np.ndarray], torch.Tensor],
            times: Any) -> None:
        """Take the frames stamped ``times`` (seconds, ``(T,)``, in order, none before a
        frame already added); those due (``interval``) are read when :meth:`at` reaches them.
        ``frames`` are ERP frames ``(T, 3, H, W)`` in [0, 1], or a function that returns
        those of an array of indices, so that frames that are not read are never made (its
        first frame is made at once when nothing was added before, to check its shape)."""
        times = torch.as_tensor(np.asarray(times, dtype=np.float64))
        if times.ndim != 1 or not bool(torch.isfinite(times).all()):
            raise GenerationError(f"a video needs one finite time per frame; got times of "
                                  f"shape {tuple(times.shape)}")
        if times.numel() and (bool((times.diff() < 0).any()) or float(times[0]) < self.latest):
            raise GenerationError("video frames must come in time order")
        if not times.numel():
            return
        if callable(frames):
            load = frames
            if self.latest == -math.inf:
                _check_frames(load(np.zeros(1, dtype=np.int64)), times[:1])
        else:
            _check_frames(frames, times)
            load = _indexer(frames)
        self.pending.append((load, times, 0))
        self.latest = float(times[-1])

    def at(self, time: float, near: torch.Tensor | None = None) -> torch.Tensor | None:
        """The unit vector ``(3,)`` of the last salient frame stamped at or before ``time``
        seconds, or ``None`` while no frame up to then has shown anything: its most salient
        object, or with ``near`` (a unit vector) its object nearest that direction (the
        place a prompt's words give a sound, when the video shows several)."""
        self._read_until(time)
        shown = int(torch.searchsorted(self.times, torch.tensor([time], dtype=torch.float64),
                                       right=True))
        if shown == 0:
            return None
        objects = self.objects[shown - 1]
        if near is None:
            return objects[0]
        closeness = torch.nan_to_num(objects @ near.to(objects), nan=-math.inf)
        return objects[int(closeness.argmax())]

    def _read_until(self, time: float) -> None:
        """Read the pending frames due up to ``time``; later ones stay pending."""
        while self.pending:
            load, times, start = self.pending[0]
            reached = max(start, int(torch.searchsorted(
                times, torch.tensor([time], dtype=torch.float64), right=True)))
            due = start + self._due(times[start:reached])
            for first in range(0, len(due), _READ_AT_ONCE):
                chosen = due[first:first + _READ_AT_ONCE]
                self._read(load(chosen), times[chosen])
            if reached < times.shape[0]:
                self.pending[0] = (load, times, reached)
                return
            self.pending.pop(0)

    def _due(self, times: torch.Tensor) -> np.ndarray:
        """Indices of the frames to read: each ``interval`` or more after the last read."""
        due, last = [], self.last_read
        for index, time in enumerate(times.tolist()):
            if time >= last + self.interval - _TIME_TOLERANCE:
                due.append(index)
                last = time
        return np.asarray(due, dtype=np.int64)

    def _read(self, frames: torch.Tensor, times: torch.Tensor) -> None:
        _check_frames(frames, times)
        self.last_read = float(times[-1])
        found = salient_objects(frames, times)
        if found is not None:
            self.times = torch.cat([self.times, found[0]])
            self.objects = torch.cat([self.objects, found[1]])


def _check_frames(frames: torch.Tensor, times: torch.Tensor) -> None:
    if len(frames) != times.shape[0]:
        raise GenerationError(f"a video needs one time per frame; got {len(frames)} frames "
                              f"and {times.shape[0]} times")
    if frames.ndim != 4 or frames.shape[1] != 3 \
            or not is_panorama(frames.shape[-1], frames.shape[-2]):
        raise GenerationError(f"video frames are 2:1 panoramas (T, 3, H, 2H); got shape "
                              f"{tuple(frames.shape)}")


def _indexer(frames: torch.Tensor) -> Callable[[np.ndarray], torch.Tensor]:
    """What :meth:`SalientTrack.add` loads frames with, for frames given whole."""
    return lambda indices: frames[torch.as_tensor(indices)]


_READ_AT_ONCE = 16
"""Frames made and read at a time, so a long full-size video is never all floats at once."""
_TIME_TOLERANCE = 1e-9
"""Seconds by which a frame may fall short of ``interval`` and still be read (frame times
computed as k / fps do not add up exactly)."""
