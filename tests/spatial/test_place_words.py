"""canonical_places: paraphrased places in the caption vocabulary's words, nothing else changed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.captions import SourceDescription, natural_caption
from swansphere.data.vocabulary import SOUND_CLASSES, SoundClass, Wording
from swansphere.spatial.words import (
    canonical_places,
    position_words,
    prompt_directions,
    prompt_motion,
    sound_parts,
    source_clauses,
    states_motion,
    without_places,
)

azimuths = st.floats(-180.0, 180.0, allow_nan=False)
elevations = st.floats(-90.0, 90.0, allow_nan=False)


@pytest.mark.parametrize(("text", "canonical"), [
    ("A squeezebox is wheezing to the front left.",
     "A squeezebox is wheezing in front on the left."),
    ("A set of pipes can be heard up high to the front right.",
     "A set of pipes can be heard above and in front on the right."),
    ("I hear someone at your back.", "I hear someone behind."),
    ("a dog barks right above your head", "a dog barks above"),
    ("a dog barks directly above you", "a dog barks above"),
    ("a plane drones overhead", "a plane drones above"),
    ("a bell rings overhead, on your left a dog barks",
     "a bell rings overhead, on the left a dog barks"),
    ("a bell rings behind on your right, above", "a bell rings above and behind on the right"),
    ("A crowd can be heard behind on your left and underneath.",
     "A crowd can be heard below and behind on the left."),
    ("Straight ahead, a car horn honks", "in front, a car horn honks"),
    ("a violin to your left and a man talking behind you",
     "a violin on the left and a man talking behind"),
    ("a bell rings on the left, moving to the front",
     "a bell rings on the left, moving to the front"),
    ("a car passes from left to right", "a car passes from left to right"),
    ("A bell  rings   Behind on the RIGHT", "A bell  rings   behind on the right"),
    ("a clarinet playing beneath you", "a clarinet playing below"),
    ("a bird sings up above you", "a bird sings above"),
    ("a power-up chimes up high behind you", "a power-up chimes above and behind"),
    ("a chime a long way off right-front", "a chime a long way off in front on the right"),
    ("a gong far off to your rear-left", "a gong far behind on the left"),
    ("Dog barking, left", "Dog barking, on the left"),
    ("left: a dog barks", "on the left: a dog barks"),
    ("a dog (right)", "a dog (on the right)"),
    ("a dog on left and a cat to right", "a dog on the left and a cat on the right"),
    ("a bell, front; a siren, rear", "a bell, in front; a siren, behind"),
    ("a bell at 3 o'clock", "a bell on the right"),
    ("a bell at ten o'clock", "a bell in front on the left"),
    ("a bell at 6 o clock", "a bell behind"),
    ("a bell 45 degrees to the left", "a bell in front on the left"),
    ("a bell 135° right", "a bell behind on the right"),
    ("the bus left, then turned right", "the bus left, then turned right"),
    ("left and right channels", "left and right channels"),
    ("the bus has just left", "the bus has just left"),
    ("a bell just to the left", "a bell on the left"),
    ("a bell front-right, high", "a bell above and in front on the right"),
    ("a bell, left, low", "a bell, below and on the left"),
    ("a bell to the left of me", "a bell on the left"),
    ("turn it up, then down low", "turn it up, then below"),
    ("a bell rings up and to the right", "a bell rings above and on the right"),
    ("a bell from the upper-left corner", "a bell above and on the left"),
    ("a bell overhead to the left", "a bell above and on the left"),
    ("a bell above you on the right", "a bell above and on the right"),
    ("a dog barks to the left and slightly behind", "a dog barks behind on the left"),
    ("a bell over your left shoulder", "a bell behind on the left"),
    ("a bell in your right ear", "a bell on the right"),
    ("a bell on the far left", "a bell on the left"),
    ("a bell rings left of you", "a bell rings on the left"),
    ("a bell beside you on the left", "a bell on the left"),
    ("a bell at azimuth -90°, elevation 40", "a bell above and on the right"),
    ("a bell at your feet", "a bell below"),
    ("a kite up in the sky", "a kite above"),
    ("a dog barking, left side", "a dog barking, on the left"),
    ("a dog barks on the lefthand side", "a dog barks on the left"),
    ("a bell. Right: a siren.", "a bell. on the right: a siren."),
    ("a bell left of centre", "a bell in front on the left"),
    ("a bell just right of center", "a bell in front on the right"),
    ("a bell slightly left of centre", "a bell in front on the left"),
    ("a dog barks straight ahead slightly to the left", "a dog barks in front"),
    ("a band plays up front", "a band plays in front"),
    ("a band plays at the front of the hall", "a band plays in front"),
    ("a cat meows toward the front", "a cat meows in front"),
    ("a cat meows towards the back", "a cat meows behind"),
    ("a cat meows in back of you", "a cat meows behind"),
    ("a power-up front jingle", "a power-up front jingle"),
    ("she turned right. Left, a bell rings", "she turned right. on the left, a bell rings"),
])
def test_paraphrases_become_the_captioners_words(text, canonical):
    assert canonical_places(text) == canonical


@settings(max_examples=300, deadline=None)
@given(azimuth=azimuths, elevation=elevations)
def test_the_captioners_own_phrases_are_left_alone_but_overhead(azimuth, elevation):
    caption = f"a bell rings {position_words(azimuth, elevation)}"
    expected = "a bell rings above" if caption.endswith("overhead") else caption
    assert canonical_places(caption) == expected


def _natural(seed: int, count: int, family: str) -> str:
    import numpy as np

    rng = np.random.default_rng(seed)
    sources = []
    for index in range(count):
        sound = SOUND_CLASSES[int(rng.integers(len(SOUND_CLASSES)))]
        moving = index == 0 and rng.random() < 0.3
        ends = [(float(rng.uniform(-180, 180)), 0.0) for _ in range(2)] if moving else [None] * 2
        sources.append(SourceDescription(
            noun=sound.noun, verb=sound.verb, label=sound.name,
            azimuth=float(rng.uniform(-180, 180)),
            elevation=float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
            distance=float(rng.uniform(0.5, 4)), start=ends[0], end=ends[1]))
    return natural_caption(sources, seed, family=family).text


@settings(max_examples=200, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 3),
       family=st.sampled_from(["training", "held_out"]))
def test_natural_captions_keep_their_places_and_say_them_in_canonical_words(seed, count, family):
    text = _natural(seed, count, family)
    canonical = canonical_places(text)
    places = prompt_directions(text)
    assert prompt_directions(canonical) == places, (text, canonical)
    assert canonical_places(canonical) == canonical, canonical  # nothing left to rewrite
    at = 0
    for place in places:  # each place, in order, in the captioner's own phrase
        words = position_words(*place).replace("overhead", "above")
        found = canonical.lower().find(words, at)
        assert found >= 0, (position_words(*place), canonical)
        at = found + 1


@pytest.mark.parametrize("sound", SOUND_CLASSES, ids=lambda sound: sound.name)
def test_sound_words_are_never_read_as_places(sound):
    for wording in (*sound.wordings, *sound.held_out_wordings):
        assert canonical_places(wording.phrase) == wording.phrase


PLACE_PHRASES = ["on the left", "to your right", "front-left", "to the rear right", "behind you",
                 "at your back", "straight ahead", "in front of me", "overhead", "above",
                 "directly above you", "beneath you", "below", "up high", "low down",
                 "off to the left", "a long way off", "right above your head", "moving left",
                 "from left to right", "above and behind", "under your feet", "on left",
                 "at 4 o'clock", "at eleven o'clock", "30 degrees to the right", "(left)",
                 "up and to the right", "from the lower left", "to the left and slightly behind",
                 "in your left ear", "on the far right", "at azimuth 135", "over to the left",
                 "at 2 o'clock", "20 degrees above the horizon", "at elevation 30",
                 "40 degrees to the left and 20 degrees up", "at azimuth -60, elevation 10",
                 "15° below you", "slightly above", "a bit lower", "at ear level",
                 "just below eye level", "high on the left", "low in front", "on the ceiling",
                 "behind-left", "above your left shoulder", "at your 10 o'clock", "right to left",
                 "from the left side to the right side", "slightly to the left",
                 "behind you, a little to the right"]
SOUND_PHRASES = ["a bell rings", "A dog barks", "someone talks", "rain falls", "a car passes"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(parts=st.lists(st.tuples(st.sampled_from(SOUND_PHRASES),
                                st.lists(st.sampled_from(PLACE_PHRASES), max_size=2)),
                      min_size=1, max_size=3),
       joiner=st.sampled_from([" and ", ", ", ". ", "; "]))
def test_any_mix_of_paraphrases_keeps_its_places(parts, joiner):
    """Canonical words keep each place's sector (a place stated in numbers becomes its
    sector's words); clauses keep each place exactly."""
    text = joiner.join(" ".join([sound, *places]) for sound, places in parts)
    canonical = canonical_places(text)
    assert _sectors(canonical) == _sectors(text), (text, canonical)
    assert canonical_places(canonical) == canonical, (text, canonical)
    clauses = source_clauses(text)
    if len(clauses) > 1:
        assert [place for clause in clauses for place in prompt_directions(clause)] == \
            prompt_directions(text), (text, clauses)


