"""360° MP4 files with spatial audio: AmbiX FOA plus an equirectangular (ERP) video.

The ``ffmpeg`` binary encodes and muxes the streams. This module then writes the metadata
that makes players and YouTube treat the file as a 360° video with ambisonic sound. It uses its
own small ISO-BMFF box editor, written from the public RFCs:

- Spatial Audio RFC: a ``SA3D`` box in the audio sample entry (``mp4a``, ``Opus``, ``alac``):
  periphonic, order 1, ACN channel ordering, SN3D normalisation, channel map 0 1 2 3;
- Spherical Video V2 RFC: ``st3d`` (monoscopic) and ``sv3d`` (``svhd`` and
  ``proj`` → ``prhd`` + ``equi``) in the video sample entry (``avc1``, ...).

Inserting boxes grows ``moov``. Chunk offsets (``stco``/``co64``) that point past it are
shifted, so files that put ``moov`` first (``faststart``) stay valid. Files are replaced
atomically: a temporary sibling, then one ``os.replace``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import torch

import swansphere
from swansphere.errors import (
    AudioFormatError,
    ConfigError,
    ResourceNotFoundError,
    SwanSphereError,
)
from swansphere.fileio import atomic_file

from .erp import erp_grid
from .foa import validate_foa

PathLike = str | os.PathLike[str]
AudioCodec = Literal["opus", "aac", "alac"]

AUDIO_CODECS: dict[str, tuple[str, ...]] = {
    # channel mapping family 2 (RFC 8486): the Opus stream itself is declared ACN/SN3D
    # Opus runs at 48 kHz: resampling here (not in libopus) keeps the decoded timing exact
    "opus": ("-c:a", "libopus", "-mapping_family", "2", "-ar", "48000"),
    "aac": ("-c:a", "aac"),  # 4.0 layout: what YouTube's spatial-audio upload expects
    "alac": ("-c:a", "alac"),  # lossless (24-bit)
}
"""Audio codecs of :func:`write_360_mp4` and their ffmpeg arguments."""

_LOSSY_BITS_PER_CHANNEL = 128_000
_STEREO_MODES = {0: "monoscopic", 1: "top-bottom", 2: "left-right", 3: "stereo-custom",
                 4: "right-left"}
_PROJECTIONS = {b"equi": "equirectangular", b"cbmp": "cubemap", b"mshp": "mesh"}
_AMBISONIC_TYPES = {0: "periphonic"}
_CHANNEL_ORDERINGS = {0: "ACN"}
_NORMALIZATIONS = {0: "SN3D"}


class VideoFormatError(SwanSphereError, ValueError):
    """Video frames have the wrong shape, dtype or size."""


class VideoFileError(SwanSphereError, OSError):
    """A video file is missing, not an MP4 the box editor understands, or cannot be written."""


# --- metadata values -----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class AmbisonicAudio:
    """Contents of a ``SA3D`` box. The defaults describe AmbiX first-order ambisonics.

    ``channel_map[i]`` is the ACN index carried by channel ``i`` of the track.
    """

    order: int = 1
    ambisonic_type: str = "periphonic"
    channel_ordering: str = "ACN"
    normalization: str = "SN3D"
    channel_map: tuple[int, ...] = (0, 1, 2, 3)


@dataclass(frozen=True, kw_only=True)
class SphericalVideo:
    """Contents of ``st3d`` + ``sv3d``. The defaults describe a full monoscopic ERP panorama.

    ``pose`` is (yaw, pitch, roll) in degrees as the RFC defines them (``prhd``); ``bounds`` is
    the fraction cropped from the (top, bottom, left, right) edges (``equi``).
    """

    projection: str = "equirectangular"
    stereo_mode: str = "monoscopic"
    pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    metadata_source: str = f"swansphere {swansphere.__version__}"


@dataclass(frozen=True, kw_only=True)
class TrackMetadata:
    """The spatial metadata of one track of an MP4 file."""

    track_id: int
    handler: str  # "soun", "vide", ...
    codec: str  # the sample entry type: "mp4a", "Opus", "avc1", ...
    ambisonic: AmbisonicAudio | None = None
    spherical: SphericalVideo | None = None


@dataclass(frozen=True)
class SpatialMetadata:
    """What :func:`read_spatial_metadata` found: one record per track."""

    tracks: tuple[TrackMetadata, ...]

    @property
    def ambisonic(self) -> AmbisonicAudio | None:
        """The ``SA3D`` metadata of the first ambisonic audio track, if any."""
        return next((t.ambisonic for t in self.tracks if t.ambisonic is not None), None)

    @property
    def spherical(self) -> SphericalVideo | None:
        """The ``sv3d`` metadata of the first spherical video track, if any."""
        return next((t.spherical for t in self.tracks if t.spherical is not None), None)


# --- ISO-BMFF boxes --------------------------------------------------------------------------

_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf",
                         b"sv3d", b"proj"})
_STSD_PREFIX = 8  # FullBox version/flags + entry_count
_VISUAL_ENTRY_PREFIX = 78  # SampleEntry (8) + VisualSampleEntry fields (70)
_AUDIO_ENTRY_PREFIX = {0: 28, 1: 44, 2: 64}  # by QuickTime sound description version
# optional boxes that end a VisualSampleEntry: st3d/sv3d go before them (Spherical Video V2)
_TRAILING_VISUAL = frozenset({b"clap", b"pasp", b"colr", b"btrt", b"fiel", b"gama", b"mdcv",
                              b"clli"})
_U32_MAX = 0xFFFFFFFF


@dataclass
class _Box:
    """One box: ``body`` is all of a leaf's payload, or a container's bytes before its
    children (the fixed fields of ``stsd`` and of sample entries)."""

    kind: bytes
    body: bytes = b""
    children: list[_Box] | None = None

    def encode(self) -> bytes:
        payload = self.body + b"".join(child.encode() for child in self.children or ())
        if len(payload) + 8 <= _U32_MAX:
            return struct.pack(">I4s", len(payload) + 8, self.kind) + payload
        return struct.pack(">I4sQ", 1, self.kind, len(payload) + 16) + payload

    def child(self, *path: bytes) -> _Box | None:
        """The first descendant along ``path`` (box types), or None."""
        box: _Box | None = self
        for kind in path:
            box = next((c for c in box.children or () if c.kind == kind), None)
            if box is None:
                return None
        return box

    def walk(self) -> Iterator[_Box]:
        yield self
        for child in self.children or ():
            yield from child.walk()

    def open(self, prefix: int) -> None:
        """Parse a leaf's payload after ``prefix`` bytes as child boxes."""
        if self.children is None:
            if len(self.body) < prefix:
                raise VideoFileError(f"malformed {_name(self.kind)} box ({len(self.body)} bytes)")
            self.body, self.children = self.body[:prefix], _parse(self.body[prefix:])


