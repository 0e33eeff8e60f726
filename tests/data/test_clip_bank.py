"""Clip banks: the vocabulary's clips exported on one machine and read back on another.

The exporting machine is a fake package tree (Sonic Pi FLAC samples, arcade sounds) plus the
synthesised sources; the "GPU machine" is an empty root with only the bank.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from swansphere.cli import main
from swansphere.data.bank import BANK_ENV, bank_clips, export_bank, render_whole
from swansphere.data.sources import catalogue
from swansphere.data.synthetic import render_clip
from swansphere.data.vocabulary import class_clips, split_clips
from swansphere.errors import AudioFileError, ConfigError

RATE = 8000
COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2016 Samuel Aaron
License: MIT

Files: etc/samples/bd_haus.flac
Copyright: someone else
License: CC0
"""


def _write(path: Path, label: str, seconds: float, rate: int = 22050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, render_clip(label, seed=2, sample_rate=rate, seconds=seconds), rate)


@pytest.fixture
def machines(tmp_path, monkeypatch):
    """``(exporting root, empty root)``; the sounds folder holds the arcade set."""
    root = tmp_path / "root"
    samples = root / "usr/share/sonic-pi/samples"
    for name, label, seconds in (("bd_haus", "knock", 0.6), ("bd_tek", "knock", 0.4),
                                 ("tabla_na", "bell", 0.9), ("tabla_ghe", "bell", 0.5),
                                 ("tabla_tas", "clock", 0.7), ("elec_blip", "whistle", 0.3)):
        _write(samples / f"{name}.flac", label, seconds)
    doc = root / "usr/share/doc/sonic-pi-samples"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    sounds = tmp_path / "sounds"
    _write(sounds / "arcade" / "coin1.wav", "bell", 0.4)
    _write(sounds / "arcade" / "laser2.wav", "siren", 0.5)
    monkeypatch.setenv("SWANSPHERE_SOUNDS", str(sounds))
    monkeypatch.delenv(BANK_ENV, raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no espeak-ng / fluidsynth
    return root, tmp_path / "empty"


def _card(clip) -> tuple:
    return (clip.clip_id, clip.label, clip.noun, clip.verb, clip.licence, clip.package,
            clip.attribution, clip.duration)


def _on_gpu_machine(monkeypatch, bank: Path, empty_root: Path) -> None:
    """No sound sets but the bank (and the synthesised sources, which always exist)."""
    monkeypatch.setenv("SWANSPHERE_SOUNDS", str(empty_root / "sounds"))
    monkeypatch.setenv(BANK_ENV, str(bank))


def _ids(clips) -> list[str]:
    return sorted(clip.clip_id for clip in clips)


def test_flac_bank_gives_the_same_clips_split_and_audio(machines, tmp_path, monkeypatch):
    root, empty = machines
    original = class_clips(catalogue(root=root), permissive_only=True)
    assert {"sonic-pi", "arcade", "synthetic", "procedural"} == {
        c.clip_id.split("/")[0] for c in original}
    report = export_bank(tmp_path / "bank", root=root, sample_rate=RATE, audio_format="flac",
                         seconds_max=1.0, progress=False)
    assert report["clips"] == len(original) and report["skipped"] == 0

    _on_gpu_machine(monkeypatch, tmp_path / "bank", empty)
    moved = class_clips(catalogue(root=empty), permissive_only=True)
    assert sorted(map(_card, moved)) == sorted(map(_card, original))
    for before, after in zip(split_clips(original), split_clips(moved), strict=True):
        assert _ids(before) == _ids(after)  # the held-out split does not move
    assert {c.licence for c in moved if c.clip_id.startswith("sonic-pi/")} == {"CC0", "MIT"}

    by_id = {clip.clip_id: clip for clip in original}
    for clip in moved:
        if clip.clip_id.startswith(("synthetic/", "procedural/")):
            continue  # the synthesised sources are live here, not read from the bank
        assert clip.path is not None and clip.path.suffix == ".flac"
        for length in (RATE // 10, RATE // 2, 2 * RATE):  # cut, and zero-padded
            rng = np.random.default_rng(length)
            want = by_id[clip.clip_id].render(rng, RATE, length)
            got = clip.render(rng, RATE, length)
            assert got.shape == want.shape == (length,)
            # 16-bit quantisation, scaled by the levelling gain (<= 0.9 peak both ways)
            assert np.abs(got - want).max() <= 2e-4 * max(1.0, np.abs(want).max() / 0.05)


def test_bank_alone_keeps_synthesised_renders_as_single_clips(machines, tmp_path,
                                                             monkeypatch):
    root, empty = machines
    original = class_clips(catalogue(["synthetic"], root=root))
    export_bank(tmp_path / "bank", sets=["synthetic"], root=root, sample_rate=RATE,
                audio_format="flac", seconds_max=0.5, progress=False)
    _on_gpu_machine(monkeypatch, tmp_path / "bank", empty)
    banked = class_clips(catalogue(["bank"], root=empty))
    assert sorted(map(_card, banked)) == sorted(map(_card, original))  # 90, not 90 x 9
    stored = RATE // 2
    for clip in banked[::7]:
        want = next(c for c in original if c.clip_id == clip.clip_id)
        rng = np.random.default_rng(0)
        assert np.abs(clip.render(rng, RATE, stored) - want.render(rng, RATE, stored)
                      ).max() < 1e-3


def test_originals_win_over_their_bank_copies(machines, tmp_path, monkeypatch):
    root, _ = machines
    original = class_clips(catalogue(root=root), permissive_only=True)
    export_bank(tmp_path / "bank", sets=["sonic-pi", "synthetic"], root=root,
                sample_rate=RATE, seconds_max=0.5, progress=False)
    monkeypatch.setenv(BANK_ENV, str(tmp_path / "bank"))
    both = class_clips(catalogue(root=root), permissive_only=True)
    assert _ids(both) == _ids(original)
    assert all(clip.vocabulary_class is None for clip in both)
    # without its sonic-pi folder, the machine reads those clips from the bank
    shutil.rmtree(root / "usr/share/sonic-pi")
    assert _ids(class_clips(catalogue(root=root), permissive_only=True)) == _ids(original)


def test_ogg_bank_is_spectrally_close(machines, tmp_path, monkeypatch):
    root, empty = machines
    original = {c.clip_id: c for c in class_clips(catalogue(["sonic-pi"], root=root))}
    export_bank(tmp_path / "ogg", sets=["sonic-pi"], root=root, sample_rate=RATE,
                progress=False)
    _on_gpu_machine(monkeypatch, tmp_path / "ogg", empty)
    banked = bank_clips()
    assert _ids(banked) == sorted(original)
    for clip in banked:
        rng = np.random.default_rng(0)
        want = original[clip.clip_id].render(rng, RATE, RATE)
        got = clip.render(rng, RATE, RATE)
        spectra = [np.abs(np.fft.rfft(x.reshape(-1, 200) * np.hanning(200), axis=1))
                   for x in (want, got)]
        bands = [s[:, :99].reshape(s.shape[0], 33, 3).sum(axis=2) for s in spectra]
        error = np.linalg.norm(bands[1] - bands[0]) / np.linalg.norm(bands[0])
        assert error < 0.35, clip.clip_id
        assert abs(np.sqrt(np.mean(got ** 2)) - np.sqrt(np.mean(want ** 2))) < 0.02


def test_long_clips_are_cut_to_seconds_max(machines):
    root, _ = machines
    tabla = next(c for c in class_clips(catalogue(["sonic-pi"], root=root))
                 if c.clip_id == "sonic-pi/tabla_na")
    whole, capped = render_whole(tabla, RATE)
    assert not capped and abs(whole.size / RATE - tabla.duration) < 0.05
    cut, capped = render_whole(tabla, RATE, seconds_max=0.25)
    assert capped and cut.size == RATE // 4


def test_damaged_banks_are_refused(machines, tmp_path):
    root, _ = machines
    bank = tmp_path / "bank"
    export_bank(bank, sets=["sonic-pi"], root=root, sample_rate=RATE, progress=False)
    next((bank / "clips").iterdir()).unlink()
    with pytest.raises(AudioFileError, match="lacks 1 file"):
        bank_clips(bank)
    (bank / "index.json").write_text(json.dumps({"format": "swansphere-clip-bank",
                                                 "version": 99}))
    with pytest.raises(AudioFileError, match="version 99"):
        bank_clips(bank)
    assert bank_clips(tmp_path / "nothing-here") == []


def test_export_refuses_bad_requests(machines, tmp_path):
    root, _ = machines
    with pytest.raises(ConfigError, match="no clips"):
        export_bank(tmp_path / "b", sets=["tuxpaint"], root=root, progress=False)
    with pytest.raises(ConfigError, match="leave 'bank' out"):
        export_bank(tmp_path / "b", sets=["bank"], root=root, progress=False)
    assert not (tmp_path / "b").exists()


def test_cli_exports_and_refuses_a_bad_out_dir(machines, tmp_path, capsys):
    root, _ = machines
    small = ["--sets", "sonic-pi,arcade", "--sample-rate", str(RATE), "--quiet",
             "--root", str(root)]
    out = tmp_path / "bank"
    assert main(["data", "bank", "export", str(out), *small]) == 0
    assert "wrote 8 clips of" in capsys.readouterr().out
    index = json.loads((out / "index.json").read_text())
    assert index["sample_rate"] == RATE and len(index["clips"]) == 8
    assert {row["set"] for row in index["clips"]} == {"sonic-pi", "arcade"}
    assert main(["data", "bank", "export", str(out), *small, "--format", "flac"]) == 0
    assert {Path(row["file"]).suffix for row in json.loads(
        (out / "index.json").read_text())["clips"]} == {".flac"}  # an old bank is replaced
    assert not list(tmp_path.glob(".bank.*"))  # no temporary left behind
    capsys.readouterr()

    (tmp_path / "a-file").write_text("keep me")
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("keep me")
    for target in (tmp_path / "a-file", keep):
        assert main(["data", "bank", "export", str(target), *small]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("swansphere: error:") and "\n" not in error
    assert (keep / "notes.txt").read_text() == (tmp_path / "a-file").read_text() == "keep me"
