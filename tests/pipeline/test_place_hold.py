"""place_hold: a text-only stream whose words state one place is turned onto that place, chunk
by chunk, by the spatial module's PlaceHold (docs/pipeline.md, "Holding places")."""

from __future__ import annotations

import pytest
import torch
from pipeline_helpers import panorama_frames, tiny_pipeline, whole_clip_pipeline

from swansphere.errors import ConfigError
from swansphere.pipeline import Pipeline
from swansphere.spatial.hold import PlaceHold

LEFT = "a bell rings to your left"
SECONDS = 0.4


@pytest.fixture(scope="module")
def plain() -> Pipeline:
    return tiny_pipeline()


@pytest.fixture(scope="module")
def held(plain) -> Pipeline:
    return plain.replace(place_hold=1.0)


def _held_by_hand(chunks, places, sample_rate, strength=1.0, focus=0.0):
    hold = PlaceHold.for_places(places, sample_rate, strength, focus)
    return [hold(chunk[None])[0] for chunk in chunks]


@pytest.mark.parametrize(("strength", "focus"), [(1.0, 0.0), (0.5, 0.0), (1.0, 0.7)])
def test_each_chunk_is_the_unheld_chunk_turned_by_the_hold(plain, strength, focus):
    """... and, with ``place_focus``, that share of its X, Y, Z taken from W sent from the
    place (spatial.hold)."""
    pipeline = plain.replace(place_hold=strength, place_focus=focus)
    chunks = [chunk.audio for chunk in pipeline.stream(LEFT, duration=SECONDS, seed=2)]
    unheld = [chunk.audio for chunk in plain.stream(LEFT, duration=SECONDS, seed=2)]
    expected = _held_by_hand(unheld, [(90.0, 0.0)], plain.sample_rate, strength, focus)
    assert len(chunks) == len(expected) > 2
    for chunk, want in zip(chunks, expected, strict=True):
        torch.testing.assert_close(chunk, want, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(torch.cat(chunks, -1), torch.cat(unheld, -1))


def test_without_one_stated_place_or_with_video_nothing_is_turned(plain, held):
    for text in ("rain", None, "a bell on the left and a siren on the right",
                 "a car goes from left to right and a bus from right to left"):
        torch.testing.assert_close(held.generate(text, duration=SECONDS, seed=1),
                                   plain.generate(text, duration=SECONDS, seed=1))
    video = {"frames": panorama_frames(12), "fps": 25.0}
    torch.testing.assert_close(held.generate(LEFT, video, duration=SECONDS, seed=1),
                               plain.generate(LEFT, video, duration=SECONDS, seed=1))


@pytest.mark.parametrize("text", ["a car passes from left to right",
                                  "a bee buzzes behind on the left, moving up"])
def test_a_sound_said_to_move_is_held_along_its_path(plain, held, text):
    """The path is what the words say (spatial.words.prompt_motion), travelled over the
    clip: each chunk is the unheld chunk turned by a hold along it."""
    from swansphere.spatial.words import prompt_motion

    chunks = [chunk.audio for chunk in held.stream(text, duration=SECONDS, seed=2)]
    unheld = [chunk.audio for chunk in plain.stream(text, duration=SECONDS, seed=2)]
    hold = PlaceHold.for_paths([prompt_motion(text)], plain.sample_rate,
                               span=round(SECONDS * plain.sample_rate))
    for chunk, want in zip(chunks, unheld, strict=True):
        torch.testing.assert_close(chunk, hold(want[None])[0], atol=1e-5, rtol=1e-4)


def test_takes_and_served_streams_are_held_row_by_row(held):
    takes = held.generate_takes(LEFT, duration=SECONDS, seeds=(4, 5)).audio
    for take, seed in zip(takes, (4, 5), strict=True):
        torch.testing.assert_close(take, held.generate(LEFT, duration=SECONDS, seed=seed),
                                   atol=1e-4, rtol=1e-3)
    texts = [LEFT, "rain", "a siren behind you"]
    served = [torch.cat([step[i].audio for step in held.stream_many(
        texts, duration=SECONDS, seeds=(4, 5, 6))], -1) for i in range(3)]
    for audio, text, seed in zip(served, texts, (4, 5, 6), strict=True):
        torch.testing.assert_close(audio, held.generate(text, duration=SECONDS, seed=seed),
                                   atol=1e-4, rtol=1e-3)


def test_a_served_stream_with_video_is_not_held_beside_one_without(held, plain):
    video = {"frames": panorama_frames(12), "fps": 25.0}
    steps = list(held.stream_many([LEFT, LEFT], [None, video], duration=SECONDS, seeds=(3, 3)))
    text_only, with_video = (torch.cat([step[i].audio for step in steps], -1) for i in (0, 1))
    torch.testing.assert_close(text_only, held.generate(LEFT, duration=SECONDS, seed=3),
                               atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(with_video, plain.generate(LEFT, video, duration=SECONDS,
                                                          seed=3), atol=1e-4, rtol=1e-3)


def test_separate_sources_hold_each_place_on_its_own(held):
    separate = held.replace(sources="separate")
    mixed = separate.generate("a bell on the left and a siren behind you", duration=SECONDS,
                              seed=3)
    left = held.generate("a bell on the left", duration=SECONDS, seed=3)
    behind = held.generate("a siren behind", duration=SECONDS, seed=4)
    torch.testing.assert_close(mixed, left + behind, atol=1e-4, rtol=1e-3)


def test_a_whole_clip_is_held_as_one_chunk():
    whole = whole_clip_pipeline()
    unheld = whole.generate(LEFT, duration=SECONDS, seed=2)
    expected = _held_by_hand([unheld], [(90.0, 0.0)], whole.sample_rate)[0]
    torch.testing.assert_close(whole.replace(place_hold=1.0).generate(LEFT, duration=SECONDS,
                                                                      seed=2), expected)


def test_a_snapshot_carries_the_hold(held):
    text_tokens, _, _ = held.clip_inputs(LEFT, None, SECONDS)
    session = held._open(text_tokens, (7,), None)
    session.hold_places([LEFT], SECONDS)
    first = session.next_patches()[0]
    twin = session.snapshot()
    assert twin.place_hold is not session.place_hold
    torch.testing.assert_close(session.next_patches()[0], twin.next_patches()[0])
    assert first.shape == session.next_patches()[0].shape


def test_the_setting_is_saved_and_checked(held, tmp_path):
    held.save_pretrained(tmp_path / "model")
    assert Pipeline.from_pretrained(tmp_path / "model").config.place_hold == 1.0
    assert "place_hold = 1.0" in (tmp_path / "model" / "pipeline.toml").read_text()
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="place_hold"):
            held.replace(place_hold=bad)