def _name(kind: bytes) -> str:
    return kind.decode("latin-1")


def _header(data: bytes, position: int, end: int) -> tuple[bytes, int, int]:
    """(type, header size, box size) of the box at ``position``; size 0 runs to ``end``."""
    if end - position < 8:
        raise VideoFileError(f"malformed MP4: {end - position} stray bytes at the end of a box")
    size, kind = struct.unpack_from(">I4s", data, position)
    header = 8
    if size == 1:
        if end - position < 16:
            raise VideoFileError("malformed MP4: a 64-bit box size is cut off")
        (size,), header = struct.unpack_from(">Q", data, position + 8), 16
    elif size == 0:
        size = end - position
    if size < header or position + size > end:
        raise VideoFileError(f"malformed or truncated MP4: box {_name(kind)!r} of {size} bytes "
                             f"at byte {position} does not fit its parent")
    return kind, header, size


def _parse(data: bytes) -> list[_Box]:
    boxes, position = [], 0
    while position < len(data):
        kind, header, size = _header(data, position, len(data))
        box = _Box(kind, data[position + header:position + size])
        if kind in _CONTAINERS:
            box.open(0)
        elif kind == b"stsd":
            box.open(_STSD_PREFIX)
        boxes.append(box)
        position += size
    return boxes


