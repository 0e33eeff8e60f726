"""The sound words table: nouns a person may use for a vocabulary class, from WordNet.

A text encoder trained on our captions, or a frozen one matched against them, knows the
vocabulary's own nouns ("a violin", "a dog") far better than rarer ones ("a fiddle", "a
puppy", "a sackbut"). WordNet 3.0 (Princeton; Debian's ``wordnet-base``) says which nouns
mean a class or a kind of it: each class is anchored to the WordNet senses its own nouns
have (:data:`ANCHOR_SENSES`, chosen by hand among each noun's senses), and every noun whose
most frequent sense lies at or under an anchor (hyponyms, not instances) is written down
with the class's canonical noun. :func:`swansphere.conditioning.sound_words.canonical_sounds`
rewrites captions with that table; it ships in the package (``sound_words.json``) so that no
WordNet is needed at run time. Rebuild it with ``swansphere data sound-words``
(docs/conditioning.md, "Sound words").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from ..conditioning.sound_words import SoundWordTable
from ..errors import ConfigError
from .vocabulary import AGENT_NOUNS, GENERIC_NOUNS, SOUND_CLASSES, SoundClass

WORDNET_DIR = Path("/usr/share/wordnet")
"""Where Debian's ``wordnet-base`` puts the WordNet 3.0 database."""


ANCHOR_SENSES: Mapping[str, tuple[str, ...]] = {
    "piano": ("piano.n.01", "grand_piano.n.01"),
    "harpsichord": ("harpsichord.n.01",),
    "glockenspiel": ("glockenspiel.n.01",),
    "music box": ("music_box.n.01",),
    "vibraphone": ("vibraphone.n.01",),
    "organ": ("organ.n.03", "organ.n.05", "organ.n.06"),
    "accordion": ("accordion.n.01",),
    "harmonica": ("harmonica.n.01",),
    "guitar": ("guitar.n.01",),
    "electric guitar": ("electric_guitar.n.01",),
    "bass guitar": ("bass_guitar.n.01",),
    "violin": ("violin.n.01",),
    "viola": ("viola.n.03",),
    "cello": ("cello.n.01",),
    "double bass": ("double_bass.n.01",),
    "harp": ("harp.n.01",),
    "timpani": ("timpani.n.01",),
    "choir": ("choir.n.01", "chorus.n.02"),
    "trumpet": ("trumpet.n.01",),
    "trombone": ("trombone.n.01",),
    "tuba": ("tuba.n.01",),
    "french horn": ("french_horn.n.01",),
    "saxophone": ("saxophone.n.01",),
    "oboe": ("oboe.n.01",),
    "bassoon": ("bassoon.n.01",),
    "clarinet": ("clarinet.n.01",),
    "piccolo": ("piccolo.n.01",),
    "flute": ("flute.n.01",),
    "recorder": ("recorder.n.04",),
    "pan flute": ("panpipe.n.01",),
    "synthesizer": ("synthesizer.n.02",),
    "sitar": ("sitar.n.01",),
    "banjo": ("banjo.n.01",),
    "koto": ("koto.n.01",),
    "bagpipes": ("bagpipe.n.01",),
    "steel drum": ("steel_drum.n.01",),
    "kick drum": ("bass_drum.n.01",),
    "snare drum": ("snare_drum.n.01",),
    "hi-hat": ("high_hat.n.01",),
    "crash cymbal": ("cymbal.n.01",),
    "tom drum": ("tom-tom.n.01",),
    "cowbell": ("cowbell.n.01",),
    "tambourine": ("tambourine.n.01",),
    "bongos": ("bongo.n.01",),
    "maracas": ("maraca.n.01",),
    "triangle": ("triangle.n.05",),
    "man speaking": ("male.n.02",),
    "woman speaking": ("female.n.02",),
    "bird": ("bird.n.01",),
    "crow": ("crow.n.01",),
    "dog": ("dog.n.01",),
    "cat": ("cat.n.01",),
    "cow": ("cow.n.01", "bull.n.01"),
    "horse": ("horse.n.01",),
    "sheep": ("sheep.n.01",),
    "pig": ("pig.n.01",),
    "duck": ("duck.n.01",),
    "chicken": ("chicken.n.02", "hen.n.01"),
    "owl": ("owl.n.01",),
    "frog": ("frog.n.01",),
    "bee": ("bee.n.01",),
    "lion": ("lion.n.01", "tiger.n.02"),
    "elephant": ("elephant.n.01",),
    "engine": ("engine.n.01", "motor.n.01"),
    "helicopter": ("helicopter.n.01",),
    "car": ("car.n.01",),
    "train": ("train.n.01",),
    "siren": ("siren.n.04",),
    "telephone": ("telephone.n.01",),
    "bell": ("bell.n.01",),
    "clock": ("clock.n.01",),
    "door": ("door.n.01",),
    "camera": ("camera.n.01",),
    "glass": ("glass.n.02",),
    "robot": ("robot.n.01",),
    "record scratch": ("record.n.02", "turntable.n.01"),
    "ambient drone": ("drone.n.02",),
    "whoosh": ("whoosh.n.01",),
    "impact": ("impact.n.01",),
    "explosion": ("explosion.n.01", "explosion.n.04"),
    "gunshot": ("gun.n.01", "gunshot.n.01"),
    "applause": ("applause.n.01", "audience.n.01"),
    "sea waves": ("wave.n.01", "sea.n.01"),
    "rain": ("rain.n.01",),
    "steam": ("steam.n.01",),
    "water": ("water.n.01",),
    "crickets": ("cricket.n.01",),
    "wind": ("wind.n.01",),
    "fire": ("fire.n.01",),
    "thunder": ("thunder.n.02",),
    "footsteps": ("footstep.n.01",),
    "heartbeat": ("heartbeat.n.01",),
}
"""Per class, the WordNet senses (``lemma.n.NN``, NN counting the lemma's noun senses in
WordNet's order, most frequent first) its nouns mean. Left out: classes whose nouns WordNet
lacks ("kalimba", "a drum machine"), and senses that mean something else than the class's
sound (the notification "chime" is a set of tuned bells in WordNet, "a gong" among them), and
classes named only by who makes them ("someone knocks"). A male or female person anchors
the man's and the woman's voice, so that "a fellow" and "a girl" find them."""