def _sectors(text: str) -> list[str]:
    return [position_words(*place) for place in prompt_directions(text)]


# ------------------------------------------------------------------------------ source clauses


@pytest.mark.parametrize(("text", "clauses"), [
    ("a bell rings to your left and a siren wails behind you",
     ["a bell rings on the left", "a siren wails behind"]),
    ("On your left, a dog barks, and behind you a cat meows",
     ["on the left, a dog barks", "behind a cat meows"]),
    ("A violin plays to your left. Meanwhile, a man talks at your back.",
     ["A violin plays on the left", "a man talks behind"]),
    ("a dog on the left, far away, a cat behind", ["a dog on the left, far away", "a cat behind"]),
    ("a violin on the left, a piano in front and a drum behind",
     ["a violin on the left", "a piano in front", "a drum behind"]),
    ("a bell high up behind you on the right, while a dog barks straight ahead, moving left",
     ["a bell above and behind on the right", "a dog barks in front, moving left"]),
    ("a bell on the left a siren on the right", ["a bell on the left", "a siren on the right"]),
    ("a violin on the left with a drum on the right",
     ["a violin on the left", "a drum on the right"]),
    ("a violin on the left, accompanied by a drum behind you",
     ["a violin on the left", "a drum behind"]),
    ("a bell on the left, a man with a deep voice on the right",
     ["a bell on the left", "a man with a deep voice on the right"]),
    ("a bell rings on the left, then a siren wails on the right",
     ["a bell rings on the left", "a siren wails on the right"]),
    ("a bell on the left but a dog overhead", ["a bell on the left", "a dog above"]),
])
def test_each_place_gets_its_own_clause_with_its_sound(text, clauses):
    assert source_clauses(text) == clauses


