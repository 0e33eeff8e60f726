"""ExemplarBank: training clips per class, found by what a clause's words mean."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import torch

from swansphere.conditioning.exemplars import ExemplarBank, named_part
from swansphere.conditioning.text import minilm_available
from swansphere.data.exemplars import (
    exemplar_bank,
    typical,
    with_classes_added,
    without_classes,
)
from swansphere.data.sources import catalogue
from swansphere.data.vocabulary import (
    EVERYDAY_SOUNDS,
    SOUND_CLASSES,
    class_clips,
    sound_class,
    split_clips,
    training_phrases,
)
from swansphere.errors import ConfigError
from swansphere.spatial import encode

pytestmark = pytest.mark.skipif(not minilm_available(), reason="needs swansphere[text]")
RATE = 8000


@pytest.fixture(scope="module")
def bank() -> ExemplarBank:
    training = split_clips(class_clips(catalogue(["synthetic"])))[0]
    return exemplar_bank(training, training_phrases({c.label for c in training}),
                         sample_rate=RATE, seconds=0.1, per_class=2, choice="first")


def test_a_bank_holds_training_clips_and_training_words_only(bank):
    training, held_out = split_clips(class_clips(catalogue(["synthetic"])))
    assert set(bank.class_names) == {clip.label for clip in training}
    assert bank.audio.shape == (2 * len(bank.class_names), 800)
    for name, phrases in zip(bank.class_names, bank.wordings, strict=True):
        wordings = sound_class(name).wordings
        assert set(phrases) == {w.phrase for w in wordings} | {w.nominal for w in wordings}
        assert not set(phrases) & set(sound_class(name).held_out_synonyms)
        first = next(clip for clip in training if clip.label == name)
        index = bank.clip_classes.index(bank.class_names.index(name))
        rendered = first.render(np.random.default_rng(0), RATE, 4 * RATE)
        if not np.abs(rendered).max():
            continue
        energy = np.convolve(np.square(rendered), np.ones(800), "valid")
        assert float(bank.audio[index].square().sum()) == pytest.approx(energy.max(), rel=0.02)
    assert not {clip.clip_id for clip in held_out} & {clip.clip_id for clip in training}


def test_words_find_their_class_wherever_the_sound_is(bank):
    texts = ["a bell rings on the left", "A siren wails behind you.", "rain falls overhead",
             "a sound on the left", "something behind you", None]
    found = [None if match is None else match[0] for match in bank.match(texts)]
    assert found == ["bell", "siren", "rain", None, None, None]
    strict = attrs.evolve(bank, threshold=0.99)
    assert strict.match(["a bell chimes"]) == [("bell", pytest.approx(1.0, abs=1e-4))]
    assert strict.match(["a bell chimes loudly"]) == [None]


@pytest.mark.parametrize(("text", "named"), [
    ("I hear a rifle ahead on your left.", "a rifle"),
    ("A bell is heard to your left", "a bell"),
    ("Someone can be heard behind on your right.", "someone"),
    ("There is a dog barking on the left", "a dog barking"),
    ("there's a dog barking", "a dog barking"),
    ("the sound of rain falling overhead", "rain falling"),
    ("Somewhere to the front left, up high, a cornet plays.", "a cornet plays"),
    ("We could hear waves", "waves"),
    ("a damage sound on the left", "a damage sound"),
    ("you can hear", ""),
    ("Generate a dog barking on the left", "a dog barking"),
    ("Please make the sound of rain behind me", "rain"),
    ("I'd like to hear a violin above you", "a violin"),
    ("Could you create a cat meowing?", "a cat meowing"),
    ("Let me hear thunder", "thunder"),
    ("I want a bell overhead!", "a bell"),
    ("give me a siren", "a siren"),
])
def test_framing_and_places_are_not_what_a_sound_is_called(text, named):
    assert named_part(text) == named


def test_framed_words_find_their_class_and_framed_nothing_finds_none(bank):
    texts = ["I hear a bell on the left", "the sound of a siren behind you",
             "You can hear rain falling overhead", "I hear a noise behind me",
             "you can hear something on the left", "listen"]
    found = [None if match is None else match[0] for match in bank.match(texts)]
    assert found == ["bell", "siren", "rain", None, None, None]


def test_sounds_the_bank_has_no_clip_of_find_no_class(bank):
    """A bank of the synthetic classes knows no dog, violin, thunder or footsteps: prompts for
    them get no exemplar, where without the phrases of other sounds some found a wrong one."""
    texts = ["a dog barks on the left", "Generate a violin playing behind you",
             "thunder rumbles overhead", "footsteps behind me", "a baby cries",
             "a cat meows", "a car drives by", "a helicopter whirs above"]
    assert bank.others and not set(bank.others) & {p for w in bank.wordings for p in w}
    assert bank.match(texts) == [None] * len(texts)
    assert any(match is not None for match in attrs.evolve(bank, others=()).match(texts))
    assert [m[0] for m in bank.match(["a bell rings", "Generate a siren behind you"])] == [
        "bell", "siren"]


def test_rarer_words_are_matched_as_the_vocabularys_own(bank):
    """With sound words a sleigh bell is a bell, and a whirlybird a helicopter (which the
    synthetic bank has no clip of), not a bird; as written, the bell is found by its head
    noun alone."""
    texts = ["a sleigh bell jingles on the left", "a whirlybird hovers overhead"]
    assert [m and m[0] for m in bank.match(texts)] == ["bell", None]
    assert [m and m[0] for m in bank.match(texts, sound_words=False)] == ["bell", "bird"]


def test_every_class_keeps_its_words_beside_the_everyday_sounds():
    """The everyday sounds a bank lacks must not take any vocabulary class's own words: a bank
    of every class (and those sounds as ``others``) finds each class from each of its
    training wordings put another way ("a violin playing"), plain or asked for."""
    classes = SOUND_CLASSES
    bank = ExemplarBank(tuple(c.name for c in classes),
                        tuple(tuple(w.phrase for w in c.wordings) for c in classes),
                        tuple(range(len(classes))), torch.zeros(len(classes), 8), RATE,
                        others=EVERYDAY_SOUNDS)
    texts = [(c.name, f"{prefix}{w.noun} {w.participle} on the left") for c in classes
             for w in c.wordings for prefix in ("", "generate ")]
    found = bank.match([text for _, text in texts])
    assert [(name, text) for (name, text), match in zip(texts, found, strict=True)
            if match is None or match[0] != name] == []


def test_no_everyday_sound_is_one_of_a_class_under_another_name():
    """A class's aliases label recordings it holds ("rooster" clips are chickens): an
    everyday sound phrased with one ("a rooster crows") would keep a bank from finding them."""
    import re

    aliases = {alias.lower(): sound.name for sound in SOUND_CLASSES for alias in sound.aliases}
    heads = {phrase: re.sub(r"^(?:a|an|the|some)\s+", "", phrase.rsplit(" ", 1)[0])
             for phrase in EVERYDAY_SOUNDS}
    assert {phrase: aliases[head] for phrase, head in heads.items() if head in aliases} == {}


@pytest.mark.parametrize(("text", "named", "by_noun"), [
    ("an engine drones on the left", "engine", True),  # nearest "a lawnmower drones"
    ("rain pours down behind you", "rain", True),  # nearest "water pours", a class it lacks
    ("a clock tower chimes", "bell", False),  # "clock" names the tower, not the sound
    ("a car horn honks", None, False),  # an everyday sound: its own phrase says "horn"
])
def test_a_noun_the_bank_knows_at_the_head_names_its_class(bank, text, named, by_noun,
                                                           monkeypatch):
    """MiniLM weighs a verb as much as a noun, so "an engine drones" sits nearer "a lawnmower
    drones" than any engine; a clause headed by a class's own noun takes that class."""
    assert (bank.match([text])[0] or (None,))[0] == named
    monkeypatch.setattr(ExemplarBank, "named_by_noun", lambda *args: None)
    assert ((bank.match([text])[0] or (None,))[0] == named) is not by_noun


