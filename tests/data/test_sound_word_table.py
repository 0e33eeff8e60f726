"""Building the sound-word table from WordNet (a small fake database, and the real one when
Debian's wordnet-base is installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swansphere.cli import main
from swansphere.conditioning.sound_words import TABLE, SoundWordTable, packaged_table
from swansphere.data.lexicon import (
    ANCHOR_SENSES,
    WORDNET_DIR,
    WordNet,
    bare_noun,
    class_nouns,
    sound_words,
)
from swansphere.data.vocabulary import SOUND_CLASSES, SoundClass, Wording
from swansphere.errors import ConfigError

# offset: (lemmas, hyponyms)
SYNSETS = {
    "00000001": (["violin", "fiddle"], ["00000002", "00000003"]),
    "00000002": (["kit_violin", "kit"], []),
    "00000003": (["stradivarius", "strad"], []),
    "00000010": (["dog", "domestic_dog"], ["00000011", "00000012"]),
    "00000011": (["puppy"], []),
    "00000012": (["toy_dog", "toy"], ["00000013"]),
    "00000013": (["husky"], []),
    "00000020": (["kettle", "boiler"], []),
    "00000021": (["kettledrum", "kettle"], []),
    "00000030": (["cello"], ["00000031"]),
    "00000031": (["tenor_violin"], []),
    "00000040": (["stringed_instrument"], ["00000001", "00000030"]),
    "00000050": (["rear", "back"], []),
    "00000060": (["barking"], []),
    "00000070": (["toy", "plaything"], []),
}
SENSES = {"kettle": ["00000020", "00000021"], "toy": ["00000070", "00000012"]}


def write_wordnet(root: Path) -> Path:
    """A WordNet database in the real files' formats, with what the table needs."""
    root.mkdir(parents=True, exist_ok=True)
    header = "  1 This is a licence header line.\n"
    lines = []
    for offset, (lemmas, hyponyms) in SYNSETS.items():
        words = " ".join(f"{lemma} 0" for lemma in lemmas)
        pointers = " ".join(f"~ {h} n 0000" for h in hyponyms)
        lines.append(f"{offset} 06 n {len(lemmas):02x} {words} {len(hyponyms):03d} {pointers}"
                     f" | a gloss\n")
    (root / "data.noun").write_text(header + "".join(lines))
    senses = {lemma: [offset] for offset, (lemmas, _) in SYNSETS.items() for lemma in lemmas}
    senses |= SENSES
    (root / "index.noun").write_text(header + "".join(
        f"{lemma} n {len(offsets)} 1 ~ {len(offsets)} 0 {' '.join(offsets)}\n"
        for lemma, offsets in sorted(senses.items())))
    (root / "index.verb").write_text("fiddle v 1 0 1 0 00000100\nbark v 1 0 1 0 00000101\n")
    (root / "index.adj").write_text("husky a 1 0 1 0 00000200\n")
    (root / "noun.exc").write_text("puppies puppy\nkits kit\n")
    return root


def _sound(name: str, category: str, wording: Wording) -> SoundClass:
    return SoundClass(name=name, category=category, wordings=(wording,))


CLASSES = (_sound("violin", "instrument", Wording("a violin", "play")),
           _sound("dog", "animal", Wording("a dog", "bark")),
           _sound("cello", "instrument", Wording("a cello", "play")),
           _sound("timpani", "percussion", Wording("timpani", "rumble", plural=True)))
ANCHORS = {"violin": ("violin.n.01",), "dog": ("dog.n.01",), "cello": ("cello.n.01",),
           "timpani": ("kettledrum.n.01",)}


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> WordNet:
    return WordNet.load(write_wordnet(tmp_path_factory.mktemp("wordnet")))


def test_nouns_at_or_under_an_anchor_name_its_class(fake):
    table = sound_words(fake, CLASSES, ANCHORS)
    assert table.words["fiddle"] == ("violin", True)  # also a verb: after a determiner only
    assert table.words["stradivarius"] == ("violin", False)
    assert table.words["puppy"] == ("dog", False)
    assert table.words["toy dog"] == ("dog", False)  # two levels down, spaces for underscores
    assert table.words["kettledrum"] == ("timpani", False)
    assert {"violin", "dog", "cello", "timpani"} <= table.kept
    assert not set(table.words) & table.kept


def test_plurals_regular_and_irregular(fake):
    words = sound_words(fake, CLASSES, ANCHORS).words
    assert words["puppies"] == ("dog", False)  # noun.exc, and the regular form alike
    assert words["fiddles"] == ("violin", True)
    assert words["toy dogs"] == ("dog", False) and words["kits"] == ("violin", False)
    assert "dogs" in sound_words(fake, CLASSES, ANCHORS).kept


def test_what_the_table_leaves_out(fake):
    words = sound_words(fake, CLASSES, ANCHORS).words
    assert "kettle" not in words  # its most frequent sense is a pot
    assert "husky" not in words  # also an adjective
    assert "toy" not in words and "kit" in words
    # a sense under two anchors goes to the nearer: the tenor violin is a cello
    assert words["tenor violin"] == ("cello", False)


def test_a_sense_equally_near_two_classes_goes_to_neither(fake):
    anchors = {**ANCHORS, "cello": ("cello.n.01", "violin.n.01")}
    words = sound_words(fake, CLASSES, anchors).words
    assert "fiddle" not in words and "stradivarius" not in words
    assert words["tenor violin"] == ("cello", False)


def test_place_words_and_verb_forms_are_never_sound_nouns(fake):
    anchors = {**ANCHORS, "dog": ("dog.n.01", "rear.n.01", "barking.n.01")}
    words = sound_words(fake, CLASSES, anchors).words
    assert "rear" not in words and "back" not in words and "barking" not in words


def test_unknown_senses_and_missing_databases_are_clear_errors(fake, tmp_path):
    with pytest.raises(ConfigError, match=r"violin\.n\.02"):
        sound_words(fake, CLASSES, {"violin": ("violin.n.02",)})
    with pytest.raises(ConfigError, match="no WordNet database"):
        WordNet.load(tmp_path)


def test_a_table_reads_back(fake, tmp_path):
    table = sound_words(fake, CLASSES, ANCHORS)
    assert SoundWordTable.load(table.save(tmp_path / "words.json")) == table


def test_the_command_needs_a_wordnet_database(tmp_path, capsys):
    assert main(["data", "sound-words", "--wordnet", str(tmp_path), "--check"]) == 2
    assert "no WordNet database" in capsys.readouterr().err


def test_the_packaged_table_keeps_the_vocabulary_and_names_its_classes():
    table = packaged_table()
    nouns = {bare_noun(sound.noun) for sound in SOUND_CLASSES}
    assert {target for target, _ in table.words.values()} <= nouns
    assert class_nouns(SOUND_CLASSES) <= table.kept
    assert not set(table.words) & table.kept
    assert set(ANCHOR_SENSES) <= {sound.name for sound in SOUND_CLASSES}


@pytest.mark.skipif(not (WORDNET_DIR / "data.noun").is_file(),
                    reason="needs Debian's wordnet-base (scripts/install-sound-sets.sh)")
def test_the_packaged_table_is_a_rebuild_of_wordnet(tmp_path, capsys):
    assert main(["data", "sound-words", "--check"]) == 0
    assert "matches a rebuild" in capsys.readouterr().out
    out = tmp_path / "words.json"
    assert main(["data", "sound-words", "-o", str(out)]) == 0
    assert out.read_text() == TABLE.read_text()
