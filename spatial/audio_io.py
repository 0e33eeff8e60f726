"""AmbiX files: float32 WAV through soundfile, validated on the way in and out.

Writes are atomic: the data goes to a temporary file in the target folder, which then replaces
the target in one ``os.replace``, so an interrupted write never leaves a truncated file behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch

from swansphere.errors import AudioFileError, AudioFormatError
from swansphere.fileio import atomic_file

from .foa import as_float_tensor, check_samples, validate_foa

PathLike = str | os.PathLike[str]
_WAV_LIMIT_BYTES = 2**32 - 2**20  # above this, plain WAV's 32-bit sizes overflow: use RF64


def read_foa(path: PathLike) -> tuple[torch.Tensor, int]:
    """Read a 4-channel AmbiX file -> (foa ``(4, n)`` float32 tensor, sample rate).

    Any format libsndfile reads works (WAV, FLAC, ...). Raises
    :class:`~swansphere.errors.AudioFileError` for a missing, empty or unreadable file and
    :class:`~swansphere.errors.AudioFormatError` for a wrong channel count, no samples or
    NaN/Inf samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path} is empty (0 bytes); re-create or re-download it")
    try:
        data, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AudioFileError(f"{path} is not a readable audio file ({reason}); "
                             "give a 4-channel AmbiX WAV or FLAC file") from error
    if data.shape[1] != 4:
        raise AudioFormatError(
            f"{path} has {data.shape[1]} channel(s); AmbiX FOA files need exactly 4 "
            "(W, Y, Z, X); render or convert it to first-order ambisonics first")
    foa = validate_foa(torch.from_numpy(np.ascontiguousarray(data.T)), name=str(path))
    return foa, int(sample_rate)


def write_foa(path: PathLike, foa: Any, sample_rate: int) -> Path:
    """Write AmbiX ``(4, n)`` as a float32 WAV, atomically; returns the path written.

    Raises :class:`~swansphere.errors.AudioFormatError` for bad audio (shape, NaN/Inf, no
    samples) and :class:`~swansphere.errors.AudioFileError` when the file cannot be written.
    """
    foa = validate_foa(foa, ndim=2)
    return write_wav(path, foa, sample_rate)


def write_wav(path: PathLike, audio: Any, sample_rate: int) -> Path:
    """Write any ``(channels, n)`` audio (e.g. a binaural render) as float32 WAV, atomically.

    The folder must exist and the name must end in ``.wav``. Clips over 4 GiB become RF64.
    """
    path = Path(path)
    audio = _checked_channels_first(audio)
    if not (isinstance(sample_rate, int | np.integer) and sample_rate > 0):
        raise AudioFormatError(f"sample_rate must be a positive integer; got {sample_rate!r}")
    if path.suffix.lower() != ".wav":
        raise AudioFileError(f"{path}: audio is written as float32 WAV; name the file *.wav")
    if not path.parent.is_dir():
        raise AudioFileError(f"cannot write {path}: folder {path.parent} does not exist; "
                             "create it first")
    data = audio.detach().to("cpu", torch.float32).T.contiguous().numpy()
    container = "RF64" if data.nbytes > _WAV_LIMIT_BYTES else "WAV"
    _atomic_write(path, data, int(sample_rate), container)
    return path


def _checked_channels_first(audio: Any) -> torch.Tensor:
    tensor = as_float_tensor(audio)
    if tensor.ndim != 2:
        raise AudioFormatError(f"audio to write must have shape (channels, samples); got "
                               f"{tuple(tensor.shape)}")
    return check_samples(tensor, name="audio to write")


def _atomic_write(path: Path, data: np.ndarray, sample_rate: int, container: str) -> None:
    """Write through :func:`swansphere.fileio.atomic_file`: never a truncated file."""
    try:
        with atomic_file(path) as temporary:
            soundfile.write(temporary, data, sample_rate, subtype="FLOAT", format=container)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise AudioFileError(f"cannot write {path} ({error}); check the folder's permissions "
                             "and free space") from error