def _full_box(kind: bytes, fields: bytes) -> _Box:
    """A FullBox of version 0 with no flags: the only kind the RFCs define so far."""
    return _Box(kind, bytes(4) + fields)


@dataclass
class _Track:
    trak: _Box
    handler: str
    entries: list[_Box] = field(default_factory=list)

    @property
    def track_id(self) -> int:
        tkhd = self.trak.child(b"tkhd")
        if tkhd is None or len(tkhd.body) < 24:
            return 0
        offset = 20 if tkhd.body[0] == 1 else 12  # after version/flags and the two times
        return struct.unpack_from(">I", tkhd.body, offset)[0]


def _tracks(moov: _Box) -> list[_Track]:
    """Tracks with their sample entries opened as containers (audio and video only)."""
    tracks = []
    for trak in moov.children or ():
        hdlr = trak.child(b"mdia", b"hdlr")
        stsd = trak.child(b"mdia", b"minf", b"stbl", b"stsd")
        if hdlr is None or stsd is None or len(hdlr.body) < 12:
            continue  # not a track (mvhd, udta, ...), or one without sample descriptions
        track = _Track(trak, _name(hdlr.body[8:12]))
        for entry in stsd.children or ():
            if track.handler == "vide":
                entry.open(_VISUAL_ENTRY_PREFIX)
            elif track.handler == "soun":
                version = struct.unpack(">H", entry.body[8:10])[0] if len(entry.body) > 10 else 0
                entry.open(_AUDIO_ENTRY_PREFIX.get(version, 28))
            else:
                continue
            track.entries.append(entry)
        tracks.append(track)
    return tracks


# --- SA3D, st3d, sv3d ------------------------------------------------------------------------

def _code(names: dict[int, str], value: str, what: str) -> int:
    codes = {name: code for code, name in names.items()}
    if value not in codes:
        raise ConfigError(f"{what} {value!r} cannot be written; the RFC defines "
                          f"{', '.join(map(repr, codes))}")
    return codes[value]


def _sa3d_box(audio: AmbisonicAudio) -> _Box:
    channels = (audio.order + 1) ** 2
    if audio.order < 0 or sorted(audio.channel_map) != list(range(channels)):
        raise ConfigError(f"an order-{audio.order} ambisonic track needs a channel_map that "
                          f"permutes 0..{channels - 1}; got {audio.channel_map}")
    header = struct.pack(">BBIBBI", 0, _code(_AMBISONIC_TYPES, audio.ambisonic_type, "type"),
                         audio.order,
                         _code(_CHANNEL_ORDERINGS, audio.channel_ordering, "channel ordering"),
                         _code(_NORMALIZATIONS, audio.normalization, "normalization"), channels)
    return _Box(b"SA3D", header + struct.pack(f">{channels}I", *audio.channel_map))


def _read_sa3d(box: _Box) -> AmbisonicAudio | None:
    body = box.body
    if len(body) < 12 or body[0] != 0:
        return None  # unknown version: ignore, as the RFC asks of readers
    kind, order, ordering, normalization, channels = struct.unpack_from(">BIBBI", body, 1)
    if len(body) < 12 + 4 * channels:
        raise VideoFileError(f"malformed SA3D box: {channels} channels in {len(body)} bytes")
    return AmbisonicAudio(
        order=order, ambisonic_type=_AMBISONIC_TYPES.get(kind, f"unknown ({kind})"),
        channel_ordering=_CHANNEL_ORDERINGS.get(ordering, f"unknown ({ordering})"),
        normalization=_NORMALIZATIONS.get(normalization, f"unknown ({normalization})"),
        channel_map=struct.unpack_from(f">{channels}I", body, 12))


def _checked(value: float, what: str, low: float, high: float) -> float:
    if not low <= value <= high:
        raise ConfigError(f"{what} must lie in [{low}, {high}]; got {value}")
    return value


