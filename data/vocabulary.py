"""The sound vocabulary: named classes, the words people use for them, and their clips.

The catalogue (:mod:`swansphere.data.sources`) knows files and packages; a model has to know
*sounds*. Each :class:`SoundClass` has a natural name ("violin", "man speaking"), a category,
the wordings captions may use in training ("a violin plays") and wordings kept out of
training for evaluation only ("a fiddle plays"): a model that gets those right has learned
meaning, not strings. :func:`class_of` maps catalogue clips to classes (explicit tables for
sets whose labels are file-name codes, class names and aliases for the rest);
:func:`class_clips` relabels the mapped clips with their class and expands each synthesised
source into fixed renders, so rendered classes have several distinct clips;
:func:`split_clips` holds a third of each class's clips out (``data.splits.split_by_label``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import attrs
import numpy as np

from ..errors import ConfigError
from .clips import SoundClip, is_permissive

Family = Literal["training", "held_out"]
FAMILIES: tuple[Family, ...] = ("training", "held_out")

SYNTHETIC_VARIANTS = 9
"""Fixed renders (seeds 0..n-1) per synthesised class: each counts as one clip."""


# ---------------------------------------------------------------- verbs

_IRREGULAR = {"be": ("is", "are", "being")}


def third_person(verb: str) -> str:
    """``"play"`` → ``"plays"``, ``"buzz"`` → ``"buzzes"``; phrasal verbs inflect the head."""
    head, _, rest = verb.partition(" ")
    if head in _IRREGULAR:
        inflected = _IRREGULAR[head][0]
    elif re.search(r"(s|x|z|ch|sh)$", head) or re.search(r"[^aeiou]o$", head):
        inflected = head + "es"
    elif re.search(r"[^aeiou]y$", head):
        inflected = head[:-1] + "ies"
    else:
        inflected = head + "s"
    return f"{inflected} {rest}".strip()


def participle(verb: str) -> str:
    """``"play"`` → ``"playing"``, ``"chime"`` → ``"chiming"``, ``"hum"`` → ``"humming"``."""
    head, _, rest = verb.partition(" ")
    if head in _IRREGULAR:
        inflected = _IRREGULAR[head][2]
    elif re.search(r"[^aeiouy]e$", head) or head.endswith("ue"):
        inflected = head[:-1] + "ing"
    elif re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", head):
        inflected = head + head[-1] + "ing"  # one short vowel before one consonant: doubled
    else:
        inflected = head + "ing"
    return f"{inflected} {rest}".strip()


AGENT_NOUNS = frozenset({"someone", "somebody", "a person"})
"""Nouns that say who makes a sound, never which: a wording with one is an agent's."""


@attrs.frozen
class Wording:
    """One way to name a sound in a caption: a noun phrase and a verb in its base form.

    ``agent`` marks a noun that says who makes the sound, not what it is ("someone: play the
    viola", "a visitor: rap at the door"): alone it names no sound ("I hear someone"), so a
    caption that names only the noun says what the agent does (:attr:`nominal`). The nouns
    of :data:`AGENT_NOUNS` are agents without the flag.
    """

    noun: str
    verb: str
    plural: bool = False
    agent: bool = attrs.field(default=attrs.Factory(
        lambda self: self.noun.lower() in AGENT_NOUNS, takes_self=True))

    @property
    def finite(self) -> str:
        """The verb agreeing with the noun: ``"plays"`` (or ``"play"`` after a plural)."""
        if self.plural:
            head, _, rest = self.verb.partition(" ")
            head = _IRREGULAR[head][1] if head in _IRREGULAR else head
            return f"{head} {rest}".strip()
        return third_person(self.verb)

    @property
    def participle(self) -> str:
        return participle(self.verb)

    @property
    def phrase(self) -> str:
        """E.g. ``"a violin plays"``."""
        return f"{self.noun} {self.finite}"

    @property
    def nominal(self) -> str:
        """What names the sound without a finite verb: the noun (``"a violin"``), or an
        agent's noun with what it does (``"someone playing the viola"``)."""
        return f"{self.noun} {self.participle}" if self.agent else self.noun

    @classmethod
    def parse(cls, spec: str) -> Wording:
        """``"a violin: play"``; further fields ``pl`` (a plural noun) and ``agent`` (the noun
        says who makes the sound, not what it is)."""
        noun, verb, *flags = (part.strip() for part in spec.split(":"))
        if "agent" in flags:
            return cls(noun, verb, "pl" in flags, agent=True)
        return cls(noun, verb, "pl" in flags)


