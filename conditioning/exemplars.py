"""Exemplar prompts: recorded sounds of each class, retrieved by what a prompt's words mean,
for a stream to start from (retrieval-augmented generation).

A small model trained briefly learns where a sound is long before it learns from words alone
what the sound is, but it continues audio it is given (its history) well. An
:class:`ExemplarBank` holds, for each sound class of the vocabulary it was made from, a short
mono clip of that class's *training* clips and the class's *training* wordings ("a violin
plays", "a fiddle is played"...; never the held-out ones). A prompt clause is matched to the
class whose wordings are nearest in MiniLM's sentence space (mean-pooled states, cosine; place
words and framing such as "I hear" removed first, :func:`named_part`). At or above
``threshold`` the class's clip, placed where the clause says (front when it names no place),
is the audio prompt the stream continues (:meth:`swansphere.pipeline.LiveSession.prime`); a
clause that names no known sound ("a sound on the left") is generated from its words alone.
A pipeline keeps its bank in ``exemplars.safetensors`` beside ``pipeline.toml``
(docs/pipeline.md, "Exemplar prompts"); :func:`swansphere.data.exemplars.exemplar_bank` makes
one from the sound vocabulary's clips.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import torch
import torch.nn.functional as F

from ..errors import ConfigError

FORMAT = "swansphere-exemplars/1"
DEFAULT_THRESHOLD = 0.45
"""Cosine similarity a clause needs to its nearest class's wordings (MiniLM sentence space)."""
UNNAMED = ("a sound", "a noise", "something", "a sound plays", "you hear a noise", "audio")
"""Phrases that name no sound: a clause nearer to one of them than to every class's wordings
("a sound on the left", "noise behind you") names no class, however similar "a sound" is to
"a damage sound"."""
FRAMING = re.compile(
    r"\b(?:(?:i|you|we|they|one)\s+(?:can\s+|could\s+)?(?:hear|hears)"
    r"|(?:can|could|may|might|is|are)\s+(?:be\s+)?heard|listen(?:\s+to)?"
    r"|there\s+(?:is|are)|there's|(?:the|a)\s+(?:sound|noise)s?\s+of|somewhere"
    r"|please|(?:can|could|would|will)\s+you|(?:let\s+me|i(?:\s+want|\s+would\s+like|'d\s+like)"
    r"(?:\s+to)?)\s+hear|i(?:\s+want|\s+would\s+like|'d\s+like)|give\s+me|play\s+me"
    r"|generate|create|make|produce|synthesi[sz]e|render|add)\b")
"""Words that frame a sound rather than name it ("I hear ...", "... can be heard", "there is
...", "the sound of ...") or ask for one ("generate ...", "please make ...", "let me hear
...", "I want ..."): removed before matching (:func:`named_part`), or "I hear a rifle" would
sit nearer "you hear a noise" than "a gunshot", and "generate a dog barking" nearer a chime
than a dog."""


ARTICLE = re.compile(r"^(?:a|an|the|some)\s+")
"""An article before a wording's noun."""
HEAD_FOLLOWS = (r"(?=\s*$|\s*[,.;:!?]|\s+(?:\w+(?:s|ing|ed)|is|are|was|were|can|could|will"
                r"|would|that|which|who|in|on|at|from|near|far|somewhere|nearby|close|and"
                r"|with)\b)")
"""What follows a noun that heads its clause ("a dog howls", "a dog in the distance") rather
than naming another thing ("a dog whistle"): a verb form, a function word or nothing."""
PEOPLE = frozenset({"man", "woman", "men", "women", "person", "people", "boy", "girl", "boys",
                    "girls", "child", "children", "kid", "kids"})
"""Nouns that say who makes a sound, not which: "a man whistles" and "a woman claps" are no
speech, so a clause headed by one goes to the class its whole meaning is nearest
(:meth:`ExemplarBank.named_by_noun`); it still heads the clause, so "a man talks on the
phone" is not taken by the phone."""


