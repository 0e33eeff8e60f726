"""Equirectangular (ERP) panorama videos that show where a scene's sounds are.

Each active source is drawn at its direction at every frame time: its picture when the clip
has a PNG one (and Pillow is installed), else a glyph whose colour and shape are fixed by the
class label. Drawing happens on the sphere (a gnomonic patch around the source direction), so
sprites keep their shape near the poles and wrap across the image seam; the pixel geometry is
docs/conventions.md's (:func:`swansphere.spatial.erp_grid`). The background is a sky/ground
gradient with a hill line that varies with azimuth, so a yawed panorama is visibly different.

Videos are written as ``video.npz`` (``frames`` uint8 ``(T, H, W, 3)``, ``times`` seconds,
``fps``), which needs nothing but numpy to load.
"""

from __future__ import annotations

import colorsys
import math
import zlib
from pathlib import Path

import numpy as np

from ..errors import AudioFileError
from .scenes import Scene, SourceEvent, unit_vectors

GLYPH_RADIUS_DEGREES = 12.0
SHAPES = ("disc", "ring", "square", "diamond", "triangle", "cross", "star")


def _pixel_vectors(width: int, height: int) -> np.ndarray:
    from ..spatial import erp_grid

    azimuth, elevation = erp_grid(width, height)
    return unit_vectors(azimuth.numpy(), elevation.numpy())