@pytest.mark.parametrize(("text", "named"), [
    ("a man whistles on the left", "whistling"),
    ("a woman is clapping behind you", "hand claps"),
    ("a girl whistles", "whistling"),
    ("a man talks behind you", "man speaking"),
    ("a lady is speaking", "woman speaking"),
    ("a woman", "woman speaking"),
    ("a woman is talking on the phone", "woman speaking"),  # the phone does not head it
    ("a man whispers", "man speaking"),  # a sound the bank lacks: the man's voice, as before
])
def test_a_person_at_the_head_says_who_makes_the_sound_not_which(text, named):
    """"A man" heads "a man speaks", but a man who whistles makes no speech: a clause headed
    by a person goes to another class its whole meaning is nearest, and to the person's
    voice only where that is nearest or no class of the bank is."""
    classes = [sound_class(name) for name in ("man speaking", "woman speaking", "whistling",
                                               "hand claps", "telephone")]
    phrases = tuple(tuple(dict.fromkeys(phrase for w in c.wordings
                                        for phrase in (w.phrase, w.nominal))) for c in classes)
    bank = ExemplarBank(tuple(c.name for c in classes), phrases, tuple(range(len(classes))),
                        torch.zeros(len(classes), 8), RATE, others=("a person whispers",))
    assert "man" in bank.class_nouns[0]  # "a man" heads "a man speaks"
    assert (bank.match([text])[0] or (None,))[0] == named


