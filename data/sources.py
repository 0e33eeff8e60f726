"""The catalogue of real, labelled mono clips that install offline.

Each :class:`SoundSet` knows where one Debian package (or unpacked PyPI wheel) puts its
sounds and how to label them; :func:`catalogue` gathers every installed set into
:class:`~swansphere.data.clips.SoundClip` records, with the licence of each file taken from the
package's machine-readable ``debian/copyright`` (DEP-5) where it has one.
``scripts/install-sound-sets.sh`` installs the recommended sets; nothing here needs them
(the synthesised sources of :mod:`swansphere.data.synthetic` always exist).

Every scanner takes a filesystem ``root`` (``/`` by default) so tests can build fake trees.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import numpy as np

from ..errors import AudioFileError
from .clips import SoundClip, is_permissive, normalise_level
from .synthetic import synthetic_clips

SOUNDS_ENV = "SWANSPHERE_SOUNDS"
AUDIO_SUFFIXES = (".wav", ".ogg", ".oga", ".flac", ".mp3")
TRIM_DB = -40.0
"""Leading and trailing parts quieter than this (relative to the peak) are cut from clips."""


def sounds_home() -> Path:
    """Folder for sound sets unpacked outside Debian (``$SWANSPHERE_SOUNDS``)."""
    default = Path.home() / ".local" / "share" / "swansphere" / "sounds"
    return Path(os.environ.get(SOUNDS_ENV, default))


# ---------------------------------------------------------------- decoding and resampling

def decode_mono(data: bytes | Path, sample_rate: int, *, trim: bool = True) -> np.ndarray:
    """Decode a file (path or bytes) to float64 mono at ``sample_rate``, trimmed of silence.

    ``trim=False`` keeps leading and trailing quiet parts (a clip bank's renders are already
    what the catalogue plays, quiet starts of synthesised sources included).
    """
    import soundfile

    try:
        audio, rate = soundfile.read(data if isinstance(data, Path) else io.BytesIO(data),
                                     dtype="float64", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        name = data if isinstance(data, Path) else "embedded clip"
        raise AudioFileError(f"cannot decode {name}: {error}; reinstall its package") from error
    mono = audio.mean(axis=1)
    if rate != sample_rate and mono.size:
        import torch
        import torchaudio.functional

        mono = torchaudio.functional.resample(torch.from_numpy(mono), rate,
                                              sample_rate).numpy()
    return trim_silence(mono) if trim else mono


def trim_silence(signal: np.ndarray, threshold_db: float = TRIM_DB) -> np.ndarray:
    """Cut leading and trailing samples quieter than ``threshold_db`` below the peak."""
    if not signal.size:
        return signal
    loud = np.flatnonzero(np.abs(signal) > np.abs(signal).max() * 10 ** (threshold_db / 20))
    return signal[loud[0]:loud[-1] + 1] if loud.size else signal[:0]


def file_renderer(source: Path | Callable[[], bytes], *,
                  trim: bool = True) -> Callable[..., np.ndarray]:
    """A :data:`~swansphere.data.clips.Renderer` that plays a recorded clip from its start.

    ``source`` is a path or a callable returning the encoded bytes (archive members). The
    clip is levelled like the synthetic sources and cut or zero-padded to the length asked;
    ``trim`` as in :func:`decode_mono`.
    """

    def render(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
        del rng  # recordings are fixed; kept for the common renderer signature
        data = source if isinstance(source, Path) else source()
        mono = decode_mono(data, sample_rate, trim=trim)
        if not mono.size:
            raise AudioFileError(f"{source} is silent; remove it from the sound set")
        out = np.zeros(num_samples)
        out[:min(num_samples, mono.size)] = mono[:num_samples]
        return normalise_level(out)

    return render


def audio_duration(path: Path) -> float | None:
    """Duration in seconds from the file header, or ``None`` when unreadable."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        return None
    return info.frames / info.samplerate if info.samplerate else None


# ---------------------------------------------------------------- licences (DEP-5)

@attrs.frozen
class CopyrightFile:
    """``(patterns, licence, copyright holders)`` of the ``Files`` paragraphs of a DEP-5
    ``debian/copyright`` (parsed by python-debian's :mod:`debian.copyright`); the licence is the
    first word of the ``License`` synopsis and the last matching paragraph wins. Patterns are
    matched with our own rule (:meth:`licence`), since a package installs its files elsewhere
    than its source tree. The holders are what a CC-BY or MIT credit must name."""

    stanzas: tuple[tuple[tuple[str, ...], str, str], ...]

    @classmethod
    def read(cls, path: Path) -> CopyrightFile:
        """Parse ``path`` with python-debian; a missing or not machine-readable file has no
        stanzas (every clip then gets its set's default licence)."""
        from debian.copyright import (
            Copyright,
            MachineReadableFormatError,
            NotMachineReadableError,
        )

        if not path.is_file():
            return cls(())
        try:
            parsed = Copyright(path.read_text(errors="replace").splitlines(), strict=False)
        except (NotMachineReadableError, MachineReadableFormatError, ValueError):
            return cls(())
        stanzas = []
        for paragraph in parsed.all_files_paragraphs():
            if paragraph.license is not None and paragraph.license.synopsis.strip():
                stanzas.append((tuple(paragraph.files), paragraph.license.synopsis.split()[0],
                                " ".join((paragraph.copyright or "").split())))
        return cls(tuple(stanzas))

    def licence(self, path: str, default: str) -> str:
        """The licence of ``path``; patterns are source-tree paths, so file names also match."""
        stanza = self._stanza(path)
        return stanza[1] if stanza else default

    def holder(self, path: str) -> str | None:
        """The copyright line of ``path``'s stanza (``None`` when it names nobody)."""
        stanza = self._stanza(path)
        return stanza[2] or None if stanza else None

    def entry(self, path: str, default: str) -> tuple[str, str | None]:
        """``(licence, holder)`` of ``path``."""
        return self.licence(path, default), self.holder(path)

    def _stanza(self, path: str) -> tuple[tuple[str, ...], str, str] | None:
        found = None
        name = path.rsplit("/", 1)[-1]
        for stanza in self.stanzas:
            if any(_matches(pattern, path, name) for pattern in stanza[0]):
                found = stanza
        return found


def _matches(pattern: str, path: str, name: str) -> bool:
    tail = pattern.rsplit("/", 1)[-1]
    return (pattern == "*" or fnmatch.fnmatch(path, pattern)
            or (tail != "*" and fnmatch.fnmatch(name, tail)))


def _copyright(root: Path, package: str) -> CopyrightFile:
    return CopyrightFile.read(root / "usr/share/doc" / package / "copyright")


# ---------------------------------------------------------------- words for captions