@pytest.mark.parametrize(("text", "parts"), [
    ("I hear a fiddle and a chap talking behind me",
     ["I hear a fiddle behind", "a chap talking behind"]),
    ("a violin, a flute and a drum up high", ["a violin above", "a flute above", "a drum above"]),
    ("On my left, a cello plays with a piano", ["on the left, a cello plays",
                                                "a piano on the left"]),
    ("a bell and a siren, far away on the left", ["a bell on the left", "a siren on the left"]),
    ("a violin plays while a man talks behind you", ["a violin plays behind",
                                                     "a man talks behind"]),
    ("rain and thunder", ["rain", "thunder"]),
])
def test_the_sounds_of_one_place_each_get_the_place(text, parts):
    assert sound_parts(text) == parts


ONE_PLACE = ("a bell rings to your left", "rain", "", "a bell rings up and to the right",
             "a dog barks to the left and slightly behind")
"""Texts neither cut makes anything of: one place, or none, and no break between sounds."""


@pytest.mark.parametrize(("cut", "text"), [
    *((source_clauses, text) for text in (
        *ONE_PLACE, "a car passes from left to right and a bell rings behind you",
        "a bell rings above you on the left")),
    *((sound_parts, text) for text in (
        *ONE_PLACE, "a bell on the left and a siren on the right",
        "a car moving from left to right and a horn", "a zorblat hums, up high on the left",
        "far away, on the left, a bell rings")),
])
def test_a_text_with_nothing_to_cut_comes_back_whole(cut, text):
    """Fewer than two places for :func:`source_clauses`; for :func:`sound_parts`, several
    places, a motion, or no break outside the place's words."""
    assert cut(text) == [text]