def test_a_prompt_is_the_class_clip_where_the_clause_puts_it(bank):
    prompt = bank.prompt("a bell rings on the left", seed=1)
    choices = [i for i, c in enumerate(bank.clip_classes) if bank.class_names[c] == "bell"]
    torch.testing.assert_close(prompt, encode(bank.audio[choices[1]], 90.0, 0.0))
    torch.testing.assert_close(bank.prompt("a bell rings", seed=0),
                               encode(bank.audio[choices[0]], 0.0, 0.0))
    assert bank.prompt("a sound on the left") is None
    assert bank.prompt("a bell on the left and a siren behind you") is None  # a whole scene


def test_a_chained_prompt_plays_the_class_clips_in_turn_from_the_seeds_one_on(bank):
    """Every chain is as long as the class with the most clips: one with fewer plays them
    again in turn."""
    uneven = attrs.evolve(bank, audio=bank.audio[1:], clip_classes=bank.clip_classes[1:])
    first_class = bank.class_names[bank.clip_classes[0]]
    assert bank.chain_clips == uneven.chain_clips == 2
    for name in (first_class, "siren"):
        choices = uneven.clips_of(name)
        for seed in (0, 1, 5):
            order = [choices[(seed + step) % len(choices)] for step in range(2)]
            torch.testing.assert_close(uneven.class_prompt(name, "on the left", seed, chain=True),
                                       encode(uneven.audio[order].flatten(), 90.0, 0.0))
    assert len(uneven.clips_of(first_class)) == 1 and len(uneven.clips_of("siren")) == 2
    prompt = bank.prompt("a bell rings on the left", seed=1, chain=True)
    bells = bank.clips_of("bell")
    torch.testing.assert_close(prompt, encode(bank.audio[[bells[1], bells[0]]].flatten(),
                                              90.0, 0.0))


def test_a_class_prompt_needs_no_words_of_the_class(bank):
    choices = [i for i, c in enumerate(bank.clip_classes) if bank.class_names[c] == "siren"]
    torch.testing.assert_close(bank.class_prompt("siren", "something behind you", seed=3),
                               encode(bank.audio[choices[1]], 180.0, 0.0))
    torch.testing.assert_close(bank.class_prompt("siren", None),
                               encode(bank.audio[choices[0]], 0.0, 0.0))
    with pytest.raises(ConfigError, match="no clip of the class 'violin'"):
        bank.class_prompt("violin", None)