_VERBS = {
    "bee": "buzzes", "bird": "sings", "bull": "bellows", "cat": "meows", "chick": "cheeps",
    "chicken": "clucks", "cow": "moos", "crow": "caws", "cuckoo": "calls", "dog": "barks",
    "dolphin": "clicks", "donkey": "brays", "duck": "quacks", "elephant": "trumpets",
    "frog": "croaks", "goat": "bleats", "hen": "clucks", "horse": "neighs", "lion": "roars",
    "owl": "hoots", "pig": "oinks", "rooster": "crows", "seagull": "cries", "sheep": "bleats",
    "whale": "sings", "wolf": "howls", "mosquito": "whines", "fly": "buzzes", "cricket": "chirps",
    "car": "drives by", "truck": "drives by", "train": "rumbles", "plane": "flies over",
    "helicopter": "hovers", "bell": "rings", "phone": "rings", "clock": "ticks",
    "door": "creaks", "hammer": "bangs", "saw": "saws", "water": "splashes",
    "applause": "rings out", "laugh": "rings out", "thunder": "rumbles",
    "lightning": "crackles", "fireworks": "bang", "explosion": "booms", "camera": "clicks",
    "kettle": "whistles", "toilet": "flushes", "vacuum": "whirrs", "drum": "plays",
    "kick": "thumps", "snare": "cracks", "hi-hat": "ticks", "cymbal": "crashes",
    "tom": "booms", "tabla": "plays", "cowbell": "clanks", "clap": "claps",
}

_CATEGORY_VERBS = (("animals", "calls"), ("music", "plays"), ("instrument", "plays"),
                   ("vehicles", "passes by"), ("sports", "bounces"), ("household", "clatters"))


def verb_for(label: str, category: str = "") -> str:
    """A caption verb for a label: its own (dog barks) or its category's, else "sounds"."""
    words = label.lower().replace("_", " ").replace("-", " ").split()
    for word in reversed(words):
        for key in (word, word.rstrip("s")):
            if key in _VERBS:
                return _VERBS[key]
    for key, verb in _CATEGORY_VERBS:
        if key in category.lower():
            return verb
    return "sounds"


_MASS_NOUNS = ("water", "rain", "steam", "metal", "applause", "music", "speech", "wind",
               "thunder", "traffic", "footsteps", "fire")


def article(noun: str) -> str:
    """Prefix "a"/"an" unless the noun has a determiner, is plural or is a mass noun."""
    noun = noun.strip()
    first = noun.split()[0].lower() if noun else ""
    if (re.match(r"(?i)(a|an|the|some|someone|two|three)\b", noun) or first in _MASS_NOUNS
            or (first.endswith("s") and not first.endswith(("ss", "us")))):
        return noun
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _clip(clip_id: str, label: str, noun: str, licence: str, package: str,
          source: Path | Callable[[], bytes], category: str = "", verb: str | None = None,
          picture: Path | None = None, duration: float | None = None,
          attribution: str | None = None) -> SoundClip:
    if duration is None and isinstance(source, Path):
        duration = audio_duration(source)
    return SoundClip(clip_id=clip_id, label=label, noun=article(noun), attribution=attribution,
                     verb=verb or verb_for(label, category), licence=licence, package=package,
                     render=file_renderer(source), path=source if isinstance(source, Path)
                     else None, picture=picture, duration=duration)


# ---------------------------------------------------------------- sound sets

@attrs.frozen
class SoundSet:
    """One installable set: its name, providing package and a scanner of a filesystem root."""

    name: str
    package: str
    install: str
    scan: Callable[[Path], list[SoundClip]] = attrs.field(repr=False)
    marker: str = ""

    def installed(self, root: Path = Path("/")) -> bool:
        return bool(self.marker) and (root / self.marker.lstrip("/")).exists()


_TUXPAINT_SPOKEN = ("symbols/", "seasonal/hanukkah", "town/flags", "town/roadsigns",
                    "military/")
"""Stamp folders whose sounds are spoken words (letters, numbers, signs), not events."""


def _tuxpaint_noun(caption_file: Path, stem: str) -> str:
    """The stamp caption's first line ("A cow.") as a noun phrase; the file name if wordy."""
    lines = caption_file.read_text(errors="replace").splitlines()
    noun = re.sub(r"\s*\(.*?\)", "", lines[0] if lines else "").strip().rstrip(".!")
    if not noun or len(noun.split()) > 5:
        noun = stem.replace("_", " ")
    return noun[0].lower() + noun[1:]


def _tuxpaint(root: Path) -> list[SoundClip]:
    base = root / "usr/share/tuxpaint/stamps"
    copyright_file = _copyright(root, "tuxpaint-stamps-default")
    clips = []
    for sound in sorted(p for p in base.rglob("*") if p.suffix in (".ogg", ".wav")):
        caption_file = sound.with_suffix(".txt")
        category = sound.parent.relative_to(base).as_posix()
        if ("_desc" in sound.stem or not caption_file.is_file()
                or f"{category}/".startswith(_TUXPAINT_SPOKEN)):
            continue
        noun = _tuxpaint_noun(caption_file, sound.stem)
        picture = next((sound.with_suffix(s) for s in (".png", ".svg")
                        if sound.with_suffix(s).is_file()), None)
        licence, holder = copyright_file.entry(f"stamps/{category}/{sound.name}", "GPL-2")
        clips.append(_clip(f"tuxpaint/{category}/{sound.stem}", sound.stem.replace("_", " "),
                           noun, licence, "tuxpaint-stamps-default", sound, category,
                           picture=picture, attribution=holder))
    return clips


_SONIC_PI_CLASSES = {
    "ambi": ("ambient sound", "hums"), "bass": ("bass synth", "plays"),
    "bd": ("kick drum", "thumps"), "elec": ("electronic sound", "blips"),
    "glitch": ("glitchy sound", "crackles"), "guit": ("guitar", "plays"),
    "loop": ("drum loop", "plays"), "mehackit": ("gadget", "beeps"),
    "perc": ("percussion", "hits"), "sn": ("snare drum", "cracks"),
    "tabla": ("tabla", "plays"), "vinyl": ("record", "scratches"),
}


