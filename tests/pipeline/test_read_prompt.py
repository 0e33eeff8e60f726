"""``Pipeline.read_prompt``: how a prompt is read, clause by clause, and what generate prints."""

from __future__ import annotations

import pytest
from pipeline_helpers import tiny_pipeline

from swansphere.cli import main
from swansphere.conditioning.text import minilm_available
from swansphere.pipeline import Pipeline
from swansphere.reading import ClauseReading


@pytest.fixture(scope="module")
def next_model() -> Pipeline:
    if not minilm_available():
        pytest.skip("needs swansphere[text]")
    return Pipeline.from_pretrained("tiny-next")


def test_each_place_is_a_clause_with_its_words_place_and_exemplar(next_model):
    first, second = next_model.read_prompt(
        "a sackbut blares behind you and a tomcat yowls to your left")
    assert first.words == "a trombone blares behind" and first.places == ((180.0, 0.0),)
    assert first.held and first.exemplar == "trombone" and first.similarity > 0.45
    assert second.words == "a cat yowls on the left" and second.places == ((90.0, 0.0),)
    assert second.exemplar is None  # the bank has no cat: made from the words alone
    clips = len(next_model.exemplars.clips_of("trombone"))  # the shipped chain: all, in turn
    assert f"starts from the {clips} trombone exemplars in turn" in first.describe()
    assert second.searched and first.searched
    assert second.describe() == ('"a tomcat yowls on the left" reads "a cat yowls on the left"; '
                                 "at azimuth 90°, elevation 0° (held there); no exemplar of it: "
                                 "made from the words alone (nearest \"a cat\", a sound "
                                 "this model's bank has no clip of)")
    [nothing] = next_model.read_prompt("a sound on the left")  # names no sound at all
    assert nothing.exemplar is None and nothing.absent is None
    assert nothing.describe().endswith("no exemplar of it: made from the words alone")


def test_a_video_places_the_stream_and_an_audio_prompt_replaces_the_exemplar(next_model):
    """tiny-next reads a video only for where its sound is: the words still pick the
    exemplar, and the stream is held where the frames show something."""
    [with_video] = next_model.read_prompt("a trombone on the left", with_video=True)
    assert with_video.follows_video and with_video.held and with_video.searched
    assert with_video.exemplar == "trombone"
    assert "its place follows the video (held where the frames show something)" in \
        with_video.describe()
    [prompted] = next_model.read_prompt("a trombone on the left", with_audio_prompt=True)
    assert prompted.held and not prompted.searched and "exemplar" not in prompted.describe()
    [unprimed] = next_model.read_prompt("a trombone on the left")
    assert unprimed.exemplar == "trombone"


@pytest.mark.parametrize("text", ["a fiddle moves from left to right",
                                  "a fiddle on the left, moving right", "a fiddle plays",
                                  "a sackbut on the left and a fiddle behind you"])
def test_the_reading_names_the_exemplar_the_stream_starts_from(next_model, text):
    """What read_prompt says each clause starts from is what the stream is primed with."""
    for reading in next_model.read_prompt(text):
        primed = next_model.exemplars.prompt(reading.text)
        assert (reading.exemplar is not None) == (primed is not None), reading
        assert reading.searched or reading.exemplar is None


def test_a_moving_sound_reads_as_its_path(next_model):
    [moving] = next_model.read_prompt("a fiddle moves from left to right")
    assert moving.places[0] == (90.0, 0.0) and moving.places[-1] == (-90.0, 0.0)
    assert moving.exemplar == "violin" and "moves through" in moving.describe()
    [drifting] = next_model.read_prompt("a fiddle on the left, moving right")
    assert len(drifting.places) > 1 and drifting.exemplar == "violin"


def test_a_pipeline_without_a_bank_or_a_place():
    pipeline = tiny_pipeline()
    [reading] = pipeline.read_prompt("rain")
    assert reading == ClauseReading(text="rain", words="rain", places=(), held=False,
                                    follows_video=False, searched=False, exemplar=None,
                                    similarity=None)
    assert reading.describe() == '"rain"; no place stated'
    assert pipeline.read_prompt(None)[0].describe() == "no text: no condition"


def test_generate_prints_how_it_read_the_prompt(tmp_path, capsys):
    model = tiny_pipeline().save_pretrained(tmp_path / "model")
    assert main(["generate", "--model", str(model), "--text", "a puppy on the left",
                 "--duration", "0.05", "-o", str(tmp_path / "out.wav")]) == 0
    err = capsys.readouterr().err
    assert 'reading: "a puppy on the left"; at azimuth 90°, elevation 0°' in err


def test_an_anchored_pipeline_says_it_varies_the_exemplar(next_model):
    anchored = next_model.replace(exemplar_anchor=0.5)
    first, second = anchored.read_prompt(
        "a fiddle plays behind you and a tomcat yowls on the left")
    assert first.anchor == 0.5 and first.describe().endswith("and varies them (anchor 0.5)")
    one_clip = anchored.replace(exemplar_chain=False).read_prompt("a fiddle plays")[0]
    assert one_clip.describe().endswith("and varies it (anchor 0.5)")
    assert second.anchor == 0.0 and "varies" not in second.describe()
    assert next_model.replace(exemplar_anchor=0.0).read_prompt("a fiddle plays")[0].anchor == 0.0


def test_a_chained_pipeline_says_how_many_clips_it_plays_in_turn(next_model):
    import attrs

    text = "a sackbut blares behind you"
    [reading] = next_model.replace(exemplar_chain=True).read_prompt(text)
    assert reading.exemplar_clips == len(next_model.exemplars.clips_of("trombone")) >= 1
    assert next_model.replace(exemplar_chain=False).read_prompt(text)[0].exemplar_clips == 1
    three = attrs.evolve(reading, exemplar_clips=3)
    assert "; starts from the 3 trombone exemplars in turn (similarity" in three.describe()
    assert three.describe().endswith(f"and varies them (anchor {reading.anchor:g})")
