"""The sound vocabulary: class table, words, mapping of catalogue clips, held-out split."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict

import numpy as np
import pytest

from swansphere.data.clips import SoundClip
from swansphere.data.sources import GM_INSTRUMENTS, catalogue, phrase
from swansphere.data.vocabulary import (
    SOUND_CLASSES,
    Wording,
    attributions,
    class_clips,
    class_of,
    class_report,
    participle,
    sound_class,
    split_clips,
    third_person,
)
from swansphere.errors import ConfigError
from swansphere.spatial.words import prompt_directions


def _clip(clip_id: str, label: str, licence: str = "CC0", noun: str = "",
          attribution: str | None = None) -> SoundClip:
    return SoundClip(clip_id=clip_id, label=label, noun=noun or f"a {label}", verb="sounds",
                     licence=licence, package="test", attribution=attribution,
                     render=lambda rng, rate, n: rng.standard_normal(n).astype(np.float32))


def test_class_table_is_well_formed():
    names = [sound.name for sound in SOUND_CLASSES]
    assert len(names) == len(set(names)) >= 60
    for sound in SOUND_CLASSES:
        assert sound.wordings and sound.category and sound.noun and sound.verb
        assert not set(sound.held_out_synonyms) & {w.phrase for w in sound.wordings}, sound
    assert sound_class("violin").held_out_synonyms == ("a fiddle plays",)
    assert "a chap talks" in sound_class("man speaking").held_out_synonyms
    with pytest.raises(ConfigError, match="unknown sound class"):
        sound_class("theremin")


def test_sound_words_never_state_a_position():
    """Class words must not read as places ("a low hum" would parse as below)."""
    for sound in SOUND_CLASSES:
        for wording in (*sound.wordings, *sound.held_out_wordings):
            for text in (wording.phrase, f"{wording.noun} {wording.participle}"):
                assert prompt_directions(text) == [], text


@pytest.mark.parametrize(("verb", "third", "ing"), [
    ("play", "plays", "playing"), ("buzz", "buzzes", "buzzing"), ("hum", "hums", "humming"),
    ("chime", "chimes", "chiming"), ("cry", "cries", "crying"), ("whir", "whirs", "whirring"),
    ("drive by", "drives by", "driving by"), ("be played", "is played", "being played"),
    ("echo", "echoes", "echoing"), ("moo", "moos", "mooing"), ("open", "opens", "opening"),
    ("whisper", "whispers", "whispering"), ("wail", "wails", "wailing")])
def test_verb_forms(verb, third, ing):
    assert (third_person(verb), participle(verb)) == (third, ing)


def test_plural_wordings_agree():
    assert Wording.parse("maracas: rattle: pl").phrase == "maracas rattle"
    assert Wording.parse("strings: be played: pl").finite == "are played"
    assert Wording.parse("a shaker: shake").phrase == "a shaker shakes"


def test_an_agent_says_what_it_does_where_a_caption_has_no_verb():
    assert Wording.parse("someone: play the viola").nominal == "someone playing the viola"
    assert Wording.parse("a visitor: knock: agent").nominal == "a visitor knocking"
    assert Wording.parse("a violin: play").nominal == "a violin"
    assert not Wording.parse("a violin: play").agent


def test_every_class_is_named_by_its_nominals_alone():
    """A caption without a verb ("I hear ... on the left") names the sound by a wording's
    nominal: no two classes may share one ("someone" is every voice, claps and knocks)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for sound in SOUND_CLASSES:
        for wording in (*sound.wordings, *sound.held_out_wordings):
            owners[wording.nominal.lower()].add(sound.name)
    assert {nominal: names for nominal, names in owners.items() if len(names) > 1} == {}


def test_every_general_midi_sound_is_a_class_and_phrases_are_deterministic():
    names = {sound.name for sound in SOUND_CLASSES}
    assert {instrument.name for instrument in GM_INSTRUMENTS} <= names
    violin = next(i for i in GM_INSTRUMENTS if i.name == "violin")
    first, again, other = phrase(violin, 0), phrase(violin, 0), phrase(violin, 1)
    assert first == again and first != other
    events = first[0]
    assert len({note for _, _, note, _ in events}) > 1  # a phrase, not one note
    assert len({velocity for *_, velocity in events}) > 1  # dynamics
    assert len({length for _, length, _, _ in events}) > 1 or len(events) > 3  # rhythm


