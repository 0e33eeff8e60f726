"""The offline sound-set catalogue, on fake package trees filled with synthesised clips."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile

from swansphere.data.clips import is_permissive
from swansphere.data.sources import (
    FLITE_HOLDER,
    RENDER_TIMEOUTS,
    CopyrightFile,
    _run_to_wav,
    article,
    catalogue,
    flite_voices,
    inventory,
    midi_file,
    rcc_entries,
    trim_silence,
    verb_for,
)
from swansphere.data.synthetic import render_clip
from swansphere.data.vocabulary import class_clips
from swansphere.errors import AudioFileError, ConfigError


def write_clip(path: Path, label: str = "bell", seconds: float = 0.5, rate: int = 22050,
               channels: int = 1, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mono = render_clip(label, seed=1, sample_rate=rate, seconds=seconds)
    data = np.stack([mono] * channels, axis=1) if channels > 1 else mono
    soundfile.write(path, data, rate, format=fmt)
    return path


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: someone
License: MIT

Files:
 etc/samples/bd_haus.flac
 etc/samples/misc_crow.flac
Copyright: someone else
License: CC0
Comment: from freesound

License: MIT
 Permission is hereby granted...
"""


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    samples = root / "usr/share/sonic-pi/samples"
    for name in ("bd_haus", "misc_crow", "tabla_na", "drum_snare_hard"):
        write_clip(samples / f"{name}.flac", channels=2)
    doc = root / "usr/share/doc/sonic-pi-samples"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    stamps = root / "usr/share/tuxpaint/stamps/animals/mammals"
    write_clip(stamps / "cow.ogg", "engine", fmt="OGG")
    (stamps / "cow.txt").write_text("A cow (a mammal).\nfr.utf8=Une vache.\n")
    write_clip(stamps / "cow_desc.ogg", "speech", fmt="OGG")
    letters = root / "usr/share/tuxpaint/stamps/symbols/alphabets"
    write_clip(letters / "a.ogg", "speech", fmt="OGG")
    (letters / "a.txt").write_text("The letter A.\n")
    icons = root / "usr/share/sounds/sound-icons"
    write_clip(icons / "trumpet-12.wav", "whistle")
    arcade = tmp_path / "sounds" / "arcade"
    write_clip(arcade / "coin1.wav", "bell")
    write_clip(arcade / "coin1.ogg", "bell", fmt="OGG")
    write_clip(arcade / "laser2.wav", "siren")
    monkeypatch.setenv("SWANSPHERE_SOUNDS", str(tmp_path / "sounds"))
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no espeak-ng / fluidsynth
    return root


def test_copyright_file_follows_dep5(tmp_path):
    path = tmp_path / "copyright"
    path.write_text(COPYRIGHT)
    licences = CopyrightFile.read(path)
    assert licences.licence("etc/samples/bd_haus.flac", "GPL") == "CC0"
    assert licences.licence("elsewhere/misc_crow.flac", "GPL") == "CC0"
    assert licences.licence("etc/samples/tabla_na.flac", "GPL") == "MIT"
    assert CopyrightFile.read(tmp_path / "missing").licence("x", "GPL-2") == "GPL-2"


def test_copyright_synopsis_holders_and_foreign_files(tmp_path):
    path = tmp_path / "copyright"
    path.write_text(COPYRIGHT.replace("Copyright: someone else", "Copyright:\n 2006, A. Drummer\n"
                                      " 2007, B. Player")
                    + "\nFiles: kits/*.h2drumkit\nCopyright: C. Kit\n"
                      "License: GPL-2+ with composition exception\n")
    licences = CopyrightFile.read(path)
    assert licences.entry("misc_crow.flac", "GPL") == ("CC0", "2006, A. Drummer 2007, B. Player")
    assert licences.entry("kits/Rock.h2drumkit", "GPL") == ("GPL-2+", "C. Kit")
    path.write_text("This package was debianized by someone.\nIt is GPL-2, see above.\n")
    assert CopyrightFile.read(path).entry("misc_crow.flac", "GPL-2") == ("GPL-2", None)


