"""The clip bank: the sound vocabulary's clips rendered once, as compressed audio.

A lent GPU machine has none of the Debian sound sets and no fluidsynth, and carries at most
64 MiB. :func:`export_bank` renders every clip of
:func:`~swansphere.data.vocabulary.class_clips` (permissive ones by default) once, mono, at
the training rate, into small OGG Vorbis (or FLAC) files, with an index of each clip's id,
set, class, words, licence, package, credit and duration. The sound set ``bank``
(:func:`bank_clips`, through :func:`swansphere.data.sources.catalogue`) reads it back with
the same clip ids, classes and licences, so the held-out split (a hash of the clip id) does
not move between the machine that exported the bank and the one that trains on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from ..errors import AudioFileError, ConfigError
from .clips import SoundClip

log = logging.getLogger("swansphere.data")

BANK_ENV = "SWANSPHERE_BANK"
INDEX_NAME = "index.json"
BANK_FORMAT = "swansphere-clip-bank"
BANK_VERSION = 1
AUDIO_FORMATS = {"ogg": ("OGG", "VORBIS", ".ogg"), "flac": ("FLAC", "PCM_16", ".flac")}
OGG_QUALITY = 0.5
"""Vorbis quality (0..1): about 28 kbit/s for 16 kHz mono; the codec error sits ~16 dB
below the signal, far under what a scene's mixing, rooms and the latent codec change."""
UNTIMED_SECONDS = 4.0
"""Stored length of clips without a duration (synthesised sources render to any length): the
pipeline's scene length."""


def bank_home() -> Path:
    """The bank the catalogue reads: ``$SWANSPHERE_BANK``, else ``$SWANSPHERE_SOUNDS/bank``."""
    from .sources import sounds_home

    return Path(os.environ.get(BANK_ENV) or sounds_home() / "bank")


# ---------------------------------------------------------------- export

def export_bank(out: Path, *, sets: Sequence[str] | None = None, permissive_only: bool = True,
                sample_rate: int = 16000, seconds_max: float | None = None,
                audio_format: str = "ogg", root: Path = Path("/"),
                progress: bool = True) -> dict:
    """Render the vocabulary's clips of ``sets`` (every installed set when ``None``) into a
    bank folder ``out`` and return a summary (clips, classes, bytes, seconds, capped, skipped).

    Renders are deterministic (fixed seeds), so exporting twice gives the same clips. The
    folder is written whole, then moved into place: an interrupted export leaves the old bank
    (or nothing). ``seconds_max`` cuts longer clips (their duration is then the cut length).
    """
    from ..fileio import atomic_directory
    from .sources import catalogue, set_names
    from .vocabulary import class_clips

    if audio_format not in AUDIO_FORMATS:
        raise ConfigError(f"unknown bank format {audio_format!r}; choose from "
                          f"{', '.join(AUDIO_FORMATS)}")
    if sample_rate <= 0 or (seconds_max is not None and not seconds_max > 0):
        raise ConfigError("the bank's sample rate and --seconds-max must be positive")
    names = [name for name in (set_names() if sets is None else sets) if name != "bank"]
    if sets is not None and "bank" in sets:
        raise ConfigError("a bank is exported from the sound sets themselves; leave 'bank' "
                          "out of --sets")
    _check_out(out)
    entries = [(name, clip) for name in names
               for clip in class_clips(catalogue([name], root=root),
                                       permissive_only=permissive_only)]
    if not entries:
        raise ConfigError(f"no clips of the vocabulary's classes in sound set(s) "
                          f"{', '.join(names)}; see 'swansphere data sources --classes'")
    index = {"format": BANK_FORMAT, "version": BANK_VERSION, "sample_rate": sample_rate,
             "audio_format": audio_format, "permissive_only": permissive_only,
             "seconds_max": seconds_max, "sets": names, "clips": [], "skipped": []}
    try:
        with atomic_directory(out) as folder:
            (folder / "clips").mkdir()
            _write_clips(folder, entries, index, progress)
            (folder / INDEX_NAME).write_text(json.dumps(index, indent=1, ensure_ascii=False))
    except OSError as error:
        raise ConfigError(f"cannot write the bank to {out}: {error.strerror or error}") from error
    clips = index["clips"]
    return {"out": str(out), "clips": len(clips), "classes": len({c["label"] for c in clips}),
            "bytes": sum((out / c["file"]).stat().st_size for c in clips) + (
                out / INDEX_NAME).stat().st_size,
            "seconds": round(sum(c["samples"] for c in clips) / sample_rate, 1),
            "capped": sum(c["capped"] for c in clips), "skipped": len(index["skipped"])}


