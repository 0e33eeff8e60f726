"""Reading panorama videos as a player shows them, as a stream (docs/video.md "Reading")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from swansphere.spatial.mp4 import VideoFileError, VideoFormatError
from swansphere.spatial.video_io import (
    iter_panorama_video,
    probe_video,
    read_panorama_video,
    write_panorama_npz,
)

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                reason="needs ffmpeg and ffprobe (scripts/setup.sh)")


def panorama(frames: int, width: int = 64, height: int = 32) -> np.ndarray:
    """Frames with a red band in the left quarter (azimuth +90°) and a frame counter in
    green, so that orientation and order are both visible."""
    video = np.zeros((frames, height, width, 3), np.uint8)
    video[:, :, width // 8:width // 4, 0] = 255
    for index in range(frames):
        video[index, :, width // 2:, 1] = 30 * index
    return video


def encode(frames: np.ndarray, path: Path, fps: float, *extra: str) -> Path:
    """A lossless MP4 of ``frames`` (RGB), with any extra ffmpeg output options."""
    height, width = frames.shape[1:3]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264rgb",
                    "-crf", "0", *extra, str(path)], input=frames.tobytes(), check=True)
    return path


def tag_rotation(path: Path, degrees: int) -> Path:
    """The same stream with a display-matrix rotation, as phones and cameras write it."""
    tagged = path.with_name(f"rotated-{path.name}")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-c", "copy",
                    "-metadata:s:v:0", f"rotate={degrees}", str(tagged)], check=True)
    return tagged


def test_a_rotation_tag_is_honoured(tmp_path):
    shown = panorama(3)
    # a portrait recording whose rotation tag turns it into the 2:1 panorama a player shows
    coded = np.ascontiguousarray(np.rot90(shown, -1, axes=(1, 2)))
    rotated = tag_rotation(encode(coded, tmp_path / "coded.mp4", 4.0), 90)
    info = probe_video(rotated)
    assert (info.width, info.height, info.rotation) == (64, 32, 90)
    frames, times, fps = read_panorama_video(rotated)
    assert frames.shape == shown.shape and fps == 4.0
    np.testing.assert_array_equal(times, np.arange(3) / 4.0)
    assert np.abs(frames.astype(int) - shown).max() <= 2  # lossless up to colour rounding


def test_non_square_pixels_are_shown_at_their_display_width(tmp_path):
    shown = panorama(2)
    squeezed = np.ascontiguousarray(shown[:, :, ::2])  # 32 x 32 stored, shown 2:1
    video = encode(squeezed, tmp_path / "anamorphic.mp4", 4.0, "-vf", "setsar=2")
    assert (probe_video(video).width, probe_video(video).height) == (64, 32)
    frames, _, _ = read_panorama_video(video)
    assert frames.shape == (2, 32, 64, 3)
    red = frames[0, 16, :, 0] > 128
    assert red[8:16].all() and not red[20:].any()  # still the left quarter


def test_frames_are_decoded_at_the_asked_rate_in_order(tmp_path):
    video = encode(panorama(6), tmp_path / "six.mp4", 6.0)
    pieces = list(iter_panorama_video(video, fps=3.0, chunk_frames=2))
    assert [len(frames) for frames, _ in pieces] == [2, 1]
    times = np.concatenate([t for _, t in pieces])
    np.testing.assert_array_equal(times, np.arange(3) / 3.0)
    counters = [int(f[0, 40, 1]) for frames, _ in pieces for f in frames]
    assert counters == sorted(counters) and len(set(counters)) == 3


def test_stopping_early_stops_ffmpeg(tmp_path, monkeypatch):
    video = encode(panorama(8), tmp_path / "eight.mp4", 8.0)
    started = []
    original = subprocess.Popen

    def spy(*args, **kwargs):
        started.append(original(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", spy)
    stream = iter_panorama_video(video)
    first, _ = next(stream)
    assert first.shape == (1, 32, 64, 3)
    stream.close()
    assert started and started[0].poll() is not None  # killed and reaped, not left running


@pytest.mark.parametrize("chunk_frames", [1, 2, 5])
def test_an_npz_streams_its_stored_frames_without_loading_them_whole(tmp_path, monkeypatch,
                                                                     chunk_frames):
    frames = panorama(3)
    path = write_panorama_npz(tmp_path / "v.npz", frames, np.array([0.0, 0.5, 0.75]), 4.0)
    monkeypatch.setattr(np, "load", None)  # the stream decompresses the frames as it goes
    pieces = list(iter_panorama_video(path, chunk_frames=chunk_frames))
    assert [len(f) for f, _ in pieces] == [len(c) for c in np.array_split(
        frames, range(chunk_frames, 3, chunk_frames))]
    np.testing.assert_array_equal(np.concatenate([f for f, _ in pieces]), frames)
    np.testing.assert_array_equal(np.concatenate([t for _, t in pieces]), [0.0, 0.5, 0.75])
    assert all(f.flags.writeable for f, _ in pieces)  # torch takes them without a warning


def test_a_bad_npz_fails_with_one_line_as_it_is_streamed(tmp_path):
    frames = panorama(2)
    for name, arrays, error in (
            ("no-fps", {"frames": frames, "times": np.zeros(2)}, VideoFileError),
            ("short-times", {"frames": frames, "times": np.zeros(1), "fps": 4.0},
             VideoFormatError),
            ("floats", {"frames": frames.astype(np.float32), "times": np.zeros(2), "fps": 4.0},
             VideoFileError)):
        np.savez_compressed(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(error) as caught:
            list(iter_panorama_video(tmp_path / f"{name}.npz"))
        assert "\n" not in str(caught.value), name
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(VideoFileError, match="cannot read panorama video"):
        list(iter_panorama_video(tmp_path / "junk.npz"))
