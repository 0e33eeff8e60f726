"""Pictures of the sound field: a source encoded at a known direction must light up, and be
tracked, at that direction's pixel of the panorama (centre: front, left quarter: +90°)."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch

from swansphere.cli import main
from swansphere.spatial import encode, read_panorama_video, source_signal, write_foa
from swansphere.spatial.video_io import write_panorama_npz

pytest.importorskip("matplotlib", reason="needs matplotlib (pip install 'swansphere[plot]')")

from matplotlib import colormaps
from matplotlib.image import imread

from swansphere.spatial.plot import (
    HEAT_COLORMAP,
    map_figure,
    overlay_video,
    save_figure,
)

SAMPLE_RATE = 8000
DIRECTIONS = [(0.0, 0.0), (90.0, 0.0), (-90.0, 30.0), (150.0, -40.0), (-135.0, 55.0)]
needs_ffmpeg = pytest.mark.skipif(
    not (shutil.which("ffmpeg") and shutil.which("ffprobe")),
    reason="needs ffmpeg and ffprobe (apt-get install ffmpeg, or bash scripts/setup.sh as root)")


def _noise(seconds: float) -> torch.Tensor:
    return source_signal("noise", seconds, SAMPLE_RATE, generator=torch.Generator().manual_seed(0))


def _drawn(figure, path):
    """The saved picture (RGB floats, rows from the top) and a function from a direction to
    its pixel, from the panorama axes' box and the ERP formulas alone."""
    save_figure(figure, path)
    picture = imread(path)[..., :3]
    box = figure.axes[0].get_window_extent()
    height = picture.shape[0]

    def pixel(azimuth: float, elevation: float) -> tuple[float, float]:
        column = box.x0 + (0.5 - azimuth / 360.0) * box.width
        row = height - box.y1 + (0.5 - elevation / 180.0) * box.height
        return column, row

    inside = np.zeros(picture.shape[:2], bool)
    inside[round(height - box.y1) + 2:round(height - box.y0) - 2,
           round(box.x0) + 2:round(box.x1) - 2] = True
    return picture, pixel, inside


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    rows, columns = np.nonzero(mask)
    assert len(rows), "nothing of that colour in the panorama"
    return columns.mean() + 0.5, rows.mean() + 0.5


def _near(found: tuple[float, float], expected: tuple[float, float], pixels: float) -> bool:
    return abs(found[0] - expected[0]) <= pixels and abs(found[1] - expected[1]) <= pixels


@pytest.mark.parametrize(("azimuth", "elevation"), DIRECTIONS)
def test_the_maps_maximum_sits_at_the_sources_pixel(tmp_path, azimuth, elevation):
    foa = encode(_noise(0.5), azimuth, elevation)
    figure = map_figure(foa, SAMPLE_RATE, track=False)
    picture, pixel, inside = _drawn(figure, tmp_path / "map.png")
    loudest = np.array(colormaps[HEAT_COLORMAP](1.0)[:3])
    hottest = inside & (np.abs(picture - loudest).max(axis=-1) < 2 / 255)
    found, expected = _centroid(hottest), pixel(azimuth, elevation)
    assert _near(found, expected, pixels=4), (found, expected)


@pytest.mark.parametrize(("azimuth", "elevation"), DIRECTIONS)
def test_the_track_is_drawn_at_the_sources_pixel(tmp_path, azimuth, elevation):
    foa = encode(_noise(0.5), azimuth, elevation)
    picture, pixel, inside = _drawn(map_figure(foa, SAMPLE_RATE), tmp_path / "map.png")
    track = inside & (picture[..., 2] > 0.9) & (picture[..., :2].sum(axis=-1) > 0.9)
    found, expected = _centroid(track), pixel(azimuth, elevation)
    assert _near(found, expected, pixels=2), (found, expected)


def test_a_moving_source_is_tracked_from_cyan_to_magenta(tmp_path):
    signal = _noise(2.0)
    path = torch.linspace(0.0, 1.0, signal.shape[-1], dtype=torch.float64)
    foa = encode(signal, 90.0 - 150.0 * path, 20.0 - 40.0 * path)
    picture, pixel, inside = _drawn(map_figure(foa, SAMPLE_RATE), tmp_path / "map.png")
    first, last = (_nearest_colour(picture, inside, colour) for colour in ((0, 1, 1), (1, 0, 1)))
    assert _near(first, pixel(86.0, 19.0), pixels=6), first  # the first frame, 0 to 0.1 s
    assert _near(last, pixel(-56.0, -19.0), pixels=6), last  # the last one, 1.9 to 2 s


def _nearest_colour(picture: np.ndarray, inside: np.ndarray, colour) -> tuple[float, float]:
    """Where the panorama comes closest to ``colour`` (the first or last track marker)."""
    distance = np.where(inside, np.abs(picture - np.array(colour)).sum(axis=-1), np.inf)
    return _centroid(distance <= distance.min() + 0.03)


def test_silence_is_drawn_black_without_a_track(tmp_path):
    figure = map_figure(torch.zeros(4, SAMPLE_RATE), SAMPLE_RATE)
    picture, _, inside = _drawn(figure, tmp_path / "silence.png")
    black = np.array(colormaps[HEAT_COLORMAP](0.0)[:3])
    distance = np.abs(picture - black).max(axis=-1)
    assert (distance[inside] < 0.5).all()  # black, but for the faint grid lines
    assert np.median(distance[inside]) < 2 / 255