@attrs.frozen(kw_only=True)
class SoundClass:
    """A named sound class with its training and held-out wordings.

    ``wordings[0]`` is the canonical noun and verb; ``aliases`` are raw catalogue labels
    that mean this class (tuxpaint's "drumkit", hydrogen's "clap").
    """

    name: str
    category: str
    wordings: tuple[Wording, ...]
    held_out_wordings: tuple[Wording, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def noun(self) -> str:
        return self.wordings[0].noun

    @property
    def verb(self) -> str:
        """The canonical verb, agreeing with the canonical noun (``"plays"``)."""
        return self.wordings[0].finite

    @property
    def synonyms(self) -> tuple[str, ...]:
        """Training phrases other than the canonical one ("a fiddle plays" is held out)."""
        return tuple(dict.fromkeys(w.phrase for w in self.wordings[1:]))

    @property
    def held_out_synonyms(self) -> tuple[str, ...]:
        return tuple(w.phrase for w in self.held_out_wordings)

    def family_wordings(self, family: Family) -> tuple[Wording, ...]:
        """The wordings of one family; a class without held-out wordings reuses training."""
        if family == "held_out":
            return self.held_out_wordings or self.wordings
        return self.wordings


def _class(name: str, category: str, *wordings: str, held: Sequence[str] = (),
           aliases: Sequence[str] = ()) -> SoundClass:
    return SoundClass(name=name, category=category,
                      wordings=tuple(Wording.parse(w) for w in wordings),
                      held_out_wordings=tuple(Wording.parse(w) for w in held),
                      aliases=tuple(aliases))


_I, _P, _V, _A = "instrument", "percussion", "voice", "animal"
_M, _N, _G, _E = "machine", "nature", "game", "electronic"
_H = "household"

SOUND_CLASSES: tuple[SoundClass, ...] = (
    # instruments (General MIDI phrases, FluidR3, MIT; some Sonic Pi samples)
    _class("piano", _I, "a piano: play", "a grand piano: play", held=["a pianoforte: play"]),
    _class("electric piano", _I, "an electric piano: play", "a Rhodes piano: play",
           held=["an e-piano: play"]),
    _class("harpsichord", _I, "a harpsichord: play", held=["a clavecin: play"]),
    _class("glockenspiel", _I, "a glockenspiel: chime", "a glockenspiel: play",
           held=["orchestra bells: ring: pl"]),
    _class("music box", _I, "a music box: tinkle", "a musical box: play",
           held=["a wind-up music box: tinkle"]),
    _class("vibraphone", _I, "a vibraphone: play", "vibes: play: pl",
           held=["a vibraharp: play"]),
    _class("marimba", _I, "a marimba: play", held=["someone: play the marimba"]),
    _class("xylophone", _I, "a xylophone: play", held=["someone: play the xylophone"]),
    _class("tubular bells", _I, "some tubular bells: chime: pl", "orchestral chimes: ring: pl",
           held=["chime tubes: ring: pl"]),
    _class("organ", _I, "an organ: play", "a church organ: play", held=["a pipe organ: play"]),
    _class("accordion", _I, "an accordion: play", held=["a squeezebox: wheeze"]),
    _class("harmonica", _I, "a harmonica: play", held=["a mouth organ: play"]),
    _class("guitar", _I, "a guitar: play", "an acoustic guitar: strum",
           held=["a six-string: strum"]),
    _class("electric guitar", _I, "an electric guitar: play", "an electric guitar: twang",
           held=["a lead guitar: wail"]),
    _class("bass guitar", _I, "a bass guitar: play", "a bass: thrum",
           held=["an electric bass: play"]),
    _class("violin", _I, "a violin: play", "a violin: be played", held=["a fiddle: play"]),
    _class("viola", _I, "a viola: play", held=["someone: play the viola"]),
    _class("cello", _I, "a cello: play", held=["a violoncello: play"]),
    _class("double bass", _I, "a double bass: play", "a contrabass: play",
           held=["an upright bass: play"]),
    _class("harp", _I, "a harp: play", "a harp: be plucked", held=["someone: pluck a harp"]),
    _class("timpani", _I, "timpani: rumble: pl", "kettle drums: roll: pl",
           held=["kettledrums: boom: pl"]),
    _class("string section", _I, "a string section: play", "strings: play: pl",
           held=["an orchestra's strings: swell: pl"]),
    _class("choir", _V, "a choir: sing", "singers: sing: pl", held=["a chorus: sing"]),
    _class("trumpet", _I, "a trumpet: play", "a trumpet: blare", held=["a cornet: play"]),
    _class("trombone", _I, "a trombone: play", held=["a sackbut: play"]),
    _class("tuba", _I, "a tuba: play", held=["a sousaphone: play"]),
    _class("french horn", _I, "a French horn: play", "a horn: play",
           held=["an orchestral horn: sound"], aliases=["horn"]),
    _class("saxophone", _I, "a saxophone: play", "a sax: play", held=["a tenor sax: wail"]),
    _class("oboe", _I, "an oboe: play", held=["someone: play the oboe"]),
    _class("bassoon", _I, "a bassoon: play", held=["someone: play the bassoon"]),
    _class("clarinet", _I, "a clarinet: play", held=["a licorice stick: play"]),
    _class("piccolo", _I, "a piccolo: play", held=["a piccolo flute: trill"]),
    _class("flute", _I, "a flute: play", held=["a transverse flute: play"]),
    _class("recorder", _I, "a recorder: play", held=["a descant recorder: play"]),
    _class("pan flute", _I, "a pan flute: play", "pan pipes: play: pl",
           held=["a syrinx: play"]),
    _class("synthesizer", _E, "a synthesizer: play", "a synth: play",
           held=["a keyboard synth: play"]),
    _class("synth bass", _E, "a bass synth: throb", "a synth bass: play",
           held=["a bassline: pulse"]),
    _class("sitar", _I, "a sitar: play", "a sitar: twang", held=["someone: play the sitar"]),
    _class("banjo", _I, "a banjo: play", "a banjo: twang", held=["someone: pick a banjo"]),
    _class("koto", _I, "a koto: play", held=["a Japanese zither: play"]),
    _class("kalimba", _I, "a kalimba: play", "a thumb piano: play", held=["an mbira: play"]),
    _class("bagpipes", _I, "bagpipes: drone: pl", "a bagpipe: play",
           held=["a set of pipes: skirl"]),
    _class("steel drum", _I, "a steel drum: play", "a steel pan: ring",
           held=["a pan drum: play"]),
    # percussion (GM kit phrases, Sonic Pi and hydrogen hits)
    _class("drum kit", _P, "a drum kit: play", "drums: play: pl", "a drummer: play: agent",
           held=["a drum set: groove"], aliases=["drumkit"]),
    _class("drum machine", _E, "a drum machine: play", "electronic drums: pulse: pl",
           held=["a beat box: thump"]),
    _class("kick drum", _P, "a kick drum: thump", "a bass drum: boom", held=["a kick: pound"]),
    _class("snare drum", _P, "a snare drum: crack", "a snare: snap",
           held=["a side drum: rattle"]),
    _class("hi-hat", _P, "a hi-hat: tick", "a hi-hat cymbal: tick",
           held=["closed hats: tick: pl"]),
    _class("crash cymbal", _P, "a crash cymbal: crash", "a cymbal: crash",
           held=["a crash: splash"],
           aliases=["cymbal", "cymbal crash", "china cymbal", "splash cymbal"]),
    _class("ride cymbal", _P, "a ride cymbal: ring", "a ride cymbal: ping",
           held=["a ride: shimmer"]),
    _class("tom drum", _P, "a tom drum: boom", "a tom-tom: thud", held=["a floor tom: boom"],
           aliases=["drum tomtom floor"]),
    _class("cowbell", _P, "a cowbell: clank", "a cowbell: clonk",
           held=["a cattle bell: clank"]),
    _class("tambourine", _P, "a tambourine: jingle", "a tambourine: shake",
           held=["a timbrel: jingle"]),
    _class("hand claps", _P, "hands: clap: pl", "someone: clap",
           held=["a pair of hands: clap"], aliases=["clap"]),
    _class("bongos", _P, "bongos: play: pl", "a bongo drum: pop",
           held=["a pair of bongos: patter"], aliases=["bongo"]),
    _class("conga", _P, "a conga: play", "a conga drum: thump", held=["a tumba: thump"]),
    _class("maracas", _P, "maracas: rattle: pl", "a shaker: shake",
           held=["rumba shakers: rattle: pl"]),
    _class("claves", _P, "claves: click: pl", held=["rhythm sticks: clack: pl"]),
    _class("triangle", _P, "a triangle: ring", "a triangle: ting",
           held=["someone: strike a triangle"]),
    _class("guiro", _P, "a guiro: rasp", "a guiro: scrape", held=["a ridged gourd: rasp"]),
    _class("woodblock", _P, "a woodblock: knock", "a wood block: clack",
           held=["a temple block: tock"]),
    _class("taiko drum", _P, "a taiko drum: boom", held=["a Japanese drum: pound"]),
    _class("tabla", _P, "a tabla: play", "tabla drums: play: pl",
           held=["Indian hand drums: patter: pl"]),
    # voices
    _class("man speaking", _V, "a man: speak", "a man: talk",
           held=["a chap: talk", "a bloke: speak"]),
    _class("woman speaking", _V, "a woman: speak", "a woman: talk", held=["a lady: chat"]),
    _class("someone whispering", _V, "someone: whisper", "a person: whisper",
           held=["a hushed voice: murmur"]),
    _class("person talking", _V, "a person: talk", "someone: talk",
           held=["somebody: chatter"]),
    _class("whistling", _V, "someone: whistle", "a person: whistle",
           held=["a whistler: whistle"]),
    # animals
    _class("bird", _A, "a bird: chirp", "a bird: sing", "a songbird: tweet",
           held=["a birdie: twitter"], aliases=["blackbird", "lark", "canary"]),
    _class("crow", _A, "a crow: caw", held=["a crow: croak"]),
    _class("dog", _A, "a dog: bark", "a dog: woof", held=["a puppy: yap"], aliases=["bark"]),
    _class("cat", _A, "a cat: meow", "a cat: mew", held=["a kitten: mewl"],
           aliases=["blackcat"]),
    _class("cow", _A, "a cow: moo", "a bull: bellow", held=["a heifer: moo"],
           aliases=["cow white", "bull"]),
    _class("horse", _A, "a horse: neigh", "a horse: whinny", held=["a pony: whinny"]),
    _class("sheep", _A, "a sheep: bleat", held=["a lamb: baa"], aliases=["sheep lamb", "ram"]),
    _class("pig", _A, "a pig: oink", "a pig: grunt", held=["a hog: snort"],
           aliases=["pig golden", "pig golden2"]),
    _class("duck", _A, "a duck: quack", held=["a mallard: quack"], aliases=["drake"]),
    _class("chicken", _A, "a chicken: cluck", "a hen: cluck", held=["poultry: cluck"],
           aliases=["hen", "chickens", "rooster", "chick"]),
    _class("owl", _A, "an owl: hoot", held=["a barn owl: screech"]),
    _class("frog", _A, "a frog: croak", held=["a toad: croak"],
           aliases=["frogs in pond during storm"]),
    _class("bee", _A, "a bee: buzz", held=["a bumblebee: drone"], aliases=["hornet"]),
    _class("crickets", _A, "crickets: chirp: pl", "a cricket: chirp",
           held=["a grasshopper: chirp"], aliases=["grasshopper"]),
    _class("lion", _A, "a lion: roar", "a tiger: growl", held=["a big cat: roar"],
           aliases=["tiger"]),
    _class("elephant", _A, "an elephant: trumpet", held=["a pachyderm: trumpet"]),
    # machines, vehicles, alarms
    _class("engine", _M, "an engine: rumble", "a motor: hum", held=["an idling motor: putter"],
           aliases=["start and stop car engine"]),
    _class("helicopter", _M, "a helicopter: hover", "a helicopter: whir",
           held=["a chopper: clatter"]),
    _class("car", _M, "a car: drive by", held=["an automobile: pass by"]),
    _class("train", _M, "a train: rumble", held=["a locomotive: chug"]),
    _class("siren", _M, "a siren: wail", "an ambulance siren: wail",
           held=["a police siren: howl"], aliases=["firetruck"]),
    _class("telephone", _M, "a telephone: ring", "a phone: ring", held=["a landline: trill"],
           aliases=["phone"]),
    _class("bell", _M, "a bell: ring", "a bell: chime", held=["a church bell: toll"],
           aliases=["ring"]),
    _class("chime", _E, "a chime: sound", "a notification chime: ding",
           held=["an alert tone: ding"], aliases=["message chime", "complete"]),
    _class("clock", _H, "a clock: tick", held=["a timepiece: tick"]),
    _class("knocking", _H, "someone: knock", "someone: knock on a door",
           held=["a visitor: rap at the door: agent"], aliases=["knock"]),
    _class("door", _H, "a door: creak", "a door: open", held=["a gate: creak"],
           aliases=["door open"]),
    _class("camera", _H, "a camera: click", held=["a shutter: snap"],
           aliases=["camera 35mm"]),
    _class("glass", _H, "a glass: ring", "a wine glass: sing",
           held=["a glass harmonica: sing"], aliases=["glass of water"]),
    _class("finger snap", _H, "fingers: snap: pl", "someone: snap their fingers",
           held=["a finger click: pop"]),
    _class("paper crumpling", _H, "paper: crumple", "crumpling paper: rustle",
           held=["a paper ball: crinkle"], aliases=["bin emptying"]),
    _class("robot", _E, "a robot: beep", "a robot: whir", held=["a droid: bleep"]),
    _class("electronic blip", _E, "an electronic blip: beep", "a synth blip: bleep",
           held=["a computer: bleep: agent"]),
    _class("digital glitch", _E, "a digital glitch: crackle", "a glitchy sound: stutter",
           held=["a corrupted signal: sputter"]),
    _class("record scratch", _E, "a record: scratch", "a turntable: scratch",
           held=["a DJ: scratch: agent"]),
    _class("ambient drone", _E, "an ambient drone: hum", "a drone: hum",
           held=["a dark pad: hum"]),
    _class("whoosh", _E, "a whoosh: sweep past", "a swoosh: rush past",
           held=["a gust of air: rush past"]),
    _class("impact", _H, "a heavy impact: thud", "an impact: thud", held=["a heavy blow: land"]),
    _class("explosion", _M, "an explosion: boom", "a blast: boom",
           held=["a detonation: thunder"], aliases=["cineboom"]),
    _class("gunshot", _M, "a gun: fire", "a gunshot: ring out", held=["a rifle: crack"]),
    _class("applause", _V, "an audience: applaud", "applause: ring out",
           held=["a crowd: clap: agent"], aliases=["applauses"]),
    # nature
    _class("sea waves", _N, "waves: crash: pl", "the sea: surge", held=["surf: roll in"]),
    _class("rain", _N, "rain: patter", "rain: fall", held=["a downpour: drum"],
           aliases=["rain in garden"]),
    _class("steam", _N, "steam: hiss", "a steam vent: hiss", held=["escaping steam: sizzle"]),
    _class("water", _N, "water: splash", "water: pour", held=["a stream: gurgle"],
           aliases=["water fill"]),
    # procedural sounds (this project's own, data/procedural.py)
    _class("wind", _N, "wind: howl", "the wind: blow", held=["a gale: roar"]),
    _class("fire", _N, "a fire: crackle", "a campfire: crackle", held=["a bonfire: crackle"]),
    _class("thunder", _N, "thunder: rumble", "a thunderclap: boom",
           held=["a thunderstorm: rumble"], aliases=["lightning bolt"]),
    _class("footsteps", _H, "footsteps: approach: pl", "footsteps: echo: pl", "someone: walk",
           held=["someone's steps: thud: pl"]),
    _class("heartbeat", _V, "a heart: beat", "a heartbeat: thump", held=["a pulse: throb"]),
    # game sounds (Kenney, CC0)
    _class("coin pickup", _G, "a coin pickup chime: ding", "a game coin: chime",
           held=["an arcade coin: jingle"]),
    _class("error buzzer", _G, "an error buzzer: buzz", "an error tone: sound",
           held=["a wrong-answer buzzer: blare"]),
    _class("falling tone", _G, "a falling tone: sound", "a descending bleep: play",
           held=["a dropping whistle: fade"]),
    _class("game over jingle", _G, "a game over jingle: play", "a sad jingle: play",
           held=["a losing fanfare: play"]),
    _class("game hit", _G, "a punchy game hit: thwack", "an 8-bit hit: smack",
           held=["a retro punch: land"]),
    _class("damage sound", _G, "a damage sound: blip", "a hurt sound: squawk",
           held=["a pained bleep: sound"]),
    _class("jump sound", _G, "a jump sound: boing", "a cartoon jump: boing",
           held=["a bouncy hop: sound"]),
    _class("laser", _G, "a laser gun: zap", "a laser: zap", held=["a ray gun: pew"]),
    _class("power-up jingle", _G, "a power-up jingle: play", "a power-up: chime",
           held=["a level-up tune: play"]),
    _class("magic chime", _G, "a magic chime: twinkle", "a sparkle: twinkle",
           held=["a fairy chime: tinkle"]),
)


def sound_class(name: str) -> SoundClass:
    """The class called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown sound class {name!r}; see 'swansphere data sources "
                          "--classes'") from None


_BY_NAME = {c.name: c for c in SOUND_CLASSES}


def training_phrases(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each named class's training-family phrases and their nominals ("a violin plays", "a
    violin", ...; never the held-out ones), e.g. for an exemplar bank's wordings: a prompt
    names its sound with a verb or without one ("I hear a fiddle"), and a bare noun sits
    nearer a bare noun than a phrase with a verb."""
    return {name: _phrases_and_nominals(sound_class(name).wordings) for name in names}


def _phrases_and_nominals(wordings: Iterable[Wording]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(text for w in wordings for text in (w.phrase, w.nominal)))


EVERYDAY_SOUNDS = (
    "a baby cries", "a baby laughs",
    "people laugh", "a wolf howls", "a monkey chatters",
    "a fly buzzes", "a mosquito whines", "a snake hisses", "a bear growls", "a dolphin clicks",
    "a whale sings", "a motorcycle revs", "a truck rumbles", "an airplane flies over",
    "a jet roars overhead", "a boat horn blows", "a car horn honks", "traffic roars",
    "a vacuum cleaner drones", "a hair dryer blows", "a washing machine spins",
    "a blender whirs", "a microwave beeps", "a kettle whistles", "a toilet flushes",
    "a shower runs", "bacon sizzles", "keys jingle", "a zipper zips",
    "someone types on a keyboard", "a cash register rings", "a cork pops", "popcorn pops",
    "a pen scribbles", "scissors snip", "a hammer bangs", "a drill whines", "a saw cuts wood",
    "a chainsaw roars", "a lawnmower drones", "someone coughs", "someone sneezes",
    "someone snores", "someone breathes", "someone chews", "someone screams",
    "children play", "leaves rustle",
    "ice cracks", "glass shatters", "a tree falls", "a ball bounces")
"""Sounds people ask for that the vocabulary has no class of, phrased as its wordings are:
an exemplar bank's :attr:`~swansphere.conditioning.exemplars.ExemplarBank.others`, so that
"footsteps behind me" finds no exemplar rather than the nearest drum."""


def other_phrases(names: Iterable[str]) -> tuple[str, ...]:
    """Phrases that name sounds outside ``names``: the training phrases and nominals of the
    vocabulary's other classes and :data:`EVERYDAY_SOUNDS` (a bank of ``names``' clips names
    none)."""
    held = set(names)
    absent = (text for sound in SOUND_CLASSES if sound.name not in held
              for text in _phrases_and_nominals(sound.wordings))
    return tuple(dict.fromkeys((*absent, *EVERYDAY_SOUNDS)))


def _bare(noun: str) -> str:
    return re.sub(r"^(a|an|the|some)\s+", "", noun.lower())


GENERIC_NOUNS = frozenset({"someone", "somebody", "person", "hands", "drums", "strings"})
"""Nouns several classes share: they never identify a clip's class."""

_LOOKUP: dict[str, str] = {}
for _sound in SOUND_CLASSES:
    for _word in (_sound.name, *_sound.aliases, _bare(_sound.noun)):
        if _word.lower() not in GENERIC_NOUNS:
            _LOOKUP.setdefault(_word.lower(), _sound.name)


def class_for_label(label: str) -> SoundClass | None:
    """The class a label names (a class name, alias or canonical noun), else ``None``."""
    name = label.lower()
    return _BY_NAME.get(label) or (_BY_NAME[_LOOKUP[name]] if name in _LOOKUP else None)


# ---------------------------------------------------------------- catalogue clips -> classes

_SONIC_PI = (
    (r"bd_|drum_bass_|drum_heavy_kick", "kick drum"), (r"sn_|drum_snare_|drum_roll",
                                                        "snare drum"),
    (r"drum_tom_", "tom drum"), (r"drum_cymbal_(closed|pedal)", "hi-hat"),
    (r"drum_cymbal_|drum_splash_", "crash cymbal"), (r"drum_cowbell", "cowbell"),
    (r"elec_(bell|chime|bong)$", "chime"),
    (r"elec_(.*snare|.*kick|fuzz_tom|cymbal|wood)$", "drum machine"), (r"elec_", "electronic blip"),
    (r"glitch_", "digital glitch"), (r"guit_", "electric guitar"),
    (r"loop_(amen|amen_full|breakbeat|compus|industrial|perc\d)$", "drum kit"),
    (r"loop_tabla|tabla_", "tabla"), (r"loop_drone|ambi_(drone|haunted_hum|lunar_land|soft_buzz"
                                       r"|sauna)", "ambient drone"),
    (r"ambi_choir", "choir"), (r"ambi_piano", "piano"), (r"ambi_glass", "glass"),
    (r"ambi_(dark_woosh|swoosh)|perc_(swash|swoosh)", "whoosh"), (r"bass_", "synth bass"),
    (r"mehackit_phone", "telephone"), (r"mehackit_robot", "robot"), (r"misc_crow", "crow"),
    (r"misc_cineboom", "explosion"), (r"perc_bell", "bell"), (r"perc_door", "door"),
    (r"perc_impact", "impact"), (r"perc_snap", "finger snap"),
    (r"vinyl_(backspin|rewind|scratch)", "record scratch"),
)
"""Sonic Pi file names (without the suffix) to classes; first match wins, others unmapped."""

_ARCADE = {"coin": "coin pickup", "error": "error buzzer", "explosion": "explosion",
           "fall": "falling tone", "gameover": "game over jingle", "lose": "game over jingle",
           "hit": "game hit", "hurt": "damage sound", "jump": "jump sound",
           "phaseJump": "jump sound", "laser": "laser", "rockHit": "impact",
           "secret": "magic chime", "upgrade": "power-up jingle"}

_SYNTHETIC = {"bell": "bell", "whistle": "whistling", "bird": "bird", "engine": "engine",
              "clock": "clock", "speech": "person talking", "knock": "knocking", "rain": "rain",
              "siren": "siren", "steam": "steam"}


def class_of(clip: SoundClip) -> SoundClass | None:
    """The class of a catalogue clip, or ``None`` when it names no class of the vocabulary.

    Sets whose labels are file-name codes (Sonic Pi, arcade, synthetic) use explicit tables;
    the others match their label against class names, nouns and aliases. A clip-bank clip
    keeps the class it was exported under (``None`` if the vocabulary no longer has it).
    """
    if clip.vocabulary_class is not None:
        return _BY_NAME.get(clip.vocabulary_class)
    source, _, rest = clip.clip_id.partition("/")
    stem = rest.rsplit("/", 1)[-1]
    name: str | None
    if source == "sonic-pi":
        name = next((cls for pattern, cls in _SONIC_PI if re.match(pattern, stem)), None)
    elif source == "arcade":
        name = _ARCADE.get(stem.rstrip("0123456789"))
    elif source == "synthetic":
        name = _SYNTHETIC.get(rest.split("/")[0])
    else:
        name = _LOOKUP.get(clip.label.lower()) or _LOOKUP.get(_bare(clip.noun))
    return _BY_NAME[name] if name else None


def _variant(clip: SoundClip, seed: int) -> SoundClip:
    """A synthesised clip frozen to one seed: a distinct, reproducible 'recording'."""
    base = clip.render

    def render(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
        del rng  # a fixed render, like a recording
        return base(np.random.default_rng(seed), sample_rate, num_samples)

    return attrs.evolve(clip, clip_id=f"{clip.clip_id}/{seed}", render=render)


def class_clips(clips: Iterable[SoundClip] | None = None, *, permissive_only: bool = False,
                root: Path = Path("/"),
                synthetic_variants: int = SYNTHETIC_VARIANTS) -> list[SoundClip]:
    """Catalogue clips that belong to a class, relabelled with it (label, noun, verb).

    ``clips`` defaults to the whole installed catalogue. Clip ids (provenance), licences and
    renderers are kept; each synthesised clip becomes ``synthetic_variants`` fixed renders
    (a clip bank's synthesised clips already are such renders: they stay one clip each).
    """
    if clips is None:
        from .sources import catalogue

        clips = catalogue(root=root)
    out = []
    for clip in clips:
        sound = class_of(clip)
        if sound is None or (permissive_only and not is_permissive(clip.licence)):
            continue
        clip = attrs.evolve(clip, label=sound.name, noun=sound.noun, verb=sound.verb)
        if clip.clip_id.startswith("synthetic/") and clip.vocabulary_class is None:
            out.extend(_variant(clip, seed) for seed in range(synthetic_variants))
        else:
            out.append(clip)
    return out


def split_clips(clips: Iterable[SoundClip]) -> tuple[list[SoundClip], list[SoundClip]]:
    """``(training, held_out)`` clips of :func:`class_clips`, a third of each class held out.

    Uses :func:`swansphere.data.splits.split_by_label` on class and clip id, so the split is
    the same on every machine; a class with one clip is training only.
    """
    from .splits import split_by_label

    return split_by_label(clips, label=lambda clip: clip.label, key=lambda clip: clip.clip_id)


def class_report(clips: Sequence[SoundClip]) -> list[dict]:
    """Per class of the vocabulary: clip counts (all, permissive, held out among the
    permissive ones), the sets providing them and the wordings, in table order."""
    permissive = [clip for clip in clips if clip.permissive]
    _, held_out = split_clips(permissive)
    counts = Counter(clip.label for clip in clips)
    permissive_counts = Counter(clip.label for clip in permissive)
    held_counts = Counter(clip.label for clip in held_out)
    sets: dict[str, Counter] = defaultdict(Counter)
    for clip in clips:
        sets[clip.label][clip.clip_id.split("/")[0]] += 1
    return [{"class": sound.name, "category": sound.category, "noun": sound.noun,
             "verb": sound.verb, "synonyms": list(sound.synonyms),
             "held_out_synonyms": list(sound.held_out_synonyms), "clips": counts[sound.name],
             "permissive": permissive_counts[sound.name], "held_out": held_counts[sound.name],
             "sets": dict(sets[sound.name])} for sound in SOUND_CLASSES]


def attributions(clips: Iterable[SoundClip]) -> list[dict]:
    """Credits a model card must carry for the permissive clips it learned from.

    One row per (package, licence, holder) whose licence asks for a notice (CC-BY, MIT, BSD,
    Apache, ISC, zlib) or whose holder asks to be credited (Kenney), with its clip count.
    """
    rows: Counter = Counter()
    for clip in clips:
        key = clip.licence.lower()
        if not clip.permissive or key.startswith(("synthesised", "public-domain")):
            continue
        if key.startswith("cc0") and clip.package != "arcade (PyPI)":
            continue
        rows[(clip.package, clip.licence, clip.attribution or "unknown holder")] += 1
    return [{"package": package, "licence": licence, "holder": holder, "clips": count}
            for (package, licence, holder), count in sorted(rows.items())]
