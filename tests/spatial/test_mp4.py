"""360° MP4 writing: the box editor on hand-made files, then real files through ffmpeg.

The box tests build MP4 files byte by byte here (independently of the module's writer), tag
them, and check the boxes read back and that every chunk offset still points at the same
media bytes. The ffmpeg tests check what ffprobe reports and that the decoded audio keeps the
AmbiX channel order; they skip when ffmpeg is not installed (scripts/setup.sh installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere import AudioFormatError, ConfigError, ResourceNotFoundError, SwanSphereError
from swansphere.spatial import direction, encode, erp_to_direction, mp4
from swansphere.spatial.mp4 import (
    AmbisonicAudio,
    SphericalVideo,
    VideoFileError,
    VideoFormatError,
    inject_spatial_metadata,
    read_spatial_metadata,
    write_360_mp4,
)

FFMPEG = shutil.which("ffmpeg") and shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(not FFMPEG, reason="needs ffmpeg and ffprobe "
                                  "(apt-get install ffmpeg, or bash scripts/setup.sh as root)")
DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLE_RATE = 16000
SMALL = (64, 32)  # panorama size that keeps the H.264 encoding fast


# --- MP4 files built by hand -----------------------------------------------------------------

def box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(kind: bytes, *parts: bytes) -> bytes:
    return box(kind, bytes(4), *parts)


def chunk_table(kind: bytes, offsets: list[int]) -> bytes:
    width = "I" if kind == b"stco" else "Q"
    return full(kind, struct.pack(f">I{len(offsets)}{width}", len(offsets), *offsets))


def trak(track_id: int, handler: bytes, entry: bytes, table: bytes) -> bytes:
    tkhd = full(b"tkhd", struct.pack(">III", 0, 0, track_id), bytes(68))
    hdlr = full(b"hdlr", bytes(4), handler, bytes(12), b"handler\0")
    stsd = full(b"stsd", struct.pack(">I", 1), entry)
    return box(b"trak", tkhd, box(b"mdia", hdlr, box(b"minf", box(b"stbl", stsd, table))))


AUDIO_ENTRY = box(b"mp4a", bytes(6), struct.pack(">HII", 1, 0, 0),
                  struct.pack(">HHHHI", 4, 16, 0, 0, 48000 << 16), box(b"esds", bytes(23)))
VIDEO_ENTRY = box(b"avc1", bytes(6), struct.pack(">H", 1), bytes(16),
                  struct.pack(">HH", 64, 32), bytes(50), box(b"avcC", bytes(30)),
                  box(b"pasp", struct.pack(">II", 1, 1)))
MEDIA = bytes(range(256)) * 8
AUDIO_CHUNKS, VIDEO_CHUNKS = (0, 1000), (512, 1536)


def handmade_mp4(path: Path, *, moov_first: bool) -> Path:
    """ftyp, moov (audio track with stco, video track with co64) and mdat, in either order."""
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2mp41")

    def moov(media_start: int) -> bytes:
        return box(b"moov", full(b"mvhd", bytes(96)),
                   trak(1, b"soun", AUDIO_ENTRY,
                        chunk_table(b"stco", [media_start + o for o in AUDIO_CHUNKS])),
                   trak(2, b"vide", VIDEO_ENTRY,
                        chunk_table(b"co64", [media_start + o for o in VIDEO_CHUNKS])))

    mdat = box(b"mdat", MEDIA)
    size = len(moov(0))
    if moov_first:
        data = ftyp + moov(len(ftyp) + size + 8) + mdat
    else:
        data = ftyp + mdat + moov(len(ftyp) + 8)
    path.write_bytes(data)
    return path


def walk(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of every box along the paths the tests need."""
    end = len(data) if end is None else end
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        yield kind, start + 8, start + size
        skip = {b"moov": 0, b"trak": 0, b"mdia": 0, b"minf": 0, b"stbl": 0, b"stsd": 8,
                b"mp4a": 28, b"avc1": 78, b"sv3d": 0, b"proj": 0}.get(kind)
        if skip is not None:
            yield from walk(data, start + 8 + skip, start + size)
        start += size