@pytest.mark.parametrize(("clip_id", "label", "expected"), [
    ("sonic-pi/bd_haus", "kick drum", "kick drum"), ("sonic-pi/tabla_na", "tabla", "tabla"),
    ("sonic-pi/drum_cymbal_closed", "cymbal closed", "hi-hat"),
    ("sonic-pi/mehackit_phone2", "phone", "telephone"), ("sonic-pi/misc_burp", "burp", None),
    ("arcade/laser3", "laser", "laser"), ("arcade/lose1", "lose", "game over jingle"),
    ("synthetic/speech", "speech", "person talking"),
    ("fluidsynth/violin/3", "violin", "violin"), ("hydrogen/kit/clap1", "clap", "hand claps"),
    ("tuxpaint/animals/mammals/dogs/dog", "dog", "dog"),
    ("gcompris/x/bark.ogg", "bark", "dog"), ("freedesktop/complete", "complete", "chime"),
    ("espeak-ng/de+m3/1", "man speaking", "man speaking"),
    ("tuxpaint/household/toilet", "toilet", None)])
def test_catalogue_clips_map_to_classes(clip_id, label, expected):
    sound = class_of(_clip(clip_id, label))
    assert (sound.name if sound else None) == expected


def test_class_clips_relabel_expand_synthetic_and_hold_out_a_third():
    clips = class_clips([_clip("synthetic/bell", "bell", "synthesised"),
                         _clip("sonic-pi/bd_a", "kick drum"), _clip("sonic-pi/bd_b", "kick drum"),
                         _clip("sonic-pi/bd_c", "kick drum", "GPL-2"),
                         _clip("tuxpaint/x/toilet", "toilet", "GPL-2")], synthetic_variants=6)
    assert sorted({clip.label for clip in clips}) == ["bell", "kick drum"]
    bells = [clip for clip in clips if clip.label == "bell"]
    assert len(bells) == 6 and bells[0].noun == "a bell" and bells[0].verb == "rings"
    # each variant is one fixed render: the scene's generator does not change it
    first = bells[0].render(np.random.default_rng(1), 8000, 800)
    assert np.array_equal(first, bells[0].render(np.random.default_rng(2), 8000, 800))
    assert not np.array_equal(first, bells[1].render(np.random.default_rng(1), 8000, 800))
    training, held_out = split_clips(clips)
    assert {c.clip_id for c in training}.isdisjoint(c.clip_id for c in held_out)
    assert sum(c.label == "bell" for c in held_out) == 2
    rows = {row["class"]: row for row in class_report(clips)}
    assert (rows["kick drum"]["clips"], rows["kick drum"]["permissive"]) == (3, 2)
    assert rows["kick drum"]["held_out"] == 1 and rows["dog"]["clips"] == 0
    assert class_clips([_clip("sonic-pi/bd_c", "kick drum", "GPL-2")],
                       permissive_only=True) == []


def test_attributions_credit_cc_by_and_mit_but_not_cc0():
    clips = [_clip("freedesktop/bell", "bell", "CC-BY-3.0", attribution="Dr. B"),
             _clip("freedesktop/bell2", "bell", "CC-BY-3.0", attribution="Dr. B"),
             _clip("sonic-pi/x", "x", "MIT", attribution="S. Aaron"),
             _clip("sonic-pi/y", "y", "CC0", attribution="someone"),
             _clip("freedesktop/z", "z", "CC-BY-SA-3.0", attribution="not used")]
    rows = attributions(clips)
    assert [(r["licence"], r["holder"], r["clips"]) for r in rows] == [
        ("CC-BY-3.0", "Dr. B", 2), ("MIT", "S. Aaron", 1)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_rendered_classes_have_distinct_deterministic_clips():
    clips = [c for c in class_clips(catalogue(["fluidsynth"])) if c.label == "violin"]
    if not clips:
        pytest.skip("no General MIDI sound font installed")
    first = clips[0].render(np.random.default_rng(0), 16000, 16000)
    assert np.array_equal(first, clips[0].render(np.random.default_rng(5), 16000, 16000))
    assert not np.array_equal(first, clips[1].render(np.random.default_rng(0), 16000, 16000))


def test_cli_lists_classes_and_credits(tmp_path, monkeypatch, capsys):
    from swansphere.cli import main

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no fluidsynth / espeak-ng
    monkeypatch.setenv("SWANSPHERE_SOUNDS", str(tmp_path / "sounds"))
    assert main(["data", "sources", "--classes", "--json", "--root", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["class"]: row for row in report["classes"]}
    assert report["summary"] == {"classes": 20, "permissive": 20, "with_held_out": 10}
    assert (rows["bell"]["clips"], rows["bell"]["held_out"]) == (9, 3)
    for procedural in ("dog", "wind", "fire", "thunder", "crickets", "footsteps", "heartbeat",
                       "camera", "lion", "horse"):
        assert (rows[procedural]["clips"], rows[procedural]["held_out"]) == (1, 0)
    assert rows["violin"]["held_out_synonyms"] == ["a fiddle plays"]
    assert main(["data", "sources", "--classes", "--root", str(tmp_path)]) == 0
    assert "20 classes installed" in capsys.readouterr().out
    assert main(["data", "sources", "--attribution", "--root", str(tmp_path)]) == 0
    assert "credit" in capsys.readouterr().out
