"""AmbiX file I/O: round trips, validation errors, atomic writes."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from swansphere import AudioFileError, AudioFormatError, SwanSphereError
from swansphere.spatial import audio_io, encode, read_foa, validate_foa, write_foa, write_wav

FOA = encode(0.1 * torch.randn(800, generator=torch.Generator().manual_seed(0)), 30.0, 10.0)


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def test_round_trip_is_bit_exact_float32(tmp_path):
    path = write_foa(tmp_path / "clip.wav", FOA, 16000)
    info = soundfile.info(path)
    assert (info.channels, info.samplerate, info.subtype, info.format) == (4, 16000, "FLOAT",
                                                                          "WAV")
    foa, sample_rate = read_foa(path)
    assert sample_rate == 16000 and foa.dtype == torch.float32 and torch.equal(foa, FOA)


def test_numpy_and_float64_input_is_written_as_float32(tmp_path):
    write_foa(tmp_path / "clip.wav", FOA.double().numpy(), 8000)
    foa, _ = read_foa(tmp_path / "clip.wav")
    assert torch.equal(foa, FOA)


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "no such file"),
    (b"", "is empty (0 bytes)"),
    (b"not audio at all", "not a readable audio file"),
], ids=["missing", "empty", "garbage"])
def test_unreadable_files(tmp_path, content, fragment):
    path = tmp_path / "clip.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioFileError) as error:
        read_foa(path)
    assert fragment in _one_line(error)


def test_wrong_channel_count(tmp_path):
    soundfile.write(tmp_path / "stereo.wav", np.zeros((100, 2), dtype=np.float32), 16000)
    with pytest.raises(AudioFormatError) as error:
        read_foa(tmp_path / "stereo.wav")
    assert "2 channel(s)" in _one_line(error) and "need exactly 4" in str(error.value)


def test_non_finite_and_sample_less_files(tmp_path):
    data = np.zeros((100, 4), dtype=np.float32)
    data[10, 2] = np.inf
    soundfile.write(tmp_path / "inf.wav", data, 16000, subtype="FLOAT")
    with pytest.raises(AudioFormatError, match="NaN or infinite"):
        read_foa(tmp_path / "inf.wav")
    soundfile.write(tmp_path / "none.wav", np.zeros((0, 4), dtype=np.float32), 16000,
                    subtype="FLOAT")
    with pytest.raises(AudioFormatError, match="no samples"):
        read_foa(tmp_path / "none.wav")


@pytest.mark.parametrize(("audio", "fragment"), [
    (FOA[:2], "(..., 4, samples)"),
    (FOA[None], "pass one clip at a time"),
    (FOA[:, :0], "no samples"),
    (torch.where(torch.arange(800) == 3, math.nan, FOA), "NaN or infinite"),
])
def test_write_rejects_bad_audio(tmp_path, audio, fragment):
    with pytest.raises(AudioFormatError) as error:
        write_foa(tmp_path / "out.wav", audio, 16000)
    assert fragment in _one_line(error)
    assert not list(tmp_path.iterdir())


def test_write_rejects_bad_targets(tmp_path):
    with pytest.raises(AudioFileError, match="does not exist; create it first"):
        write_foa(tmp_path / "missing" / "out.wav", FOA, 16000)
    with pytest.raises(AudioFileError, match=r"\*\.wav"):
        write_foa(tmp_path / "out.flac", FOA, 16000)
    with pytest.raises(AudioFormatError, match="positive integer"):
        write_foa(tmp_path / "out.wav", FOA, 16000.5)


def test_errors_are_swansphere_errors():
    assert issubclass(AudioFileError, SwanSphereError)
    with pytest.raises(SwanSphereError):
        validate_foa(torch.zeros(3, 10))


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = write_foa(tmp_path / "clip.wav", FOA, 16000)
    before = path.read_bytes()

    def crash(file, data, *args, **kwargs):
        Path(file).write_bytes(b"RIFF partial")
        raise OSError("disk full")

    monkeypatch.setattr(audio_io.soundfile, "write", crash)
    with pytest.raises(AudioFileError, match="disk full") as error:
        write_foa(path, FOA * 0.5, 16000)
    _one_line(error)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.wav"]


def test_written_files_get_ordinary_permissions(tmp_path):
    reference = tmp_path / "plain.txt"
    reference.write_text("x")
    path = write_wav(tmp_path / "stereo.wav", torch.zeros(2, 10), 8000)
    assert os.stat(path).st_mode & 0o777 == os.stat(reference).st_mode & 0o777
    assert soundfile.info(path).channels == 2