def chunk_offsets(data: bytes) -> list[list[int]]:
    tables = []
    for kind, begin, _ in walk(data):
        if kind in (b"stco", b"co64"):
            (count,) = struct.unpack_from(">I", data, begin + 4)
            width = "I" if kind == b"stco" else "Q"
            tables.append(list(struct.unpack_from(f">{count}{width}", data, begin + 8)))
    return tables


def assert_chunks_point_at_media(data: bytes) -> None:
    audio, video = chunk_offsets(data)
    for offsets, chunks in ((audio, AUDIO_CHUNKS), (video, VIDEO_CHUNKS)):
        for offset, chunk in zip(offsets, chunks, strict=True):
            assert data[offset:offset + 16] == MEDIA[chunk:chunk + 16]


@pytest.mark.parametrize("moov_first", [False, True], ids=["moov-last", "moov-first"])
def test_tagging_keeps_every_chunk_offset_valid(tmp_path, moov_first):
    path = handmade_mp4(tmp_path / "clip.mp4", moov_first=moov_first)
    assert_chunks_point_at_media(path.read_bytes())
    before = read_spatial_metadata(path)
    assert before.ambisonic is None and before.spherical is None
    inject_spatial_metadata(path)
    data = path.read_bytes()
    assert_chunks_point_at_media(data)
    shift = chunk_offsets(data)[0][0] - chunk_offsets(handmade_mp4(
        tmp_path / "again.mp4", moov_first=moov_first).read_bytes())[0][0]
    assert (shift > 0) == moov_first  # offsets move only when moov precedes mdat
    metadata = read_spatial_metadata(path)
    assert [(t.track_id, t.handler, t.codec) for t in metadata.tracks] == [
        (1, "soun", "mp4a"), (2, "vide", "avc1")]
    assert metadata.ambisonic == AmbisonicAudio()
    assert metadata.spherical == SphericalVideo()


def test_box_layout_follows_the_rfcs(tmp_path):
    data = inject_spatial_metadata(handmade_mp4(tmp_path / "clip.mp4", moov_first=False)
                                   ).read_bytes()
    kinds = [kind for kind, _, _ in walk(data)]
    audio_entry = kinds[kinds.index(b"mp4a") + 1:kinds.index(b"stco")]
    assert audio_entry == [b"esds", b"SA3D"]
    video_entry = kinds[kinds.index(b"avc1") + 1:kinds.index(b"co64")]
    assert video_entry == [b"avcC", b"st3d", b"sv3d", b"svhd", b"proj", b"prhd", b"equi",
                           b"pasp"]  # spherical boxes before the optional pasp
    payload = {kind: data[begin:end] for kind, begin, end in walk(data)}
    assert payload[b"SA3D"] == struct.pack(">BBIBBI4I", 0, 0, 1, 0, 0, 4, 0, 1, 2, 3)
    assert payload[b"st3d"] == bytes(5)  # FullBox, stereo_mode 0 (monoscopic)
    assert payload[b"prhd"] == bytes(16) and payload[b"equi"] == bytes(20)
    assert payload[b"svhd"][4:] == f"swansphere {mp4.swansphere.__version__}\0".encode()


def test_tagging_twice_gives_the_same_file(tmp_path):
    path = handmade_mp4(tmp_path / "clip.mp4", moov_first=True)
    once = inject_spatial_metadata(path, tmp_path / "once.mp4").read_bytes()
    twice = inject_spatial_metadata(tmp_path / "once.mp4", tmp_path / "twice.mp4").read_bytes()
    assert once == twice
    assert path.read_bytes() != once  # output= leaves the source untouched


def test_only_the_requested_tracks_are_tagged(tmp_path):
    path = handmade_mp4(tmp_path / "clip.mp4", moov_first=False)
    metadata = read_spatial_metadata(inject_spatial_metadata(path, spherical=None))
    assert metadata.ambisonic == AmbisonicAudio() and metadata.spherical is None