@attrs.frozen
class Synset:
    """One WordNet noun sense: its lemmas (lower case, spaces) and its hyponyms' offsets."""

    lemmas: tuple[str, ...]
    hyponyms: tuple[str, ...]


@attrs.frozen
class WordNet:
    """The parts of WordNet's noun database the table needs, read from its plain files."""

    synsets: Mapping[str, Synset]
    senses: Mapping[str, tuple[str, ...]]  # lemma -> synset offsets, most frequent first
    plurals: Mapping[str, tuple[str, ...]]  # singular -> its irregular plurals (noun.exc)
    verbs: frozenset[str]
    adjectives: frozenset[str]

    @classmethod
    def load(cls, directory: str | Path = WORDNET_DIR) -> WordNet:
        root = Path(directory)
        if not (root / "data.noun").is_file():
            raise ConfigError(f"no WordNet database in {root} (install Debian's wordnet-base, "
                              "or pass the folder that holds data.noun)")
        return cls(synsets=_read_synsets(root / "data.noun"),
                   senses=_read_index(root / "index.noun"),
                   plurals=_read_exceptions(root / "noun.exc"),
                   verbs=frozenset(_read_index(root / "index.verb")),
                   adjectives=frozenset(_read_index(root / "index.adj")))

    def sense(self, name: str) -> str:
        """The offset of ``"lemma.n.NN"``."""
        lemma, _, number = name.rpartition(".n.")
        senses = self.senses.get(lemma.replace("_", " "), ())
        if not number.isdigit() or not 1 <= int(number) <= len(senses):
            raise ConfigError(f"WordNet has no noun sense {name!r}")
        return senses[int(number) - 1]

    def under(self, offset: str) -> dict[str, int]:
        """Every sense at or under ``offset`` (hyponyms, transitively) with its depth."""
        depths = {offset: 0}
        frontier = [offset]
        while frontier:
            following = []
            for current in frontier:
                for child in self.synsets[current].hyponyms:
                    if child not in depths:
                        depths[child] = depths[current] + 1
                        following.append(child)
            frontier = following
        return depths


def _lemma(word: str) -> str:
    return re.sub(r"\(.*\)$", "", word).replace("_", " ").lower()


def _read_synsets(path: Path) -> dict[str, Synset]:
    synsets = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue  # the licence header
        fields = line.partition(" | ")[0].split()
        count = int(fields[3], 16)
        lemmas = tuple(_lemma(fields[4 + 2 * i]) for i in range(count))
        at = 4 + 2 * count
        pointers = [fields[at + 1 + 4 * i: at + 5 + 4 * i] for i in range(int(fields[at]))]
        hyponyms = tuple(offset for symbol, offset, pos, _ in pointers
                         if symbol == "~" and pos == "n")
        synsets[fields[0]] = Synset(lemmas, hyponyms)
    return synsets


