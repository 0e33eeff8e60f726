"""Loaders for published FOA datasets, given a local copy (nothing is downloaded).

Each function lists the clips of a split as :class:`~swansphere.data.files.FOAClip` records,
ready for :class:`~swansphere.data.files.FOAClipDataset`. Clips whose audio file is missing are
left out, logged and counted (a partial download still trains). Assumed layouts, from the
datasets' own repositories and READMEs:

STARSS23 (Zenodo 7880637, DCASE 2023 task 3)::

    ROOT/foa_dev/dev-train-sony/fold3_room21_mix001.wav       4-ch AmbiX, 24 kHz
    ROOT/metadata_dev/dev-train-sony/fold3_room21_mix001.csv  frame,class,source,az,el[,dist]
    ROOT/video_dev/dev-train-sony/fold3_room21_mix001.mp4     equirectangular video

  Frames are 100 ms; azimuth is counter-clockwise from the front (left +90°), elevation up,
  as in SwanSphere. The annotations become scene metadata (sources, tracks, caption).

YT-Ambigen (ViSAGe, github.com/jaeyeonkim99/visage)::

    ROOT/yt_ambigen.csv          one column "id": YOUTUBEID_START (5-s clips)
    ROOT/audio/ID.opus           4-ch AmbiX (YouTube spatial audio)
    ROOT/video/ID.mp4

Sphere360 (OmniAudio, github.com/liuhuadai/OmniAudio)::

    ROOT/dataset/split/train.txt  (or ROOT/split/train.txt) one clip id per line
    ROOT/audio/ID.wav             4-ch AmbiX (.wav, .flac or .opus), 10-s clips
    ROOT/video/ID.mp4

Folder names and audio extensions are arguments, so other arrangements of the same files load
too.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ResourceNotFoundError
from .captions import metadata_caption
from .files import FOAClip
from .quality import MISSING, SkipCounter

AUDIO_EXTENSIONS = (".wav", ".flac", ".opus", ".ogg")

STARSS23_CLASSES = (
    ("female speech", "a woman", "speaks"), ("male speech", "a man", "speaks"),
    ("clapping", "someone", "claps"), ("telephone", "a telephone", "rings"),
    ("laughter", "someone", "laughs"), ("domestic sounds", "a household appliance", "hums"),
    ("footsteps", "footsteps", "sound"), ("door", "a door", "opens and closes"),
    ("music", "music", "plays"), ("musical instrument", "an instrument", "plays"),
    ("water tap", "a water tap", "runs"), ("bell", "a bell", "rings"),
    ("knock", "someone", "knocks"),
)
STARSS23_FRAME_SECONDS = 0.1


def _find_audio(folder: Path, key: str, extensions: Sequence[str]) -> Path | None:
    return next((folder / f"{key}{ext}" for ext in extensions
                 if (folder / f"{key}{ext}").is_file()), None)


def _clips_from_ids(root: Path, keys: Iterable[str], audio_dir: str, video_dir: str,
                    extensions: Sequence[str], counter: SkipCounter) -> list[FOAClip]:
    clips = []
    for key in keys:
        audio = _find_audio(root / audio_dir, key, extensions)
        if audio is None:
            counter.skip(key, MISSING, f"no {'/'.join(extensions)} file for it in "
                         f"{root / audio_dir}")
            continue
        video = root / video_dir / f"{key}.mp4"
        clips.append(FOAClip(key=key, audio=audio, video=video if video.is_file() else None))
    return clips


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise ResourceNotFoundError(f"{path} not found; point the loader at the {what} "
                                    "(see the layout in swansphere.data.external)")
    return path


def yt_ambigen_clips(root: Path | str, csv_name: str = "yt_ambigen.csv",
                     audio_dir: str = "audio", video_dir: str = "video",
                     extensions: Sequence[str] = AUDIO_EXTENSIONS,
                     counter: SkipCounter | None = None) -> list[FOAClip]:
    """The YT-Ambigen clips listed in ``csv_name`` that have audio under ``root``."""
    root = Path(root)
    with _require(root / csv_name, "YT-Ambigen folder with its CSV").open(newline="") as f:
        keys = [row["id"].strip() for row in csv.DictReader(f) if row.get("id")]
    return _clips_from_ids(root, keys, audio_dir, video_dir, extensions,
                           counter or SkipCounter("yt-ambigen"))


def sphere360_clips(root: Path | str, split: str = "train", audio_dir: str = "audio",
                    video_dir: str = "video", extensions: Sequence[str] = AUDIO_EXTENSIONS,
                    counter: SkipCounter | None = None) -> list[FOAClip]:
    """The Sphere360 clips of ``split`` (``train`` or ``test``) that have audio."""
    root = Path(root)
    split_file = next((path for path in (root / "dataset" / "split" / f"{split}.txt",
                                         root / "split" / f"{split}.txt") if path.is_file()),
                      root / "dataset" / "split" / f"{split}.txt")
    _require(split_file, "Sphere360 folder with dataset/split")
    keys = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
    return _clips_from_ids(root, keys, audio_dir, video_dir, extensions,
                           counter or SkipCounter("sphere360"))


def starss23_clips(root: Path | str,
                   splits: Sequence[str] = ("dev-train-sony", "dev-train-tau"),
                   counter: SkipCounter | None = None) -> list[FOAClip]:
    """STARSS23 recordings of the given splits, with annotations as scene metadata."""
    import soundfile

    root = Path(root)
    counter = counter or SkipCounter("starss23")
    clips = []
    for split in splits:
        folder = _require(root / "foa_dev" / split, f"STARSS23 folder with foa_dev/{split}")
        for audio in sorted(folder.glob("*.wav")):
            annotation = root / "metadata_dev" / split / f"{audio.stem}.csv"
            video = root / "video_dev" / split / f"{audio.stem}.mp4"
            try:
                duration = soundfile.info(str(audio)).duration
                metadata = (starss23_metadata(annotation, duration)
                            if annotation.is_file() else None)
            except (RuntimeError, OSError, ValueError) as error:
                counter.skip_error(str(audio), error)
                continue
            clips.append(FOAClip(key=f"{split}/{audio.stem}", audio=audio,
                                 video=video if video.is_file() else None, metadata=metadata))
    return clips


def starss23_metadata(path: Path, duration: float) -> dict:
    """A STARSS23 annotation CSV as scene metadata: one source per (class, source index),
    in order of appearance.

    Between annotated frames a source holds its last direction; its window runs from its
    first to its last annotated frame.
    """
    events: dict[tuple[int, int], list[tuple[int, float, float]]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 5 or not row[0].strip().lstrip("-").isdigit():
                continue
            frame, label, source = int(row[0]), int(row[1]), int(row[2])
            if not 0 <= label < len(STARSS23_CLASSES):
                raise ValueError(f"{path}: class index {label} is not a STARSS23 class")
            events[(label, source)].append((frame, float(row[3]), float(row[4])))
    times = np.arange(0.0, duration, STARSS23_FRAME_SECONDS)
    sources = sorted((_starss23_source(label, source, sorted(rows), times)
                      for (label, source), rows in events.items()),
                     key=lambda item: (item["onset"], item["clip_id"]))
    metadata = {"seed": None, "sample_rate": None, "duration": duration,
                "track_times": np.round(times, 6).tolist(), "sources": sources, "room": None,
                "diffuse_db": None, "licences": ["STARSS23 terms (see its Zenodo record)"],
                "permissive": False, "annotation": str(path)}
    metadata["caption"] = metadata_caption(metadata) if sources else "Silence."
    return metadata


def _starss23_source(label: int, source: int, rows: list[tuple[int, float, float]],
                     times: np.ndarray) -> dict:
    frames = np.array([row[0] for row in rows])
    azimuth = np.array([row[1] for row in rows])
    elevation = np.array([row[2] for row in rows])
    index = np.clip(np.searchsorted(frames, np.round(times / STARSS23_FRAME_SECONDS),
                                    side="right") - 1, 0, len(frames) - 1)
    name, noun, verb = STARSS23_CLASSES[label]
    return {"clip_id": f"starss23/{label}/{source}", "label": name, "noun": noun, "verb": verb,
            "licence": "STARSS23 terms", "package": "STARSS23",
            "onset": round(float(frames[0]) * STARSS23_FRAME_SECONDS, 4),
            "offset": round(float(frames[-1] + 1) * STARSS23_FRAME_SECONDS, 4),
            "trajectory": {"start_azimuth": float(azimuth[0]),
                           "start_elevation": float(elevation[0]),
                           "end_azimuth": float(azimuth[-1]),
                           "end_elevation": float(elevation[-1])},
            "track": {"azimuth": azimuth[index].tolist(),
                      "elevation": elevation[index].tolist()}}
