"""Shoebox rooms rendered to AmbiX with pyroomacoustics spherical-harmonic microphones.

pyroomacoustics (optional extra ``sim``) computes the image-source model for four co-located
microphones whose directivities are the real spherical harmonics of degree ≤ 1 in ACN order.
Its harmonics are orthonormal (Y00 = 1/√4π, no Condon–Shortley phase); multiplying degree n by
√(4π/(2n+1)) gives SN3D, i.e. AmbiX. Room axes: +x is the listener's front, +y left, +z up,
matching docs/conventions.md. Moving sources are rendered block-wise (one impulse response per block
position, Hann cross-fades), which is exact for static sources and smooth for slow motion.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..errors import ResourceNotFoundError
from .scenes import RoomSpec, SourceEvent, unit_vectors

WALL_MARGIN = 0.3
"""Closest distance (m) a source may come to a wall."""


def _pyroomacoustics():
    try:
        import pyroomacoustics
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ResourceNotFoundError(
            "room simulation needs pyroomacoustics; install it with "
            "pip install 'swansphere[sim]' or simulate free-field scenes (--free-field)"
        ) from error
    return pyroomacoustics


def sn3d_scale() -> np.ndarray:
    """Per-channel factors turning orthonormal real SH (ACN, degree ≤ 1) into SN3D."""
    degrees = np.array([0, 1, 1, 1])
    return np.sqrt(4 * np.pi / (2 * degrees + 1))


def source_position(room: RoomSpec, azimuth: float, elevation: float,
                    distance: float) -> np.ndarray:
    """The point at ``distance`` from the listener in a direction, pulled inside the walls."""
    listener = np.asarray(room.listener, dtype=np.float64)
    direction = unit_vectors(np.float64(azimuth), np.float64(elevation))
    limits = np.asarray(room.dimensions, dtype=np.float64)
    reach = math.inf
    for axis in range(3):
        if abs(direction[axis]) > 1e-12:
            wall = limits[axis] - WALL_MARGIN if direction[axis] > 0 else WALL_MARGIN
            reach = min(reach, (wall - listener[axis]) / direction[axis])
    return listener + direction * max(min(distance, reach), 0.1)


@functools.cache
def flat_harmonic_directivity() -> type:
    """pyroomacoustics' real spherical-harmonic directivity, declared frequency-flat.

    pyroomacoustics marks it as an impulse response (of one tap), which sends every image
    source through an FFT convolution with its fractional-delay filter; as a flat gain, the
    response is built by its C++ sinc builder instead. The responses agree to about 1e-4 of
    their peak and are computed 2.7 times faster (tests/data/test_rooms.py)."""
    _pyroomacoustics()
    from pyroomacoustics.directivities import RealSphericalHarmonicsDirectivity

    class FlatSphericalHarmonic(RealSphericalHarmonicsDirectivity):
        @property
        def is_impulse_response(self) -> bool:
            return False

        def get_response(self, *args: Any, **kwargs: Any) -> np.ndarray:
            return super().get_response(*args, **kwargs)[:, 0]

    return FlatSphericalHarmonic


def room_impulse_responses(room: RoomSpec, positions: np.ndarray,
                           sample_rate: int) -> list[np.ndarray]:
    """AmbiX (SN3D) impulse responses ``(4, taps)``, one per source position ``(k, 3)``.

    The fractional-delay filter's latency is removed, so the direct path arrives at
    ``distance / c`` seconds.
    """
    pra = _pyroomacoustics()
    from pyroomacoustics.directivities.harmonics import get_mn_in_acn_order

    harmonic = flat_harmonic_directivity()
    shoebox = pra.ShoeBox(list(room.dimensions), fs=sample_rate,
                          materials=pra.Material(energy_absorption=room.absorption),
                          max_order=room.max_order, air_absorption=False)
    for position in positions:
        shoebox.add_source(list(position))
    for m, n in zip(*get_mn_in_acn_order(1), strict=True):
        shoebox.add_microphone(list(room.listener), directivity=harmonic(int(m), int(n)))
    shoebox.compute_rir()
    latency = pra.constants.get("frac_delay_length") // 2
    scale = sn3d_scale()
    responses = []
    for source in range(len(positions)):
        taps = min(len(shoebox.rir[channel][source]) for channel in range(4))
        stacked = np.stack([shoebox.rir[channel][source][latency:taps] for channel in range(4)])
        responses.append(stacked * scale[:, None])
    return responses


def speed_of_sound() -> float:
    """The speed of sound (m/s) pyroomacoustics uses."""
    return float(_pyroomacoustics().constants.get("c"))


def render_event_in_room(room: RoomSpec, event: SourceEvent, dry: np.ndarray,
                         sample_rate: int, block_seconds: float = 0.2) -> np.ndarray:
    """AmbiX ``(4, n)`` of one event's dry mono signal ``(n,)`` placed in ``room``."""
    from scipy.signal import fftconvolve

    num_samples = dry.shape[-1]
    if not event.trajectory.moving:
        position = source_position(room, event.trajectory.start_azimuth,
                                   event.trajectory.start_elevation, event.distance)
        response = room_impulse_responses(room, position[None], sample_rate)[0]
        return fftconvolve(dry[None, :], response, axes=-1)[:, :num_samples]
    hop = max(1, round(block_seconds * sample_rate / 2))
    window = np.hanning(2 * hop + 1)[:-1]  # periodic Hann: 50 % overlaps sum to one
    padded = np.pad(dry, (hop, 2 * hop))
    blocks = {}  # block start -> samples; the block is centred on that dry-signal sample
    for start in range(0, num_samples + hop, hop):
        block = padded[start:start + 2 * hop] * window
        if block.any():  # a silent block adds nothing: its impulse response is never needed
            blocks[start] = block
    if not blocks:
        return np.zeros((4, num_samples))
    azimuth, elevation = event.directions(np.array(list(blocks)) / sample_rate)
    positions = np.stack([source_position(room, a, e, event.distance)
                          for a, e in zip(azimuth, elevation, strict=True)])
    responses = room_impulse_responses(room, positions, sample_rate)
    out = np.zeros((4, num_samples + 3 * hop + max(r.shape[-1] for r in responses)))
    for (start, block), response in zip(blocks.items(), responses, strict=True):
        wet = fftconvolve(block[None, :], response, axes=-1)
        out[:, start:start + wet.shape[-1]] += wet
    return out[:, hop:hop + num_samples]
