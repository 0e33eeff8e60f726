"""Panorama (equirectangular) video files: the simulator's ``.npz`` and anything ffmpeg reads.

A ``.npz`` holds ``frames`` uint8 ``(T, H, W, 3)``, ``times`` (seconds, float64) and ``fps``;
numpy alone reads it. Other files (MP4, WebM, …) are decoded by the ``ffmpeg`` binary into
RGB frames at a chosen frame rate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from swansphere.errors import ResourceNotFoundError
from swansphere.fileio import atomic_file

from .mp4 import VideoFileError, VideoFormatError, require_ffmpeg

PathLike = str | os.PathLike


def write_panorama_npz(path: PathLike, frames: np.ndarray, times: np.ndarray,
                       fps: float) -> Path:
    """Save frames ``(T, H, W, 3)`` uint8 with their times as a compressed ``.npz``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoFormatError(f"panorama frames must be uint8 (frames, height, width, 3); "
                               f"got {frames.shape} of {frames.dtype}")
    path = Path(path)
    with atomic_file(path) as temporary, open(temporary, "wb") as stream:
        np.savez_compressed(stream, frames=frames, times=np.asarray(times, np.float64),
                            fps=np.float64(fps))
    return path


def read_panorama_video(path: PathLike, fps: float | None = None
                        ) -> tuple[np.ndarray, np.ndarray, float]:
    """Frames ``(T, H, W, 3)`` uint8, their times in seconds and the frame rate.

    ``fps`` resamples a file decoded by ffmpeg (default: its own rate); a ``.npz`` is returned
    as stored.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoFileError(f"{path}: no such video file; check the path")
    if path.suffix == ".npz":
        return _read_npz(path)
    return _read_with_ffmpeg(path, fps)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    try:
        with np.load(path, allow_pickle=False) as data:
            frames, times, fps = data["frames"], data["times"], float(data["fps"])
    except (OSError, KeyError, ValueError) as error:
        raise VideoFileError(f"cannot read panorama video {path}: {error}; expected a .npz "
                             "with frames, times and fps") from None
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(times) != len(frames):
        raise VideoFormatError(f"{path}: frames {frames.shape} and times {times.shape} do not "
                               "fit (frames must be (T, H, W, 3), one time per frame)")
    return frames, times.astype(np.float64), fps


def _read_with_ffmpeg(path: Path, fps: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    width, height, native_fps = _probe(path)
    rate = fps or native_fps
    command = [require_ffmpeg(), "-v", "error", "-i", str(path), "-vf", f"fps={rate}",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise VideoFileError(f"ffmpeg cannot decode {path}: {message[-1] if message else '?'}")
    frames = np.frombuffer(result.stdout, np.uint8)
    frames = frames.reshape(-1, height, width, 3)
    return frames, np.arange(len(frames), dtype=np.float64) / rate, float(rate)


def _probe(path: Path) -> tuple[int, int, float]:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise ResourceNotFoundError("ffprobe is not installed; install ffmpeg (apt-get install "
                                    "ffmpeg) to read video files other than .npz")
    result = subprocess.run([ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "stream=width,height,avg_frame_rate", "-of", "json", str(path)],
                            capture_output=True, text=True, check=False)
    streams = json.loads(result.stdout or "{}").get("streams") if not result.returncode else None
    if not streams:
        raise VideoFileError(f"{path} is not a readable video (no video stream found)")
    stream = streams[0]
    numerator, _, denominator = stream.get("avg_frame_rate", "0/1").partition("/")
    native = float(numerator) / float(denominator or 1) if float(denominator or 1) else 0.0
    return int(stream["width"]), int(stream["height"]), native or 25.0