def _spherical_boxes(video: SphericalVideo) -> list[_Box]:
    _code({0: "equirectangular"}, video.projection, "projection")
    # bounds are 0.32 fixed point, the pose 16.16 fixed point (degrees)
    top, bottom, left, right = (min(round(_checked(b, "equirectangular bounds", 0, 1) * 2**32),
                                    _U32_MAX) for b in video.bounds)
    if top + bottom >= _U32_MAX or left + right >= _U32_MAX:
        raise ConfigError(f"equirectangular bounds crop the whole frame: {video.bounds}")
    pose = (round(_checked(angle, f"pose {name}", -limit, limit) * 2**16)
            for angle, name, limit in zip(video.pose, ("yaw", "pitch", "roll"), (180, 90, 180),
                                          strict=True))
    source = video.metadata_source.encode() + b"\0"
    projection = _Box(b"proj", children=[
        _full_box(b"prhd", struct.pack(">3i", *pose)),
        _full_box(b"equi", struct.pack(">4I", top, bottom, left, right))])
    return [_full_box(b"st3d", bytes([_code(_STEREO_MODES, video.stereo_mode, "stereo mode")])),
            _Box(b"sv3d", children=[_full_box(b"svhd", source), projection])]


def _read_spherical(entry: _Box) -> SphericalVideo | None:
    sv3d = entry.child(b"sv3d")
    proj = sv3d and sv3d.child(b"proj")
    if proj is None:
        return None
    st3d, svhd, prhd = entry.child(b"st3d"), sv3d.child(b"svhd"), proj.child(b"prhd")
    data = next((c for c in proj.children or () if c.kind in _PROJECTIONS), None)
    if data is None:
        return None
    pose = struct.unpack_from(">3i", prhd.body, 4) if prhd and len(prhd.body) >= 16 else (0,) * 3
    bounds = (struct.unpack_from(">4I", data.body, 4) if data.kind == b"equi"
              and len(data.body) >= 20 else (0,) * 4)
    mode = st3d.body[4] if st3d and len(st3d.body) >= 5 else 0
    return SphericalVideo(
        projection=_PROJECTIONS[data.kind],
        stereo_mode=_STEREO_MODES.get(mode, f"unknown ({mode})"),
        pose=tuple(value / 2**16 for value in pose),
        bounds=tuple(value / 2**32 for value in bounds),
        metadata_source=(svhd.body[4:].split(b"\0")[0].decode("utf-8", "replace")
                         if svhd else ""))


def _tag(tracks: list[_Track], ambisonic: AmbisonicAudio | None,
         spherical: SphericalVideo | None) -> None:
    """Replace the spatial boxes of every audio (SA3D) and video (st3d, sv3d) sample entry."""
    for handler, wanted in (("soun", ambisonic), ("vide", spherical)):
        if wanted is not None and not any(t.handler == handler and t.entries for t in tracks):
            kind = "audio" if handler == "soun" else "video"
            raise VideoFileError(f"the file has no {kind} track to tag; mux one first, or "
                                 f"pass {'ambisonic' if kind == 'audio' else 'spherical'}=None")
    for track in tracks:
        for entry in track.entries:
            if track.handler == "soun" and ambisonic is not None:
                entry.children = [c for c in entry.children if c.kind != b"SA3D"]
                entry.children.append(_sa3d_box(ambisonic))
            elif track.handler == "vide" and spherical is not None:
                kept = [c for c in entry.children if c.kind not in (b"st3d", b"sv3d")]
                at = next((i for i, c in enumerate(kept) if c.kind in _TRAILING_VISUAL),
                          len(kept))
                entry.children = kept[:at] + _spherical_boxes(spherical) + kept[at:]


# --- chunk offsets ---------------------------------------------------------------------------

