"""Panorama (equirectangular) video files: the simulator's ``.npz`` and anything ffmpeg reads.

A ``.npz`` holds ``frames`` uint8 ``(T, H, W, 3)``, ``times`` (seconds, float64) and ``fps``;
numpy alone reads it. Other files (MP4, WebM, …) are decoded by the ``ffmpeg`` binary into
RGB frames at a chosen frame rate. Both are read as a stream: :func:`iter_panorama_video`
keeps a frame or a few in memory at a time (a ``.npz``'s frames are decompressed as they are
read) and stops ffmpeg when the caller stops reading, so a long file costs no more than a
short one. Frames come out as a player shows them: a rotation tag (the display matrix
of phone and camera recordings) is applied and non-square pixels are scaled to square ones.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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


@dataclass(frozen=True)
class VideoInfo:
    """A video file as a player shows it: ``width`` x ``height`` after its rotation tag and
    pixel aspect ratio, the frame rate, and the duration in seconds (None if unknown)."""

    width: int
    height: int
    fps: float
    duration: float | None
    rotation: int = 0


def read_panorama_video(path: PathLike, fps: float | None = None
                        ) -> tuple[np.ndarray, np.ndarray, float]:
    """Frames ``(T, H, W, 3)`` uint8, their times in seconds and the frame rate.

    ``fps`` resamples a file decoded by ffmpeg (default: its own rate); a ``.npz`` is returned
    as stored. This holds the whole video in memory: generation reads files with
    :func:`iter_panorama_video` instead.
    """
    path = Path(path)
    if path.suffix == ".npz":
        _check_file(path)
        return _read_npz(path)
    info = probe_video(path)
    rate = fps or info.fps
    chunks = list(iter_panorama_video(path, fps=rate))
    if not chunks:
        return (np.zeros((0, info.height, info.width, 3), np.uint8), np.zeros(0), float(rate))
    frames = np.concatenate([frames for frames, _ in chunks])
    times = np.concatenate([times for _, times in chunks])
    return frames, times, float(rate)


def iter_panorama_video(path: PathLike, fps: float | None = None, *, chunk_frames: int = 1
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(frames (n, H, W, 3) uint8, times (n,) s)`` pieces of a video, in time order.

    ffmpeg decodes ``fps`` frames per second (default: the file's rate) at the displayed size
    and orientation; only ``chunk_frames`` frames are held at once. Closing the iterator stops
    ffmpeg. A ``.npz`` yields its stored frames and times, decompressed ``chunk_frames`` at a
    time.
    """
    path = Path(path)
    if chunk_frames < 1:
        raise VideoFormatError(f"chunk_frames must be >= 1, got {chunk_frames}")
    if path.suffix == ".npz":
        _check_file(path)
        yield from _iter_npz(path, chunk_frames)
        return
    info = probe_video(path)
    rate = float(fps or info.fps)
    if not (math.isfinite(rate) and rate > 0):
        raise VideoFormatError(f"fps must be a positive number, got {fps!r}")
    width, height = info.width, info.height
    command = [require_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-an", "-sn",
               "-vf", f"fps={rate},scale={width}:{height}:flags=bicubic,setsar=1",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    frame_bytes = width * height * 3
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    index = 0
    try:
        while True:
            data = _read_exactly(process.stdout, frame_bytes * chunk_frames)
            count = len(data) // frame_bytes
            if count:
                frames = np.frombuffer(data[:count * frame_bytes], np.uint8).reshape(
                    count, height, width, 3)
                yield frames, (index + np.arange(count, dtype=np.float64)) / rate
                index += count
            if count < chunk_frames:
                break
        if process.wait() != 0:
            message = process.stderr.read().decode(errors="replace").strip().splitlines()
            raise VideoFileError(f"ffmpeg cannot decode {path}: "
                                 f"{message[-1] if message else '?'}")
    finally:
        if process.poll() is None:  # the caller stopped early: stop decoding
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def probe_video(path: PathLike) -> VideoInfo:
    """The displayed size, frame rate and duration of a video file (ffprobe)."""
    path = Path(path)
    _check_file(path)
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise ResourceNotFoundError("ffprobe is not installed; install ffmpeg (apt-get install "
                                    "ffmpeg) to read video files other than .npz")
    result = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,avg_frame_rate,r_frame_rate,sample_aspect_ratio,duration"
         ":stream_tags=rotate:stream_side_data=rotation:format=duration",
         "-of", "json", str(path)], capture_output=True, text=True, check=False)
    try:
        report = json.loads(result.stdout or "{}") if not result.returncode else {}
    except ValueError:
        report = {}
    streams = report.get("streams") or []
    if not streams or not streams[0].get("width") or not streams[0].get("height"):
        raise VideoFileError(f"{path} is not a readable video (no video stream found)")
    stream = streams[0]
    width, height = int(stream["width"]), int(stream["height"])
    aspect = _ratio(stream.get("sample_aspect_ratio")) or 1.0
    if aspect != 1.0:  # non-square pixels: the displayed width
        width = round(width * aspect)
    rotation = _rotation(stream)
    if rotation % 180:
        width, height = height, width
    fps = _ratio(stream.get("avg_frame_rate")) or _ratio(stream.get("r_frame_rate")) or 25.0
    duration = _number(stream.get("duration")) or _number(report.get("format", {})
                                                          .get("duration"))
    return VideoInfo(width=width, height=height, fps=fps, duration=duration, rotation=rotation)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise VideoFileError(f"{path}: no such video file; check the path")