def test_catalogue_reads_fake_package_trees(fake_root):
    clips = {clip.clip_id: clip for clip in catalogue(root=fake_root)}
    assert {"sonic-pi/bd_haus", "sonic-pi/misc_crow", "sonic-pi/tabla_na",
            "tuxpaint/animals/mammals/cow", "sound-icons/trumpet-12", "arcade/coin1",
            "arcade/laser2", "synthetic/bell"} <= set(clips)
    assert not any("desc" in key or "alphabets" in key for key in clips)
    assert sum(key.startswith("arcade/coin1") for key in clips) == 1
    crow, bd, tabla = (clips[f"sonic-pi/{n}"] for n in ("misc_crow", "bd_haus", "tabla_na"))
    assert (crow.phrase, crow.licence) == ("a crow caws", "CC0")
    assert (bd.noun, bd.licence, tabla.licence) == ("a kick drum", "CC0", "MIT")
    assert clips["sonic-pi/drum_snare_hard"].noun == "a snare drum"
    cow = clips["tuxpaint/animals/mammals/cow"]
    assert (cow.phrase, cow.licence, cow.permissive) == ("a cow moos", "GPL-2", False)
    assert clips["sound-icons/trumpet-12"].label == "trumpet"
    assert clips["arcade/coin1"].licence == "CC0-1.0" and clips["arcade/coin1"].permissive
    assert cow.duration == pytest.approx(0.5, abs=0.01)


def test_file_clips_render_levelled_mono_at_any_rate(fake_root):
    clip = next(c for c in catalogue(["sonic-pi"], root=fake_root) if "tabla" in c.clip_id)
    rendered = clip.render(np.random.default_rng(0), 16000, 16000)
    assert rendered.shape == (16000,) and rendered.dtype == np.float32
    assert np.sqrt(np.mean(rendered[:7000].astype(np.float64) ** 2)) > 0.05
    assert np.abs(rendered[9000:]).max() == 0  # a 0.5 s clip, zero-padded


def test_permissive_filter_and_inventory(fake_root):
    permissive = catalogue(root=fake_root, permissive_only=True)
    assert all(clip.permissive for clip in permissive)
    assert not any(clip.package == "tuxpaint-stamps-default" for clip in permissive)
    report = {row["set"]: row for row in inventory(fake_root)}
    assert report["sonic-pi"]["clips"] == 4 and report["sonic-pi"]["licences"] == {
        "CC0": 2, "MIT": 2}
    assert report["gcompris"]["clips"] == 0 and report["espeak-ng"]["clips"] == 0
    assert report["flite"]["clips"] == 0
    assert report["synthetic"]["permissive"] == report["synthetic"]["clips"] == 10


def test_unknown_set_names_are_refused():
    with pytest.raises(ConfigError, match="sonic-pi"):
        catalogue(["sonic-py"])


def test_corrupt_clip_raises_a_clear_error(fake_root):
    path = fake_root / "usr/share/sonic-pi/samples/bd_haus.flac"
    path.write_bytes(b"not audio at all")
    clip = next(c for c in catalogue(["sonic-pi"], root=fake_root) if c.path == path)
    with pytest.raises(AudioFileError, match="bd_haus"):
        clip.render(np.random.default_rng(0), 8000, 800)


def make_rcc(entries: dict[str, bytes], compress: bool) -> bytes:
    """A version-2 Qt resource file with the given top-level files (zlib or raw)."""
    names, name_offsets = b"", {}
    for name in ["", *entries]:
        name_offsets[name] = len(names)
        encoded = name.encode("utf-16-be")
        names += struct.pack(">HI", len(name), 0) + encoded
    data, data_offsets = b"", {}
    for name, payload in entries.items():
        stored = struct.pack(">I", len(payload)) + zlib.compress(payload) if compress else payload
        data_offsets[name] = len(data)
        data += struct.pack(">I", len(stored)) + stored
    node = 22
    tree = struct.pack(">IHII", name_offsets[""], 2, len(entries), 1) + b"\0" * 8
    for name in entries:
        tree += struct.pack(">IHHHI", name_offsets[name], 1 if compress else 0, 0, 0,
                            data_offsets[name]) + b"\0" * 8
    assert len(tree) == node * (len(entries) + 1)
    header_size = 20 + 4
    tree_offset = header_size
    data_offset = tree_offset + len(tree)
    names_offset = data_offset + len(data)
    header = b"qres" + struct.pack(">IIIII", 2, tree_offset, data_offset, names_offset, 0)
    return header + tree + data + names


PEKKA_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2003 A. Game Maker
License: BSD-2-Clause

License: BSD-2-Clause
 Redistribution and use in source and binary forms ...