def _offsets(box: _Box) -> list[int]:
    (count,) = struct.unpack_from(">I", box.body, 4)
    width = "I" if box.kind == b"stco" else "Q"
    if len(box.body) < 8 + count * struct.calcsize(width):
        raise VideoFileError(f"malformed {_name(box.kind)} box: {count} entries do not fit")
    return list(struct.unpack_from(f">{count}{width}", box.body, 8))


def _relocate(moov: _Box, moov_end: int, old_size: int) -> bytes:
    """Encode ``moov``, shifting chunk offsets past its old end by its growth.

    An ``stco`` whose offsets no longer fit 32 bits becomes a ``co64``; that grows ``moov``
    again, so the shift is recomputed until no table changes.
    """
    tables = [box for box in moov.walk() if box.kind in (b"stco", b"co64")]
    original = [_offsets(box) for box in tables]
    while True:
        delta = len(moov.encode()) - old_size
        widened = False
        for box, offsets in zip(tables, original, strict=True):
            shifted = [o + delta if o >= moov_end else o for o in offsets]
            if box.kind == b"stco" and shifted and max(shifted) > _U32_MAX:
                box.kind, widened = b"co64", True
            width = "I" if box.kind == b"stco" else "Q"
            box.body = box.body[:4] + struct.pack(f">I{len(shifted)}{width}", len(shifted),
                                                  *shifted)
        if not widened:
            return moov.encode()


# --- files -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _TopBox:
    kind: bytes
    offset: int
    size: int


def _top_level(stream: IO[bytes], path: Path) -> list[_TopBox]:
    """The top-level boxes (headers only: ``mdat`` is never read)."""
    length = os.fstat(stream.fileno()).st_size
    boxes, position = [], 0
    while position < length:
        stream.seek(position)
        head = stream.read(16)
        size, kind = struct.unpack_from(">I4s", head) if len(head) >= 8 else (0, b"")
        if size == 1 and len(head) == 16:
            (size,) = struct.unpack_from(">Q", head, 8)
        elif size == 0 and kind:
            size = length - position
        if size < 8 or position + size > length:
            raise VideoFileError(f"{path} is not an MP4 file or is truncated (box {kind!r} of "
                                 f"{size} bytes at byte {position}); re-create it")
        boxes.append(_TopBox(kind, position, size))
        position += size
    movies = sum(box.kind == b"moov" for box in boxes)
    if movies != 1:
        raise VideoFileError(f"{path} is not a usable MP4 file (it has {movies} moov boxes, "
                             "not 1); give an MP4 written by ffmpeg or a camera")
    if any(box.kind == b"moof" for box in boxes):
        raise VideoFileError(f"{path} is a fragmented MP4; remux it first "
                             "(ffmpeg -i IN -c copy OUT.mp4)")
    return boxes


def _open_file(path: PathLike) -> tuple[Path, IO[bytes]]:
    path = Path(path)
    if not path.is_file():
        raise VideoFileError(f"{path}: no such file; check the path")
    try:
        return path, open(path, "rb")  # the caller closes it
    except OSError as error:
        raise VideoFileError(f"cannot read {path} ({error})") from error


def _read_moov(stream: IO[bytes], boxes: list[_TopBox]) -> tuple[_TopBox, _Box]:
    (top,) = [box for box in boxes if box.kind == b"moov"]
    stream.seek(top.offset)
    (moov,) = _parse(stream.read(top.size))
    return top, moov


def read_spatial_metadata(path: PathLike) -> SpatialMetadata:
    """Read the ``SA3D``, ``st3d`` and ``sv3d`` boxes of every track of an MP4 file.

    Only the headers and ``moov`` are read, never the media data. Raises
    :class:`VideoFileError` for a missing, non-MP4, fragmented or malformed file.
    """
    path, stream = _open_file(path)
    with stream:
        _, moov = _read_moov(stream, _top_level(stream, path))
    tracks = []
    for track in _tracks(moov):
        entry = track.entries[0] if track.entries else None
        sa3d = entry.child(b"SA3D") if entry is not None and track.handler == "soun" else None
        tracks.append(TrackMetadata(
            track_id=track.track_id, handler=track.handler,
            codec=_name(entry.kind) if entry is not None else "",
            ambisonic=_read_sa3d(sa3d) if sa3d is not None else None,
            spherical=(_read_spherical(entry) if entry is not None and track.handler == "vide"
                       else None)))
    return SpatialMetadata(tuple(tracks))


