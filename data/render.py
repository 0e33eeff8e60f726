"""Render a :class:`~swansphere.data.scenes.Scene` to AmbiX audio.

Free-field scenes encode each source as a (possibly moving) plane wave with
:func:`swansphere.spatial.encode`; room scenes go through pyroomacoustics SH microphones
(:mod:`swansphere.data.rooms`). An optional diffuse background is twelve decorrelated noises
from the vertices of a randomly turned icosahedron: a spherical 5-design, so its FOA
covariance is that of an isotropic field (W power split equally over X, Y, Z).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..spatial import encode
from .captions import metadata_caption
from .clips import fit_length
from .scenes import Scene, SourceEvent, scene_metadata, vector_directions

PEAK_LIMIT = 0.9
"""Mixes louder than this are scaled down so a float WAV survives 16-bit conversion."""

RENDER_VERSION = 2
"""Bumped whenever rendered scenes change (2: room responses built as frequency-flat
spherical harmonics); scene caches are keyed by it."""

FADE_SECONDS = 0.01


def _icosahedron() -> np.ndarray:
    golden = (1 + math.sqrt(5)) / 2
    vertices = [(0, s1, s2 * golden) for s1 in (-1, 1) for s2 in (-1, 1)]
    vertices = [v[i:] + v[:i] for v in vertices for i in range(3)]
    points = np.asarray(vertices, dtype=np.float64)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _pink_noise(rng: np.random.Generator, num_samples: int, sample_rate: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    spectrum /= np.sqrt(np.maximum(freqs, 50.0))
    noise = np.fft.irfft(spectrum, num_samples)
    return noise / (np.std(noise) + 1e-12)


def diffuse_background(rng: np.random.Generator, num_samples: int,
                       sample_rate: int) -> torch.Tensor:
    """Isotropic pink noise as AmbiX ``(4, n)`` float64 with unit W power."""
    points = _icosahedron() @ _random_rotation(rng).T
    azimuth, elevation = vector_directions(points)
    field = torch.zeros(4, num_samples, dtype=torch.float64)
    for az, el in zip(azimuth, elevation, strict=True):
        noise = torch.from_numpy(_pink_noise(rng, num_samples, sample_rate))
        field += encode(noise, float(az), float(el))
    return field / math.sqrt(len(points))


def dry_signal(event: SourceEvent, scene: Scene) -> np.ndarray:
    """The event's mono signal (gain and fades applied) on the scene's time line ``(n,)``."""
    sample_rate, total = scene.sample_rate, scene.num_samples
    start = min(round(event.onset * sample_rate), total)
    stop = min(round(event.offset * sample_rate), total)
    length = stop - start
    out = np.zeros(total, dtype=np.float64)
    if length <= 0:
        return out
    out[start:stop] = _event_audio(event, sample_rate, length) * 10 ** (event.gain_db / 20)
    return out


def _event_audio(event: SourceEvent, sample_rate: int, length: int) -> np.ndarray:
    """The clip rendered for a window of ``length`` samples, faded in and out; a repeated
    event's recording, when shorter, plays again (:func:`clip_audio`)."""
    return clip_audio(event.clip, np.random.default_rng(event.seed), sample_rate, length,
                      repeat=event.repeat)


def clip_audio(clip: Any, rng: np.random.Generator, sample_rate: int, length: int, *,
               repeat: bool = False) -> np.ndarray:
    """``length`` samples of a clip, faded in and out; with ``repeat`` a recording shorter
    than that plays again straight after itself until they are full (each play faded in and
    out, so the joins do not click): how a scene's sustained source sounds. A clip without
    a known ``duration`` plays once."""
    duration = getattr(clip, "duration", None)
    once = length if not repeat or duration is None else min(
        max(round(duration * sample_rate), 1), length)
    take = _faded(fit_length(np.asarray(clip.render(rng, sample_rate, once),
                                        dtype=np.float64), once), sample_rate)
    signal = np.zeros(length, dtype=np.float64)
    for begin in range(0, length, once):
        piece = take[:length - begin]
        signal[begin:begin + piece.size] = piece
    return signal


def _faded(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    fade = min(round(FADE_SECONDS * sample_rate), signal.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        signal[:fade] *= ramp
        signal[signal.size - fade:] *= ramp[::-1]
    return signal


def render_event(event: SourceEvent, scene: Scene, dry: np.ndarray) -> torch.Tensor:
    """AmbiX ``(4, n)`` float64 of one event, free field or in the scene's room."""
    if scene.room is not None:
        from .rooms import render_event_in_room

        return torch.from_numpy(render_event_in_room(scene.room, event, dry, scene.sample_rate))
    times = np.arange(scene.num_samples) / scene.sample_rate
    azimuth, elevation = event.directions(times)
    return encode(torch.from_numpy(dry), torch.from_numpy(azimuth),
                  torch.from_numpy(elevation))


def render_scene(scene: Scene) -> tuple[torch.Tensor, float]:
    """The scene as AmbiX ``(4, n)`` float32, and the gain applied to keep peaks ≤ 0.9."""
    mix = torch.zeros(4, scene.num_samples, dtype=torch.float64)
    for event in scene.events:
        mix += render_event(event, scene, dry_signal(event, scene))
    if scene.diffuse_db is not None:
        reference = float(mix[0].pow(2).mean().sqrt()) or 0.1
        rng = np.random.default_rng([scene.seed, 1])
        level = reference * 10 ** (scene.diffuse_db / 20)
        mix += level * diffuse_background(rng, scene.num_samples, scene.sample_rate)
    peak = float(mix.abs().max()) if mix.numel() else 0.0
    gain = PEAK_LIMIT / peak if peak > PEAK_LIMIT else 1.0
    return (mix * gain).to(torch.float32), gain


def scene_item(scene: Scene, foa: torch.Tensor, hop_seconds: float = 0.05) -> dict[str, Any]:
    """A training item: FOA, sample rate, labels, ground-truth caption and source tracks."""
    metadata = scene_metadata(scene, hop_seconds)
    sources = [{key: source[key] for key in ("label", "noun", "verb", "onset", "offset")} | {
        "azimuth": torch.tensor(source["track"]["azimuth"], dtype=torch.float32),
        "elevation": torch.tensor(source["track"]["elevation"], dtype=torch.float32)}
        for source in metadata["sources"]]
    return {"foa": foa, "sample_rate": scene.sample_rate,
            "labels": [source["label"] for source in sources],
            "caption": metadata_caption(metadata),
            "track_times": torch.tensor(metadata["track_times"], dtype=torch.float32),
            "sources": sources}