"""


def test_pekka_kana_keeps_only_the_animal_calls_and_credits_them(tmp_path):
    data = tmp_path / "usr/share/games/pekka-kana-2/data"
    for name in ("sfx/moo", "sprites/hen", "sprites/chick", "sprites/pig_ko", "sprites/frog_att",
                 "sprites/wolf_ko", "sfx/jump4"):
        write_clip(data / f"{name}.wav")
    doc = tmp_path / "usr/share/doc/pekka-kana-2-data"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(PEKKA_COPYRIGHT)
    clips = {clip.clip_id: clip for clip in catalogue(["pekka-kana"], root=tmp_path)}
    assert set(clips) == {"pekka-kana/sfx/moo", "pekka-kana/sprites/hen",
                          "pekka-kana/sprites/chick", "pekka-kana/sprites/pig_ko"}
    assert [clips[f"pekka-kana/{n}"].phrase for n in ("sfx/moo", "sprites/hen",
                                                        "sprites/chick")] == [
        "a cow moos", "a hen clucks", "a chick cheeps"]
    assert all(clip.permissive and clip.licence == "BSD-2-Clause" for clip in clips.values())
    assert {clip.attribution for clip in clips.values()} == {"2003 A. Game Maker"}
    classes = {clip.clip_id: clip.label for clip in class_clips(list(clips.values()))}
    assert classes == {"pekka-kana/sfx/moo": "cow", "pekka-kana/sprites/hen": "chicken",
                       "pekka-kana/sprites/chick": "chicken", "pekka-kana/sprites/pig_ko": "pig"}


EFL_COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2002-2020, Some Developers
License: BSD-2-clause

Files: src/examples/elementary/*
Copyright: 2019, its authors
License: Apache-2.0

Files: src/examples/edje/*
Copyright: 2010, Edje Example Authors
License: BSD-2-clause
"""


def test_efl_keeps_its_duck_with_the_licence_of_its_source_path(tmp_path):
    examples = tmp_path / "usr/share/doc/efl-doc/examples"
    for name in ("edje/duck", "edje/bubble", "elementary/sound"):
        write_clip(examples / f"{name}.wav")
    (tmp_path / "usr/share/doc/efl-doc/copyright").write_text(EFL_COPYRIGHT)
    clips = catalogue(["efl"], root=tmp_path)
    assert [(clip.clip_id, clip.label, clip.phrase) for clip in clips] == [
        ("efl/edje/duck", "duck", "a duck quacks")]
    assert clips[0].licence == "BSD-2-clause" and clips[0].permissive
    assert clips[0].attribution == "2010, Edje Example Authors"  # its source path's stanza
    assert [clip.label for clip in class_clips(clips)] == ["duck"]


def test_qabcs_noises_take_their_category_and_a_toy_names_no_instrument(tmp_path):
    abcs = tmp_path / "usr/share/qabcs/abcs"
    for name in ("dog", "horn", "drums", "zoetrope"):
        write_clip(abcs / f"all/noises/{name}.ogg", fmt="OGG")
    letters = [{"D": {"animals": {"name": "DOG", "noises": "dog.ogg"},
                      "instrument": {"name": "DRUMS", "noises": "drums.ogg"}}},
               {"H": {"toys": {"name": "HORN", "noises": "horn.ogg"}}}]
    (abcs / "en").mkdir(parents=True)
    (abcs / "en/abc1.json").write_text(json.dumps({"general": {}, "letters": letters}))
    for language, text in (("de", "{not json"), ("fr", "[]"), ("it", '{"letters": [1]}')):
        (abcs / language).mkdir()
        (abcs / language / "abc1.json").write_text(text)  # no alphabet: skipped, not fatal
    clips = {clip.clip_id: clip for clip in catalogue(["qabcs"], root=tmp_path)}
    assert set(clips) == {f"qabcs/{n}" for n in ("dog", "horn", "drums", "zoetrope")}
    assert clips["qabcs/dog"].phrase == "a dog barks"
    assert clips["qabcs/horn"].label == "toy horn"
    assert all(clip.licence == "GPL-3+" and not clip.permissive for clip in clips.values())
    classes = {clip.clip_id: clip.label for clip in class_clips(list(clips.values()))}
    assert classes == {"qabcs/dog": "dog", "qabcs/drums": "drum kit"}


@pytest.mark.parametrize("compress", [False, True])
def test_qt_resource_bundles_are_read(tmp_path, compress):
    payload = {"cow.ogg": b"abc" * 10, "readme.txt": b"hello"}
    path = tmp_path / "bundle.rcc"
    path.write_bytes(make_rcc(payload, compress))
    assert {name: read() for name, read in rcc_entries(path)} == {
        f"/{name}": data for name, data in payload.items()}
    (tmp_path / "bad.rcc").write_bytes(b"nope")
    with pytest.raises(AudioFileError):
        list(rcc_entries(tmp_path / "bad.rcc"))


def test_midi_file_is_a_valid_single_track_smf():
    data = midi_file(40, [60, 64])
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    (length,) = struct.unpack(">I", data[18:22])
    assert len(data) == 22 + length and data.endswith(b"\xff\x2f\x00")
    assert data.count(b"\x90") == 2 and data.count(b"\x80") >= 2