def inject_spatial_metadata(path: PathLike, output: PathLike | None = None, *,
                            ambisonic: AmbisonicAudio | None = AmbisonicAudio(),
                            spherical: SphericalVideo | None = SphericalVideo()) -> Path:
    """Tag an existing MP4: ``SA3D`` on its audio tracks, ``st3d`` + ``sv3d`` on its video.

    Writes ``output`` (default: replaces ``path``) atomically; the media data are copied
    unchanged. Boxes already there are replaced, so tagging twice gives the same file. Pass
    ``ambisonic=None`` or ``spherical=None`` to leave that kind of track alone. Returns the
    path written.
    """
    path, stream = _open_file(path)
    output = path if output is None else Path(output)
    _check_folder(output)
    with stream:
        boxes = _top_level(stream, path)
        top, moov = _read_moov(stream, boxes)
        _tag(_tracks(moov), ambisonic, spherical)
        new_moov = _relocate(moov, top.offset + top.size, top.size)
        with _atomic_output(output) as temporary, open(temporary, "wb") as target:
            for box in boxes:
                if box.kind == b"moov":
                    target.write(new_moov)
                else:
                    _copy_range(stream, target, box.offset, box.size)
    return output


def _copy_range(source: IO[bytes], target: IO[bytes], offset: int, size: int) -> None:
    source.seek(offset)
    while size > 0:
        chunk = source.read(min(size, 1 << 22))
        if not chunk:
            raise VideoFileError("the MP4 file shrank while it was being copied")
        target.write(chunk)
        size -= len(chunk)


def _check_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise VideoFileError(f"cannot write {path}: folder {path.parent} does not exist; "
                             "create it first")