def test_a_saved_bank_reads_back(bank, tmp_path):
    path = bank.save(tmp_path / "exemplars.safetensors")
    loaded = ExemplarBank.load(path)
    assert (loaded.class_names, loaded.wordings, loaded.clip_classes, loaded.sample_rate,
            loaded.threshold, loaded.others) == (bank.class_names, bank.wordings,
                                                 bank.clip_classes, bank.sample_rate,
                                                 bank.threshold, bank.others)
    torch.testing.assert_close(loaded.audio, bank.audio, atol=1e-3, rtol=1e-3)
    (tmp_path / "other.safetensors").write_bytes(b"not a bank")
    with pytest.raises(Exception):  # noqa: B017 - safetensors' own header error
        ExemplarBank.load(tmp_path / "other.safetensors")


def test_inconsistent_banks_are_refused():
    with pytest.raises(ConfigError, match="one class per clip"):
        ExemplarBank(("bell",), (("a bell rings",),), (0, 0), torch.zeros(1, 8), RATE)
    with pytest.raises(ConfigError, match="does not have"):
        ExemplarBank(("bell",), (("a bell rings",),), (1,), torch.zeros(1, 8), RATE)
    with pytest.raises(ConfigError, match="wordings"):
        ExemplarBank(("bell", "siren"), (("a bell rings",),), (0,), torch.zeros(1, 8), RATE)


@attrs.frozen
class ToneClip:
    """A clip of class ``label``: a tone of ``amplitude`` at ``frequency`` (None: white
    noise of that standard deviation)."""

    label: str
    frequency: float | None
    amplitude: float

    def render(self, rng, rate, samples):
        if self.frequency is None:
            return self.amplitude * np.random.default_rng(7).standard_normal(samples)
        return self.amplitude * np.sin(2 * np.pi * self.frequency * np.arange(samples) / rate)

    @property
    def rms(self) -> float:
        return self.amplitude if self.frequency is None else self.amplitude / np.sqrt(2)


def test_the_typical_clips_of_a_class_stand_for_it_not_its_first():
    """Three recordings of one hum among two odd ones (noise first, a high whistle): the bank
    takes the hum; each clip is known by its level."""
    clips = [ToneClip("hum", None, 0.5), ToneClip("hum", 440.0, 0.3),
             ToneClip("hum", 3000.0, 0.4), ToneClip("hum", 440.0, 0.2),
             ToneClip("hum", 440.0, 0.25)]
    words = {"hum": ["a hum"]}

    def chosen(**options):
        bank = exemplar_bank(clips, words, sample_rate=RATE, seconds=0.1, **options)
        levels = bank.audio.square().mean(1).sqrt().tolist()
        return [min(range(len(clips)), key=lambda i: abs(clips[i].rms - level))
                for level in levels]

    assert chosen() in ([1], [3], [4])
    assert sorted(chosen(per_class=3)) == [1, 3, 4]  # the medoids
    assert chosen(choice="first") == [0]
    assert chosen(choice="first", per_class=2) == [0, 1]
    with pytest.raises(ConfigError, match="exemplar choice"):
        exemplar_bank(clips, words, sample_rate=RATE, seconds=0.1, choice="loudest")


def test_the_most_typical_window_comes_first():
    """A low tone, a high one and the two together: the mix shares a tone with each, so it
    is the medoid, first although it is the last window."""
    time = np.arange(1600) / RATE
    low, high = np.sin(2 * np.pi * 440 * time), np.sin(2 * np.pi * 1760 * time)
    assert typical([low, high, low + high], RATE, 2) == [2, 0]


