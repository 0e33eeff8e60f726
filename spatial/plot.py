"""Pictures of the sound field: the energy map on the panorama, the direction track, and the
heat map laid over a 360° video.

Everything is drawn in the panorama's own geometry (docs/conventions.md): the image centre is
the front, the left quarter is azimuth +90°, the top row is up. Levels are shown in dB below
the loudest direction (of the clip, for a video) over ``dynamic_range`` dB, so a quiet moment
looks quiet. Figures are matplotlib's object API with the Agg canvas (no pyplot, no display,
safe in a web server's threads); matplotlib is the optional extra ``swansphere[plot]``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from swansphere.errors import AudioFormatError, ConfigError, ResourceNotFoundError
from swansphere.fileio import atomic_file

from .analysis import direction_track
from .beams import BeamPattern, energy_map
from .foa import validate_foa

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PathLike = str | os.PathLike

HEAT_COLORMAP = "inferno"
"""Dark (quiet) to pale yellow (loudest); it holds no saturated blue, so the track stands out."""
TRACK_COLORMAP = "cool"
"""Track markers run from cyan (start) to magenta (end)."""
DYNAMIC_RANGE_DB = 15.0
MAP_SIZE = (360, 180)
"""Width and height of the drawn energy map: one cell per degree."""
OVERLAY_MAP_SIZE = (128, 64)
"""Energy maps per video frame are computed this small and scaled up to the frame."""
_EPSILON = 1e-30


def require_matplotlib() -> None:
    """Raise a one-line error that names the extra when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ResourceNotFoundError("pictures of the sound field need matplotlib: pip install "
                                    "'swansphere[plot]'") from None


def relative_level(power: Any, reference: float | None = None,
                   dynamic_range: float = DYNAMIC_RANGE_DB) -> np.ndarray:
    """Power as 0..1: 1 at ``reference`` (default: the maximum), 0 at ``dynamic_range`` dB
    below it or lower; all 0 when the reference is silence."""
    if not dynamic_range > 0:
        raise ConfigError(f"dynamic_range must be positive dB; got {dynamic_range}")
    power = np.asarray(power, dtype=np.float64)
    reference = float(power.max()) if reference is None else reference
    if reference <= 0:
        return np.zeros_like(power)
    decibels = 10 * np.log10(np.maximum(power, _EPSILON) / max(reference, _EPSILON))
    return np.clip(1 + decibels / dynamic_range, 0.0, 1.0)


