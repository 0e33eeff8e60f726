"""Sharded on-disk datasets: WebDataset-style tar shards plus a JSON manifest.

Layout of a shard folder::

    manifest.json          format, version, sample_rate, fps, samples, seconds, and per shard
                           {"path", "samples", "bytes", "sha256"}
    shard-000000.tar       members grouped by key, in order: KEY.foa.wav (float32 AmbiX),
    shard-000001.tar       KEY.video.npz (optional), KEY.json (metadata), KEY.txt (caption)

Tar files are read as streams (``tarfile`` mode ``r|``), so shards can sit on slow or
sequential storage, and any WebDataset reader understands them. :class:`ShardDataset`
streams samples with random crops and consistent yaw augmentation (FOA
:func:`~swansphere.spatial.rotate` together with :func:`~swansphere.spatial.roll_panorama`
and the metadata, so the caption still says where things are), splits shards across
distributed ranks and loader workers, and skips bad samples through a
:class:`~swansphere.data.quality.SkipCounter`.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, ResourceNotFoundError
from ..fileio import atomic_file
from .captions import metadata_caption
from .quality import MISSING, BadSampleError, SkipCounter, check_foa
from .simulate import read_index

FORMAT = "swansphere-shards"
VERSION = 1
MANIFEST = "manifest.json"


def _add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible shards: same scenes, same bytes
    archive.addfile(info, io.BytesIO(data))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scene_members(folder: Path, key: str) -> tuple[list[tuple[str, bytes]], dict]:
    """Check one simulated scene and return its tar members and metadata."""
    from ..spatial import read_foa

    foa, sample_rate = read_foa(folder / "foa.wav")
    check_foa(foa, name=f"{folder}/foa.wav")
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["sample_rate"] = sample_rate
    members = [(f"{key}.foa.wav", (folder / "foa.wav").read_bytes())]
    if (folder / "video.npz").is_file():
        members.append((f"{key}.video.npz", (folder / "video.npz").read_bytes()))
    members.append((f"{key}.json", json.dumps(metadata).encode()))
    caption = metadata.get("caption") or metadata_caption(metadata)
    members.append((f"{key}.txt", caption.encode()))
    return members, metadata


def write_shards(source: Path, out: Path, samples_per_shard: int = 256,
                 counter: SkipCounter | None = None, progress: bool = True) -> dict:
    """Pack a simulated folder (see :mod:`swansphere.data.simulate`) into tar shards.

    Bad scenes (unreadable, wrong channels, silent) are skipped and counted. Each shard is
    written to a temporary name and renamed when complete; the manifest comes last, so a
    folder with a manifest is always complete. Returns the manifest.
    """
    from tqdm import tqdm

    if samples_per_shard < 1:
        raise ConfigError(f"samples per shard must be >= 1, got {samples_per_shard}")
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counter = counter or SkipCounter("shard")
    shards: list[dict] = []
    pending: list[list[tuple[str, bytes]]] = []
    stats = {"seconds": 0.0, "sample_rate": None, "fps": None}
    for line in tqdm(read_index(source), desc="shards", unit="scene", disable=not progress):
        try:
            members, metadata = _scene_members(source / line["key"], line["key"])
        except (OSError, ValueError, BadSampleError) as error:
            counter.skip_error(line["key"], error)
            continue
        stats["seconds"] += metadata["duration"]
        stats["sample_rate"] = stats["sample_rate"] or metadata["sample_rate"]
        stats["fps"] = stats["fps"] or (metadata.get("video") or {}).get("fps")
        pending.append(members)
        if len(pending) == samples_per_shard:
            shards.append(_flush(out, len(shards), pending))
            pending = []
    if pending:
        shards.append(_flush(out, len(shards), pending))
    manifest = {"format": FORMAT, "version": VERSION, "sample_rate": stats["sample_rate"],
                "fps": stats["fps"], "samples": sum(s["samples"] for s in shards),
                "seconds": round(stats["seconds"], 3), "shards": shards,
                "skipped": dict(counter.counts)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _flush(out: Path, number: int, samples: list[list[tuple[str, bytes]]]) -> dict:
    name = f"shard-{number:06d}.tar"
    with atomic_file(out / name) as temporary, tarfile.open(
            temporary, "w", format=tarfile.USTAR_FORMAT) as archive:
        for members in samples:
            for member, data in members:
                _add_member(archive, member, data)
    return {"path": name, "samples": len(samples), "bytes": (out / name).stat().st_size,
            "sha256": _sha256(out / name)}


def read_manifest(folder: Path) -> dict:
    """The manifest of a shard folder (raises a clear error when it is missing or foreign)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ResourceNotFoundError(f"{path} not found; build shards with 'swansphere data "
                                    "shard --src SIMULATED_DIR --out SHARD_DIR'")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version", 0) > VERSION:
        raise ConfigError(f"{path} is not a version-{VERSION} {FORMAT} manifest")
    return manifest