def test_classes_a_bank_lacks_are_added_and_its_own_clips_kept():
    """A bank without sirens knows "a siren wails" as a sound it lacks; given the siren's
    clips it finds the siren, keeps its other exemplars as they were, and cuts the new one
    to its own length."""
    training = split_clips(class_clips(catalogue(["synthetic"])))[0]
    wordings = training_phrases({clip.label for clip in training})
    partial = exemplar_bank([clip for clip in training if clip.label != "siren"], wordings,
                            sample_rate=RATE, seconds=0.1)
    assert partial.match(["a siren wails behind you"]) == [None]
    full = with_classes_added(partial, training, wordings)
    assert set(full.class_names) == set(partial.class_names) | {"siren"}
    assert full.match(["a siren wails behind you"])[0][0] == "siren"
    kept = len(partial.clip_classes)
    assert torch.equal(full.audio[:kept], partial.audio)
    assert full.clip_classes[:kept] == partial.clip_classes
    assert full.audio.shape[-1] == partial.audio.shape[-1]
    assert not any("siren" in phrase for phrase in full.others)
    assert with_classes_added(full, training, wordings) is full


def test_classes_cut_again_are_removed_with_their_clips_then_added_anew():
    training = split_clips(class_clips(catalogue(["synthetic"])))[0]
    wordings = training_phrases({clip.label for clip in training})
    full = exemplar_bank(training, wordings, sample_rate=RATE, seconds=0.1)
    partial = without_classes(full, ["siren", "bell"])
    assert set(partial.class_names) == set(full.class_names) - {"siren", "bell"}
    kept = [i for i, c in enumerate(full.clip_classes)
            if full.class_names[c] not in ("siren", "bell")]
    assert torch.equal(partial.audio, full.audio[kept])
    assert [partial.class_names[c] for c in partial.clip_classes] == [
        full.class_names[full.clip_classes[i]] for i in kept]
    assert partial.others == full.others
    again = with_classes_added(partial, training, wordings)
    assert sorted(again.clips_of("siren")) and again.match(["a siren wails"])[0][0] == "siren"
    with pytest.raises(ConfigError, match="no class 'cat'"):
        without_classes(full, ["cat"])


@attrs.frozen
class DrawnTone:
    """A synthesised clip: each draw of the generator is a tone of another pitch."""

    label: str = "tone"

    def render(self, rng, rate, samples):
        return np.sin(2 * np.pi * rng.uniform(200, 2000) * np.arange(samples) / rate)


def test_a_class_with_too_few_clips_gets_other_draws_of_synthesised_ones_only():
    """A procedural class's one clip gives several exemplars, each another draw (so its chain
    varies several, not one second looped); a recording sounds the same at every draw and
    stays one exemplar."""
    drawn = exemplar_bank([DrawnTone()], {"tone": ["a tone"]}, sample_rate=RATE, seconds=0.1,
                          per_class=3)
    assert drawn.clips_of("tone") == [0, 1, 2]
    windows = drawn.audio.double()
    assert all(not torch.allclose(windows[i], windows[j], atol=1e-3)
               for i in range(3) for j in range(i))
    recorded = exemplar_bank([OneShot()], {"knock": ["a knock"]}, sample_rate=RATE,
                             seconds=0.4, per_class=3)
    assert recorded.clips_of("knock") == [0]


def test_a_bank_needs_words_for_every_class():
    training = split_clips(class_clips(catalogue(["synthetic"])))[0]
    wordings = training_phrases({clip.label for clip in training})
    del wordings["bell"]
    with pytest.raises(ConfigError, match="no wordings for the classes bell"):
        exemplar_bank(training, wordings, sample_rate=RATE, seconds=0.1)


def test_prompts_for_many_rows_match_each_distinct_text_once(bank, monkeypatch):
    texts = ["a bell rings on the left"] * 3 + ["a sound behind you", None]
    calls = []
    original = type(bank).match
    monkeypatch.setattr(type(bank), "match",
                        lambda self, found: calls.append(list(found)) or original(self, found))
    prompts = bank.prompts(texts, [0, 1, 2, 3, 4])
    assert calls == [["a bell rings on the left", "a sound behind you"]]
    for got, seed in zip(prompts[:3], (0, 1, 2), strict=True):
        torch.testing.assert_close(got, bank.prompt("a bell rings on the left", seed))
    assert prompts[3:] == [None, None]