def label_style(label: str) -> tuple[np.ndarray, str]:
    """A stable RGB colour (uint8) and glyph shape for a class label."""
    code = zlib.crc32(label.encode())
    hue = (code % 360) / 360.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    colour = np.array([red, green, blue]) * 255
    return colour.round().astype(np.uint8), SHAPES[(code // 360) % len(SHAPES)]


def background(width: int, height: int, seed: int = 0, yaw: float = 0.0) -> np.ndarray:
    """Sky, hills and ground ``(H, W, 3)`` uint8; ``yaw`` turns the world like the sound."""
    from ..spatial import erp_grid

    rng = np.random.default_rng([seed, 2])
    azimuth, elevation = (grid.numpy() for grid in erp_grid(width, height))
    phases, amplitudes = rng.uniform(0, 2 * np.pi, 4), rng.uniform(1.0, 5.0, 4)
    turned = np.radians(azimuth - yaw)
    ridge = 4.0 + sum(a * np.sin((k + 1) * turned + p)
                      for k, (a, p) in enumerate(zip(amplitudes, phases, strict=True)))
    sky_top, sky_low = rng.uniform([20, 60, 140], [60, 110, 200]), np.array([170, 200, 230])
    ground = rng.uniform([60, 90, 40], [110, 140, 70])
    up = np.clip(elevation / 90.0, 0, 1)[..., None]
    image = sky_low * (1 - up) + sky_top * up
    hills = (elevation < ridge)[..., None]
    shade = (0.6 + 0.4 * np.clip(-elevation / 90.0, 0, 1))[..., None]
    image = np.where(hills, ground * (1.2 - shade * 0.5), image)
    return np.clip(image, 0, 255).astype(np.uint8)


def _tangent_coordinates(pixels: np.ndarray, azimuth: float, elevation: float,
                         radius_degrees: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gnomonic (u, v) of every pixel around a direction, in units of the glyph radius.

    ``u`` grows towards larger azimuth (image left), ``v`` upwards; ``front`` marks the
    hemisphere facing the direction (the projection is only valid there).
    """
    centre = unit_vectors(np.float64(azimuth), np.float64(elevation))
    east = np.array([-math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth)), 0.0])
    north = np.cross(centre, east)
    depth = pixels @ centre
    front = depth > 1e-6
    scale = math.tan(math.radians(radius_degrees)) * np.where(front, depth, 1.0)
    return (pixels @ east) / scale, (pixels @ north) / scale, front


def glyph_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of a unit-size glyph in tangent coordinates."""
    radius = np.hypot(u, v)
    if shape == "disc":
        return radius <= 1
    if shape == "ring":
        return (radius <= 1) & (radius >= 0.55)
    if shape == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1
    if shape == "triangle":
        return (v >= -0.6) & (v <= 1 - 1.6 * np.abs(u) * 1.1)
    if shape == "cross":
        return ((np.abs(u) <= 0.3) | (np.abs(v) <= 0.3)) & (np.abs(u) <= 1) & (np.abs(v) <= 1)
    angle = np.arctan2(v, u)
    return radius <= 0.55 + 0.45 * np.cos(5 * (angle - np.pi / 2)) ** 2


def load_sprite(path: Path | None) -> np.ndarray | None:
    """An RGBA sprite ``(h, w, 4)`` uint8 from a PNG, or ``None`` (no file, SVG, no Pillow)."""
    if path is None or path.suffix.lower() != ".png" or not path.is_file():
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGBA"))
    except OSError as error:
        raise AudioFileError(f"cannot read picture {path}: {error}") from error


class PanoramaRenderer:
    """Draws the frames of a scene's panorama video (see the module doc)."""

    def __init__(self, width: int = 256, height: int = 128, fps: float = 4.0,
                 glyph_radius: float = GLYPH_RADIUS_DEGREES, use_sprites: bool = True) -> None:
        from ..errors import ConfigError
        from ..spatial.erp import is_panorama

        if width < 2 or not is_panorama(width, height) or fps <= 0:
            raise ConfigError(f"a panorama is 2:1 (width = 2 x height), width >= 2, at fps > "
                              f"0; got {width}x{height} at {fps} fps")
        self.width, self.height, self.fps = width, height, fps
        self.glyph_radius, self.use_sprites = glyph_radius, use_sprites
        self._pixels = _pixel_vectors(width, height)
        self._sprites: dict[Path, np.ndarray | None] = {}

    def frame_times(self, duration: float) -> np.ndarray:
        """Frame times (seconds) covering ``duration``: 0, 1/fps, ..."""
        return np.arange(max(1, math.ceil(duration * self.fps - 1e-9))) / self.fps

    def render(self, scene: Scene, yaw: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Frames ``(T, H, W, 3)`` uint8 and their times; ``yaw`` turns the whole world."""
        times = self.frame_times(scene.duration)
        base = background(self.width, self.height, scene.seed, yaw)
        frames = np.repeat(base[None], len(times), axis=0)
        for index, time in enumerate(times):
            for event in scene.events:
                if event.active(np.array([time]))[0]:
                    azimuth, elevation = event.directions(np.array([time]))
                    self._draw(frames[index], event, float(azimuth[0]) + yaw,
                               float(elevation[0]))
        return frames, times

    def _draw(self, frame: np.ndarray, event: SourceEvent, azimuth: float,
              elevation: float) -> None:
        radius = self.glyph_radius * min(1.5, max(0.6, 2.0 / max(event.distance, 0.5)))
        u, v, front = _tangent_coordinates(self._pixels, azimuth, elevation, radius)
        sprite = self._sprite(event.clip.picture) if self.use_sprites else None
        if sprite is None:
            colour, shape = label_style(event.clip.label)
            frame[glyph_mask(shape, u, v) & front] = colour
            return
        inside = front & (np.abs(u) <= 1) & (np.abs(v) <= 1)
        rows = np.clip(((1 - v[inside]) / 2 * sprite.shape[0]).astype(int), 0,
                       sprite.shape[0] - 1)
        columns = np.clip(((1 - u[inside]) / 2 * sprite.shape[1]).astype(int), 0,
                          sprite.shape[1] - 1)
        texels = sprite[rows, columns].astype(np.float64)
        alpha = texels[:, 3:] / 255.0
        frame[inside] = (texels[:, :3] * alpha + frame[inside] * (1 - alpha)).round().astype(
            np.uint8)

    def _sprite(self, path: Path | None) -> np.ndarray | None:
        if path is None:
            return None
        if path not in self._sprites:
            self._sprites[path] = load_sprite(path)
        return self._sprites[path]