def _sonic_pi(root: Path) -> list[SoundClip]:
    base = root / "usr/share/sonic-pi/samples"
    copyright_file = _copyright(root, "sonic-pi-samples")
    clips = []
    for sound in sorted(base.glob("*.flac")):
        prefix, _, rest = sound.stem.partition("_")
        if prefix == "drum":
            label, verb = rest.replace("_", " "), None
            noun = re.sub(r"\b(hard|soft|hi|lo|mid)\b", "", label).strip() or "drum"
            noun = noun if "drum" in noun or "cymbal" in noun else f"{noun} drum"
        elif prefix in ("misc", "mehackit") and rest.rstrip("0123456789") in (
                "crow", "burp", "phone", "robot", "cineboom"):
            noun = label = rest.rstrip("0123456789")
            verb = None
        else:
            noun, verb = _SONIC_PI_CLASSES.get(prefix, (prefix, "sounds"))
            label = noun
        licence, holder = copyright_file.entry(f"etc/samples/{sound.name}", "MIT")
        clips.append(_clip(f"sonic-pi/{sound.stem}", label, noun, licence, "sonic-pi-samples",
                           sound, verb=verb, attribution=holder))
    return clips


def _simple_folder(root: Path, folder: str, package: str, default_licence: str,
                   prefix: str, rename: dict[str, str] | None = None) -> list[SoundClip]:
    base = root / folder.lstrip("/")
    copyright_file = _copyright(root, package)
    clips = []
    for sound in sorted(p for p in base.glob("*") if p.suffix in AUDIO_SUFFIXES):
        name = re.sub(r"[-_ ]?\d+$", "", sound.stem)
        label = (rename or {}).get(name, name.replace("-", " ").replace("_", " "))
        licence, holder = copyright_file.entry(f"{base.name}/{sound.name}", default_licence)
        clips.append(_clip(f"{prefix}/{sound.stem}", label, label, licence, package, sound,
                           attribution=holder))
    return clips


def _freedesktop(root: Path) -> list[SoundClip]:
    rename = {"alarm-clock-elapsed": "alarm clock", "phone-incoming-call": "phone",
              "phone-outgoing-calling": "phone", "camera-shutter": "camera",
              "screen-capture": "camera", "bell": "bell", "trash-empty": "bin emptying",
              "window-attention": "chime", "message-new-instant": "message chime",
              "dialog-warning": "warning beep", "dialog-error": "error beep"}
    return [c for c in _simple_folder(root, "usr/share/sounds/freedesktop/stereo",
                                      "sound-theme-freedesktop", "GPL-2", "freedesktop", rename)
            if not c.label.startswith("audio")]


def _sound_icons(root: Path) -> list[SoundClip]:
    rename = {"canary-long": "canary", "cembalo": "harpsichord", "klavichord": "clavichord",
              "xylofon": "xylophone", "violoncello": "cello", "cymbaly": "cimbalom",
              "glass-water": "glass of water", "gummy-cat": "cat", "cockchafer-gentleman":
              "beetle", "pisk-up": "squeak", "pisk-down": "squeak"}
    return _simple_folder(root, "usr/share/sounds/sound-icons", "sound-icons", "GPL-2+",
                          "sound-icons", rename)


KENNEY = "Kenney (www.kenney.nl)"
"""The arcade wheel's sounds are CC0 (no credit required); credited anyway, as Kenney asks."""


_PEKKA_KANA_CALLS = {
    "sfx/moo": "cow", "sprites/hen": "hen", "sprites/chick": "chick", "sfx/doodle": "rooster",
    "sprites/p_doodle": "rooster", "sprites/crow": "crow", "sprites/crow_ko": "crow",
    "sprites/bird": "bird", "sprites/pig": "pig", "sprites/pig2": "pig",
    "sprites/pig_ko": "pig", "sprites/bee": "bee", "sprites/beehive": "bee"}
"""The animal calls among Pekka Kana 2's sounds (file under ``data/``, without its suffix →
label). The others are game effects (jumps, bonuses, hits); a frog's attack or a wolf's
defeat there is no croak or bark, so they are left out."""


def _pekka_kana(root: Path) -> list[SoundClip]:
    return _listed_calls(root, "pekka-kana", "pekka-kana-2-data",
                         ("usr/share/games/pekka-kana-2/data", "data"), _PEKKA_KANA_CALLS,
                         "BSD-2-Clause")


_EFL_SOUNDS = {"edje/duck": "duck"}
"""The animal calls among the Enlightenment Foundation Libraries' documentation examples
(efl-doc, examples/ + file without its suffix → label): a duck's quack, the one such sound."""


def _efl(root: Path) -> list[SoundClip]:
    return _listed_calls(root, "efl", "efl-doc",
                         ("usr/share/doc/efl-doc/examples", "src/examples"), _EFL_SOUNDS,
                         "BSD-2-clause")


def _listed_calls(root: Path, name: str, package: str, folders: tuple[str, str],
                  calls: dict[str, str], default_licence: str) -> list[SoundClip]:
    """The animal calls ``calls`` (``.wav`` file without its suffix → label) of a package
    that installs them under ``folders[0]``, each with the licence and holder its DEP-5
    copyright gives the file's source path (under ``folders[1]``)."""
    installed, source = folders
    copyright_file = _copyright(root, package)
    clips = []
    for stem, label in calls.items():
        sound = root / installed / f"{stem}.wav"
        if sound.is_file():
            licence, holder = copyright_file.entry(f"{source}/{stem}.wav", default_licence)
            clips.append(_clip(f"{name}/{stem}", label, label, licence, package, sound,
                               category="animals", attribution=holder))
    return clips


_QABCS_RENAME = {"drums": "drum kit", "cymbals": "crash cymbal", "bass drum": "kick drum",
                 "grand piano": "piano", "western concert flute": "flute"}


def _alphabet_entries(alphabet: Path) -> Iterator[tuple[str, dict]]:
    """``(category, entry)`` of every letter of a qABCs ``abc*.json``; none from a file that
    is not such an alphabet (unreadable JSON, or another shape)."""
    try:
        letters = json.loads(alphabet.read_text(errors="replace"))["letters"]
        for letter in letters:
            for entries in letter.values():
                yield from ((category, entry) for category, entry in entries.items()
                            if isinstance(entry, dict))
    except (ValueError, KeyError, TypeError, AttributeError):
        return


def _qabcs_categories(abcs: Path) -> dict[str, str]:
    """Noise file → the category of the first alphabet entry that plays it (``animals``,
    ``instrument``, ``misc``, ``toys``), from every language's ``abc*.json``."""
    categories: dict[str, str] = {}
    for alphabet in sorted(abcs.glob("*/abc*.json")):
        for category, entry in _alphabet_entries(alphabet):
            if entry.get("noises"):
                categories.setdefault(entry["noises"], category)
    return categories