def test_precomputed_embeddings_match_as_the_banks_own(bank):
    """``match(embeddings=...)`` takes the queries' embeddings made elsewhere (a pipeline's
    one MiniLM pass): the same classes as the bank's own pass, rows of texts with no query
    skipped; other embeddings give other matches."""
    from swansphere.conditioning.exemplars import sentence_embeddings

    texts = ["I hear a bell ringing on the left", None, "on the left", "a whistle blows"]
    queries = bank.queries(texts)
    assert queries == ["a bell ringing", "", "", "a whistle blows"]
    given = sentence_embeddings([query for query in queries if query])
    assert bank.match(texts, embeddings=given) == bank.match(texts)
    swapped = bank.match(texts, embeddings=given.flip(0))
    assert [found and found[0] for found in swapped] == ["bell", None, None, "bell"]
    assert swapped[0][1] < bank.match(texts)[0][1]  # the bell by its noun, from another vector


@pytest.mark.parametrize(("clause", "sounds"), [
    ("a bell rings and a siren wails behind you", ["a bell rings behind", "a siren wails behind"]),
    ("I hear a whistle, a clock and an engine up high",
     ["I hear a whistle above", "a clock above", "an engine above"]),
    ("a siren wails and howls on the left", ["a siren wails and howls on the left"]),
    ("a bell and a bell behind you", ["a bell and a bell behind you"]),
    ("a bell and a noise behind you", ["a bell behind", "a noise behind"]),
    ("a bell rings and rings on the left", ["a bell rings and rings on the left"]),
    ("a bell rings on the left", ["a bell rings on the left"]),
])
def test_several_sounds_at_one_place_are_one_clause_each(bank, clause, sounds):
    """Parts that each name a sound of their own, nearer their phrases than the whole clause
    is, are cut apart (a sound left unnamed too); one sound's words with an "and" or the
    same sound twice stay whole."""
    assert bank.sound_clauses(clause) == sounds


@attrs.frozen
class OneShot:
    """A recording of ``duration`` seconds: a decaying 300 Hz strike, silent after it."""

    label: str = "knock"
    duration: float = 0.05

    def render(self, rng, rate, samples):
        out = np.zeros(samples)
        strike = min(samples, round(self.duration * rate))
        t = np.arange(strike) / rate
        out[:strike] = np.sin(2 * np.pi * 300 * t) * np.exp(-t / 0.02)
        return out


def test_a_one_shot_exemplar_plays_again_rather_than_end_in_silence():
    """A stream continues its exemplar's last patches: a strike followed by silence would be
    continued as silence. The exemplar repeats the recording as a sustained source in a
    training scene does, so every part of it sounds."""
    from swansphere.data.exemplars import clip_window
    from swansphere.data.render import clip_audio

    window = clip_window(OneShot(), RATE, 0.4)
    tenths = window.reshape(4, -1)
    assert window.dtype == np.float32 and window.size == round(0.4 * RATE)
    assert (np.abs(tenths).max(1) > 0.1).all(), np.abs(tenths).max(1)
    sustained = clip_audio(OneShot(), np.random.default_rng(0), RATE, round(0.4 * RATE),
                           repeat=True)
    once = clip_audio(OneShot(), np.random.default_rng(0), RATE, round(0.4 * RATE))
    period = round(0.05 * RATE)
    np.testing.assert_allclose(sustained[period:2 * period], sustained[:period])
    assert np.abs(once[period:]).max() == 0.0
    bank = exemplar_bank([OneShot()], {"knock": ["a knock"]}, sample_rate=RATE, seconds=0.4)
    assert bank.audio.reshape(4, -1).abs().amax(1).min() > 0.1