def _check_out(out: Path) -> None:
    """Refuse a bank folder that would overwrite something that is not a bank."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; give a folder for the bank")
    if out.is_dir() and any(out.iterdir()) and not (out / INDEX_NAME).is_file():
        raise ConfigError(f"{out} is a folder that holds something other than a clip bank; "
                          "give a new or empty folder (an old bank there is replaced)")


def _write_clips(folder: Path, entries: list[tuple[str, SoundClip]], index: dict,
                 progress: bool) -> None:
    import soundfile
    from tqdm import tqdm

    container, subtype, suffix = AUDIO_FORMATS[index["audio_format"]]
    options = {"compression_level": 1.0 - OGG_QUALITY if container == "OGG" else 1.0}
    sample_rate, seconds_max = index["sample_rate"], index["seconds_max"]
    for set_name, clip in tqdm(entries, desc="bank", unit="clip", disable=not progress):
        try:
            signal, capped = render_whole(clip, sample_rate, seconds_max)
        except AudioFileError as error:
            index["skipped"].append({"clip_id": clip.clip_id, "reason": str(error)})
            log.warning("bank: skipped %s (%s)", clip.clip_id, error)
            continue
        name = f"clips/{_file_stem(clip.clip_id)}{suffix}"
        soundfile.write(folder / name, signal, sample_rate, format=container, subtype=subtype,
                        **options)
        duration = round(signal.size / sample_rate, 3) if capped else clip.duration
        index["clips"].append({
            "clip_id": clip.clip_id, "set": set_name, "label": clip.label, "noun": clip.noun,
            "verb": clip.verb, "licence": clip.licence, "package": clip.package,
            "attribution": clip.attribution, "duration": duration, "file": name,
            "samples": int(signal.size), "capped": capped})


def render_whole(clip: SoundClip, sample_rate: int,
                 seconds_max: float | None = None) -> tuple[np.ndarray, bool]:
    """``(signal, capped)``: the whole clip as the catalogue plays it, and whether
    ``seconds_max`` cut it.

    A recording is rendered longer than it lasts and its zero padding is cut off (a render is
    levelled, and levelling is a single gain, which the bank's reader applies again); a clip
    without a duration is rendered for :data:`UNTIMED_SECONDS`.
    """
    rng = np.random.default_rng(0)  # clips of class_clips ignore it: they are fixed renders
    limit = None if seconds_max is None else math.ceil(seconds_max * sample_rate)
    if clip.duration is None:
        length = math.ceil(UNTIMED_SECONDS * sample_rate)
        return clip.render(rng, sample_rate, length if limit is None else min(length, limit)), \
            False
    length = math.ceil((1.25 * clip.duration + 1.0) * sample_rate)  # headers can be short
    while True:
        size = length if limit is None else min(length, limit)
        signal = clip.render(rng, sample_rate, size)
        sounding = np.flatnonzero(signal)
        if not sounding.size:
            raise AudioFileError(f"{clip.clip_id} renders silent")
        if sounding[-1] < size - 1:  # ends in padding: the whole clip is in
            return signal[:sounding[-1] + 1], False
        if size == limit:
            return signal, True
        length *= 2


def _file_stem(clip_id: str) -> str:
    """A portable file name for a clip id (ids hold '/', '+', spaces): readable and unique."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", clip_id).strip("-.")[:80]
    return f"{slug}-{hashlib.sha256(clip_id.encode()).hexdigest()[:8]}"


# ---------------------------------------------------------------- reading

def read_index(folder: Path) -> dict | None:
    """The bank index in ``folder``; ``None`` when there is no bank there."""
    path = folder / INDEX_NAME
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise AudioFileError(f"cannot read the clip bank index {path} ({error}); export the "
                             "bank again") from error
    if not isinstance(index, dict) or index.get("format") != BANK_FORMAT:
        raise AudioFileError(f"{path} is not a clip bank index; export the bank again")
    if index.get("version") != BANK_VERSION:
        raise AudioFileError(f"{path} is a version {index.get('version')} clip bank; this "
                             f"swansphere reads version {BANK_VERSION}: export it again")
    return index


def bank_clips(folder: Path | None = None, *,
               skip_sets: Collection[str] = ()) -> list[SoundClip]:
    """The clips of the bank in ``folder`` (default :func:`bank_home`), except those exported
    from ``skip_sets``; ``[]`` when there is no bank.

    Each keeps its clip id, class (``SoundClip.vocabulary_class``), words, licence, package,
    credit and duration; it plays its stored render, levelled again and resampled when asked
    for another rate. A bank whose files are missing is refused: a partial bank would move
    the held-out split.
    """
    from .sources import file_renderer

    folder = bank_home() if folder is None else Path(folder)
    index = read_index(folder)
    if index is None:
        return []
    try:
        rows = [row for row in index["clips"] if row["set"] not in skip_sets]
        missing = [row["file"] for row in rows if not (folder / row["file"]).is_file()]
        if missing:
            raise AudioFileError(f"the clip bank {folder} lacks {len(missing)} file(s) (first "
                                 f"{missing[0]}); export it again")
        return [SoundClip(clip_id=row["clip_id"], label=row["label"], noun=row["noun"],
                          verb=row["verb"], licence=row["licence"], package=row["package"],
                          render=file_renderer(folder / row["file"], trim=False),
                          path=folder / row["file"], duration=row["duration"],
                          attribution=row["attribution"], vocabulary_class=row["label"])
                for row in rows]
    except (KeyError, TypeError) as error:
        raise AudioFileError(f"the clip bank index in {folder} is malformed ({error!r}); "
                             "export the bank again") from error