@contextlib.contextmanager
def _atomic_output(path: Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` that replaces it on success; OS errors become
    :class:`VideoFileError`."""
    try:
        with atomic_file(path) as temporary:
            yield temporary
    except VideoFileError:
        raise
    except OSError as error:
        raise VideoFileError(f"cannot write {path} ({error}); check the folder's permissions "
                             "and free space") from error


def _tag_own_file(path: Path) -> None:
    """Tag a file this module just muxed: rewrite ``moov`` in place when it is the last box
    (ffmpeg's default, no copy of the media data), else copy through
    :func:`inject_spatial_metadata` (``faststart`` files)."""
    with open(path, "rb+") as stream:
        boxes = _top_level(stream, path)
        top, moov = _read_moov(stream, boxes)
        if boxes[-1] == top:
            _tag(_tracks(moov), AmbisonicAudio(), SphericalVideo())
            stream.seek(top.offset)
            stream.write(_relocate(moov, top.offset + top.size, top.size))
            stream.truncate()
            return
    inject_spatial_metadata(path)


# --- muxing through ffmpeg -------------------------------------------------------------------

def write_360_mp4(path: PathLike, foa: Any, sample_rate: int, frames: Any = None, *,
                  fps: float | None = None, audio_codec: AudioCodec = "opus",
                  audio_bitrate: int | None = None, crf: int = 20,
                  preset: str = "veryfast", panorama_size: tuple[int, int] = (1024, 512),
                  faststart: bool = False) -> Path:
    """Write AmbiX FOA and an equirectangular video as a 360° MP4 with spatial audio.

    ``foa`` is ``(4, n)`` AmbiX (W, Y, Z, X; SN3D), stored in that channel order. ``frames``
    is the panorama video, one of:

    - a ``(T, H, W, 3)`` uint8 RGB array or tensor at ``fps`` (default 30);
    - a single ``(H, W, 3)`` still;
    - the path of a video file, at its own rate (or ``fps``), scaled to even sizes;
    - None: a still grid panorama of ``panorama_size`` (width, height) that marks the front
      and the horizon.

    Stills default to about 1 frame/s, timed so that the video ends with the audio (a still
    needs no more, and it saves encoding time). The video is H.264 (``crf``, ``preset``);
    its last frame is held until the audio ends, and a longer video is cut at the audio's
    end.

    ``audio_codec``: ``"opus"`` (channel mapping family 2, which ffprobe reports as
    ``ambisonic 1``; decodes at 48 kHz), ``"aac"`` (4.0 layout, the classic YouTube upload
    format) or ``"alac"`` (lossless, 24-bit); ``audio_bitrate`` in bit/s defaults to
    128 kbit/s per channel. ``faststart`` puts the index first, for progressive playback on
    the web.

    The result carries ``SA3D`` (first-order, ACN, SN3D) on the audio and ``st3d`` +
    ``sv3d`` (equirectangular) on the video; check it with :func:`read_spatial_metadata` or
    ``ffprobe``. Written atomically. Raises :class:`~swansphere.errors.ResourceNotFoundError`
    without ffmpeg, :class:`~swansphere.errors.AudioFormatError` for bad audio,
    :class:`VideoFormatError` for bad frames and :class:`VideoFileError` when the file cannot
    be written.
    """
    path = Path(path)
    _check_folder(path)
    foa = validate_foa(foa, ndim=2)
    _check_settings(sample_rate, fps, audio_codec, audio_bitrate)
    video = _video_source(frames, panorama_size)
    binary = require_ffmpeg()
    samples = foa.shape[-1]
    with tempfile.TemporaryDirectory(prefix="swansphere-mp4-") as scratch:
        audio = Path(scratch) / "foa.f32"
        foa.detach().to("cpu", torch.float32).T.contiguous().numpy().tofile(audio)
        with _atomic_output(path) as temporary:
            command = [binary, "-hide_banner", "-loglevel", "error", "-nostats", "-y",
                       "-f", "f32le", "-ar", str(sample_rate), "-ac", "4", "-i", str(audio),
                       *_video_arguments(video, fps, samples, sample_rate, crf, preset),
                       "-map", "0:a:0", "-map", "1:v:0",
                       *_audio_output(audio_codec, audio_bitrate),
                       "-t", f"{samples / sample_rate:.6f}",
                       *(["-movflags", "+faststart"] if faststart else []),
                       "-f", "mp4", str(temporary)]
            _run_ffmpeg(command, video if isinstance(video, np.ndarray) else None, path)
            _tag_own_file(temporary)
    return path


def _check_settings(sample_rate: Any, fps: float | None, audio_codec: str,
                    audio_bitrate: int | None) -> None:
    if not (isinstance(sample_rate, int | np.integer) and sample_rate > 0):
        raise AudioFormatError(f"sample_rate must be a positive integer; got {sample_rate!r}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number; got {fps}")
    if audio_codec not in AUDIO_CODECS:
        raise ConfigError(f"unknown audio codec {audio_codec!r}; choose one of "
                          f"{', '.join(AUDIO_CODECS)}")
    if audio_bitrate is not None and not audio_bitrate > 0:
        raise ConfigError(f"audio_bitrate must be positive (bit/s); got {audio_bitrate}")


def require_ffmpeg() -> str:
    binary = shutil.which("ffmpeg")
    if binary is None:
        raise ResourceNotFoundError("ffmpeg is not installed; install it (apt-get install "
                                    "ffmpeg) to write 360° MP4 files")
    return binary


def _video_source(frames: Any, panorama_size: tuple[int, int]) -> np.ndarray | Path:
    """Frames as a checked ``(T, H, W, 3)`` uint8 array, or the path of a video file."""
    if isinstance(frames, str | os.PathLike):
        source = Path(frames)
        if not source.is_file():
            raise VideoFileError(f"{source}: no such video file; check the path")
        return source
    if frames is None:
        frames = _grid_panorama(*panorama_size)
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise VideoFormatError(f"video frames must be uint8 RGB of shape (frames, height, "
                               f"width, 3); got shape {tuple(array.shape)} of {array.dtype}")
    frames_count, height, width, _ = array.shape
    if frames_count == 0 or height % 2 or width % 2 or height == 0:
        raise VideoFormatError(f"H.264 needs at least one frame of even width and height; got "
                               f"{frames_count} frame(s) of {width}x{height}: crop or resize")
    return np.ascontiguousarray(array)


def _grid_panorama(width: int, height: int) -> np.ndarray:
    """A dark ERP still with grid lines every 30°, a light horizon and an orange front
    meridian, so a 360° player shows where the front and the horizon are."""
    if width < 2 or height < 2 or width % 2 or height % 2:
        raise VideoFormatError(f"panorama_size must be an even (width, height); got "
                               f"{width}x{height}")
    azimuth, elevation = (angle.numpy() for angle in erp_grid(width, height))
    half_column, half_row = 180.0 / width, 90.0 / height

    def on_line(angle: np.ndarray, spacing: float, tolerance: float) -> np.ndarray:
        return np.abs((angle + spacing / 2) % spacing - spacing / 2) <= tolerance

    image = np.empty((height, width, 3), np.uint8)
    image[:] = (24, 28, 36)
    image[on_line(azimuth, 30, half_column) | on_line(elevation, 30, half_row)] = (80, 88, 104)
    image[np.abs(elevation) <= half_row] = (200, 200, 200)
    image[np.abs(azimuth) <= half_column] = (255, 150, 40)
    return image


def _video_arguments(video: np.ndarray | Path, fps: float | None, samples: int,
                     sample_rate: int, crf: int, preset: str) -> list[str]:
    """Input and H.264 output arguments; the last frame is held (``tpad``) to the audio's end.

    A still without ``fps`` runs at about one frame a second, at exactly the rate that makes
    a whole number of frames last as long as the audio.
    """
    encode = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if isinstance(video, Path):
        hold = f"tpad=stop_mode=clone:stop_duration={samples / sample_rate + 1:.6f}"
        even = "scale=trunc(iw/2)*2:trunc(ih/2)*2"  # H.264 4:2:0 needs even sizes
        rate = f",fps={_rate(fps)}" if fps else ""
        return ["-i", str(video), "-vf", f"{even},{hold}{rate}", *encode]
    if fps is None:
        still = len(video) == 1
        fps = Fraction(math.ceil(samples / sample_rate), 1) * sample_rate / samples if still \
            else 30.0
    needed = math.ceil(samples * fps / sample_rate - 1e-6)
    _, height, width, _ = video.shape
    return ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
            "-framerate", _rate(fps), "-i", "pipe:0",
            "-vf", f"tpad=stop_mode=clone:stop={max(needed - len(video), 0)}", *encode]


def _rate(fps: float | Fraction) -> str:
    return str(Fraction(fps).limit_denominator(1_000_000))


def _audio_output(codec: str, bitrate: int | None) -> list[str]:
    arguments = list(AUDIO_CODECS[codec])
    if codec != "alac":
        arguments += ["-b:a", str(bitrate or 4 * _LOSSY_BITS_PER_CHANNEL)]
    return arguments


def _run_ffmpeg(command: list[str], frames: np.ndarray | None, path: Path) -> None:
    """Run ffmpeg, feeding ``frames`` to its stdin; a failure raises its last error line."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log,
                                   stdin=subprocess.DEVNULL if frames is None else
                                   subprocess.PIPE)
        try:
            if frames is not None:
                _feed(process, frames)
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            log.seek(0)
            lines = [line for line in log.read().decode(errors="replace").splitlines() if line]
            reason = lines[-1].strip() if lines else f"exit status {process.returncode}"
            raise VideoFileError(f"ffmpeg could not write {path}: {reason}")


def _feed(process: subprocess.Popen, frames: np.ndarray) -> None:
    try:
        for frame in frames:
            process.stdin.write(frame.data)
        process.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg stopped reading: its exit status and log say why