def named_part(text: str) -> str:
    """What a clause says a sound is: its places (:func:`swansphere.spatial.words.
    without_places`) and its framing (:data:`FRAMING`) removed, lower case ("I hear a rifle
    on your left" -> "a rifle"; "" when nothing is left)."""
    from swansphere.spatial.words import without_places

    return " ".join(FRAMING.sub(" ", without_places(text)).split()).strip(" ,.;:!?")


def placed(audio: Any, text: str | None) -> torch.Tensor:
    """Mono ``audio`` (a tensor or an array) as an AmbiX prompt ``(4, samples)`` where
    ``text`` puts it (in front when it names no place)."""
    from swansphere.spatial import encode
    from swansphere.spatial.words import prompt_direction

    azimuth, elevation = (prompt_direction(text) if text else None) or (0.0, 0.0)
    return encode(torch.as_tensor(audio, dtype=torch.float32), azimuth, elevation)


@functools.cache
def _sentence_encoder() -> tuple[Any, Any]:
    from .minilm import load_minilm

    tokenizer, encoder = load_minilm()
    return tokenizer, encoder.eval()


SENTENCE_TOKENS = 64
"""The most tokens of a phrase that a sentence embedding reads."""


def sentence_embeddings(texts: Sequence[str]) -> torch.Tensor:
    """Unit-length MiniLM sentence embeddings ``(len(texts), 384)``: the mean of the token
    states over real tokens, as all-MiniLM-L6-v2 was trained to be compared."""
    tokenizer, encoder = _sentence_encoder()
    ids, mask = tokenizer.batch(list(texts), SENTENCE_TOKENS)
    with torch.inference_mode():
        return pooled_sentences(encoder(ids, mask), mask)


def sentence_source() -> Path | None:
    """Where the MiniLM that embeds a bank's phrases came from (see :meth:`ExemplarBank.
    match`'s ``embeddings``)."""
    return _sentence_encoder()[1].source


