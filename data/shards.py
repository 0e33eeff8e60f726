"""Sharded scene datasets on the ``webdataset`` library: tar shards plus a JSON manifest.

Layout of a shard folder::

    manifest.json          format, version, sample_rate, fps, samples, seconds, and per shard
                           {"path", "samples", "bytes", "sha256"}
    shard-000000.tar       one sample per scene, members grouped by key: KEY.foa.wav (float32
    shard-000001.tar       AmbiX), KEY.json (the scene metadata: labels, direction tracks,
                           activity), KEY.txt (caption), KEY.video.npz (panorama, optional)

:func:`write_shards` packs a simulated folder with :class:`webdataset.ShardWriter`, so any
WebDataset reader understands the shards. :class:`ShardDataset` streams them through
:class:`webdataset.WebDataset`: shards split by distributed rank and by loader worker (each
sample read by one process per epoch), shard order and a sample shuffle buffer drawn from
``(seed, epoch)``, random crops and a consistent yaw augmentation (FOA
:func:`~swansphere.spatial.rotate` together with :func:`~swansphere.spatial.roll_panorama`
and the metadata, so the caption still says where things are) drawn per sample from its
position in the stream, so a resumed stream (``skip``) continues exactly. Bad samples and
unreadable shards are skipped and counted by a :class:`~swansphere.data.quality.SkipCounter`.
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import math
import random
from collections.abc import Iterator, Sequence
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
SHARD_PATTERN = "shard-%06d.tar"
CORRUPT_SHARD = "corrupt_shard"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scene_sample(folder: Path, key: str) -> tuple[dict[str, Any], dict]:
    """Check one simulated scene; return its WebDataset sample and its metadata."""
    from ..spatial import read_foa

    foa, sample_rate = read_foa(folder / "foa.wav")
    check_foa(foa, name=f"{folder}/foa.wav")
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["sample_rate"] = sample_rate
    sample = {"__key__": key, "foa.wav": (folder / "foa.wav").read_bytes(),
              "json": json.dumps(metadata).encode(),
              "txt": (metadata.get("caption") or metadata_caption(metadata)).encode()}
    if (folder / "video.npz").is_file():
        sample["video.npz"] = (folder / "video.npz").read_bytes()
    return sample, metadata


def write_shards(source: Path, out: Path, samples_per_shard: int = 256,
                 counter: SkipCounter | None = None, progress: bool = True) -> dict:
    """Pack a simulated folder (see :mod:`swansphere.data.simulate`) into tar shards.

    Bad scenes (unreadable, wrong channels, silent) are skipped and counted. Member times are
    zeroed, so the same scenes give the same bytes. An old manifest is removed first and the
    new one is written last, atomically, so a folder with a manifest is always complete.
    Returns the manifest.
    """
    import webdataset
    from tqdm import tqdm

    if samples_per_shard < 1:
        raise ConfigError(f"samples per shard must be >= 1, got {samples_per_shard}")
    source, out = Path(source), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    counter = counter or SkipCounter("shard")
    shards: list[dict] = []
    stats = {"seconds": 0.0, "sample_rate": None, "fps": None}
    writer = None

    def finished(name: str) -> None:
        path = Path(name)
        shards.append({"path": path.name, "samples": writer.count, "bytes": path.stat().st_size,
                       "sha256": _sha256(path)})

    for line in tqdm(read_index(source), desc="shards", unit="scene", disable=not progress):
        try:
            sample, metadata = _scene_sample(source / line["key"], line["key"])
        except (OSError, ValueError, BadSampleError) as error:
            counter.skip_error(line["key"], error)
            continue
        if writer is None:
            writer = webdataset.ShardWriter(str(out / SHARD_PATTERN), maxcount=samples_per_shard,
                                            post=finished, verbose=0, encoder=False, mtime=0,
                                            user="", group="", mode=0o644)
        writer.write(sample)
        stats["seconds"] += metadata["duration"]
        stats["sample_rate"] = stats["sample_rate"] or metadata["sample_rate"]
        stats["fps"] = stats["fps"] or (metadata.get("video") or {}).get("fps")
    if writer is not None:
        writer.close()
    manifest = {"format": FORMAT, "version": VERSION, "sample_rate": stats["sample_rate"],
                "fps": stats["fps"], "samples": sum(s["samples"] for s in shards),
                "seconds": round(stats["seconds"], 3), "shards": shards,
                "skipped": dict(counter.counts)}
    with atomic_file(out / MANIFEST) as temporary:
        temporary.write_text(json.dumps(manifest, indent=1))
    return manifest


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


def shard_paths(shards: str | Path | Sequence[str | Path]) -> tuple[list[str], dict | None]:
    """The shard files that ``shards`` names, and the folder's manifest when it has one.

    ``shards`` is a folder (its manifest's shards, else its ``*.tar`` files in name order), a
    brace pattern such as ``"data/shard-{000000..000009}.tar"``, one tar file, or a list.
    """
    from webdataset.shardlists import expand_urls

    if not isinstance(shards, str | Path):
        paths = [str(path) for path in shards]
        manifest = None
    elif Path(shards).is_dir():
        folder = Path(shards)
        manifest = read_manifest(folder) if (folder / MANIFEST).is_file() else None
        names = ([shard["path"] for shard in manifest["shards"]] if manifest
                 else sorted(path.name for path in folder.glob("*.tar")))
        paths = [str(folder / name) for name in names]
    else:
        paths, manifest = expand_urls(str(shards)), None
    if not paths:
        raise ResourceNotFoundError(f"no shards in {shards}; build them with 'swansphere data "
                                    "shard --src SIMULATED_DIR --out SHARD_DIR'")
    return paths, manifest


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


# ---------------------------------------------------------------- streaming


def stream_position() -> tuple[int, int, int, int]:
    """``(rank, world_size, worker, workers)`` of this process, as WebDataset splits by them
    (torchrun's ``RANK`` / ``WORLD_SIZE`` or the initialised process group; the loader
    worker)."""
    from webdataset.utils import pytorch_worker_info

    return pytorch_worker_info()


def check_split(shards: int, ranks: int, workers: int) -> None:
    """Refuse a split that would leave a rank's loader worker without a shard."""
    if shards < ranks * workers:
        raise ConfigError(f"{shards} shard(s) cannot feed {ranks} rank(s) × {workers} loader "
                          "worker(s); write more, smaller shards (data shard --per-shard)")


class ShardDataset(torch.utils.data.IterableDataset):
    """Streams scenes from shards through :class:`webdataset.WebDataset`.

    Args:
        shards: a shard folder, a brace pattern (``"data/shard-{000000..000009}.tar"``), a tar
            file or a list of them (see :func:`shard_paths`).
        crop_seconds: length of random crops (``None``: whole clips). Crops start on the
            video frame grid when there is video, so every crop has the same frame count.
            Clips shorter than the crop are zero-padded.
        random_yaw: turn each sample by a random yaw: FOA rotation, panorama roll (whole
            columns, so the roll is exact) and metadata, consistently.
        shuffle_buffer: samples held for shuffling (0 or 1 keeps shard order).
        seed: with the epoch, fixes the shard order, the shuffle, the crops and the yaws.
        with_video: decode ``video`` frames when the shards have them.
        repeat: stream epoch after epoch without end (``epoch``, ``epoch + 1``, ...).
        skip: items this process's stream has already delivered (a resumed run); the items
            that follow are those the uninterrupted stream gives, also through a
            :class:`~torch.utils.data.DataLoader` with workers (``batch_size=None``), which
            takes items from its workers in turn. Skipping counts stored samples, so a bad
            sample dropped earlier shifts the resumed stream by one.
        ordered: every process reads every shard in order, unshuffled and unsplit (for a
            validation set that each rank holds whole).
        counter: a :class:`SkipCounter` for bad samples (one is made if absent).

    Each epoch the shard list is permuted by ``(seed, epoch)``, the same in every process,
    and split: rank ``r`` of ``R`` takes every ``R``-th shard from ``r`` (WebDataset's
    ``split_by_node``), and each of its ``W`` loader workers every ``W``-th of those; so every
    sample is read by exactly one process per epoch, and there must be at least ``R × W``
    shards. Crops and yaws are drawn from ``(seed, epoch, stream, position)``, so skipping
    samples does not change the ones that follow.

    Each item: ``key``, ``foa`` ``(4, n)``, ``sample_rate``, ``caption``, ``metadata``,
    ``yaw``, ``crop_start``, ``skipped`` (counts since the previous item) and, with video,
    ``video`` ``(T, H, W, 3)`` uint8 and ``video_times`` ``(T,)`` seconds from the crop start.
    """

    def __init__(self, shards: str | Path | Sequence[str | Path], *,
                 crop_seconds: float | None = None, random_yaw: bool = False,
                 shuffle_buffer: int = 64, seed: int = 0, with_video: bool = True,
                 repeat: bool = False, skip: int = 0, ordered: bool = False,
                 counter: SkipCounter | None = None) -> None:
        super().__init__()
        if crop_seconds is not None and crop_seconds <= 0:
            raise ConfigError(f"crop_seconds must be positive, got {crop_seconds}")
        if skip < 0:
            raise ConfigError(f"skip must be >= 0, got {skip}")
        self.paths, self.manifest = shard_paths(shards)
        self.crop_seconds, self.random_yaw = crop_seconds, random_yaw
        self.shuffle_buffer, self.seed, self.with_video = shuffle_buffer, seed, with_video
        self.repeat, self.skip, self.ordered = repeat, skip, ordered
        self.counter = counter or SkipCounter(f"shards {shards}")
        self.epoch = 0

    @property
    def samples(self) -> int | None:
        """Samples listed in the manifest (``None`` without one; an upper bound when some
        turn out bad)."""
        return None if self.manifest is None else int(self.manifest["samples"])

    def set_epoch(self, epoch: int) -> None:
        """Choose the (first) epoch: a new shard order, shuffle, crops and yaws."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rank, world, worker, workers = stream_position()
        if not self.ordered:
            check_split(len(self.paths), world, workers)
        # The loader takes items from its workers in turn, starting with worker 0: global item
        # k of this rank comes from the worker whose role is k mod workers. A resumed loader's
        # worker w so plays role (skip + w) mod workers, and that role has already delivered
        # the items skip counts for it.
        role = (worker + self.skip) % workers
        stream = 0 if self.ordered else rank * workers + role
        to_skip = len(range(role, self.skip, workers))
        epochs = itertools.count(self.epoch) if self.repeat else [self.epoch]
        for epoch in epochs:
            for index, sample in enumerate(self._raw_samples(epoch, stream, role, workers)):
                if to_skip:
                    to_skip -= 1
                    continue
                item = self._decoded(sample, np.random.default_rng(
                    [self.seed, epoch, stream, index]))
                if item is not None:
                    yield item

    def _raw_samples(self, epoch: int, stream: int, role: int,
                     workers: int) -> Iterator[dict[str, Any]]:
        """One epoch of this process's undecoded samples (dicts of member bytes): its rank's
        shards (WebDataset's ``split_by_node``), of which its worker role takes every
        ``workers``-th."""
        import webdataset

        def split_by_role(urls: Iterator[Any]) -> Iterator[Any]:
            return itertools.islice(urls, role, None, workers)

        paths = list(self.paths)
        if not self.ordered:
            random.Random(f"{self.seed}:{epoch}").shuffle(paths)
        split = (None, None) if self.ordered else (webdataset.split_by_node, split_by_role)
        dataset = webdataset.WebDataset(paths, shardshuffle=False, nodesplitter=split[0],
                                        workersplitter=split[1], handler=self._shard_failed,
                                        empty_check=False)
        if not self.ordered and self.shuffle_buffer > 1:
            dataset = dataset.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer,
                                      rng=random.Random(f"{self.seed}:{epoch}:{stream}"))
        return iter(dataset)

    def _shard_failed(self, error: Exception) -> bool:
        """WebDataset's error handler: count the shard (named by the error's file name or its
        last ``.tar`` argument, which WebDataset appends) and go on with the next one."""
        name = getattr(error, "filename", None) or next(
            (arg for arg in reversed(error.args) if isinstance(arg, str) and arg.endswith(".tar")),
            "a shard")
        reason = MISSING if isinstance(error, FileNotFoundError) else CORRUPT_SHARD
        detail = getattr(error, "strerror", None) or (error.args[0] if error.args else error)
        self.counter.skip(Path(name).name, reason, str(detail))
        return True

    def _decoded(self, sample: dict[str, Any], rng: np.random.Generator) -> dict | None:
        name = f"{Path(sample.get('__url__', '?')).name}:{sample['__key__']}"
        try:
            item = self._decode(sample, rng)
        except (BadSampleError, OSError, ValueError, KeyError, RuntimeError) as error:
            self.counter.skip_error(name, error)
            return None
        item["skipped"] = self.counter.drain()
        return item

    def _decode(self, sample: dict[str, Any], rng: np.random.Generator) -> dict:
        import soundfile

        key = sample["__key__"]
        if "foa.wav" not in sample or "json" not in sample:
            raise BadSampleError(MISSING, f"{key} lacks its foa.wav or json member")
        audio, sample_rate = soundfile.read(io.BytesIO(sample["foa.wav"]), dtype="float32",
                                            always_2d=True)
        foa = check_foa(torch.from_numpy(np.ascontiguousarray(audio.T)), name=key)
        metadata = json.loads(sample["json"])
        video = times = None
        if self.with_video and "video.npz" in sample:
            with np.load(io.BytesIO(sample["video.npz"]), allow_pickle=False) as data:
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
