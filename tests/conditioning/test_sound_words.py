"""Sound words: rarer nouns for a vocabulary class rewritten into the class's own noun."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.conditioning.sound_words import SoundWordTable, canonical_sounds
from swansphere.data.vocabulary import SOUND_CLASSES
from swansphere.errors import ConfigError, ResourceNotFoundError
from swansphere.evaluation.content import content_cases
from swansphere.spatial.words import prompt_directions

TABLE = SoundWordTable(
    words={"fiddle": ("violin", True), "fiddles": ("violin", True),
           "puppy": ("dog", False), "puppies": ("dog", False),
           "mouth organ": ("harmonica", False), "automobile": ("car", False),
           "electric": ("car", False), "elephant gun": ("gun", False),
           "squeeze box": ("accordion", False)},
    kept=frozenset({"violin", "dog", "car", "harmonica", "organ", "electric piano", "gun",
                    "elephant", "hi-hat", "accordion"}))


@pytest.mark.parametrize(("text", "expected"), [
    ("A fiddle plays behind you", "A violin plays behind you"),
    ("the old fiddle plays", "the old violin plays"),          # one word after the determiner
    ("someone fiddles with keys", "someone fiddles with keys"),  # a verb: no determiner
    ("Fiddle music", "Fiddle music"),
    ("two puppies yap on the left", "two dog yap on the left"),
    ("Puppies yap", "Dog yap"),                                # not a verb: anywhere
    ("an automobile passes", "a car passes"),                  # the article agrees
    ("An automobile passes", "A car passes"),
    ("a mouth organ and a puppy", "a harmonica and a dog"),
    ("a mouth, organ", "a mouth, organ"),                      # punctuation breaks a noun
    ("an electric piano plays", "an electric piano plays"),    # a kept noun keeps its words
    ("an electric hums", "a car hums"),
    ("an elephant gun fires", "a gun fires"),                  # longest first
    ("an elephant trumpets", "an elephant trumpets"),
    ("a squeezebox wheezes", "an accordion wheezes"),          # parts joined or hyphenated
    ("a squeeze-box wheezes", "an accordion wheezes"),
    ("a hihat ticks", "a hi-hat ticks"),                       # a kept noun, as spelt there
    ("a hi hat ticks", "a hi hat ticks"),                     # written words are never joined
    ("a mouthorgan and an elephantgun", "a harmonica and a gun"),
    ("a squeeze, box", "a squeeze, box"),
])
def test_table_nouns_become_class_nouns(text, expected):
    assert canonical_sounds(text, TABLE) == expected


def test_a_joined_form_two_classes_share_is_left_as_written():
    table = SoundWordTable(words={"bell bird": ("bird", False), "bellbird": ("bell", False),
                                  "sea lion": ("seal", False)}, kept=frozenset({"sealion"}))
    assert canonical_sounds("a bell-bird sings", table) == "a bell-bird sings"
    assert canonical_sounds("a sea-lion barks", table) == "a sea-lion barks"
    assert canonical_sounds("a sea lion barks", table) == "a seal barks"    # as in the table


def test_a_rewrite_that_would_move_a_place_is_not_made():
    table = SoundWordTable(words={"left": ("dog", False)}, kept=frozenset())
    assert canonical_sounds("a bell on the left", table) == "a bell on the left"


def test_the_packaged_table_knows_rarer_words_for_the_vocabulary():
    assert canonical_sounds("I hear a fiddle up high") == "I hear a violin up high"
    assert canonical_sounds("A sackbut blares, and a puppy yaps") == \
        "A trombone blares, and a dog yaps"
    assert canonical_sounds("someone fiddles with a mouth organ") == \
        "someone fiddles with a harmonica"
    # the procedural classes' own senses: WordNet's winds, fires, crickets and footfalls
    assert canonical_sounds("a gale roars and a bonfire crackles") == \
        "a wind roars and a fire crackles"
    rewritten = canonical_sounds("a mole cricket chirps near a footfall").split()
    assert "crickets" in rewritten and "footsteps" in rewritten  # plural class nouns
    for sound in SOUND_CLASSES:  # the vocabulary's own words stay as written
        for wording in sound.wordings:
            assert canonical_sounds(wording.phrase) == wording.phrase


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), sources=st.integers(1, 3),
       family=st.sampled_from(["training", "held_out"]))
def test_captions_keep_their_places_and_training_captions_their_words(seed, sources, family):
    names = [sound.name for sound in SOUND_CLASSES]
    for case in content_cases(names, count=8, sources=sources, family=family, seed=seed):
        rewritten = canonical_sounds(case.text)
        assert prompt_directions(rewritten) == prompt_directions(case.text)
        assert canonical_sounds(rewritten) == rewritten  # nothing left to rewrite
        if family == "training":
            assert rewritten == case.text


def test_a_table_file_must_exist_and_be_one(tmp_path):
    with pytest.raises(ResourceNotFoundError, match="no sound-word table"):
        SoundWordTable.load(tmp_path / "none.json")
    (tmp_path / "other.json").write_text('{"format": "other"}')
    with pytest.raises(ResourceNotFoundError, match="is not a"):
        SoundWordTable.load(tmp_path / "other.json")
    assert SoundWordTable.load(TABLE.save(tmp_path / "table.json")) == TABLE


def test_text_conditioners_read_sound_words_where_the_config_says_so():
    config = {"type": "text-transformer", "dim": 32, "layers": 1, "heads": 2, "max_length": 16}
    torch.manual_seed(0)
    canonical = swansphere.create("conditioner", {**config, "sounds": "canonical"})
    rare = canonical.prepare(["A fiddle plays at your back", None])
    assert torch.equal(rare.ids, canonical.prepare(["A violin plays at your back", None]).ids)
    written = swansphere.create("conditioner", config)
    assert not torch.equal(written.prepare(["a fiddle plays"]).ids,
                           written.prepare(["a violin plays"]).ids)
    with pytest.raises(ConfigError, match="sounds"):
        swansphere.create("conditioner", {**config, "sounds": "normalised"})


def _table_words() -> list[str]:
    from swansphere.conditioning.sound_words import packaged_table

    words = sorted(packaged_table().words)
    return words[::97]  # a spread of the table: plurals, multi-word nouns, gated and not


PLACES = ["on the left", "to your right", "behind you", "at your back", "up high", "overhead",
          "in front of me", "from left to right", "below and to the rear", "at 3 o'clock"]
FILLERS = ["a", "an", "the", "two", "some", "someone", "plays", "fiddles", "and", ",", ".",
           "violin", "electric piano", "ambulance siren", "old", "loudly", "mouth organ"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(pieces=st.lists(st.one_of(st.sampled_from(_table_words()), st.sampled_from(PLACES),
                                 st.sampled_from(FILLERS)), min_size=1, max_size=10))
def test_any_mix_keeps_its_places_and_rewrites_once(pieces):
    text = " ".join(pieces)
    rewritten = canonical_sounds(text)
    assert prompt_directions(rewritten) == prompt_directions(text), (text, rewritten)
    assert canonical_sounds(rewritten) == rewritten, (text, rewritten)
    for kept in ("electric piano", "ambulance siren", "violin"):
        assert text.count(kept) <= rewritten.count(kept), (text, rewritten)