def pooled_sentences(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Token states ``(n, length, width)`` and their mask -> unit sentence embeddings."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)
    return F.normalize(pooled, dim=-1)


@attrs.frozen(eq=False)
class ExemplarBank:
    """Mono clips ``audio`` ``(clips, samples)`` at ``sample_rate``, the class of each
    (``classes``), and the phrases that name each class (``wordings[i]`` for class
    ``class_names[i]``)."""

    class_names: tuple[str, ...]
    wordings: tuple[tuple[str, ...], ...]
    clip_classes: tuple[int, ...]
    audio: torch.Tensor
    sample_rate: int
    threshold: float = DEFAULT_THRESHOLD
    others: tuple[str, ...] = ()
    """Phrases that name sounds the bank has no clip of ("a dog barks" in a bank without
    dogs, "a baby cries"): a clause nearest to one of them names none of its classes,
    instead of the class it happens to sit nearest ("generate a dog barking" near a chime)."""

    def __attrs_post_init__(self) -> None:
        if len(self.class_names) != len(self.wordings) or not self.class_names:
            raise ConfigError("an exemplar bank needs wordings for each of its classes")
        if self.audio.dim() != 2 or self.audio.shape[0] != len(self.clip_classes):
            raise ConfigError(f"exemplar audio must be (clips, samples) with one class per "
                              f"clip, got {tuple(self.audio.shape)} for "
                              f"{len(self.clip_classes)} classes")
        if not all(0 <= index < len(self.class_names) for index in self.clip_classes):
            raise ConfigError("an exemplar clip names a class the bank does not have")

    # ------------------------------------------------------------------ retrieval

    @functools.cached_property
    def _wording_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every phrase's embedding and its class (-1: :data:`UNNAMED` and :attr:`others`)."""
        phrases = [phrase for phrases in self.wordings for phrase in phrases]
        unclassed = (*UNNAMED, *self.others)
        owner = torch.tensor([index for index, phrases in enumerate(self.wordings)
                              for _ in phrases] + [-1] * len(unclassed))
        return sentence_embeddings([named_part(p) for p in (*phrases, *unclassed)]), owner

    def match(self, texts: Sequence[str | None], *, sound_words: bool = True,
              embeddings: torch.Tensor | None = None) -> list[tuple[str, float] | None]:
        """Per text, its nearest class and the similarity, or ``None`` (no text, nothing at
        or above :attr:`threshold`, or nearest to a phrase that names no sound or a sound of
        :attr:`others`). Texts are compared by their :meth:`queries`; a query headed by one
        class's own noun (:meth:`named_by_noun`) takes that class. ``embeddings``, one row per
        non-empty query in order, are their sentence embeddings if already made (by the
        MiniLM of :func:`sentence_source`, in the same pass as a caption's states)."""
        owner = self._wording_embeddings[1]
        found: list[tuple[str, float] | None] = []
        for read in self._query_similarities(texts, sound_words, embeddings):
            if read is None:
                found.append(None)
                continue
            query, similarity = read
            best, phrase = (value.item() for value in similarity.max(0))
            named = self.named_by_noun(query, phrase)
            if named is not None:
                best = similarity[owner == named].max().item()
            else:
                named = int(owner[phrase])
            found.append((self.class_names[named], best)
                         if named >= 0 and best >= self.threshold else None)
        return found

    @functools.cached_property
    def class_nouns(self) -> tuple[frozenset[str], ...]:
        """Per class, the nouns its own wordings name it by, without articles: each wording
        that another of the class's wordings continues ("a dog" of "a dog barks")."""
        return tuple(frozenset(ARTICLE.sub("", phrase.lower()) for phrase in phrases
                               if any(other.startswith(f"{phrase} ") for other in phrases))
                     for phrases in self.wordings)

    def named_by_noun(self, query: str, nearest: int) -> int | None:
        """The class a query names by one class's own noun at its head ("a dog howls", "a
        chicken crows": the noun followed by a verb, a function word or nothing, so not "a
        dog whistle"), where its nearest phrase (index ``nearest``) is another's that lacks
        that noun ("a wolf howls", a sound the bank has none of; "a rooster crows"); else
        ``None``. A class named by :data:`PEOPLE` alone is taken so only where the nearest
        phrase is no class's ("a woman announces the train", nearest "a train"), never from
        another class ("a man whistles"). MiniLM's sentence space weighs the verb as much as
        the noun, so a noun the bank knows is taken at its word."""
        heads = {index for index, head in enumerate(self._noun_heads)
                 if head is not None and head.search(query)}
        if len(heads) != 1:
            return None
        (named,) = heads
        owner = self._wording_embeddings[1]
        if self.class_nouns[named] <= PEOPLE and int(owner[nearest]) >= 0:
            return None
        phrase = self._phrase_texts[nearest]
        if int(owner[nearest]) == named or any(noun in phrase for noun in self.class_nouns[named]):
            return None
        return named

    @functools.cached_property
    def _noun_heads(self) -> tuple[re.Pattern[str] | None, ...]:
        """Per class, a pattern finding one of its :attr:`class_nouns` at a clause's head
        (``None`` for a class its wordings name by no noun)."""
        return tuple(re.compile(rf"\b(?:{'|'.join(map(re.escape, sorted(nouns)))})\b{HEAD_FOLLOWS}")
                     if nouns else None for nouns in self.class_nouns)

    @functools.cached_property
    def _phrase_texts(self) -> tuple[str, ...]:
        """Every phrase :attr:`_wording_embeddings` embeds, in its order."""
        return tuple(phrase.lower() for phrase in (
            *(phrase for phrases in self.wordings for phrase in phrases), *UNNAMED, *self.others))

    def absent_sounds(self, texts: Sequence[str | None]) -> list[str | None]:
        """Per text, the phrase of :attr:`others` it is nearest to (at or above
        :attr:`threshold`): a sound the bank has no clip of, which is why :meth:`match`
        finds none ("a puppy yaps" -> "a dog woofs" in a bank without dogs); else ``None``."""
        first_other = len(self._wording_embeddings[1]) - len(self.others)
        absent: list[str | None] = []
        for nearest in self._nearest_phrases(texts):
            lacked = (nearest is not None and nearest[0] >= self.threshold
                      and nearest[1] >= first_other)
            absent.append(self.others[nearest[1] - first_other] if lacked else None)
        return absent

    def _nearest_phrases(self, texts: Sequence[str | None]) -> list[tuple[float, int] | None]:
        """Per text, the similarity of its :meth:`queries`' nearest phrase and that phrase's
        index (``None`` for no text)."""
        return [None if read is None else tuple(value.item() for value in read[1].max(0))
                for read in self._query_similarities(texts)]

    def _query_similarities(self, texts: Sequence[str | None], sound_words: bool = True,
                            embeddings: torch.Tensor | None = None
                            ) -> list[tuple[str, torch.Tensor] | None]:
        """Per text, its :meth:`queries` and that query's similarity to every phrase
        (``None`` for no text), embedded in one batch unless ``embeddings`` (one row per
        non-empty query) are given."""
        queries = self.queries(texts, sound_words=sound_words)
        wanted = [index for index, query in enumerate(queries) if query]
        read: list[tuple[str, torch.Tensor] | None] = [None] * len(texts)
        if not wanted:
            return read
        if embeddings is None:
            embeddings = sentence_embeddings([queries[index] for index in wanted])
        phrases = self._wording_embeddings[0]
        similarities = embeddings.to(phrases) @ phrases.T
        for index, similarity in zip(wanted, similarities, strict=True):
            read[index] = (queries[index], similarity)
        return read

    def _nearest(self, embeddings: torch.Tensor) -> list[tuple[float, int]]:
        """Per sentence embedding, the similarity of its nearest phrase and that phrase's
        index (its class: ``_wording_embeddings[1]``, -1 for the unclassed)."""
        phrases = self._wording_embeddings[0]
        best, index = (embeddings.to(phrases) @ phrases.T).max(1)
        return list(zip(best.tolist(), index.tolist(), strict=True))

    def sound_clauses(self, clause: str) -> list[str]:
        """A clause that names several sounds at its one place cut into one clause per sound,
        each with that place (:func:`~swansphere.spatial.words.sound_parts`: "I hear a fiddle
        and a chap talking behind me" -> ``["I hear a fiddle behind", "a chap talking
        behind"]``), where every part is near a phrase (a class's, one that names no sound
        or one of :attr:`others`, at or above :attr:`threshold`), each part nearer its phrase
        than the whole clause is to its own, and the parts not all near one class; else
        ``[clause]``. So "a dog barks and growls" stays one sound, and a wording with an
        "and" in it is nearest itself whole."""
        from swansphere.spatial.words import sound_parts

        parts = sound_parts(clause)
        if len(parts) < 2:
            return [clause]
        queries = self.queries([clause, *parts])
        if not all(queries):
            return [clause]
        owner = self._wording_embeddings[1].tolist()
        (whole, _), *each = self._nearest(sentence_embeddings(queries))
        sounds = {owner[phrase] if owner[phrase] >= 0 else -1 - phrase for _, phrase in each}
        splits = all(self.threshold <= similarity and whole < similarity
                     for similarity, _ in each) and len(sounds) > 1
        return parts if splits else [clause]

    @staticmethod
    def queries(texts: Sequence[str | None], *, sound_words: bool = True) -> list[str]:
        """What :meth:`match` embeds of each text: its :func:`named_part`, after
        :func:`~swansphere.conditioning.sound_words.canonical_sounds` unless ``sound_words``
        is False ("a sackbut" is matched as "a trombone"); "" for no text."""
        from .sound_words import canonical_sounds

        rewrite = canonical_sounds if sound_words else str
        return [named_part(rewrite(text)) if text else "" for text in texts]

    def prompt(self, text: str | None, seed: int = 0, *, chain: bool = False
               ) -> torch.Tensor | None:
        """The AmbiX audio prompt ``(4, samples)`` for one clause: its class's clip (one of
        them, by ``seed``; with ``chain`` all of them, :meth:`class_prompt`) where the clause
        puts it, or ``None`` when it names no class or several places (a whole scene, not one
        sound: stream its clauses separately)."""
        return self.prompts([text], [seed], chain=chain)[0]

    def prompts(self, texts: Sequence[str | None], seeds: Sequence[int],
                matches: Sequence[tuple[str, float] | None] | None = None, *,
                chain: bool = False) -> list[torch.Tensor | None]:
        """:meth:`prompt` for each text and seed, the distinct texts matched in one batch
        (or ``matches``, the texts' :meth:`prompt_matches` if already made)."""
        if matches is None:
            matches = self.prompt_matches(texts)
        return [None if match is None else self.class_prompt(match[0], text, seed, chain=chain)
                for text, seed, match in zip(texts, seeds, matches, strict=True)]

    def prompt_matches(self, texts: Sequence[str | None]) -> list[tuple[str, float] | None]:
        """Per text, the :meth:`match` its prompt is made from: ``None`` for a text that
        :meth:`starts` no stream; the distinct texts matched in one batch."""
        single = list(dict.fromkeys(text for text in texts if self.starts(text)))
        matched = dict(zip(single, self.match(single), strict=True))
        return [matched.get(text) if text else None for text in texts]

    @staticmethod
    def starts(text: str | None) -> bool:
        """Whether a bank starts a stream for ``text``: words that state at most one place
        (several are a whole scene, not one sound)."""
        from swansphere.spatial.words import prompt_directions

        return bool(text) and len(set(prompt_directions(text))) <= 1

    def class_prompt(self, name: str, text: str | None, seed: int = 0, *,
                     chain: bool = False) -> torch.Tensor:
        """The AmbiX prompt ``(4, samples)`` of class ``name``: one of its clips (by ``seed``)
        where ``text`` puts it (in front when it names no place); with ``chain`` its clips one
        after another from that one on, in turn, :attr:`chain_clips` of them (every class's
        chain is as long, so prompts of several classes share one length), so that a stream
        anchored to the prompt varies several recordings of the class rather than one
        looped. Training on exemplar prefixes calls it with a scene's true class
        (docs/training.md)."""
        choices = self.clips_of(name)
        if not choices:
            raise ConfigError(f"the exemplar bank has no clip of the class {name!r}")
        if not chain:
            return placed(self.audio[choices[seed % len(choices)]], text)
        order = [choices[(seed + step) % len(choices)] for step in range(self.chain_clips)]
        return placed(self.audio[order].flatten(), text)

    @property
    def chain_clips(self) -> int:
        """How many clips a chained prompt plays: the most any class has."""
        return max(Counter(self.clip_classes).values())

    def clips_of(self, name: str) -> list[int]:
        """The indices into ``audio`` of class ``name``'s clips, in the bank's order."""
        return [i for i, c in enumerate(self.clip_classes) if self.class_names[c] == name]

    # ------------------------------------------------------------------ files

    def save(self, path: str | Path) -> Path:
        """Write the bank as safetensors (audio in float16, the rest as metadata)."""
        from safetensors.torch import save_file

        path = Path(path)
        metadata = {"format": FORMAT, "sample_rate": str(self.sample_rate),
                    "threshold": repr(self.threshold),
                    "classes": json.dumps(list(self.class_names)),
                    "wordings": json.dumps([list(w) for w in self.wordings]),
                    "clip_classes": json.dumps(list(self.clip_classes)),
                    "others": json.dumps(list(self.others))}
        save_file({"audio": self.audio.to(torch.float16).contiguous()}, str(path), metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ExemplarBank:
        from safetensors import safe_open

        path = Path(path)
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ConfigError(f"{path} is not an exemplar bank ({FORMAT})")
            audio = handle.get_tensor("audio").float()
        return cls(tuple(json.loads(metadata["classes"])),
                   tuple(tuple(w) for w in json.loads(metadata["wordings"])),
                   tuple(json.loads(metadata["clip_classes"])), audio,
                   int(metadata["sample_rate"]), float(metadata["threshold"]),
                   tuple(json.loads(metadata.get("others", "[]"))))