@pytest.mark.parametrize(("licence", "permissive"), [
    ("CC0", True), ("CC0-1.0", True), ("MIT", True), ("CC-BY-3.0", True),
    ("CC-BY-SA-3.0", False), ("GPL-2+", False), ("cc-by-nc-4.0", False), ("synthesised", True),
    ("free-art", False)])
def test_permissive_licences(licence, permissive):
    assert is_permissive(licence) is permissive


def test_words_for_captions():
    assert verb_for("cow_white") == "moos"
    assert verb_for("gnu", "animals/mammals") == "calls"
    assert verb_for("thing") == "sounds"
    assert [article(n) for n in ("owl", "water", "frogs in a pond", "a cow", "bus")] == [
        "an owl", "water", "frogs in a pond", "a cow", "a bus"]


def test_trim_silence_cuts_both_ends():
    signal = np.concatenate([np.zeros(100), np.ones(10), np.zeros(50)])
    assert trim_silence(signal).size == 10
    assert trim_silence(np.zeros(10)).size == 0


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_speech_renders():
    clip = next(c for c in catalogue(["espeak-ng"]))
    audio = clip.render(np.random.default_rng(0), 16000, 16000)
    assert clip.verb.startswith("says") and np.abs(audio).max() > 0.05


def test_flite_speech_varies_voice_rate_and_pitch_clip_by_clip():
    voices = flite_voices()
    assert len({key for key, *_ in voices}) == len(voices)
    renders = [(voice, line, settings) for _, voice, _, line, settings in voices]
    assert len(set(renders)) == len(renders)
    by_label = {}
    for _, voice, label, _, settings in voices:
        by_label.setdefault(label, []).append((voice, settings))
    assert set(by_label) == {"man speaking", "woman speaking"}
    assert all(len(clips) >= 9 for clips in by_label.values())  # a held-out third and more
    assert {voice for voice, _ in by_label["man speaking"]} == {"kal16", "rms", "awb"}
    assert {voice for voice, _ in by_label["woman speaking"]} == {"slt"}
    assert len({settings for _, settings in by_label["woman speaking"]}) >= 4


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_flite_speech_is_permissive_and_credited():
    clips = catalogue(["flite"], permissive_only=True)
    assert len(clips) == len(flite_voices())
    assert {clip.label for clip in clips} == {"man speaking", "woman speaking"}
    assert all(clip.attribution == FLITE_HOLDER and clip.package == "flite" for clip in clips)
    assert clips[0].verb.startswith('says "')


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")
def test_flite_speech_renders():
    clip = next(c for c in catalogue(["flite"]) if c.label == "woman speaking")
    audio = clip.render(np.random.default_rng(0), 16000, 16000)
    assert np.abs(audio).max() > 0.05


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_fluidsynth_notes_render():
    clips = catalogue(["fluidsynth"])
    if not clips:
        pytest.skip("no General MIDI sound font installed")
    audio = clips[0].render(np.random.default_rng(0), 16000, 16000)
    assert clips[0].verb == "plays" and np.abs(audio).max() > 0.05


def _synthesiser(outcomes: list[str]):
    """A stand-in for subprocess.run that times out, fails or writes the wav, in turn."""
    calls = []

    def run(command, *, timeout, **options):
        calls.append(timeout)
        outcome = outcomes[len(calls) - 1]
        if outcome == "slow":
            raise subprocess.TimeoutExpired(command, timeout)
        if outcome == "broken":
            raise subprocess.CalledProcessError(1, command)
        Path(command[-1]).write_bytes(b"RIFF")

    return run, calls


@pytest.mark.parametrize("outcomes, tries", [(["ok"], 1), (["slow", "ok"], 2)])
def test_a_slow_synthesiser_gets_a_second_longer_try(tmp_path, monkeypatch, outcomes, tries):
    run, calls = _synthesiser(outcomes)
    monkeypatch.setattr(subprocess, "run", run)
    wav = tmp_path / "clip.wav"
    assert _run_to_wav(["synth", str(wav)], wav) == b"RIFF"
    assert calls == list(RENDER_TIMEOUTS[:tries]) and calls == sorted(calls)


@pytest.mark.parametrize("outcomes, tries", [(["slow", "slow"], 2), (["broken"], 1)])
def test_a_synthesiser_that_keeps_failing_is_one_clear_error(tmp_path, monkeypatch, outcomes,
                                                             tries):
    run, calls = _synthesiser(outcomes)
    monkeypatch.setattr(subprocess, "run", run)
    wav = tmp_path / "clip.wav"
    with pytest.raises(AudioFileError, match="synth failed"):
        _run_to_wav(["synth", str(wav)], wav)
    assert len(calls) == tries                                # a broken one is not retried