def test_spatial_map_writes_the_map_and_the_timeline(tmp_path, capsys):
    wav = tmp_path / "left.wav"
    write_foa(wav, encode(_noise(0.5), 90.0, 0.0), SAMPLE_RATE)
    code = main(["spatial", "map", str(wav), "-o", str(tmp_path / "map.png"),
                 "--timeline", str(tmp_path / "track.png")])
    assert code == 0, capsys.readouterr().err
    drawn = imread(tmp_path / "map.png")
    expected = imread(save_figure(map_figure(encode(_noise(0.5), 90.0, 0.0), SAMPLE_RATE,
                                             title="left.wav"), tmp_path / "same.png"))
    assert np.array_equal(drawn, expected)
    assert imread(tmp_path / "track.png").shape[:2] == drawn.shape[:2] == (440, 800)


def test_without_matplotlib_the_commands_say_which_extra_to_install(tmp_path, capsys,
                                                                     monkeypatch):
    wav = tmp_path / "left.wav"
    write_foa(wav, encode(_noise(0.2), 90.0, 0.0), SAMPLE_RATE)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    code = main(["spatial", "map", str(wav), "-o", str(tmp_path / "map.png")])
    error = capsys.readouterr().err
    assert code == 2 and "pip install 'swansphere[plot]'" in error
    assert len(error.strip().splitlines()) == 1 and not (tmp_path / "map.png").exists()


def _grey_video(tmp_path, frames: int = 8, fps: float = 4.0):
    video = np.full((frames, 64, 128, 3), 128, np.uint8)
    return write_panorama_npz(tmp_path / "grey.npz", video, np.arange(frames) / fps, fps)


def _hot_spot(frame: np.ndarray) -> tuple[float, float]:
    """Centre of the pixels tinted most away from the grey they were: the middle of their
    rows (a spot widens towards a pole) and the circular mean of their columns (a spot
    near the back wraps from one edge to the other)."""
    tint = np.abs(frame.astype(np.float64) - 128).sum(axis=-1)
    rows, columns = np.nonzero(tint >= 0.98 * tint.max())
    width = frame.shape[1]
    angles = 2 * np.pi * (columns + 0.5) / width
    column = np.angle(np.exp(1j * angles).mean()) % (2 * np.pi) * width / (2 * np.pi)
    return column, (rows.min() + rows.max() + 1) / 2


def _erp_pixel(azimuth: float, elevation: float, width: int = 128, height: int = 64):
    return (0.5 - azimuth / 360.0) * width, (0.5 - elevation / 180.0) * height


@pytest.mark.parametrize(("azimuth", "elevation"), DIRECTIONS)
def test_the_overlay_heats_the_sources_pixel_of_every_frame(tmp_path, azimuth, elevation):
    foa = encode(_noise(2.0), azimuth, elevation)
    frames, fps = overlay_video(foa, SAMPLE_RATE, _grey_video(tmp_path))
    assert frames.shape == (8, 64, 128, 3) and fps == 4.0
    for frame in frames:
        assert _near(_hot_spot(frame), _erp_pixel(azimuth, elevation), pixels=3)


def test_the_overlay_follows_a_moving_source_frame_by_frame(tmp_path):
    signal = _noise(2.0)
    path = torch.linspace(0.0, 1.0, signal.shape[-1], dtype=torch.float64)
    foa = encode(signal, 90.0 - 180.0 * path, 0.0)  # left to right in 2 s
    frames, _ = overlay_video(foa, SAMPLE_RATE, _grey_video(tmp_path))
    first, last = _hot_spot(frames[0]), _hot_spot(frames[-1])
    assert _near(first, _erp_pixel(90.0 - 180.0 * 0.0625, 0.0), pixels=4)  # mid of 1st frame
    assert _near(last, _erp_pixel(90.0 - 180.0 * 0.9375, 0.0), pixels=4)


def test_the_overlay_stops_with_the_audio_and_quiet_frames_stay_untouched(tmp_path):
    foa = torch.cat([encode(_noise(1.0), 0.0, 0.0), torch.zeros(4, SAMPLE_RATE // 2)], dim=-1)
    frames, _ = overlay_video(foa, SAMPLE_RATE, _grey_video(tmp_path, frames=12))
    assert len(frames) == 6  # 1.5 s of audio at 4 fps, not the video's 3 s
    assert (frames[4:] == 128).all() and not (frames[:4] == 128).all()


@needs_ffmpeg
def test_spatial_overlay_writes_a_360_video_with_the_heat_where_the_sound_is(tmp_path, capsys):
    wav = tmp_path / "right.wav"
    write_foa(wav, encode(_noise(2.0), -90.0, 0.0), SAMPLE_RATE)
    output = tmp_path / "overlay.mp4"
    code = main(["spatial", "overlay", str(wav), "--video", str(_grey_video(tmp_path)),
                 "-o", str(output)])
    assert code == 0, capsys.readouterr().err
    frames, _, _ = read_panorama_video(output)
    assert frames.shape[1:] == (64, 128, 3) and len(frames) >= 8
    assert _near(_hot_spot(frames[4]), _erp_pixel(-90.0, 0.0), pixels=4)


def test_spatial_overlay_refuses_a_file_that_is_not_a_video(tmp_path, capsys):
    wav = tmp_path / "right.wav"
    write_foa(wav, encode(_noise(0.2), -90.0, 0.0), SAMPLE_RATE)
    code = main(["spatial", "overlay", str(wav), "--video", str(wav),
                 "-o", str(tmp_path / "out.mp4")])
    error = capsys.readouterr().err
    assert code == 2 and "not a readable video" in error and len(error.splitlines()) == 1
