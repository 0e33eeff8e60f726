"""Sound words: a rarer noun for a vocabulary class rewritten into the class's own noun.

"A fiddle plays behind you" becomes "A violin plays behind you", "two puppies yap" becomes
"two dog yap": an encoder trained on the vocabulary's captions, or matched against them,
then meets a noun it knows. The table (``sound_words.json`` beside this module) holds the
nouns whose most frequent WordNet sense is a class or a kind of it, built by
:mod:`swansphere.data.lexicon` (docs/conditioning.md, "Sound words"). A noun that is also a
verb or an adjective ("fiddle", "chap") is rewritten only after a determiner ("a fiddle",
"the old fiddle"), so "someone fiddles with keys" stays as written. A noun is found however
its parts are joined in one word ("squeezebox" and "squeeze-box" are the table's "squeeze box"),
and a vocabulary noun so written becomes the vocabulary's spelling ("hihat": "hi-hat"). The
vocabulary's own nouns, place words and everything else stay as written.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from ..errors import ResourceNotFoundError

TABLE = Path(__file__).with_name("sound_words.json")
FORMAT = "swansphere-sound-words/1"
NOTICE = ("Derived from WordNet 3.0, Copyright 2006 by Princeton University, used under the "
          "WordNet 3.0 licence (docs/conditioning.md, 'Sound words').")
DETERMINERS = frozenset({
    "a", "an", "the", "some", "my", "your", "his", "her", "their", "its", "our", "this", "that",
    "these", "those", "one", "two", "three", "four", "several", "many", "another", "every",
    "each", "no", "any"})
"""Words that open a noun phrase: a table noun that is also a verb is taken for a noun after
one of them, or after one of them and one more word ("a tiny puppy")."""

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_MAX_PASSES = 8


@attrs.frozen
class SoundWordTable:
    """``words``: ``{noun: (class noun, needs a determiner)}``, lower case, plurals included;
    ``kept``: the vocabulary's own nouns, never rewritten, nor any word inside them ("an
    electric piano" keeps its "electric")."""

    words: Mapping[str, tuple[str, bool]]
    kept: frozenset[str]

    @functools.cached_property
    def longest(self) -> int:
        """The most words a table noun or a kept noun has."""
        return max((noun.count(" ") + 1 for noun in (*self.words, *self.kept)), default=0)

    @functools.cached_property
    def joined(self) -> Mapping[str, tuple[str, bool]]:
        """Table and kept nouns by their letters alone (:func:`joined_form`), each with the
        entry to write for it (a kept noun: itself, in the vocabulary's spelling); a form that
        nouns with different entries share (another class, or one needing a determiner) is
        left out."""
        entries: dict[str, set[tuple[str, bool]]] = {}
        for noun, entry in (*self.words.items(), *((kept, (kept, False)) for kept in self.kept)):
            entries.setdefault(joined_form(noun), set()).add(entry)
        return {form: next(iter(found)) for form, found in entries.items() if len(found) == 1}

    @classmethod
    def load(cls, path: str | Path = TABLE) -> SoundWordTable:
        try:
            document = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ResourceNotFoundError(f"no sound-word table at {path}") from None
        if document.get("format") != FORMAT:
            raise ResourceNotFoundError(f"{path} is not a {FORMAT} table")
        return cls(words={word: (target, bool(gated))
                          for word, (target, gated) in document["words"].items()},
                   kept=frozenset(document["kept"]))

    def save(self, path: str | Path) -> Path:
        """Write the table as :meth:`load` reads it, one noun a line (a rebuild's diff reads
        well)."""
        from ..fileio import atomic_file

        entries = ",\n".join(f"{json.dumps(word)}: {json.dumps([target, gated])}"
                              for word, (target, gated) in sorted(self.words.items()))
        with atomic_file(path) as temporary:
            temporary.write_text(
                f'{{"format": {json.dumps(FORMAT)},\n"notice": {json.dumps(NOTICE)},\n'
                f'"kept": {json.dumps(sorted(self.kept))},\n"words": {{\n{entries}\n}}}}\n')
        return Path(path)