@pytest.mark.parametrize(("version", "extra"), [(1, 16), (2, 36)])
def test_quicktime_sound_descriptions_are_understood(tmp_path, version, extra):
    """Version 1 and 2 sound descriptions (``.mov`` style) have longer fixed fields."""
    entry = box(b"lpcm", bytes(6), struct.pack(">HHHI", 1, version, 0, 0), bytes(12),
                bytes(extra), box(b"chan", bytes(12)))
    data = (box(b"ftyp", b"qt  ") + box(b"mdat", MEDIA[:64])
            + box(b"moov", trak(7, b"soun", entry, chunk_table(b"stco", [24]))))
    path = tmp_path / "clip.mov"
    path.write_bytes(data)
    inject_spatial_metadata(path, spherical=None)
    (track,) = read_spatial_metadata(path).tracks
    assert (track.track_id, track.codec, track.ambisonic) == (7, "lpcm", AmbisonicAudio())
    tagged = path.read_bytes()
    assert tagged.index(b"chan") < tagged.index(b"SA3D")  # appended after the existing boxes
    moov_start = data.index(b"moov") - 4
    assert tagged[:moov_start] == data[:moov_start]  # ftyp and mdat untouched


@settings(max_examples=20, deadline=None, derandomize=True)
@given(yaw=st.floats(-180, 180), pitch=st.floats(-90, 90), roll=st.floats(-180, 180),
       top=st.floats(0, 0.49), bottom=st.floats(0, 0.49), left=st.floats(0, 0.49),
       right=st.floats(0, 0.49), stereo=st.sampled_from(["monoscopic", "top-bottom",
                                                         "left-right", "right-left"]),
       channel_map=st.permutations([0, 1, 2, 3]), moov_first=st.booleans())
def test_metadata_round_trips(yaw, pitch, roll, top, bottom, left, right, stereo, channel_map,
                              moov_first):
    spherical = SphericalVideo(pose=(yaw, pitch, roll), bounds=(top, bottom, left, right),
                               stereo_mode=stereo, metadata_source="tést")
    ambisonic = AmbisonicAudio(channel_map=tuple(channel_map))
    with tempfile.TemporaryDirectory() as folder:
        path = handmade_mp4(Path(folder) / "clip.mp4", moov_first=moov_first)
        inject_spatial_metadata(path, ambisonic=ambisonic, spherical=spherical)
        metadata = read_spatial_metadata(path)
        assert_chunks_point_at_media(path.read_bytes())
    assert metadata.ambisonic == ambisonic
    read = metadata.spherical
    assert (read.stereo_mode, read.metadata_source) == (stereo, "tést")
    np.testing.assert_allclose(read.pose, (yaw, pitch, roll), atol=2**-16)
    np.testing.assert_allclose(read.bounds, (top, bottom, left, right), atol=2**-31)