NONSENSE = ("zorblat", "quindle", "mervox")
"""Sound names no place word contains, to find each source's clause by."""
WORDINGS = {name: SoundClass(name=name, category="test",
                             wordings=(Wording.parse(f"a {name}: hum"),),
                             held_out_wordings=(Wording.parse(f"a {name}: drone"),))
            for name in NONSENSE}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(2, 3),
       family=st.sampled_from(["training", "held_out"]))
def test_natural_captions_split_into_their_sources(seed, count, family):
    import numpy as np

    rng = np.random.default_rng(seed)
    sources = [SourceDescription(noun="", verb="", label=name,
                                 azimuth=float(rng.uniform(-180, 180)),
                                 elevation=float(np.degrees(np.arcsin(rng.uniform(-1, 1)))),
                                 distance=float(rng.uniform(0.5, 4)))
               for name in NONSENSE[:count]]
    caption = natural_caption(sources, seed, family=family, wordings=WORDINGS)
    clauses = source_clauses(caption.text)
    assert len(clauses) == count, (caption.text, clauses)
    for clause, name, stated in zip(clauses, NONSENSE[:count], caption.stated, strict=True):
        assert name in clause and not any(other in clause for other in NONSENSE if other != name)
        assert [position_words(*place) for place in prompt_directions(clause)] == [
            position_words(*stated)], (caption.text, clause)


@pytest.mark.parametrize(("text", "expected"), [
    ("A bell rings to your left.", "a bell rings"),
    ("I hear a church bell beneath and off to the left.", "i hear a church bell"),
    ("To the front right, you hear a timepiece ticking", "you hear a timepiece ticking"),
    ("rain falls right above your head", "rain falls"),
    ("a violin plays behind you, heading left", "a violin plays"),
    ("a bell rings", "a bell rings"),
    ("left: a dog barks", "a dog barks"),
    ("a dog (right)", "a dog"),
    ("a siren at 9 o'clock", "a siren"),
    ("a dog barks slightly to the left", "a dog barks"),
    ("a bell rings over to the right", "a bell rings"),
    ("a bell next to your right ear", "a bell"),
    ("a bell high above you", "a bell"),
    ("drums on the left side of the stage", "drums"),
    ("a man at the back of the hall talks", "a man talks"),
])
def test_without_places_keeps_what_the_sound_is(text, expected):
    assert without_places(text) == expected
    assert not prompt_directions(without_places(text))


@settings(max_examples=200, deadline=None)
@given(azimuth=st.integers(-180, 180), elevation=st.integers(-90, 90),
       unit=st.sampled_from(["", "°", " degrees"]))
def test_stated_coordinates_read_exactly_and_canonically_as_their_sector(azimuth, elevation,
                                                                         unit):
    suffix = unit or " deg"
    place = (180.0 if azimuth == -180 else float(azimuth), float(elevation))
    for text in (f"a bell at azimuth {azimuth}{unit}, elevation {elevation}{unit}",
                 f"a bell, {azimuth}{suffix} azimuth and {elevation}{suffix} elevation",
                 f"elevation {elevation}{unit} azimuth {azimuth}{unit}: a bell"):
        assert prompt_directions(text) == [place], text
        assert _sectors(canonical_places(text)) == [position_words(*place)], text
        assert not prompt_directions(without_places(text)), text
    assert prompt_directions(f"a bell at azimuth {azimuth}{unit}") == [(place[0], 0.0)]