def _read_index(path: Path) -> dict[str, tuple[str, ...]]:
    index = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        index[_lemma(fields[0])] = tuple(fields[-int(fields[2]):])
    return index


def _read_exceptions(path: Path) -> dict[str, tuple[str, ...]]:
    """Each singular noun's irregular one-word plurals."""
    plurals: dict[str, list[str]] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        plural, singular = (_lemma(word) for word in line.split()[:2])
        if " " not in plural:
            plurals.setdefault(singular, []).append(plural)
    return {singular: tuple(forms) for singular, forms in plurals.items()}


def bare_noun(noun: str) -> str:
    """A wording's noun without its article, lower case ("A French horn" -> "french horn")."""
    return re.sub(r"^(?:a|an|some|the)\s+", "", noun.lower())


def class_nouns(classes: Iterable[SoundClass]) -> set[str]:
    """Every noun the classes' training wordings use, and the nouns that name no sound: the
    table never rewrites them."""
    nouns = {bare_noun(w.noun) for c in classes for w in c.wordings}
    return nouns | set(GENERIC_NOUNS) | {bare_noun(n) for n in AGENT_NOUNS}


def sound_words(wordnet: WordNet, classes: Iterable[SoundClass] = SOUND_CLASSES,
                anchors: Mapping[str, tuple[str, ...]] = ANCHOR_SENSES) -> SoundWordTable:
    """The table of ``classes``: each noun whose most frequent sense is at or under a class's
    ``anchors``, with the class's canonical noun (a sense under two classes' anchors goes to
    the nearer, and to neither on a tie), plurals included; the classes' own nouns kept."""
    classes = tuple(classes)
    kept = class_nouns(classes)
    kept |= {form for noun in kept for form in _plurals(noun, wordnet)}
    reach: dict[str, tuple[int, str | None]] = {}
    for sound in classes:
        target = bare_noun(sound.noun)
        for name in anchors.get(sound.name, ()):
            for offset, depth in wordnet.under(wordnet.sense(name)).items():
                best = reach.get(offset)
                if best is None or depth < best[0]:
                    reach[offset] = (depth, target)
                elif depth == best[0] and best[1] != target:
                    reach[offset] = (depth, None)
    words = {}
    for offset, (_, target) in reach.items():
        for lemma in wordnet.synsets[offset].lemmas:
            if target is None or lemma in kept or not _usable(lemma, wordnet):
                continue
            if wordnet.senses.get(lemma, ("",))[0] != offset:
                continue  # a rarer sense of the word ("a kettle" is mostly a pot)
            for form in (lemma, *_plurals(lemma, wordnet)):
                if form not in kept:
                    words.setdefault(form, (target, lemma in wordnet.verbs))
    return SoundWordTable(words=dict(sorted(words.items())), kept=frozenset(kept))


def _usable(lemma: str, wordnet: WordNet) -> bool:
    """Words a caption can hold as a sound's name: no digits, no adjectives ("an electric
    piano" is no car), no verb forms ("clapping"), no place words ("in the rear", "at the
    back")."""
    from ..spatial.words import without_places

    if len(lemma) < 3 or re.search(r"[^a-z' -]", lemma) or lemma[0] in "'-":
        return False
    if lemma in wordnet.adjectives:
        return False
    head = lemma.split()[-1]
    if re.fullmatch(r".+(?:ing|ed)", head) and _verb_stem(head, wordnet):
        return False
    return not any(without_places(context).strip() != context
                   for context in (f"a {lemma} plays", f"in the {lemma}", f"at the {lemma}",
                                   f"to the {lemma}", f"on the {lemma}", f"to your {lemma}",
                                   f"at your {lemma}"))


def _verb_stem(word: str, wordnet: WordNet) -> bool:
    stem = re.sub(r"(?:ing|ed)$", "", word)
    candidates = {stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else stem}
    return any(c in wordnet.verbs for c in candidates)


def _plurals(lemma: str, wordnet: WordNet) -> list[str]:
    """The plural forms of ``lemma``'s last word: WordNet's irregular ones and the regular one."""
    head, _, tail = lemma.rpartition(" ")
    prefix = f"{head} " if head else ""
    forms = list(wordnet.plurals.get(tail, ()))
    if re.search(r"(?:s|x|z|ch|sh)$", tail):
        forms.append(tail + "es")
    elif re.search(r"[^aeiou]y$", tail):
        forms.append(tail[:-1] + "ies")
    else:
        forms.append(tail + "s")
    return [prefix + form for form in forms]