def test_chunk_tables_widen_to_64_bits_when_offsets_overflow():
    offsets = [100, 2**32 - 20]  # the second ends up past 4 GiB once moov grows
    stbl = box(b"stbl", chunk_table(b"stco", offsets))
    moov_bytes = box(b"moov", box(b"trak", box(b"mdia", box(b"minf", stbl))))
    (moov,) = mp4._parse(moov_bytes)
    moov.children[0].child(b"mdia", b"minf", b"stbl").children.append(
        mp4._Box(b"free", bytes(40)))
    encoded = mp4._relocate(moov, moov_end=50, old_size=len(moov_bytes))
    growth = len(encoded) - len(moov_bytes)
    assert growth == 48 + 4 * len(offsets)  # the free box, then 4 more bytes per offset
    assert [kind for kind, _, _ in walk(encoded) if kind in (b"stco", b"co64")] == [b"co64"]
    assert chunk_offsets(encoded) == [[o + growth for o in offsets]]


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "no such file"),
    (b"garbage, not an mp4 file", "not an MP4 file or is truncated"),
    (box(b"ftyp", b"isom") + box(b"mdat", bytes(8)), "0 moov boxes"),
    (box(b"moov", full(b"mvhd", bytes(96))) * 2, "2 moov boxes"),
    (box(b"moov", full(b"mvhd", bytes(96)))[:-10], "truncated"),
    (box(b"moov", full(b"mvhd", bytes(96))) + box(b"moof", bytes(8)), "fragmented MP4"),
    (box(b"moov", full(b"mvhd", bytes(96))), "no audio track to tag"),
], ids=["missing", "garbage", "no-moov", "two-moovs", "truncated", "fragmented", "no-tracks"])
def test_unusable_files_raise_one_clear_line(tmp_path, content, fragment):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoFileError) as error:
        inject_spatial_metadata(path)
    assert fragment in str(error.value) and "\n" not in str(error.value)
    assert isinstance(error.value, SwanSphereError)
    assert sorted(os.listdir(tmp_path)) == ([] if content is None else ["clip.mp4"])


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"ambisonic": AmbisonicAudio(channel_map=(0, 1, 1, 3))}, "permutes 0..3"),
    ({"ambisonic": AmbisonicAudio(normalization="N3D")}, "normalization 'N3D'"),
    ({"spherical": SphericalVideo(projection="cubemap")}, "projection 'cubemap'"),
    ({"spherical": SphericalVideo(pose=(0, 95, 0))}, "pose pitch"),
    ({"spherical": SphericalVideo(bounds=(0.6, 0.6, 0, 0))}, "crop the whole frame"),
])
def test_metadata_that_cannot_be_written(tmp_path, kwargs, fragment):
    path = handmade_mp4(tmp_path / "clip.mp4", moov_first=False)
    original = path.read_bytes()
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        inject_spatial_metadata(path, **kwargs)
    assert path.read_bytes() == original


def test_grid_panorama_marks_the_front_and_the_horizon():
    width, height = 360, 180
    image = mp4._grid_panorama(width, height)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8
    front = np.flatnonzero((image == (255, 150, 40)).all(axis=-1).all(axis=0))
    azimuth, _ = erp_to_direction(front, 0, width, height)
    assert front.size and torch.all(azimuth.abs() <= 0.5)
    horizon = np.flatnonzero((image[:, 10] == (200, 200, 200)).all(axis=-1))
    _, elevation = erp_to_direction(0, horizon, width, height)
    assert horizon.size and torch.all(elevation.abs() <= 0.5)


# --- real files through ffmpeg ---------------------------------------------------------------

def ffprobe_streams(path: Path) -> dict[str, dict]:
    result = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                             str(path)], capture_output=True, text=True, check=True)
    assert result.stderr == ""  # ffmpeg's own parser finds nothing wrong with the boxes
    return {s["codec_type"]: s for s in json.loads(result.stdout)["streams"]}