def _read_exactly(stream: IO[bytes], size: int) -> bytearray:
    """Up to ``size`` bytes (fewer only at the end), in a fresh writable buffer: frames made
    from it are ordinary writable arrays, without a copy."""
    buffer = bytearray(size)
    view, filled = memoryview(buffer), 0
    while filled < size:
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    del view
    return buffer if filled == size else buffer[:filled]


def _ratio(text: Any) -> float | None:
    numerator, _, denominator = str(text or "").partition(":" if ":" in str(text) else "/")
    try:
        value = float(numerator) / float(denominator or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    """Degrees of the display rotation (side data of ffprobe 5+, the ``rotate`` tag before)."""
    values = [item["rotation"] for item in stream.get("side_data_list") or []
              if "rotation" in item]
    values.append((stream.get("tags") or {}).get("rotate", 0))
    try:
        return round(float(values[0])) % 360
    except (TypeError, ValueError):
        return 0


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    try:
        with np.load(path, allow_pickle=False) as data:
            frames, times, fps = data["frames"], data["times"], float(data["fps"])
    except (OSError, KeyError, ValueError) as error:
        raise _unreadable_npz(path, error) from None
    _check_npz_shapes(path, frames.shape, times.shape)
    return frames, times.astype(np.float64), fps


def _iter_npz(path: Path, chunk_frames: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A ``.npz``'s frames ``chunk_frames`` at a time, decompressed from its ``frames``
    member as they are read (the whole array is never in memory), with their times."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            if "fps.npy" not in archive.namelist():
                raise KeyError("fps is not a file in the archive")
            with archive.open("times.npy") as member:
                times = np.lib.format.read_array(member, allow_pickle=False)
            with archive.open("frames.npy") as member:
                shape, fortran_order, dtype = _npy_header(member)
                _check_npz_shapes(path, shape, times.shape)
                if fortran_order or dtype != np.uint8:
                    raise ValueError(f"frames are {dtype} in {'F' if fortran_order else 'C'} "
                                     f"order; expected uint8 in C order")
                frame_bytes = math.prod(shape[1:])
                for start in range(0, shape[0], chunk_frames):
                    count = min(chunk_frames, shape[0] - start)
                    data = _read_exactly(member, frame_bytes * count)
                    if len(data) < frame_bytes * count:
                        raise ValueError("the frames end early (a truncated file)")
                    yield (np.frombuffer(data, np.uint8).reshape(count, *shape[1:]),
                           times[start:start + count].astype(np.float64))
    except VideoFormatError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise _unreadable_npz(path, error) from None


def _npy_header(member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from the header of a ``.npy`` stream."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    version = np.lib.format.read_magic(member)
    if version not in readers:
        raise ValueError(f"an .npy of version {version} is not read here")
    return readers[version](member)


def _unreadable_npz(path: Path, error: Exception) -> VideoFileError:
    return VideoFileError(f"cannot read panorama video {path}: {error}; expected a .npz "
                          "with frames, times and fps")


def _check_npz_shapes(path: Path, frames: tuple[int, ...], times: tuple[int, ...]) -> None:
    if len(frames) != 4 or frames[-1] != 3 or len(times) != 1 or times[0] != frames[0]:
        raise VideoFormatError(f"{path}: frames {frames} and times {times} do not fit "
                               "(frames must be (T, H, W, 3), one time per frame)")