@functools.cache
def packaged_table() -> SoundWordTable:
    """The table that ships with the package."""
    return SoundWordTable.load(TABLE)


def joined_form(noun: str) -> str:
    """A noun's letters without the spaces and hyphens between its parts, lower case: the
    same for "Squeeze-box", "squeeze box" and "squeezebox"."""
    return re.sub(r"[\s-]+", "", noun.lower())


def canonical_sounds(text: str, table: SoundWordTable | None = None) -> str:
    """``text`` with each table noun (longest first, plurals included) replaced by its
    class's noun, and an "a" / "an" before it made to agree (``table``: the packaged one).

    The text is rewritten until nothing is left to rewrite ("an elephant" beside "bird"
    makes "an elephant bird", itself a table noun). A rewrite that would change where the
    prompt parser puts a sound is not made: the text comes back as written.
    """
    from ..spatial.words import prompt_directions

    table = table or packaged_table()
    rewritten = text
    for _ in range(_MAX_PASSES):  # a class noun next to a word can make a new table noun
        following = _rewrite(rewritten, table)
        if following == rewritten:
            break
        rewritten = following
    if rewritten != text and prompt_directions(rewritten) != prompt_directions(text):
        return text
    return rewritten


def _rewrite(text: str, table: SoundWordTable) -> str:
    words = list(_WORD.finditer(text))
    edits: list[tuple[int, int, str]] = []
    index = 0
    while index < len(words):
        length, target = _longest_match(text, words, index, table)
        if target is None:
            index += max(length, 1)
            continue
        start, end = words[index].start(), words[index + length - 1].end()
        if text[start].isupper():
            target = target[0].upper() + target[1:]
        article = _article_before(text, words, index)
        if article is not None:
            edits.append((*article[:2], _agreeing(article[2], target)))
        edits.append((start, end, target))
        index += length
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text


def _longest_match(text: str, words: list[re.Match[str]], index: int, table: SoundWordTable
                   ) -> tuple[int, str | None]:
    """How many words from ``index`` form the longest table or kept noun, and the class noun
    to write for them (``None``: a kept noun as the vocabulary spells it, or nothing to
    rewrite). One written word also matches a noun of several parts joined so ("squeezebox",
    "squeeze-box"); several written words are never joined ("a gun fires" is no gunfire)."""
    for length in range(min(table.longest, len(words) - index), 0, -1):
        span = words[index:index + length]
        if any(text[a.end():b.start()] != " " for a, b in itertools.pairwise(span)):
            continue  # a comma or a full stop between words breaks a noun
        noun = " ".join(word.group().lower() for word in span)
        if noun in table.kept:
            return length, None
        entry = table.words.get(noun) or (table.joined.get(joined_form(noun)) if length == 1
                                          else None)
        if entry is not None and (not entry[1] or _after_determiner(words, index)):
            return length, entry[0]
    return 0, None


def _after_determiner(words: list[re.Match[str]], index: int) -> bool:
    before = [word.group().lower() for word in words[max(0, index - 2):index]]
    return bool(before) and (before[-1] in DETERMINERS
                             or (len(before) == 2 and before[0] in DETERMINERS))


def _article_before(text: str, words: list[re.Match[str]], index: int
                    ) -> tuple[int, int, str] | None:
    """The "a" / "an" right before word ``index`` (its span and spelling), if any."""
    if index == 0:
        return None
    previous = words[index - 1]
    if previous.group().lower() not in ("a", "an") or \
            text[previous.end():words[index].start()] != " ":
        return None
    return previous.start(), previous.end(), previous.group()


def _agreeing(article: str, noun: str) -> str:
    agreed = "an" if noun[0].lower() in "aeiou" else "a"
    return agreed.capitalize() if article[0].isupper() else agreed