def decode(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The audio track as float32 ``(4, n)``, resampled to ``sample_rate``."""
    result = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0",
                             "-ar", str(sample_rate), "-f", "f32le", "-"],
                            capture_output=True, check=True)
    return np.frombuffer(result.stdout, np.float32).reshape(-1, 4).T.copy()


def source(azimuth: float, elevation: float, seconds: float = 0.5) -> torch.Tensor:
    noise = torch.randn(int(seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(0))
    return encode(0.1 * noise, azimuth, elevation)


def spherical_mapping(video: dict) -> dict:
    (mapping,) = [s for s in video.get("side_data_list", [])
                  if s["side_data_type"] == "Spherical Mapping"]
    return mapping


@needs_ffmpeg
def test_ffprobe_reports_ambisonic_audio_and_an_equirectangular_video(tmp_path):
    path = write_360_mp4(tmp_path / "scene.mp4", source(90, 0, seconds=1.3), SAMPLE_RATE,
                         panorama_size=SMALL)
    streams = ffprobe_streams(path)
    audio, video = streams["audio"], streams["video"]
    assert (audio["codec_name"], audio["channels"], audio["channel_layout"]) == (
        "opus", 4, "ambisonic 1")
    assert spherical_mapping(video)["projection"] == "equirectangular"
    assert {"side_data_type": "Stereo 3D", "type": "2D", "inverted": 0} in (
        video["side_data_list"])
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", *SMALL)
    assert float(audio["duration"]) == pytest.approx(1.3, abs=0.03)
    # the still runs at the rate that makes 2 frames last exactly as long as the audio
    assert (float(video["duration"]), int(video["nb_frames"])) == (pytest.approx(1.3), 2)
    assert sorted(os.listdir(tmp_path)) == ["scene.mp4"]  # no temporary files left


@needs_ffmpeg
@pytest.mark.parametrize(("codec", "faststart"), [("opus", True), ("aac", False),
                                                  ("alac", True)])
def test_decoded_audio_keeps_the_ambix_channel_order(tmp_path, codec, faststart):
    foa = source(60, 30)  # W, Y, Z, X = s·(1, 0.75, 0.5, 0.43): any swap moves the direction
    path = write_360_mp4(tmp_path / "scene.mp4", foa, SAMPLE_RATE, audio_codec=codec,
                         faststart=faststart, panorama_size=SMALL)
    metadata = read_spatial_metadata(path)
    assert metadata.ambisonic == AmbisonicAudio() and metadata.spherical == SphericalVideo()
    streams = ffprobe_streams(path)
    assert streams["audio"]["codec_name"] == codec
    assert spherical_mapping(streams["video"])["projection"] == "equirectangular"
    decoded = decode(path)
    w_in, w_out = foa[0].numpy(), decoded[0, :foa.shape[-1]]
    assert np.corrcoef(w_in, w_out)[0, 1] > 0.9  # in time: no delay, no padding in front
    azimuth, elevation = direction(decoded)
    assert float(azimuth) == pytest.approx(60, abs=2) and float(elevation) == pytest.approx(
        30, abs=2)
    w = decoded[0]
    for channel, gain in zip(decoded[1:], (0.75, 0.5, 0.433), strict=True):
        assert np.dot(channel, w) / np.dot(w, w) == pytest.approx(gain, abs=0.03)
    if codec == "alac":  # lossless, 24-bit
        assert decoded.shape == foa.shape
        np.testing.assert_allclose(decoded, foa.numpy(), atol=2**-22)


@needs_ffmpeg
def test_a_source_on_the_left_lands_in_y(tmp_path):
    path = write_360_mp4(tmp_path / "left.mp4", source(90, 0), SAMPLE_RATE, audio_codec="aac",
                         panorama_size=SMALL)
    w, y, z, x = decode(path)
    energy = [float(np.dot(c, c)) for c in (w, y, z, x)]
    assert np.dot(w, y) > 0.95 * np.sqrt(energy[0] * energy[1])  # Y in phase with W
    assert max(energy[2], energy[3]) < 0.01 * energy[1]


@needs_ffmpeg
def test_frames_are_held_to_the_end_of_the_audio(tmp_path):
    frames = np.zeros((3, 32, 64, 3), np.uint8)
    frames[:, :, :32] = 255  # left half white: the ERP's left hemisphere
    path = write_360_mp4(tmp_path / "scene.mp4", source(0, 0, seconds=1.0), SAMPLE_RATE,
                         torch.from_numpy(frames), fps=10)
    video = ffprobe_streams(path)["video"]
    assert (video["width"], video["height"]) == (64, 32)
    assert float(video["duration"]) == pytest.approx(1.0, abs=0.11)
    assert int(video["nb_frames"]) == pytest.approx(10, abs=1)
    last = subprocess.run(["ffmpeg", "-v", "error", "-sseof", "-0.1", "-i", str(path),
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                          capture_output=True, check=True).stdout
    image = np.frombuffer(last, np.uint8).reshape(32, 64)
    assert image[:, :28].mean() > 200 and image[:, 36:].mean() < 50


@needs_ffmpeg
def test_a_video_file_can_be_the_picture(tmp_path):
    picture = write_360_mp4(tmp_path / "picture.mp4", source(0, 0), SAMPLE_RATE,
                            panorama_size=SMALL)
    path = write_360_mp4(tmp_path / "scene.mp4", source(-90, 0, seconds=0.8), SAMPLE_RATE,
                         picture, fps=25, audio_codec="aac")
    streams = ffprobe_streams(path)
    assert (streams["video"]["width"], streams["video"]["height"]) == SMALL
    assert float(streams["video"]["duration"]) == pytest.approx(0.8, abs=0.05)
    assert read_spatial_metadata(path).spherical == SphericalVideo()


@needs_ffmpeg
def test_a_video_file_of_odd_size_is_made_even(tmp_path):
    odd = tmp_path / "odd.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=red:s=65x33:d=0.4",
                    "-c:v", "libx264", "-pix_fmt", "yuv444p", str(odd)], check=True)
    path = write_360_mp4(tmp_path / "scene.mp4", source(0, 0), SAMPLE_RATE, odd)
    video = ffprobe_streams(path)["video"]
    assert (video["width"], video["height"], video["pix_fmt"]) == (64, 32, "yuv420p")


@pytest.mark.parametrize(("frames", "error", "fragment"), [
    (np.zeros((2, 31, 64, 3), np.uint8), VideoFormatError, "even width and height"),
    (np.zeros((2, 32, 64, 3), np.float32), VideoFormatError, "uint8 RGB"),
    (np.zeros((2, 3, 32, 64), np.uint8), VideoFormatError, "(frames, height, width, 3)"),
    (np.zeros((0, 32, 64, 3), np.uint8), VideoFormatError, "at least one frame"),
    ("no-such-video.mp4", VideoFileError, "no such video file"),
])
def test_bad_frames(tmp_path, monkeypatch, frames, error, fragment):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error) as caught:
        write_360_mp4(tmp_path / "scene.mp4", source(0, 0), SAMPLE_RATE, frames)
    assert fragment in str(caught.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"foa": torch.zeros(2, 100)}, AudioFormatError, "4, samples)"),
    ({"foa": torch.full((4, 100), float("nan"))}, AudioFormatError, "NaN"),
    ({"sample_rate": 0}, AudioFormatError, "sample_rate"),
    ({"audio_codec": "mp3"}, ConfigError, "unknown audio codec 'mp3'"),
    ({"fps": 0.0}, ConfigError, "fps"),
    ({"path": "missing-folder/scene.mp4"}, VideoFileError, "does not exist"),
])
def test_bad_arguments(tmp_path, monkeypatch, kwargs, error, fragment):
    monkeypatch.chdir(tmp_path)
    arguments = {"path": "scene.mp4", "foa": source(0, 0), "sample_rate": SAMPLE_RATE,
                 **kwargs}
    with pytest.raises(error) as caught:
        write_360_mp4(**arguments)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_missing_ffmpeg_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mp4.shutil, "which", lambda name: None)
    with pytest.raises(ResourceNotFoundError, match=r"apt-get install ffmpeg"):
        write_360_mp4(tmp_path / "scene.mp4", source(0, 0), SAMPLE_RATE)


@needs_ffmpeg
def test_a_failed_encode_leaves_the_old_file_and_no_temporaries(tmp_path):
    path = tmp_path / "scene.mp4"
    path.write_bytes(b"previous")
    with pytest.raises(VideoFileError) as error:
        write_360_mp4(path, source(0, 0), SAMPLE_RATE, preset="no-such-preset",
                      panorama_size=SMALL)
    assert "ffmpeg could not write" in str(error.value) and "\n" not in str(error.value)
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["scene.mp4"]


@needs_ffmpeg
def test_doc_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "video.md").read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "video.md example", "exec"), namespace)
    assert "ambisonic" in capsys.readouterr().out
