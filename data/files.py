"""Map-style datasets over audio files: pseudo-FOA for pretraining and FOA clip lists.

Both read with soundfile, resample to one rate, take a random crop (reproducible from seed,
epoch and index) and never crash on a bad file: the file is logged and counted by a
:class:`~swansphere.data.quality.SkipCounter`, remembered, and the next index is served in
its place.

Pseudo-FOA follows the paper's pretraining recipe: from a stereo pair (L, R), W = L + R and
the difference L − R goes into one of Y, Z, X chosen at random, the other two channels stay
silent; a mono clip gives W alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from ..errors import ConfigError
from .quality import MISSING, TOO_SHORT, WRONG_CHANNELS, BadSampleError, SkipCounter, check_foa

PSEUDO_AXES = ("Y", "Z", "X")
_ACN_INDEX = {"W": 0, "Y": 1, "Z": 2, "X": 3}


def pseudo_foa(audio: Any, axis: str) -> torch.Tensor:
    """AmbiX-shaped ``(4, n)`` from mono ``(n,)``/``(1, n)`` or stereo ``(2, n)`` audio."""
    if axis not in PSEUDO_AXES:
        raise ConfigError(f"pseudo-FOA axis must be one of {', '.join(PSEUDO_AXES)}, got {axis!r}")
    audio = torch.as_tensor(audio, dtype=torch.float32)
    audio = audio[None] if audio.ndim == 1 else audio
    if audio.ndim != 2 or audio.shape[0] not in (1, 2):
        raise BadSampleError(WRONG_CHANNELS, f"pseudo-FOA needs mono or stereo audio, got "
                             f"shape {tuple(audio.shape)}")
    foa = torch.zeros(4, audio.shape[-1])
    if audio.shape[0] == 1:
        foa[0] = audio[0]
        return foa
    left, right = audio
    foa[0] = left + right
    foa[_ACN_INDEX[axis]] = left - right
    return foa


def read_audio(path: Path, sample_rate: int, channels: Sequence[int] | None = None
               ) -> torch.Tensor:
    """``(channels, n)`` float32 at ``sample_rate``; ``channels`` lists allowed counts."""
    import soundfile
    import torchaudio.functional

    if not Path(path).is_file():
        raise BadSampleError(MISSING, f"{path} does not exist")
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if channels is not None and data.shape[1] not in channels:
        allowed = " or ".join(str(c) for c in channels)
        raise BadSampleError(WRONG_CHANNELS, f"{path} has {data.shape[1]} channel(s), "
                             f"expected {allowed}")
    audio = torch.from_numpy(np.ascontiguousarray(data.T))
    if rate != sample_rate and audio.shape[-1]:
        audio = torchaudio.functional.resample(audio, rate, sample_rate)
    return audio


def random_crop(audio: torch.Tensor, length: int | None,
                rng: np.random.Generator) -> tuple[torch.Tensor, int]:
    """A random ``length``-sample window (zero-padded when short) and its start sample."""
    if length is None:
        return audio, 0
    start = int(rng.integers(0, max(audio.shape[-1] - length, 0) + 1))
    crop = audio[..., start:start + length]
    if crop.shape[-1] < length:
        crop = torch.nn.functional.pad(crop, (0, length - crop.shape[-1]))
    return crop, start


class RobustFileDataset(torch.utils.data.Dataset):
    """Base of file datasets: a bad item is counted, remembered and replaced by the next one.

    Subclasses implement ``load(index, rng) -> dict``.
    """

    def __init__(self, size: int, seed: int, counter: SkipCounter | None, name: str) -> None:
        self.size, self.seed, self.epoch = size, seed, 0
        self.counter = counter or SkipCounter(name)
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return self.size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def describe(self, index: int) -> str:
        return str(index)

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for {self.size} items")
        for step in range(self.size):
            candidate = (index + step) % self.size
            if candidate in self.bad:
                continue
            rng = np.random.default_rng([self.seed, self.epoch, candidate])
            try:
                item = self.load(candidate, rng)
            except (BadSampleError, OSError, ValueError, RuntimeError) as error:
                self.bad.add(candidate)
                self.counter.skip_error(self.describe(candidate), error)
                continue
            return item | {"index": candidate, "skipped": self.counter.drain()}
        raise BadSampleError(TOO_SHORT, f"every one of the {self.size} items is unusable; "
                             f"see the log ({self.counter.summary()})")


class PseudoFOADataset(RobustFileDataset):
    """Pseudo-FOA crops of mono/stereo files for the non-spatial pretraining stage.

    Items: ``foa`` ``(4, n)``, ``sample_rate``, ``axis`` (where L − R went), ``path``,
    ``caption`` (``captions[path]`` when given, else empty).
    """

    def __init__(self, files: Sequence[Path | str], sample_rate: int = 16000,
                 crop_seconds: float | None = 2.0, seed: int = 0,
                 captions: dict[str, str] | None = None,
                 counter: SkipCounter | None = None) -> None:
        super().__init__(len(files), seed, counter, "pseudo-foa")
        self.files = [Path(f) for f in files]
        self.sample_rate = sample_rate
        self.length = None if crop_seconds is None else round(crop_seconds * sample_rate)
        self.captions = captions or {}

    def describe(self, index: int) -> str:
        return str(self.files[index])

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        path = self.files[index]
        audio = read_audio(path, self.sample_rate, channels=(1, 2))
        crop, _ = random_crop(audio, self.length, rng)
        axis = PSEUDO_AXES[int(rng.integers(len(PSEUDO_AXES)))]
        foa = check_foa(pseudo_foa(crop, axis), name=str(path))
        return {"foa": foa, "sample_rate": self.sample_rate, "axis": axis, "path": str(path),
                "caption": self.captions.get(str(path), "")}


@attrs.frozen(kw_only=True)
class FOAClip:
    """One FOA recording of an external dataset: audio, optional video and annotations."""

    key: str
    audio: Path
    video: Path | None = None
    metadata: dict | None = None
    """Scene metadata in the simulator's layout (sources, tracks), when annotated."""


