"""Generation from video files read as a stream, and frame arrays that carry their timing
(docs/pipeline.md "Video")."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import torch
from pipeline_helpers import panorama_frames, tiny_pipeline

import swansphere.spatial.video_io as video_io
from swansphere.pipeline import GenerationError

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                  reason="needs ffmpeg (scripts/setup.sh)")


@pytest.fixture(scope="module")
def pipeline():
    return tiny_pipeline()


def mp4(path, frames: np.ndarray, fps: float):
    height, width = frames.shape[1:3]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-c:v", "libx264rgb",
                    "-crf", "0", str(path)], input=frames.tobytes(), check=True)
    return path


@needs_ffmpeg
def test_a_file_streams_to_the_audio_of_its_frames_given_at_once(pipeline, tmp_path):
    """Independent reference: decode the whole file first, hand the frames over at once."""
    video = mp4(tmp_path / "v.mp4", panorama_frames(10), 50.0)  # 0.2 s, twice the model's rate
    streamed = pipeline.generate(video=video, seed=4)
    frames, times, _ = video_io.read_panorama_video(video, fps=pipeline.video_encoder.frame_rate)
    assert len(frames) == 5  # resampled to the conditioner's 25 fps
    offline = pipeline.generate(video=(frames, times), seed=4)
    assert streamed.shape == offline.shape == (4, round(0.2 * pipeline.sample_rate))
    torch.testing.assert_close(streamed, offline, rtol=1e-4, atol=1e-4)


@needs_ffmpeg
def test_a_long_file_is_read_only_as_far_as_the_duration_needs(pipeline, tmp_path, monkeypatch):
    video = mp4(tmp_path / "long.mp4", panorama_frames(100), 25.0)  # 4 s
    pulled = []
    original = video_io.iter_panorama_video

    def counting(*args, **kwargs):
        for frames, times in original(*args, **kwargs):
            pulled.append(len(frames))
            yield frames, times

    monkeypatch.setattr(video_io, "iter_panorama_video", counting)
    audio = pipeline.generate(video=video, duration=0.1, seed=0)
    assert audio.shape[-1] == round(0.1 * pipeline.sample_rate)
    # 0.1 s at 25 fps is 3 frames; a patch may wait for the frame at its end time
    assert sum(pulled) <= 5, pulled


def test_a_frame_array_needs_its_timing(pipeline):
    frames = panorama_frames(3)
    with pytest.raises(GenerationError, match="with their timing"):
        pipeline.generate(video=frames, duration=0.05)
    with pytest.raises(GenerationError, match="fps must be a positive"):
        pipeline.generate(video={"frames": frames, "fps": 0}, duration=0.05)
    with pytest.raises(GenerationError, match="either 'times' or 'fps'"):
        pipeline.generate(video={"frames": frames, "fps": 10, "times": [0, 1, 2]})
    session = pipeline.session(seed=0)
    with pytest.raises(GenerationError, match=r"times \(seconds\) or fps="):
        session.push(frames)


def test_fps_sets_the_timing_of_a_frame_array(pipeline):
    """10 fps frames end at 0.2 s (then one conditioner frame, 1/25 s, as for any video), not
    at 2 / 25 s as the conditioner's own rate would have them, and equal explicit times."""
    frames = panorama_frames(3)
    by_rate = pipeline.generate(video={"frames": frames, "fps": 10.0}, seed=1)
    by_times = pipeline.generate(video=(frames, np.arange(3) / 10.0), seed=1)
    assert by_rate.shape[-1] == round((0.2 + 1 / 25) * pipeline.sample_rate)
    torch.testing.assert_close(by_rate, by_times, rtol=0, atol=0)
    session = pipeline.session(seed=1)
    session.push(frames, fps=10.0)
    pushed = torch.cat([c.audio for c in [*session.pull(), *session.close()]], -1)
    torch.testing.assert_close(pushed, by_times, rtol=1e-4, atol=1e-4)