def _qabcs(root: Path) -> list[SoundClip]:
    """qABCs' noises: recordings of animals, instruments and things for an alphabet. A toy's
    noise is labelled as the toy ("a toy horn"), so it names no instrument."""
    package = "qabcs-data"
    abcs = root / "usr/share/qabcs/abcs"
    categories = _qabcs_categories(abcs)
    copyright_file = _copyright(root, package)
    clips = []
    for sound in sorted((abcs / "all/noises").glob("*.ogg")):
        name = sound.stem.replace("_", " ").replace("-", " ")
        category = categories.get(sound.name, "")
        label = f"toy {name}" if category == "toys" else _QABCS_RENAME.get(name, name)
        licence, holder = copyright_file.entry(f"abcs/all/noises/{sound.name}", "GPL-3+")
        clips.append(_clip(f"qabcs/{sound.stem}", label, label, licence, package, sound,
                           category=category, attribution=holder))
    return clips


def _procedural(root: Path) -> list[SoundClip]:
    del root  # rendered in-process, nothing to install
    from .procedural import procedural_clips

    return list(procedural_clips())


def _arcade(root: Path) -> list[SoundClip]:
    del root  # unpacked by the install script into $SWANSPHERE_SOUNDS, not a Debian path
    base = sounds_home() / "arcade"
    rename = {"phaseJump": "phase jump", "rockHit": "rock hit", "gameover": "game over jingle",
              "upgrade": "power-up jingle", "secret": "secret jingle", "coin": "coin pickup",
              "laser": "laser", "explosion": "explosion"}
    clips, seen = [], set()
    for sound in sorted(p for p in base.glob("*") if p.suffix in (".wav", ".ogg")):
        if sound.stem in seen:  # the same effect ships as .wav and .ogg
            continue
        seen.add(sound.stem)
        name = sound.stem.rstrip("0123456789")
        label = rename.get(name, name)
        verb = {"laser": "zaps", "explosion": "booms"}.get(name, "plays")
        clips.append(_clip(f"arcade/{sound.stem}", label, label, "CC0-1.0", "arcade (PyPI)",
                           sound, verb=verb, attribution=KENNEY))
    return clips


_DRUM_WORDS = (("kick", "kick drum", "thumps"), ("snare", "snare drum", "cracks"),
               ("hat", "hi-hat", "ticks"), ("crash", "crash cymbal", "crashes"),
               ("ride", "ride cymbal", "rings"), ("tom", "tom drum", "booms"),
               ("cowbell", "cowbell", "clanks"), ("clap", "clap", "claps"),
               ("china", "china cymbal", "crashes"), ("splash", "splash cymbal", "crashes"))


def _hydrogen(root: Path) -> list[SoundClip]:
    kits, extra = _copyright(root, "hydrogen-drumkits"), _copyright(root, "hydrogen-data")
    clips = []
    for kit_file in sorted((root / "usr/share/hydrogen/data/drumkits").glob("*/drumkit.xml")):
        try:
            tree = ET.parse(kit_file)
        except ET.ParseError:
            continue
        kit_root = tree.getroot()
        namespace = re.match(r"\{.*\}", kit_root.tag)
        ns = namespace.group(0) if namespace else ""
        archive = f"drumkits/{kit_file.parent.name}.h2drumkit"
        licence = kits.licence(archive, extra.licence(archive, "GPL-2"))
        holder = kits.holder(archive) or extra.holder(archive)
        for instrument in kit_root.iter(f"{ns}instrument"):
            name = (instrument.findtext(f"{ns}name") or "").strip()
            words = next(((noun, verb) for key, noun, verb in _DRUM_WORDS
                          if key in name.lower()), None)
            filename = next((el.text for el in instrument.iter(f"{ns}filename") if el.text),
                            None)
            if not words or not filename:
                continue
            sound = kit_file.parent / filename
            if sound.is_file():
                clips.append(_clip(f"hydrogen/{kit_file.parent.name}/{sound.stem}", words[0],
                                   words[0], licence, "hydrogen-drumkits", sound,
                                   verb=words[1], attribution=holder))
    return clips