@pytest.mark.parametrize(("text", "place"), [
    ("a bell at 2 o'clock", (-60.0, 0.0)),
    ("a bell at ten o'clock", (60.0, 0.0)),
    ("a bell at 6 o clock", (180.0, 0.0)),
    ("a bell 30 degrees to the left", (30.0, 0.0)),
    ("a bell 100° right", (-100.0, 0.0)),
    ("a bell 20 degrees above the horizon", (0.0, 20.0)),
    ("a bell 15° below you", (0.0, -15.0)),
    ("a bell 40 degrees to the left and 20 degrees up", (40.0, 20.0)),
    ("a bell 30 degrees to the left, above", (30.0, 45.0)),
    ("a bell at elevation 20 on the left", (90.0, 20.0)),
    ("a bell at elevation 120", (0.0, 90.0)),
    ("a bell at azimuth 200", (-160.0, 0.0)),
    ("a bell at a 45-degree angle to the left", (45.0, 0.0)),
    ("a bell at a 30 degree angle to your right", (-30.0, 0.0)),
    ("a bell 30 degrees off to the right", (-30.0, 0.0)),
    ("a bell elevated 30 degrees on the left", (90.0, 30.0)),
])
def test_a_place_stated_in_numbers_is_read_exactly(text, place):
    assert prompt_directions(text) == [place]


@pytest.mark.parametrize(("text", "clauses"), [
    ("a bell at 2 o'clock and a dog at 10 o'clock",
     ["a bell at azimuth -60 elevation 0", "a dog at azimuth 60 elevation 0"]),
    ("a bell rings 30 degrees to the left, above, while a dog barks behind you",
     ["a bell rings at azimuth 30 elevation 45", "a dog barks behind"]),
    ("a bell on the left and a siren at 6 o'clock", ["a bell on the left", "a siren behind"]),
    ("a bell below you at elevation 30 and a dog on the left",
     ["a bell below", "at azimuth 0 elevation 30", "a dog on the left"]),
])
def test_clauses_keep_a_place_stated_in_numbers_exactly(text, clauses):
    assert source_clauses(text) == clauses
    assert [prompt_directions(clause)[0] for clause in clauses] == prompt_directions(text)


@pytest.mark.parametrize("text", [
    "a bell rings below 15° below you", "someone talks at 7 o'clock overhead",
    "rain falls in front of me to the left and slightly behind. a bell rings below 15° below",
    "a car passes under your feet at 2 o'clock"])
def test_numbers_beside_place_words_stay_places_of_their_own(text):
    """Where sector words would join a numbered place to the next one, canonical words say
    its coordinates, which read back as that one place."""
    canonical = canonical_places(text)
    assert _sectors(canonical) == _sectors(text), canonical
    assert canonical_places(canonical) == canonical


def test_the_sounds_of_a_place_stated_in_numbers_keep_it():
    assert sound_parts("a fiddle and a chap talking at 2 o'clock") == [
        "a fiddle at azimuth -60 elevation 0", "a chap talking at azimuth -60 elevation 0"]


@pytest.mark.parametrize(("text", "place"), [
    ("a bell rings up and to the right", (-90.0, 45.0)),
    ("a bell from the lower left", (90.0, -45.0)),
    ("a dog barks to the left and slightly behind", (135.0, 0.0)),
    ("a dog barks on the right and in front", (-45.0, 0.0)),
    ("a bell just behind your right shoulder", (-135.0, 0.0)),
    ("a bell on your six", (180.0, 0.0)),
    ("a bell by my left side", (90.0, 0.0)),
    ("a bird sings high on the left", (90.0, 45.0)),
    ("a drum low on the right", (-90.0, -45.0)),
    ("a bell rings high to the rear", (180.0, 45.0)),
    ("a bell to the front and above", (0.0, 45.0)),
    ("a bell above your left shoulder", (90.0, 45.0)),
    ("a bell rings in the lower left behind you", (135.0, -45.0)),
    ("a bell rings behind-left", (135.0, 0.0)),
    ("a bell on the ceiling to your left", (90.0, 45.0)),
    ("a bell on the floor behind you", (180.0, -45.0)),
    ("a bell rings at your 10 o'clock, high", (60.0, 45.0)),
    ("a bell on your 3 o'clock", (-90.0, 0.0)),
    ("a bell slightly to the left", (20.0, 0.0)),  # a little off the front
    ("a bell a little to the right of you", (-20.0, 0.0)),
    ("a bell behind you, slightly to the left", (160.0, 0.0)),
    ("a dog barks straight ahead, slightly to the left", (20.0, 0.0)),
    ("a bell slightly to the right, behind you", (-160.0, 0.0)),
    ("a bell slightly above", (0.0, 20.0)),
    ("a bell a bit lower on the left", (90.0, -20.0)),
    ("a bell slightly above and to the left", (90.0, 20.0)),
    ("a bird chirps a little higher, behind you", (180.0, 20.0)),
    ("something hums just below eye level in front", (0.0, -20.0)),
    ("a bell just above the horizon to the left", (90.0, 20.0)),
    ("a bell at ear level on your right", (-90.0, 0.0)),
    ("a bell just above you", (0.0, 90.0)),  # right above: overhead
])
def test_one_place_said_in_two_pieces_is_one_place(text, place):
    """A little above or below is a slight height (±20°), not a pole."""
    assert prompt_directions(text) == [place]
    assert not prompt_directions(without_places(text))


