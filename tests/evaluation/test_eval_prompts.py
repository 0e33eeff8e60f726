"""Directions stated by prompts, read in the caption vocabulary of swansphere.data.captions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.captions import SourceDescription, caption
from swansphere.spatial.words import position_words, prompt_direction, prompt_directions

MOTIONS = ("", "moving left", "moving right", "moving to the front", "moving to the back",
           "moving up", "moving down")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(azimuth=st.floats(-180, 180), elevation=st.floats(-90, 90),
       motion=st.sampled_from(MOTIONS), diffuse=st.booleans())
def test_every_caption_reads_back_to_its_own_position_words(azimuth, elevation, motion,
                                                            diffuse):
    source = SourceDescription(noun="a dog", verb="barks", azimuth=azimuth,
                               elevation=elevation, motion=motion)
    text = caption([source], diffuse=diffuse)
    parsed = prompt_direction(text)
    assert parsed is not None, text
    assert position_words(*parsed) == position_words(azimuth, elevation), text


def test_captions_of_two_sources_state_two_positions():
    sources = [SourceDescription(noun="a dog", verb="barks", azimuth=90, elevation=0,
                                 motion="moving right"),
               SourceDescription(noun="a cow", verb="moos", azimuth=180, elevation=40)]
    text = caption(sources)
    assert prompt_directions(text) == [(90.0, 0.0), (180.0, 45.0)]
    assert prompt_direction(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("a car passes to your left", (90.0, 0.0)),
    ("a bell rings behind you", (180.0, 0.0)),
    ("a piano front-left", (45.0, 0.0)),
    ("rear right: a door slams", (-135.0, 0.0)),
    ("a violin straight ahead", (0.0, 0.0)),
    ("a bird sings directly above", (0.0, 90.0)),
    ("a bird sings above you", (0.0, 90.0)),
    ("water drips underneath", (0.0, -90.0)),
    ("a drum on the right and above", (-90.0, 45.0)),
    ("someone speaks below and in front", (0.0, -45.0)),
    ("A dog barks on the left, moving right.", (90.0, 0.0)),
    ("a siren in front and on the right", (-45.0, 0.0)),
    ("the dog on the left, and the dog on the left again", (90.0, 0.0)),
])
def test_paraphrases(text, expected):
    assert prompt_direction(text) == expected


@pytest.mark.parametrize("text", [
    "", "a dog barks", "Rain over background noise.", "the car left quickly",
    "moving left", "a dog on the left and a cat on the right"])
def test_no_single_position(text):
    assert prompt_direction(text) is None