def rcc_entries(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """``(name, read)`` for every file inside a Qt resource bundle (``.rcc`` v1–v3).

    ``read()`` returns the member's bytes, inflating zlib entries (flag 1) only when called;
    zstd entries (flag 4) are skipped.
    """
    blob = path.read_bytes()
    if blob[:4] != b"qres":
        raise AudioFileError(f"{path} is not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 + (8 if version >= 2 else 0)

    def name_at(offset: int) -> str:
        length, _ = struct.unpack(">HI", blob[names + offset:names + offset + 6])
        return blob[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def reader(start: int, size: int, compressed: bool) -> Callable[[], bytes]:
        def read() -> bytes:
            raw = blob[start:start + size]
            return zlib.decompress(raw[4:]) if compressed else raw

        return read

    def walk(index: int, prefix: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
        offset = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[offset:offset + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:
            count, first = struct.unpack(">II", blob[offset + 6:offset + 14])
            for child in range(count):
                yield from walk(first + child, f"{prefix}{name}/")
            return
        if flags & 4:
            return
        (data_offset,) = struct.unpack(">I", blob[offset + 10:offset + 14])
        (size,) = struct.unpack(">I", blob[data + data_offset:data + data_offset + 4])
        yield f"{prefix}{name}", reader(data + data_offset + 4, size, bool(flags & 1))

    yield from walk(0, "")


_GCOMPRIS_CLIPS = {
    "door open": ("a door", "opens"), "water": ("water", "splashes"),
    "water fill": ("water", "pours"), "knock": ("someone", "knocks"),
    "helicopter": ("a helicopter", "hovers"), "train": ("a train", "rumbles"),
    "car": ("a car", "drives by"), "harbor": ("a harbour", "bustles"),
    "bubble": ("a bubble", "pops"), "pickaxe": ("a pickaxe", "strikes"),
    "metal hit": ("metal", "clangs"), "icy walk": ("footsteps on ice", "crunch"),
    "start and stop car engine": ("a car engine", "starts and stops"),
    "fireballs": ("fireballs", "whoosh"), "object falling": ("an object", "falls"),
    "buddhist gong": ("a Buddhist gong", "rings"), "factory noise": ("a factory", "clanks"),
    "ring": ("a bell", "rings"),
    "bark": ("a dog", "barks"), "applauses": ("an audience", "applauds"),
    "heart beat": ("a heart", "beats"), "frogs in pond during storm": (
        "frogs in a pond", "croak in a storm"), "rain in garden": ("rain", "falls on a garden"),
}


def _gcompris_words(member: str) -> tuple[str, str, str] | None:
    """(label, noun, verb) of a GCompris member worth using, else ``None`` (UI sounds)."""
    stem = Path(member).stem
    if "/animals/" in member:
        return stem, stem, verb_for(stem)
    if "/instruments/resource/" in member:
        label = stem.replace("_traversiere", "").replace("_", " ")
        return label, label, "plays"
    cleaned = re.sub(r"^LR|(_?LA)?(_?[Cc]ut)?$", "", stem)
    cleaned = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", cleaned).replace("_", " ")
    cleaned = re.sub(r"\s*\d+$", "", cleaned).strip().lower()
    if cleaned in _GCOMPRIS_CLIPS:
        noun, verb = _GCOMPRIS_CLIPS[cleaned]
        return cleaned, noun, verb
    return None


def _gcompris(root: Path) -> list[SoundClip]:
    clips = []
    copyright_file = _copyright(root, "gcompris-qt-data")
    for bundle in sorted((root / "usr/share/gcompris-qt/rcc").glob("*.rcc")):
        try:
            members = list(rcc_entries(bundle))
        except (AudioFileError, struct.error, UnicodeDecodeError):
            continue
        for name, read in members:
            words = _gcompris_words(name) if Path(name).suffix in AUDIO_SUFFIXES else None
            if words is None:
                continue
            label, noun, verb = words
            licence, holder = copyright_file.entry(name.lstrip("/"), "GPL-3+")
            clips.append(_clip(f"gcompris/{bundle.stem}{name}", label, noun, licence,
                               "gcompris-qt-data", _member_reader(bundle, name), verb=verb,
                               duration=_bytes_duration(read), attribution=holder))
    return clips


def _bytes_duration(read: Callable[[], bytes]) -> float | None:
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(read()))
    except (soundfile.LibsndfileError, RuntimeError, OSError, zlib.error):
        return None
    return info.frames / info.samplerate if info.samplerate else None


def _member_reader(bundle: Path, member: str) -> Callable[[], bytes]:
    """Reads one member on demand (the bundle is not kept in memory between renders)."""

    def read() -> bytes:
        for name, read_member in rcc_entries(bundle):
            if name == member:
                return read_member()
        raise AudioFileError(f"{member} vanished from {bundle}; reinstall gcompris-qt-data")

    return read


# ---------------------------------------------------------------- synthesis tools

SPEECH_LANGUAGES = (
    ("en-us", "English", ("Hello, can you hear me?", "The train leaves at nine.",
                          "Please close the door.")),
    ("en-gb", "English", ("Look over there!", "It is going to rain today.",
                          "Where are my keys?")),
    ("de", "German", ("Guten Morgen, wie geht es dir?", "Der Zug kommt gleich.",
                      "Wo ist mein Schlüssel?")),
    ("fr", "French", ("Bonjour, tout le monde.", "Le concert commence bientôt.",
                      "Où est la gare, s'il vous plaît?")),
    ("es", "Spanish", ("Buenos días, amigos.", "El tren sale a las nueve.",
                       "¿Dónde están mis llaves?")),
    ("it", "Italian", ("Buongiorno a tutti.", "Il treno parte alle nove.",
                       "Dove sono le mie chiavi?")),
)
"""(espeak-ng voice, language, sentences): each sentence is spoken by a man and a woman."""

SPEECH_LICENCE = "GPL-3+"
"""espeak-ng's voices, phoneme tables and dictionaries (package espeak-ng-data) are GPL-3+
with no separate data licence (its debian/copyright), and the waveform is built from those
tables, so generated speech keeps GPL-3+ and stays out of permissive-only training."""


RENDER_TIMEOUTS = (60.0, 300.0)
"""Seconds a synthesiser gets to write one clip, try by try: a render takes about a second,
and a second, longer try keeps a loaded machine (or a paused one) from failing a whole
training set's scenes on one slow clip."""


def _run_to_wav(command: list[str], wav: Path) -> bytes:
    for timeout in RENDER_TIMEOUTS:
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=timeout)
            return wav.read_bytes()
        except subprocess.TimeoutExpired as error:
            failure: Exception = error
        except (subprocess.SubprocessError, OSError) as error:
            failure = error
            break
    raise AudioFileError(f"{command[0]} failed ({failure}); check its installation") from failure


def _synthesised(command: Callable[[Path], list[str]]) -> Callable[[], bytes]:
    """A renderer that runs ``command(wav)`` (a synthesiser writing ``wav``; it may put its
    own inputs beside it) in a fresh temporary folder and returns the file's bytes."""
    def render() -> bytes:
        with tempfile.TemporaryDirectory() as folder:
            wav = Path(folder) / "out.wav"
            return _run_to_wav(command(wav), wav)

    return render


def _espeak_render(voice: str, text: str, speed: int = 160,
                   pitch: int = 50) -> Callable[[], bytes]:
    return _synthesised(lambda wav: ["espeak-ng", "-v", voice, "-s", str(speed), "-p",
                                     str(pitch), "-w", str(wav), text])


def speech_voices() -> list[tuple[str, str, str, str, int, int]]:
    """``(clip key, voice, label, sentence, speed, pitch)`` of every espeak-ng clip.

    Voices, speeds and pitches vary deterministically with the sentence, so each clip is a
    distinct render: men (variants m1-m7), women (f1-f5) in six languages, and English
    whispers.
    """
    out = []
    for number, (language, _, lines) in enumerate(SPEECH_LANGUAGES):
        for index, line in enumerate(lines):
            turn = 3 * number + index
            speed, pitch = 130 + 9 * (turn % 6), 35 + 6 * (turn % 5)
            for label, variant in (("man speaking", f"m{turn % 7 + 1}"),
                                   ("woman speaking", f"f{turn % 5 + 1}")):
                out.append((f"{language}+{variant}/{index}", f"{language}+{variant}", label,
                            line, speed, pitch))
            if language.startswith("en"):
                variant = ("whisper", "whisperf")[turn % 2]
                out.append((f"{language}+{variant}/{index}", f"{language}+{variant}",
                            "someone whispering", line, speed, pitch))
    return out


_SPEECH_NOUNS = {"man speaking": "a man", "woman speaking": "a woman",
                 "someone whispering": "someone"}


def _espeak(root: Path) -> list[SoundClip]:
    del root
    if not shutil.which("espeak-ng"):
        return []
    return [_clip(f"espeak-ng/{key}", label, _SPEECH_NOUNS[label], SPEECH_LICENCE,
                  "espeak-ng", _espeak_render(voice, line, speed, pitch),
                  verb=f'{"whispers" if "whisper" in label else "says"} "{line}"',
                  duration=2.0)
            for key, voice, label, line, speed, pitch in speech_voices()]


FLITE_LINES = (
    "Hello, can you hear me?", "The train leaves at nine.", "Please close the door.",
    "Look over there!", "It is going to rain today.", "Where are my keys?",
    "I think we should go home now.", "Could you pass me the salt, please?",
    "The meeting starts in ten minutes.", "What a beautiful morning it is.",
    "Turn left at the next corner.", "Thank you very much for coming.")
"""English sentences Flite speaks, each by a man and by a woman."""

FLITE_LICENCE = "BSD-style (CMU Flite)"
"""Flite's code and its voices (kal16, awb, rms, slt) are under Carnegie Mellon University's
permissive licence (its debian/copyright, "All other files"): rendered speech may train the
shipped model, crediting :data:`FLITE_HOLDER`."""
FLITE_HOLDER = "1999-2001 Language Technologies Institute, Carnegie Mellon University"


def flite_voices() -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """``(clip key, voice, label, sentence, settings)`` of every Flite clip: the men cycle
    through Flite's three male voices, the woman (its one female voice, slt) through two
    pitches, both at three speaking rates (``--setf`` settings), so each clip differs."""
    out = []
    for index, line in enumerate(FLITE_LINES):
        stretch = ("1.0", "0.9", "1.1")[index % 3]
        male = ("kal16", "rms", "awb")[index % 3]
        pitch = () if index % 2 else ("int_f0_target_mean=180",)
        out.append((f"{male}/{index}", male, "man speaking", line,
                    (f"duration_stretch={stretch}",)))
        out.append((f"slt/{index}", "slt", "woman speaking", line,
                    (f"duration_stretch={stretch}", *pitch)))
    return out


def _flite_render(voice: str, text: str, settings: tuple[str, ...]) -> Callable[[], bytes]:
    options = [part for setting in settings for part in ("--setf", setting)]
    return _synthesised(lambda wav: ["flite", *options, "-voice", voice, "-t", text, "-o",
                                     str(wav)])


def _flite(root: Path) -> list[SoundClip]:
    del root
    if not shutil.which("flite"):
        return []
    return [_clip(f"flite/{key}", label, _SPEECH_NOUNS[label], FLITE_LICENCE, "flite",
                  _flite_render(voice, line, settings), verb=f'says "{line}"', duration=2.0,
                  attribution=FLITE_HOLDER)
            for key, voice, label, line, settings in flite_voices()]


@attrs.frozen
class Instrument:
    """A General MIDI sound played as phrases: its class name, verb and how it plays.

    ``style`` picks the phrase generator: ``melody`` (notes with rhythm), ``chords``
    (melody over triads), ``sustain`` (long legato notes), ``effect`` (a few long notes near
    middle C: the GM sound effects), ``hits`` (one percussion sound in a rhythm on the drum
    channel, ``notes`` being its kit keys) and ``kit`` (a drum-kit groove).
    """

    name: str
    verb: str
    programs: tuple[int, ...] = (0,)
    low: int = 48
    high: int = 84
    style: str = "melody"
    notes: tuple[int, ...] = ()
    noun: str = ""
    """Caption noun when the name is not one ("sea waves" -> "waves")."""


def _gm(name: str, verb: str, programs: int | tuple[int, ...], low: int = 48, high: int = 84,
        style: str = "melody", noun: str = "") -> Instrument:
    programs = programs if isinstance(programs, tuple) else (programs,)
    return Instrument(name, verb, programs, low, high, style, noun=noun)


def _kit(name: str, verb: str, *notes: int) -> Instrument:
    return Instrument(name, verb, style="hits", notes=notes)


GM_INSTRUMENTS = (
    _gm("piano", "plays", (0, 1), 40, 88, "chords"),
    _gm("electric piano", "plays", (4, 5), 45, 84, "chords"),
    _gm("harpsichord", "plays", 6, 45, 84, "chords"),
    _gm("glockenspiel", "plays", 9, 72, 100), _gm("music box", "plays", 10, 67, 96),
    _gm("vibraphone", "plays", 11, 53, 89), _gm("marimba", "plays", 12, 45, 84),
    _gm("xylophone", "plays", 13, 65, 96),
    _gm("tubular bells", "chime", 14, 60, 77, noun="some tubular bells"),
    _gm("organ", "plays", (19, 16), 36, 84, "chords"),
    _gm("accordion", "plays", 21, 53, 81, "chords"), _gm("harmonica", "plays", 22, 60, 84),
    _gm("guitar", "plays", (24, 25), 40, 76, "chords"),
    _gm("electric guitar", "plays", (27, 29, 30), 40, 79),
    _gm("bass guitar", "plays", (33, 34), 28, 55), _gm("violin", "plays", 40, 55, 91),
    _gm("viola", "plays", 41, 48, 81), _gm("cello", "plays", 42, 36, 72),
    _gm("double bass", "plays", (43, 32), 28, 55), _gm("harp", "plays", 46, 36, 91, "chords"),
    _gm("timpani", "rumbles", 47, 40, 55),
    _gm("string section", "plays", (48, 49), 48, 84, "sustain"),
    _gm("choir", "sings", (52, 53), 52, 76, "sustain"),
    _gm("trumpet", "plays", 56, 55, 82), _gm("trombone", "plays", 57, 40, 72),
    _gm("tuba", "plays", 58, 28, 58), _gm("french horn", "plays", 60, 41, 77),
    _gm("saxophone", "plays", (65, 66, 64), 49, 81), _gm("oboe", "plays", 68, 58, 91),
    _gm("bassoon", "plays", 70, 34, 72), _gm("clarinet", "plays", 71, 50, 89),
    _gm("piccolo", "plays", 72, 74, 102), _gm("flute", "plays", 73, 60, 96),
    _gm("recorder", "plays", 74, 60, 91), _gm("pan flute", "plays", 75, 60, 91),
    _gm("synthesizer", "plays", (80, 81, 87), 48, 84), _gm("sitar", "plays", 104, 48, 77),
    _gm("banjo", "plays", 105, 48, 84), _gm("koto", "plays", 107, 55, 84),
    _gm("kalimba", "plays", 108, 60, 84), _gm("bagpipes", "drone", 109, 60, 81, "sustain"),
    _gm("steel drum", "plays", 114, 55, 84), _gm("taiko drum", "booms", 116, 36, 55),
    _gm("woodblock", "knocks", 115, 60, 79),
    _gm("sea waves", "crash", 122, 55, 67, "effect", noun="waves"),
    _gm("bird", "chirps", 123, 64, 76, "effect"),
    _gm("telephone", "rings", 124, 60, 67, "effect"),
    _gm("helicopter", "hovers", 125, 55, 67, "effect"),
    _gm("applause", "rings out", 126, 55, 67, "effect"),
    _gm("gunshot", "rings out", 127, 48, 60, "effect"),
    Instrument("drum kit", "plays", style="kit"),
    _kit("kick drum", "thumps", 35, 36), _kit("snare drum", "cracks", 38, 40),
    _kit("hi-hat", "ticks", 42, 44, 46), _kit("crash cymbal", "crashes", 49, 57),
    _kit("ride cymbal", "rings", 51, 59, 53), _kit("tom drum", "booms", 41, 43, 45, 47, 48, 50),
    _kit("cowbell", "clanks", 56), _kit("tambourine", "jingles", 54),
    Instrument("hand claps", "clap", style="hits", notes=(39,), noun="hands"),
    _kit("bongos", "play", 60, 61),
    _kit("conga", "plays", 62, 63, 64), _kit("maracas", "rattle", 70),
    _kit("claves", "click", 75), _kit("triangle", "rings", 80, 81),
    _kit("guiro", "rasps", 73, 74), _kit("woodblock", "knocks", 76, 77),
)
"""The General MIDI vocabulary: melodic programs, GM sound effects and percussion-kit sounds.
The woodblock is both a program (115) and kit keys (76/77): one class, two renderings."""

PHRASES_PER_INSTRUMENT = 6
"""Distinct phrases (seeds 0..n-1) per instrument: enough for a held-out third."""

FLUID_R3_HOLDER = "2000-2002, 2008 Frank Wen; 2008 Toby Smithe"
"""From fluid-soundfont-gm's debian/copyright (not DEP-5, so not parsed)."""

SOUND_FONTS = (("usr/share/sounds/sf2/FluidR3_GM.sf2", "MIT", "fluid-soundfont-gm"),
               ("usr/share/sounds/sf2/TimGM6mb.sf2", "GPL-2", "timgm6mb-soundfont"))

TICKS_PER_BEAT = 480
MAX_PHRASE_SECONDS = 3.0
"""A melody stops after the note that passes this time."""
DRUM_CHANNEL = 9

Note = tuple[int, int, int, int]
"""``(start tick, length in ticks, MIDI key, velocity)``."""


def midi_file(program: int, notes: list[int] | None = None, seconds_per_note: float = 0.5, *,
              events: list[Note] | None = None, channel: int = 0,
              beats_per_minute: float = 120.0) -> bytes:
    """A one-track Standard MIDI File on ``program`` (ignored on the drum channel 9).

    Either ``notes`` one after another (``seconds_per_note`` each, full velocity) or
    ``events`` with their own timing and velocity (a :func:`phrase`).
    """
    if events is None:
        step = round(seconds_per_note * TICKS_PER_BEAT * beats_per_minute / 60)
        events = [(i * step, step, note, 100) for i, note in enumerate(notes or [])]
    tempo = round(60_000_000 / beats_per_minute)
    track = bytearray(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big"))
    if channel != DRUM_CHANNEL:
        track += bytes([0, 0xC0 | channel, program])
    timeline = sorted([(start, 1, note, velocity) for start, _, note, velocity in events]
                      + [(start + length, 0, note, 0) for start, length, note, _ in events])
    now = 0
    for tick, on, note, velocity in timeline:  # note-offs sort before note-ons at a tick
        track += _varlen(tick - now) + bytes([(0x90 if on else 0x80) | channel, note,
                                              velocity])
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


_SCALES = ((0, 2, 4, 7, 9), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 5, 7, 9, 11), (0, 3, 5, 7, 10))


def phrase(instrument: Instrument, seed: int) -> tuple[list[Note], float, int]:
    """``(events, beats per minute, program)`` of phrase ``seed`` for ``instrument``.

    A pure function of (instrument name, seed): several notes with a rhythm (durations drawn
    from a small set, occasional rests), a dynamic contour (crescendo or diminuendo plus
    accents) and a melody walking on a scale inside the instrument's range; about 1.5-4 s.
    """
    rng = np.random.default_rng([seed, zlib.crc32(instrument.name.encode())])
    tempo = float(rng.uniform(80.0, 140.0))
    program = instrument.programs[seed % len(instrument.programs)]
    beat = TICKS_PER_BEAT
    if instrument.style == "kit":
        return _groove(rng, beat), tempo, program
    if instrument.style == "hits":
        return _hits(rng, beat, instrument.notes), tempo, program
    if instrument.style == "effect":
        events, now = [], 0
        for _ in range(int(rng.integers(1, 4))):
            length = int(beat * tempo / 60 * rng.uniform(1.0, 2.5))  # 1-2.5 s
            note = int(rng.integers(instrument.low, instrument.high + 1))
            events.append((now, length, note, int(rng.integers(80, 121))))
            now += length + int(beat * rng.uniform(0.0, 0.5))
        return events, tempo, program
    scale = _SCALES[int(rng.integers(len(_SCALES)))]
    keys = [k for k in range(instrument.low, instrument.high + 1)
            if (k - int(rng.integers(12))) % 12 in scale] or [instrument.low]
    choices = ((1.0, 2.0, 1.5) if instrument.style == "sustain"
               else (0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0))
    count = int(rng.integers(4, 9) if instrument.style != "sustain" else rng.integers(3, 6))
    position = int(rng.integers(len(keys) // 4, max(len(keys) * 3 // 4, 1)))
    start, end = (int(v) for v in rng.integers(50, 121, size=2))
    events, now = [], 0
    for index in range(count):
        length = int(beat * float(rng.choice(choices)))
        velocity = start + (end - start) * index // max(count - 1, 1)
        velocity = int(np.clip(velocity + rng.integers(-8, 9) + (12 if index % 4 == 0
                                                                 else 0), 25, 127))
        position = int(np.clip(position + rng.integers(-2, 3), 0, len(keys) - 1))
        held = length if instrument.style == "sustain" else int(length * 0.85)
        events.append((now, held, keys[position], velocity))
        if instrument.style == "chords" and rng.random() < 0.4:
            for step in (2, 4):
                if position + step < len(keys):
                    events.append((now, held, keys[position + step], int(velocity * 0.8)))
        now += length + (int(beat * 0.5) if rng.random() < 0.12 else 0)
        if now / beat * 60 / tempo > MAX_PHRASE_SECONDS:
            break
    return events, tempo, program


def _hits(rng: np.random.Generator, beat: int, notes: tuple[int, ...]) -> list[Note]:
    """One percussion sound on a sixteenth-note grid over a bar and a half, beats accented."""
    sixteenth = beat // 4
    density = rng.uniform(0.3, 0.7)
    slots = [s for s in range(24) if rng.random() < density or s == 0]
    if len(slots) < 4:
        slots = sorted({*slots, 4, 8, 12})
    return [(slot * sixteenth, sixteenth, int(rng.choice(notes)),
             int(np.clip((110 if slot % 4 == 0 else 75) + rng.integers(-15, 16), 30, 127)))
            for slot in slots]


def _groove(rng: np.random.Generator, beat: int) -> list[Note]:
    """Two bars of a rock/funk groove: kick, snare on 2 and 4, hi-hat eighths, maybe a fill."""
    eighth = beat // 2
    events = [(0, beat, 49, 100)] if rng.random() < 0.5 else []
    extra_kicks = [e for e in range(16) if rng.random() < 0.15]
    fill = rng.random() < 0.5
    for slot in range(16):
        time = slot * eighth
        if fill and slot >= 14:
            events.append((time, eighth, int(rng.choice((45, 47, 48, 50))), 105))
            continue
        events.append((time, eighth, 46 if rng.random() < 0.1 else 42,
                       int(95 if slot % 2 == 0 else 60 + rng.integers(0, 15))))
        if slot % 4 == 0 or slot in extra_kicks:
            events.append((time, eighth, 36, int(100 + rng.integers(0, 20))))
        if slot % 4 == 2:
            events.append((time, eighth, 38, int(100 + rng.integers(0, 20))))
    return events


def phrase_seconds(instrument: Instrument, seed: int) -> float:
    """Length of phrase ``seed`` in seconds, plus a short release."""
    events, tempo, _ = phrase(instrument, seed)
    return max(start + length for start, length, *_ in events) / TICKS_PER_BEAT * 60 / tempo + 0.5


def _fluidsynth_render(font: Path, instrument: Instrument, seed: int) -> Callable[[], bytes]:
    def play(wav: Path) -> list[str]:
        events, tempo, program = phrase(instrument, seed)
        channel = DRUM_CHANNEL if instrument.style in ("kit", "hits") else 0
        midi = wav.with_suffix(".mid")
        midi.write_bytes(midi_file(program, events=events, channel=channel,
                                   beats_per_minute=tempo))
        return ["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", "44100", str(font), str(midi)]

    return _synthesised(play)


def _bank(root: Path) -> list[SoundClip]:
    from .bank import bank_clips

    del root  # the bank lives in $SWANSPHERE_BANK or $SWANSPHERE_SOUNDS/bank
    return bank_clips()


def _fluidsynth(root: Path) -> list[SoundClip]:
    if not shutil.which("fluidsynth"):
        return []
    font = next(((root / path, licence, package) for path, licence, package in SOUND_FONTS
                 if (root / path).is_file()), None)
    if font is None:
        return []
    path, licence, package = font
    clips = []
    for instrument in GM_INSTRUMENTS:
        slug = instrument.name.replace(" ", "-") + ("-kit" if instrument.style == "hits"
                                                    and instrument.name == "woodblock" else "")
        for seed in range(PHRASES_PER_INSTRUMENT):
            clips.append(_clip(f"fluidsynth/{slug}/{seed}", instrument.name,
                               instrument.noun or instrument.name,
                               licence, package, _fluidsynth_render(path, instrument, seed),
                               "music", verb=instrument.verb, attribution=FLUID_R3_HOLDER
                               if package == "fluid-soundfont-gm" else None,
                               duration=round(phrase_seconds(instrument, seed), 3)))
    return clips


SOUND_SETS = (
    SoundSet("tuxpaint", "tuxpaint-stamps-default", "apt", _tuxpaint,
             "usr/share/tuxpaint/stamps"),
    SoundSet("sonic-pi", "sonic-pi-samples", "apt", _sonic_pi, "usr/share/sonic-pi/samples"),
    SoundSet("gcompris", "gcompris-qt-data", "apt", _gcompris, "usr/share/gcompris-qt/rcc"),
    SoundSet("hydrogen", "hydrogen-drumkits", "apt", _hydrogen,
             "usr/share/hydrogen/data/drumkits"),
    SoundSet("freedesktop", "sound-theme-freedesktop", "apt", _freedesktop,
             "usr/share/sounds/freedesktop/stereo"),
    SoundSet("sound-icons", "sound-icons", "apt", _sound_icons, "usr/share/sounds/sound-icons"),
    SoundSet("pekka-kana", "pekka-kana-2-data", "apt", _pekka_kana,
             "usr/share/games/pekka-kana-2/data"),
    SoundSet("efl", "efl-doc", "apt", _efl, "usr/share/doc/efl-doc/examples/edje"),
    SoundSet("qabcs", "qabcs-data", "apt", _qabcs, "usr/share/qabcs/abcs/all/noises"),
    SoundSet("arcade", "arcade (PyPI wheel, unpacked)", "script", _arcade),
    SoundSet("procedural", "swansphere (procedural stand-ins)", "builtin", _procedural),
    SoundSet("espeak-ng", "espeak-ng", "apt", _espeak),
    SoundSet("flite", "flite", "apt", _flite),
    SoundSet("fluidsynth", "fluidsynth + fluid-soundfont-gm", "apt", _fluidsynth),
    SoundSet("bank", "clip bank (swansphere data bank export)", "export", _bank),
)
"""The installable sets. ``bank`` is special: see :func:`catalogue`."""


def set_names() -> tuple[str, ...]:
    return ("synthetic", *(s.name for s in SOUND_SETS))


def catalogue(sets: list[str] | None = None, *, permissive_only: bool = False,
              root: Path = Path("/")) -> list[SoundClip]:
    """Every installed clip of the named sets (all sets when ``None``), synthetic included.

    ``permissive_only`` keeps what the shipped model may learn from. The set ``bank`` (a
    clip bank, :mod:`swansphere.data.bank`) adds the clips of the sets it holds that gave no
    clips here: on a machine without the sound packages it stands in for them, and where a
    set is installed its own clips win, so no clip is counted twice.
    """
    from ..errors import ConfigError

    wanted = set(set_names() if sets is None else sets)
    unknown = wanted - set(set_names())
    if unknown:
        raise ConfigError(f"unknown sound set(s) {', '.join(sorted(unknown))}; choose from "
                          f"{', '.join(set_names())}")
    clips = list(synthetic_clips()) if "synthetic" in wanted else []
    installed = {"synthetic"} if clips else set()
    for sound_set in SOUND_SETS:
        if sound_set.name in wanted and sound_set.name != "bank":
            found = sound_set.scan(root)
            installed |= {sound_set.name} if found else set()
            clips.extend(found)
    if "bank" in wanted:
        from .bank import bank_clips

        clips.extend(bank_clips(skip_sets=installed))
    if permissive_only:
        clips = [clip for clip in clips if is_permissive(clip.licence)]
    return clips


def inventory(root: Path = Path("/")) -> list[dict]:
    """Per set: clip count, labels, licences (counts) and whether anything is installed."""
    report = []
    for name in set_names():
        clips = catalogue([name], root=root)
        report.append({
            "set": name,
            "package": next((s.package for s in SOUND_SETS if s.name == name), "swansphere"),
            "clips": len(clips), "labels": len({clip.label for clip in clips}),
            "permissive": sum(is_permissive(clip.licence) for clip in clips),
            "seconds": round(sum(clip.duration or 0.0 for clip in clips), 1),
            "licences": dict(Counter(clip.licence for clip in clips).most_common())})
    return report