@pytest.mark.parametrize("text", ["a high note on the left", "the bus left behind a smell",
                                  "a low hum, a drum on the right"])
def test_high_low_and_left_that_name_no_height_or_place_are_not_read_as_one(text):
    assert all(elevation == 0.0 for _, elevation in prompt_directions(text))


@pytest.mark.parametrize("text", ["a bell rings at your back from the lower left",
                                  "a dog barks behind you, above and to the left"])
def test_above_or_below_joined_by_and_goes_with_the_place_after_it(text):
    assert prompt_directions(text)[1][0] == 90.0 and prompt_directions(text)[1][1] != 0.0
    assert prompt_directions(text)[0] == (180.0, 0.0)


@pytest.mark.parametrize(("text", "moves"), [
    ("a car passes behind on the left, moving right", True),
    ("A bird flies from left to right", True),
    ("a drone heading to the front", True),
    ("a dog barks from behind you to the front", True),
    ("a car passes right to left", True),
    ("the second from left", False),
    ("a bell rings on the left", False),
    ("the bus has just left", False),
    ("a siren, front-right, high", False),
])
def test_a_text_that_says_a_sound_moves_is_told_apart(text, moves):
    assert states_motion(text) is moves


@pytest.mark.parametrize(("text", "path"), [
    ("a bird flies from left to right", ((90, 0), (0, 0), (-90, 0))),  # through the front
    ("from behind you to the front", ((180, 0), (90, 0), (0, 0))),  # through the left
    ("travelling from the front to your left", ((0, 0), (45, 0), (90, 0))),
    ("sweeping from your right over to the rear", ((-90, 0), (-135, 0), (180, 0))),
    ("a car passes behind on the left, moving right", ((165, 0), (135, 0), (105, 0))),
    ("a bee on the right, heading left", ((-120, 0), (-90, 0), (-60, 0))),
    ("a bell in front, moving up", ((0, -30), (0, 0), (0, 30))),
    ("a drone above and in front, moving down", ((0, 75), (0, 45), (0, 15))),
    ("a car moving left", ((-30, 0), (0, 0), (30, 0))),  # no place: in front
    ("a cow on the left, moving to the front", ((120, 0), (90, 0), (60, 0))),
    ("a car drives from right to left behind you", ((-90, 0), (180, 0), (90, 0))),
    ("a drone sweeps from left to right above you", ((90, 0), (0, 90), (-90, 0))),
    ("a plane flies overhead from front to back", ((0, 0), (0, 90), (180, 0))),
    ("a train passes from left to right in front of you", ((90, 0), (0, 0), (-90, 0))),
    ("a car goes left to right", ((90, 0), (0, 0), (-90, 0))),
    ("a car travels from the left side to the right-hand side", ((90, 0), (0, 0), (-90, 0))),
])
def test_a_stated_motion_is_a_path_of_three_places(text, path):
    found = prompt_motion(text)
    assert found is not None
    for (azimuth, elevation), (want_azimuth, want_elevation) in zip(found, path, strict=True):
        assert (azimuth - want_azimuth + 180) % 360 - 180 == pytest.approx(0, abs=1e-9)
        assert elevation == pytest.approx(want_elevation, abs=1e-9)


@pytest.mark.parametrize("text", ["a bell rings on the left", "a drone in front, moving to "
                                  "the front", "a car from left to right and a bus from right "
                                  "to left", "a bee on the left and a fly on the right, "
                                  "moving up"])
def test_no_path_without_one_motion_of_one_sound(text):
    assert prompt_motion(text) is None