class FOAClipDataset(RobustFileDataset):
    """Random crops of FOA clips (e.g. from :mod:`swansphere.data.external` loaders).

    Items: ``key``, ``foa`` ``(4, n)``, ``sample_rate``, ``crop_start`` (s), ``video`` (path
    or ``None``; decoding is left to the video conditioner), ``metadata`` (cropped) and
    ``caption`` when the clip is annotated. ``convert`` maps the file's channels to AmbiX
    (e.g. :func:`swansphere.spatial.fuma_to_ambix`); it defaults to none.
    """

    def __init__(self, clips: Sequence[FOAClip], sample_rate: int = 16000,
                 crop_seconds: float | None = 4.0, seed: int = 0,
                 convert: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 counter: SkipCounter | None = None) -> None:
        super().__init__(len(clips), seed, counter, "foa-clips")
        self.clips, self.sample_rate, self.convert = list(clips), sample_rate, convert
        self.length = None if crop_seconds is None else round(crop_seconds * sample_rate)

    def describe(self, index: int) -> str:
        return str(self.clips[index].audio)

    def load(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        from .shards import crop_metadata

        clip = self.clips[index]
        audio = read_audio(clip.audio, self.sample_rate, channels=(4,))
        audio = self.convert(audio) if self.convert else audio
        crop, start = random_crop(audio, self.length, rng)
        foa = check_foa(crop, name=str(clip.audio))
        item = {"key": clip.key, "foa": foa, "sample_rate": self.sample_rate,
                "crop_start": start / self.sample_rate,
                "video": str(clip.video) if clip.video else None}
        if clip.metadata is not None:
            seconds = foa.shape[-1] / self.sample_rate
            metadata = crop_metadata(clip.metadata, start / self.sample_rate, seconds)
            item |= {"metadata": metadata, "caption": metadata["caption"]}
        return item