def blend_heat(frames: np.ndarray, levels: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """Lay levels ``(..., H, W)`` in 0..1 over uint8 RGB ``(..., H, W, 3)`` frames: the
    colour of each level, more opaque where it is louder (``opacity`` at the maximum)."""
    require_matplotlib()
    from matplotlib import colormaps

    if not 0 <= opacity <= 1:
        raise ConfigError(f"opacity must be between 0 and 1; got {opacity}")
    colours = colormaps[HEAT_COLORMAP](levels)[..., :3] * 255.0
    alpha = (opacity * levels)[..., None]
    return np.round(frames * (1 - alpha) + colours * alpha).astype(np.uint8)


def map_figure(foa: Any, sample_rate: int, *, backdrop: np.ndarray | None = None,
               pattern: BeamPattern = "max_re", dynamic_range: float = DYNAMIC_RANGE_DB,
               frame_seconds: float = 0.1, hop_seconds: float = 0.05,
               title: str | None = None, track: bool = True) -> Figure:
    """The clip's energy map on the panorama with its direction track over it.

    The map is the mean power of steered beams (:func:`~swansphere.spatial.energy_map`); each
    track marker is one frame's intensity direction (:func:`~swansphere.spatial.direction_track`;
    silent frames are left out), coloured from cyan (start) to magenta (end). ``backdrop``, an
    RGB panorama (a video frame), is drawn under the heat instead of black; ``track=False``
    leaves the track out.
    """
    require_matplotlib()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    foa = validate_foa(foa, ndim=2)
    width, height = MAP_SIZE
    levels = relative_level(energy_map(foa, width, height, pattern).numpy(),
                            dynamic_range=dynamic_range)
    figure, axes = _panorama_axes(title or "Energy map and direction track")
    extent = (180.0, -180.0, -90.0, 90.0)  # left edge: azimuth +180 (back), up on top
    if backdrop is not None:
        axes.imshow(_picture(backdrop), extent=extent, aspect="auto")
    axes.imshow(levels, cmap=HEAT_COLORMAP, vmin=0.0, vmax=1.0, extent=extent,
                interpolation="nearest", aspect="auto",
                alpha=None if backdrop is None else 0.6 * levels)
    colourbar = figure.colorbar(ScalarMappable(Normalize(0.0, 1.0), HEAT_COLORMAP), ax=axes,
                                fraction=0.04, pad=0.02)
    colourbar.set_ticks([0.0, 0.5, 1.0], labels=[f"-{dynamic_range:g}",
                                                 f"-{dynamic_range / 2:g}", "0"])
    colourbar.set_label("dB below the loudest direction")
    if track:
        _draw_track(axes, foa, sample_rate, frame_seconds, hop_seconds)
    return figure


def _draw_track(axes: Any, foa: torch.Tensor, sample_rate: int, frame_seconds: float,
                hop_seconds: float) -> None:
    """One marker per frame with a direction, coloured by its time."""
    track = direction_track(foa, sample_rate, frame_seconds, hop_seconds)
    heard = ~torch.isnan(track.azimuth)
    if bool(heard.any()):
        axes.scatter(track.azimuth[heard].numpy(), track.elevation[heard].numpy(),
                     c=track.times[heard].numpy(), cmap=TRACK_COLORMAP, s=14, linewidths=0,
                     vmin=0.0, vmax=max(float(track.times[-1]), 1e-9), zorder=3)


def _panorama_axes(title: str) -> tuple[Figure, Any]:
    """A figure with one axes in panorama degrees: azimuth +180 (left) to -180 (right)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 4.4), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_xlim(180.0, -180.0)
    axes.set_ylim(-90.0, 90.0)
    axes.set_xticks([180, 90, 0, -90, -180],
                    labels=["180° back", "90° left", "0° front", "-90° right", "-180° back"])
    axes.set_yticks([-90, -45, 0, 45, 90], labels=["-90°", "-45°", "0°", "45°", "90° up"])
    axes.set_xlabel("azimuth")
    axes.set_ylabel("elevation")
    axes.set_title(title)
    axes.grid(color="white", alpha=0.25, linewidth=0.6)
    return figure, axes


def track_figure(foa: Any, sample_rate: int, *, frame_seconds: float = 0.1,
                 hop_seconds: float = 0.05, title: str | None = None) -> Figure:
    """Azimuth, elevation and diffuseness of the direction track against time."""
    require_matplotlib()
    from matplotlib.figure import Figure

    track = direction_track(validate_foa(foa, ndim=2), sample_rate, frame_seconds, hop_seconds)
    figure = Figure(figsize=(8.0, 4.4), dpi=100, layout="constrained")
    angles, diffuseness = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    times = track.times.numpy()
    angles.plot(times, track.azimuth.numpy(), ".", color="tab:blue", label="azimuth")
    angles.plot(times, track.elevation.numpy(), ".", color="tab:orange", label="elevation")
    angles.set_ylim(-180.0, 180.0)
    angles.set_yticks([-180, -90, 0, 90, 180],
                      labels=["-180° back", "-90° right", "0° front", "90° left", "180° back"])
    angles.set_ylabel("degrees")
    angles.grid(alpha=0.3)
    angles.legend(loc="upper right", fontsize="small")
    angles.set_title(title or "Direction track")
    diffuseness.plot(times, track.diffuseness.numpy(), color="tab:gray")
    diffuseness.set_ylim(0.0, 1.0)
    diffuseness.set_ylabel("diffuseness")
    diffuseness.set_xlabel("time (s)")
    diffuseness.grid(alpha=0.3)
    return figure


def save_figure(figure: Figure, path: PathLike) -> Path:
    """Write a figure as PNG, atomically."""
    path = Path(path)
    with atomic_file(path) as temporary:
        figure.savefig(temporary, format="png")
    return path


def frame_levels(foa: Any, sample_rate: int, times: np.ndarray, fps: float, *,
                 reference: float, size: tuple[int, int] = OVERLAY_MAP_SIZE,
                 pattern: BeamPattern = "max_re",
                 dynamic_range: float = DYNAMIC_RANGE_DB) -> np.ndarray:
    """Levels ``(frames, height, width)`` of the audio shown while each frame is on screen
    (from its time for ``1/fps`` s), relative to ``reference`` power (see
    :func:`loudest_power`)."""
    windows = _windows(validate_foa(foa, ndim=2), sample_rate, times, fps)
    power = energy_map(windows, *size, pattern=pattern).numpy()
    return relative_level(power, reference, dynamic_range)


def loudest_power(foa: Any, sample_rate: int, fps: float, *,
                  size: tuple[int, int] = OVERLAY_MAP_SIZE,
                  pattern: BeamPattern = "max_re") -> float:
    """The highest beam power of any ``1/fps`` s window of the clip: 0 dB of an overlay."""
    foa = validate_foa(foa, ndim=2)
    count = max(1, math.ceil(foa.shape[-1] * fps / sample_rate))
    starts = np.arange(count) / fps
    highest = 0.0
    for block in np.array_split(starts, math.ceil(count / 256)):
        windows = _windows(foa, sample_rate, block, fps)
        highest = max(highest, float(energy_map(windows, *size, pattern=pattern).max()))
    return highest


def _windows(foa: torch.Tensor, sample_rate: int, times: np.ndarray,
             fps: float) -> torch.Tensor:
    """Audio ``(frames, 4, length)`` from each time on for one frame's duration, zero past
    the clip's end."""
    length = max(1, round(sample_rate / fps))
    starts = np.round(np.asarray(times, np.float64) * sample_rate).astype(np.int64)
    padded = F.pad(foa, (0, max(0, int(starts.max(initial=0)) + length - foa.shape[-1])))
    index = torch.from_numpy(np.clip(starts, 0, None))[:, None] + torch.arange(length)
    return padded[:, index].movedim(0, 1)


def overlay_frames(frames: np.ndarray, levels: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 with levels ``(T, h, w)`` scaled up to them and laid over
    (see :func:`blend_heat`)."""
    height, width = frames.shape[1:3]
    scaled = F.interpolate(torch.from_numpy(levels)[:, None], size=(height, width),
                           mode="bilinear", align_corners=False)[:, 0].numpy()
    return blend_heat(frames, np.clip(scaled, 0.0, 1.0), opacity)


def overlay_video(foa: Any, sample_rate: int, video: PathLike, *, fps: float | None = None,
                  max_width: int = 1024, opacity: float = 0.6,
                  pattern: BeamPattern = "max_re",
                  dynamic_range: float = DYNAMIC_RANGE_DB) -> tuple[np.ndarray, float]:
    """The video's frames over the clip's length with the energy laid over each, and their
    frame rate.

    ``fps`` resamples a video file (default: its own rate; a ``.npz`` keeps its stored
    frames). Frames wider than ``max_width`` are scaled down; the result is held in memory,
    about ``max_width² × 1.5`` bytes a frame.
    """
    foa = validate_foa(foa, ndim=2)
    if max_width < 2:
        raise ConfigError(f"max_width must be at least 2 pixels; got {max_width}")
    chunks, rate = _video_chunks(Path(video), fps)
    reference = loudest_power(foa, sample_rate, rate, pattern=pattern)
    pieces = []
    for frames, times in _frames_until(chunks, foa.shape[-1] / sample_rate):
        levels = frame_levels(foa, sample_rate, times, rate, reference=reference,
                              pattern=pattern, dynamic_range=dynamic_range)
        pieces.append(overlay_frames(_shrunk(frames, max_width), levels, opacity))
    if not pieces:
        raise AudioFormatError(f"the video {video} has no frames to lay the energy over")
    return np.concatenate(pieces), rate


def _video_chunks(video: Path, fps: float | None
                  ) -> tuple[Iterator[tuple[np.ndarray, np.ndarray]], float]:
    """Pieces of frames with their times, and the frame rate they come at."""
    from .video_io import iter_panorama_video, probe_video, read_panorama_video

    if video.suffix == ".npz":  # numpy loads it whole anyway
        frames, times, rate = read_panorama_video(video)
        return iter([(frames, times)]), rate
    rate = float(fps or probe_video(video).fps)
    return iter_panorama_video(video, fps=rate, chunk_frames=16), rate


def _frames_until(chunks: Iterator[tuple[np.ndarray, np.ndarray]],
                  duration: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The frames shown before ``duration`` s; stops a decoder there."""
    try:
        for frames, times in chunks:
            keep = times < duration
            if keep.any():
                yield frames[keep], times[keep]
            if not keep.all():
                return
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _shrunk(frames: np.ndarray, max_width: int) -> np.ndarray:
    """Frames scaled down to at most ``max_width`` (even sizes, as H.264 needs)."""
    height, width = frames.shape[1:3]
    scale = min(1.0, max_width / width)
    new_width = max(2, int(width * scale) // 2 * 2)
    new_height = max(2, round(height * scale) // 2 * 2)
    if (new_width, new_height) == (width, height):
        return frames
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    scaled = F.interpolate(tensor, size=(new_height, new_width), mode="bilinear",
                           antialias=True, align_corners=False)
    return scaled.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _picture(image: Any) -> np.ndarray:
    """A checked uint8 RGB picture ``(H, W, 3)`` (a backdrop under the map)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ConfigError(f"a backdrop must be a uint8 RGB picture (H, W, 3); got "
                          f"{image.shape} of {image.dtype}")
    return image