def verify_shards(folder: Path) -> list[str]:
    """Names of shards whose size or SHA-256 differ from the manifest (empty when intact)."""
    manifest = read_manifest(folder)
    bad = []
    for shard in manifest["shards"]:
        path = Path(folder) / shard["path"]
        if (not path.is_file() or path.stat().st_size != shard["bytes"]
                or _sha256(path) != shard["sha256"]):
            bad.append(shard["path"])
    return bad


def iter_shard(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """``(key, {suffix: bytes})`` for each sample of a tar shard, streamed in order."""
    current, members = None, {}
    with tarfile.open(path, "r|") as archive:
        for info in archive:
            if not info.isfile():
                continue
            key, _, suffix = info.name.partition(".")
            if key != current and current is not None:
                yield current, members
                members = {}
            current = key
            handle = archive.extractfile(info)
            members[suffix] = handle.read() if handle else b""
    if current is not None:
        yield current, members


# ---------------------------------------------------------------- augmentation helpers

def _wrap(azimuth: np.ndarray) -> np.ndarray:
    return (np.asarray(azimuth) + 180.0) % 360.0 - 180.0


def yaw_metadata(metadata: dict, yaw: float) -> dict:
    """Metadata of the scene turned by ``yaw`` degrees (azimuths shift, caption redone)."""
    turned = copy.deepcopy(metadata)
    for source in turned["sources"]:
        source["track"]["azimuth"] = np.round(_wrap(np.asarray(
            source["track"]["azimuth"]) + yaw), 3).tolist()
        trajectory = source["trajectory"]
        for end in ("start", "end"):
            trajectory[f"{end}_azimuth"] = float(_wrap(trajectory[f"{end}_azimuth"] + yaw))
    turned["yaw"] = metadata.get("yaw", 0.0) + yaw
    turned["caption"] = metadata_caption(turned)
    return turned


def crop_metadata(metadata: dict, start: float, duration: float) -> dict:
    """Metadata of the window ``[start, start + duration)``: times shifted, silent sources
    dropped, motion taken from the part of each track inside the window."""
    cropped = copy.deepcopy(metadata)
    times = np.asarray(metadata["track_times"]) - start
    inside = (times >= 0) & (times < duration)
    cropped["track_times"] = np.round(times[inside], 6).tolist()
    sources = []
    for source in cropped["sources"]:
        onset, offset = max(source["onset"] - start, 0.0), min(source["offset"] - start,
                                                                  duration)
        if offset <= onset:
            continue
        source["onset"], source["offset"] = round(onset, 4), round(offset, 4)
        for axis in ("azimuth", "elevation"):
            source["track"][axis] = list(np.asarray(source["track"][axis])[inside])
        active = (times[inside] >= onset) & (times[inside] < offset)
        if active.any():
            first, last = np.flatnonzero(active)[[0, -1]]
            trajectory = source["trajectory"]
            trajectory["start_azimuth"] = float(source["track"]["azimuth"][first])
            trajectory["start_elevation"] = float(source["track"]["elevation"][first])
            trajectory["end_azimuth"] = float(source["track"]["azimuth"][last])
            trajectory["end_elevation"] = float(source["track"]["elevation"][last])
        sources.append(source)
    cropped["sources"] = sources
    cropped["duration"] = duration
    cropped["crop_start"] = metadata.get("crop_start", 0.0) + start
    cropped["caption"] = metadata_caption(cropped) if sources else "Silence."
    return cropped


class ShardDataset(torch.utils.data.IterableDataset):
    """Streams samples from a shard folder.

    Args:
        folder: the shard folder (with ``manifest.json``).
        crop_seconds: length of random crops (``None``: whole clips). Crops start on the
            video frame grid when there is video, so every crop has the same frame count.
            Clips shorter than the crop are zero-padded.
        random_yaw: turn each sample by a random yaw: FOA rotation, panorama roll (whole
            columns, so the roll is exact) and metadata, consistently.
        shuffle_buffer: samples held for shuffling (1 keeps shard order).
        seed: base of every random choice; with :meth:`set_epoch` it fixes the epoch's
            shard order, crops and yaws, per rank and worker.
        with_video: decode ``video`` frames when the shards have them.
        counter: a :class:`SkipCounter` for bad samples (one is made if absent).

    Each item: ``key``, ``foa`` ``(4, n)``, ``sample_rate``, ``caption``, ``metadata``,
    ``yaw``, ``crop_start``, ``skipped`` (counts since the previous item) and, with video,
    ``video`` ``(T, H, W, 3)`` uint8 and ``video_times`` ``(T,)`` seconds from the crop start.
    """

    def __init__(self, folder: Path | str, crop_seconds: float | None = None,
                 random_yaw: bool = False, shuffle_buffer: int = 64, seed: int = 0,
                 with_video: bool = True, counter: SkipCounter | None = None) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        if crop_seconds is not None and crop_seconds <= 0:
            raise ConfigError(f"crop_seconds must be positive, got {crop_seconds}")
        self.crop_seconds, self.random_yaw = crop_seconds, random_yaw
        self.shuffle_buffer, self.seed, self.with_video = max(1, shuffle_buffer), seed, with_video
        self.counter = counter or SkipCounter(f"shards {self.folder.name}")
        self.epoch = 0

    @property
    def sample_rate(self) -> int:
        return int(self.manifest["sample_rate"])

    def __len__(self) -> int:
        """Samples listed in the manifest (an upper bound when some turn out bad)."""
        return int(self.manifest["samples"])

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch: a new shard order, new crops and yaws, all reproducible."""
        self.epoch = epoch

    def _streams(self) -> tuple[int, int]:
        """This process's (stream index, stream count) over ranks × loader workers."""
        rank, world = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
        info = torch.utils.data.get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        return rank * workers + worker, world * workers

    def __iter__(self) -> Iterator[dict[str, Any]]:
        stream, streams = self._streams()
        rng = np.random.default_rng([self.seed, self.epoch, stream])
        order = np.random.default_rng([self.seed, self.epoch]).permutation(
            len(self.manifest["shards"]))
        buffer: list[dict] = []
        for shard_index in order[stream::streams]:
            for item in self._shard_items(self.manifest["shards"][shard_index]["path"], rng):
                buffer.append(item)
                if len(buffer) >= self.shuffle_buffer:
                    yield self._tagged(buffer.pop(int(rng.integers(len(buffer)))))
        while buffer:
            yield self._tagged(buffer.pop(int(rng.integers(len(buffer)))))

    def _tagged(self, item: dict) -> dict:
        item["skipped"] = self.counter.drain()
        return item

    def _shard_items(self, name: str, rng: np.random.Generator) -> Iterator[dict]:
        path = self.folder / name
        try:
            for key, members in iter_shard(path):
                try:
                    yield self._decode(key, members, rng)
                except (BadSampleError, OSError, ValueError, KeyError, RuntimeError) as error:
                    self.counter.skip_error(f"{name}:{key}", error)
        except (OSError, tarfile.TarError) as error:
            reason = MISSING if isinstance(error, FileNotFoundError) else "corrupt_shard"
            self.counter.skip(name, reason, str(error))

    def _decode(self, key: str, members: dict[str, bytes], rng: np.random.Generator) -> dict:
        import soundfile

        if "foa.wav" not in members or "json" not in members:
            raise BadSampleError(MISSING, f"{key} lacks its foa.wav or json member")
        audio, sample_rate = soundfile.read(io.BytesIO(members["foa.wav"]), dtype="float32",
                                            always_2d=True)
        foa = check_foa(torch.from_numpy(np.ascontiguousarray(audio.T)), name=key)
        metadata = json.loads(members["json"])
        video = times = None
        if self.with_video and "video.npz" in members:
            with np.load(io.BytesIO(members["video.npz"]), allow_pickle=False) as data:
                video, times = data["frames"], data["times"]
        foa, video, times, metadata, start = self._crop(foa, sample_rate, video, times,
                                                        metadata, rng)
        yaw = 0.0
        if self.random_yaw:
            foa, video, metadata, yaw = self._turn(foa, video, metadata, rng)
        item = {"key": key, "foa": foa, "sample_rate": sample_rate,
                "caption": metadata["caption"], "metadata": metadata, "yaw": yaw,
                "crop_start": start}
        if video is not None:
            item["video"] = torch.from_numpy(np.ascontiguousarray(video))
            item["video_times"] = torch.from_numpy(np.asarray(times, dtype=np.float32))
        return item

    def _crop(self, foa: torch.Tensor, sample_rate: int, video: np.ndarray | None,
              times: np.ndarray | None, metadata: dict, rng: np.random.Generator):
        if self.crop_seconds is None:
            return foa, video, times, metadata, 0.0
        length = round(self.crop_seconds * sample_rate)
        duration = foa.shape[-1] / sample_rate
        room = max(duration - self.crop_seconds, 0.0)
        fps = float(1.0 / np.median(np.diff(times))) if times is not None and len(
            times) > 1 else None
        if fps:
            start = math.floor(rng.uniform(0, math.floor(room * fps + 1e-9) + 1)) / fps
        else:
            start = float(rng.uniform(0, room))
        first = round(start * sample_rate)
        foa = foa[:, first:first + length]
        if foa.shape[-1] < length:
            foa = torch.nn.functional.pad(foa, (0, length - foa.shape[-1]))
        if video is not None:
            inside = (times >= start - 1e-9) & (times < start + self.crop_seconds - 1e-9)
            video, times = video[inside], times[inside] - start
        return foa, video, times, crop_metadata(metadata, start, self.crop_seconds), start

    def _turn(self, foa: torch.Tensor, video: np.ndarray | None, metadata: dict,
              rng: np.random.Generator):
        from ..spatial import roll_panorama, rotate

        if video is not None:
            width = video.shape[-2]
            yaw = float(rng.integers(width)) * 360.0 / width
            video = roll_panorama(video, yaw, axis=-2)
        else:
            yaw = float(rng.uniform(0.0, 360.0))
        return rotate(foa, yaw=yaw), video, yaw_metadata(metadata, yaw), yaw
