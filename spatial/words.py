"""Directions in words, both ways: the position phrases that captions use for a direction, and
the directions a prompt states.

Azimuth is counter-clockwise from the front (left is +90°), elevation up, in degrees
(docs/conventions.md). Eight 45° sectors name the horizontal direction; "above"/"below" join
them beyond :data:`ELEVATION_DEGREES`, and beyond :data:`OVERHEAD_DEGREES` only "overhead" or
"below" is said. :func:`prompt_directions` reads those phrases back, with the everyday
synonyms people write ("ahead", "to the rear", "under", "right above your head"), so that
captions, rewards and benchmarks share one vocabulary (docs/data.md, "Captions"); a place
stated in numbers ("at 2 o'clock", "30 degrees to the left", "elevation 20") is read as
exactly that direction.
:func:`canonical_places` rewrites a prompt's place phrases into that vocabulary, for text
encoders that know no other words (docs/conditioning.md, "Place words").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache, lru_cache
from itertools import pairwise

OVERHEAD_DEGREES = 65.0
"""Above this elevation (or below its negative) only "above"/"below" is said."""

ELEVATION_DEGREES = 25.0
"""Elevation beyond which "above"/"below" is added to the horizontal words."""

_SECTORS = ("in front", "in front on the left", "on the left", "behind on the left", "behind",
            "behind on the right", "on the right", "in front on the right")


def horizontal_words(azimuth: float) -> str:
    """One of eight 45° sectors centred on front, front-left, left, ... (degrees)."""
    return _SECTORS[round((azimuth % 360.0) / 45.0) % 8]


def elevation_words(elevation: float) -> str:
    """``"above"``, ``"below"`` or ``""`` (near the horizon)."""
    if elevation > ELEVATION_DEGREES:
        return "above"
    if elevation < -ELEVATION_DEGREES:
        return "below"
    return ""


def position_words(azimuth: float, elevation: float) -> str:
    """E.g. ``"behind on the left"``, ``"above and in front"``, ``"overhead"``."""
    if elevation > OVERHEAD_DEGREES:
        return "overhead"
    if elevation < -OVERHEAD_DEGREES:
        return "below"
    vertical = elevation_words(elevation)
    horizontal = horizontal_words(azimuth)
    return f"{vertical} and {horizontal}" if vertical else horizontal



# --- directions stated by a prompt -----------------------------------------------------------

_VERTICAL_DEGREES = (ELEVATION_DEGREES + OVERHEAD_DEGREES) / 2
"""Elevation of "above"/"below" next to a horizontal phrase: the middle of the band where the
captioner adds those words."""

_ENDPOINT = (r"(?:(?:the|your|my)\s+)?(?:front|back|rear|(?:left|right)(?:[- ]hand)?"
             r"(?:\s+side)?)|behind(?:\s+(?:you|me))?|in\s+front(?:\s+of\s+(?:you|me))?")
_MOTION = re.compile(
    r"\b(?:moving|heading|drifting)\s+(?:to\s+the\s+)?(?P<heading>front|back|left|right|up"
    r"|down)\b"
    rf"|\bfrom\s+(?P<start>{_ENDPOINT})\s+(?:over\s+)?to\s+(?P<end>{_ENDPOINT})\b"
    r"|\b(?P<bare_start>left|right)\s+to\s+(?P<bare_end>left|right)\b",
    re.IGNORECASE)
"""Motion clauses ("moving left", "heading right", "from left to right", "from behind you to
the front", "from the left side to the right", "right to left";
:func:`swansphere.data.captions.natural_caption`): not a position."""

_LISTENER = r"(?:you|your\s+head|my\s+head|the\s+listener|us|me)"
_HOURS = ("twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
          "ten", "eleven")


_AZIMUTH_MARK = "exactazimuth="
_ELEVATION_MARK = "exactelevation="
_PLACE_MARK = "exactplace="
_EXACT = r"[+-]\d+(?:\.\d+)?"
"""A place stated in numbers is rewritten into a mark that keeps its angles: an azimuth
("exactazimuth=+30.000") where the position pattern reads a sector's words, an elevation
("exactelevation=-10.000") where it reads "above"/"below", so that numbers and words combine
("30 degrees to the left, above"), and both ("exactplace=+30.000/-10.000", "azimuth 30,
elevation -10") as a place of its own, which no word next to it joins.
:func:`canonical_places` says each mark in its sector's words."""


def _azimuth_mark(azimuth: float) -> str:
    return f"{_AZIMUTH_MARK}{_exact_azimuth(azimuth):+.3f}"


def _elevation_mark(elevation: float) -> str:
    return f"{_ELEVATION_MARK}{_exact_elevation(elevation):+.3f}"


def _place_mark(azimuth: float, elevation: float) -> str:
    return f"{_PLACE_MARK}{_exact_azimuth(azimuth):+.3f}/{_exact_elevation(elevation):+.3f}"


def _exact_elevation(elevation: float) -> float:
    return max(-90.0, min(90.0, elevation))


def _exact_azimuth(azimuth: float) -> float:
    """``azimuth`` in (-180, 180]: straight behind is 180, as the sector "behind" is."""
    wrapped = _wrap(azimuth)
    return 180.0 if wrapped == -180.0 else wrapped


def _clock_place(match: re.Match[str]) -> str:
    """ "at 2 o'clock" -> azimuth -60: the hour hand's direction, 12 in front, seen from
    above (each hour 30° clockwise, so azimuth -30° per hour)."""
    hour = match["hour"].lower()
    hours = int(hour) if hour.isdigit() else _HOURS.index(hour)
    return _azimuth_mark(-30.0 * hours)


def _degrees_place(match: re.Match[str]) -> str:
    """ "30 degrees to the left" -> azimuth 30; right is negative."""
    degrees = float(match["degrees"])
    return _azimuth_mark(degrees if match["side"].lower() == "left" else -degrees)


def _degrees_up_place(match: re.Match[str]) -> str:
    """ "20 degrees above the horizon" -> elevation 20; below is negative."""
    degrees = float(match["degrees"])
    down = match["way"].lower() in ("below", "down", "downwards", "beneath", "under", "lower",
                                     "low")
    return _elevation_mark(-degrees if down else degrees)


SLIGHT_DEGREES = 20.0
"""Elevation of a sound said to be slightly above ("a little higher", "just above eye
level"), or its negative below: above ear level, but nearer it than the ±45° that
"above"/"below" with a side give."""


def _slightly_place(match: re.Match[str]) -> str:
    """ "slightly above", "a bit lower", "just below eye level" -> ±:data:`SLIGHT_DEGREES`."""
    way = (match["way"] or match["move"]).lower()
    return _elevation_mark(-SLIGHT_DEGREES if way in ("below", "down", "lower")
                           else SLIGHT_DEGREES)


_A_LITTLE = r"(?:slightly|somewhat|a\s+little|a\s+bit)"


def _slightly_aside(match: re.Match[str]) -> str:
    """ "slightly to the left" -> azimuth :data:`SLIGHT_DEGREES` (a little off the front),
    "behind you, a little to the right" -> −(180 − :data:`SLIGHT_DEGREES`)."""
    behind = (match["where"] or match["after"] or "").lower() == "behind"
    aside = 180.0 - SLIGHT_DEGREES if behind else SLIGHT_DEGREES
    return _azimuth_mark(aside if match["side"].lower() == "left" else -aside)


_SIGNED_DEGREES = r"(?P<degrees>[-+−]?\d{1,3}(?:\.\d+)?)"
_DEGREE_UNIT = r"(?:\s*(?:°|(?:degrees?|deg)\b))"


_COORDINATE = r"(?:at\s+)?(?:an?\s+)?{name}\s+(?:of\s+)?(?P<{name}>[-+−]?\d{{1,3}}(?:\.\d+)?)"


def _coordinates_place(match: re.Match[str]) -> str:
    """ "azimuth 30, elevation -10" (either first) -> their place's mark."""
    return _place_mark(*(float(match[name].replace("−", "-"))
                         for name in ("azimuth", "elevation")))


def _coordinates_rules() -> tuple[tuple[str, Callable[[re.Match[str]], str]], ...]:
    """Rules reading both coordinates, either first, as one place."""
    azimuth, elevation = (_COORDINATE.format(name=name) + f"{_DEGREE_UNIT}?"
                          for name in ("azimuth", "elevation"))
    joint = r"\s*,?\s+(?:and\s+)?"
    return tuple((rf"\b{first}{joint}{second}\b(?!\.\d)", _coordinates_place)
                 for first, second in ((azimuth, elevation), (elevation, azimuth)))


def _coordinate_rules(name: str, mark: Callable[[float], str]
                      ) -> tuple[tuple[str, Callable[[re.Match[str]], str]], ...]:
    """Rules reading "<name> 90°" and "90 degrees <name>" (docs/conventions.md's angles) as
    the ``mark`` of that angle: "azimuth 90" is the left, "elevation 40" 40° up."""
    def place(match: re.Match[str]) -> str:
        return mark(float(match["degrees"].replace("−", "-")))

    return ((rf"\b(?:at\s+)?(?:an?\s+)?{name}\s+(?:of\s+)?{_SIGNED_DEGREES}{_DEGREE_UNIT}?", place),
            (rf"(?:\bat\s+)?(?<![\w.]){_SIGNED_DEGREES}{_DEGREE_UNIT}?\s+(?:of\s+)?{name}\b",
             place))


_SLIGHTLY = r"(?:slightly|somewhat|a\s+little|a\s+bit|just)"
_SETTING = (r"(?:the|this)\s+(?:room|stage|hall|space|scene|screen|image|video|frame|picture"
            r"|panorama)")
"""Where a place is said to be in ("on the left side of the stage"): part of the place."""
_BODY_SIDE = r"(?:ear|side|shoulder|hand|flank|cheek)"
_TERSE_BEFORE = r"(?:^|(?<=[,:;(])|(?<=[,:;(]\s)|(?<=[.!?]\s))"
_TERSE_AFTER = r"(?=\s*(?:[,.;:)!?]|$))"
_SYNONYMS = tuple((re.compile(pattern, re.IGNORECASE), replacement) for pattern, replacement in (
    (rf"\b(?:(?:at|on)\s+)?(?:(?:your|my)\s+)?(?P<hour>1[0-2]|[1-9]|{'|'.join(_HOURS)})"
     r"\s*o'?\s*clock\b", _clock_place),
    (r"\b(?:elevated|raised|lifted|tilted\s+up)\s+(?:by\s+)?(?P<degrees>\d{1,3}(?:\.\d+)?)"
     rf"{_DEGREE_UNIT}", lambda match: _elevation_mark(float(match["degrees"]))),
    (r"\b(?P<degrees>\d{1,3}(?:\.\d+)?)(?:\s*|-)(?:°|degrees?|deg)(?:\s+angle)?\s+(?:off\s+)?"
     r"(?:to\s+(?:the|your|my)\s+|on\s+(?:the|your|my)\s+)?(?P<side>left|right)\b",
     _degrees_place),  # "30 degrees to the left", "a 45-degree angle to the right"
    (rf"\b(?P<degrees>\d{{1,3}}(?:\.\d+)?){_DEGREE_UNIT}\s+(?P<way>up(?:wards)?|above|high(?:er)?"
     rf"|down(?:wards)?|below|beneath|under|low(?:er)?)"
     rf"(?:\s+(?:the\s+horizon|(?:eye|ear)\s+level|{_LISTENER}))?\b", _degrees_up_place),
    (rf"\b{_SLIGHTLY}\s+(?P<way>above|below)\s+(?:(?:the\s+)?(?:eye|ear|head)[- ]level"
     rf"|(?:the\s+)?horizon)\b|\b{_A_LITTLE}\s+(?P<move>above|up"
     rf"|higher|below|down|lower)(?:\s+{_LISTENER})?\b", _slightly_place),
    (r"\b(?:at|on)\s+(?:the\s+)?(?:eye|ear|head)[- ](?:level|height)\b"
     r"|\b(?:at|on)\s+the\s+horizon\b", _elevation_mark(0.0)),
    *_coordinates_rules(),  # "azimuth -90°, elevation 40"
    *_coordinate_rules("azimuth", _azimuth_mark),  # "at azimuth 90°", "-45 deg azimuth"
    *_coordinate_rules("elevation", _elevation_mark),
    (r"\b(?:just\s+|right\s+)?above\s+(?:your|my)\s+(left|right)\s+shoulder\b",
     r"above and on the \1"),
    (r"\b(?:just\s+|right\s+)?(?:behind|over)\s+(?:your|my)\s+(left|right)\s+shoulder\b",
     r"behind on the \1"),  # "over your left shoulder": at your back, that side
    (rf"\b(?:in|into|at|by|beside|next\s+to|near|close\s+to)\s+(?:your|my)\s+(left|right)"
     rf"(?:\s+{_BODY_SIDE})?\b", r"on the \1"),  # "in your left ear", "by my right side"
    (r"\b(?:on|at)\s+(?:your|my)\s+six\b", "behind"),
    (r"\b(?:at|by)\s+(?:your|my)\s+feet\b|\bfrom\s+the\s+(?:ground|floor)\b|\bon\s+the\s+floor\b",
     "below"),  # not "on the ground", which starts nouns ("ground water")
    (r"\b(?:up\s+)?in\s+the\s+sky\b|\bfrom\s+the\s+(?:sky|ceiling)\b|\bon\s+the\s+ceiling\b",
     "above"),
    (rf"(?<!-)\b(high|low)\s+(?:(?:up|down)\s+)?(?=(?:(?:on|to|at|towards?)\s+(?:the|your|my)\s+"
     rf"(?:left|right|front|back|rear)|in\s+front|behind|ahead|{_AZIMUTH_MARK})\b)",
     lambda match: "above and " if match[1].lower() == "high" else "below and "),
    # "high on the left", "low in front", "at 10 o'clock, high"
    (rf"({_AZIMUTH_MARK}{_EXACT})\s*,?\s+(high|low)\b",
     lambda match: f"{match[1]} {'above' if match[2].lower() == 'high' else 'below'}"),
    (r"(?<!-)\b(up|down)\s+and\s+(?=(?:off\s+)?(?:to|on)\s+(?:the|your|my)\s+(?:left|right)\b)",
     lambda match: "above and " if match[1].lower() == "up" else "below and "),
    (r"\b(?:(?:in|at|from|to|towards?)\s+)?(?:the\s+|your\s+|my\s+)?(upper|top|lower|bottom)"
     r"[- ](left|right)(?:[- ]hand)?(?:\s+corner)?\b",
     lambda match: ("above" if match[1].lower() in ("upper", "top") else "below")
     + f" and on the {match[2].lower()}"),  # "from the upper left"
    (rf"\b(?:(?:(?:straight|dead|directly)\s+)?(?P<where>in\s+front|ahead|behind)"
     rf"(?:\s+(?:of\s+)?{_LISTENER})?\s*,?\s+(?:and\s+)?)?"
     rf"{_A_LITTLE}\s+(?:off\s+)?(?:to\s+(?:the\s+|your\s+|my\s+)?)?(?P<side>left|right)\b"
     r"(?!-|\s+hand|\s+of\s+(?:the\s+)?(?:centre|center|middle)\b)"
     rf"(?:\s+of\s+{_LISTENER}\b)?(?:\s*,?\s+(?:and\s+)?(?P<after>behind|in\s+front)\b"
     rf"(?:\s+(?:of\s+)?{_LISTENER}\b)?)?",
     _slightly_aside),  # "slightly to the left", "behind you, a little to the right"
    (r"\b(?:(?:to|on|at|from|towards?)\s+)?(?:the\s+|your\s+|my\s+)?"
     rf"(?:far|{_A_LITTLE})\s+"  # not "just": "the bus just left"
     r"(?:to\s+(?:the\s+|your\s+|my\s+)?)?(left|right)\b(?!-(?:hand|front|back|rear)|\s+hand"
     r"|\s+of\s+(?:the\s+)?(?:centre|center|middle)\b)",
     r"on the \1"),  # "on the far left"; not "slightly left of centre"
    (rf"\b{_SLIGHTLY}\s+(?=(?:off\s+)?(?:to|on|in\s+front|behind|ahead|above|below|overhead"
     r"|over|under|beneath)\b)", ""),  # "just behind you"
    (r"\b(left|right)hand(?=\s+side\b)", r"\1-hand"),  # "the lefthand side"
    (rf"{_TERSE_BEFORE}(left|right)(?:-hand)?(?:\s+side)?{_TERSE_AFTER}", r"on the \1"),
    # "a dog, left", "a dog barking, left side"
    (r"\b(?:just\s+|slightly\s+)?(left|right)\s+of\s+(?:the\s+)?(?:centre|center|middle)\b",
     r"in front on the \1"),  # "left of centre": nearer the front than the side
    (r"\b(?:on|to|at|from|towards?)\s+(left|right)"
     r"(?=\s*(?:[,.;:)!?]|$)|\s+(?:and|while|as|but|side|hand)\b)",
     r"on the \1"),  # "a dog on left", "on left side", "from right"
    (rf"{_TERSE_BEFORE}(?:front|ahead){_TERSE_AFTER}", "in front"),
    (rf"{_TERSE_BEFORE}(?:back|rear){_TERSE_AFTER}", "behind"),
    (rf"{_TERSE_BEFORE}(?:high|up){_TERSE_AFTER}", "above"),  # "a bell, front-right, high"
    (rf"{_TERSE_BEFORE}(?:low|down){_TERSE_AFTER}", "below"),
    (r"\b(?:directly|straight)\s+(?=(?:to|on|in|at|behind|ahead)\b)", ""),
    (r"\b(?:(?:off|over)\s+)+(?=(?:to|on|at)\b)", ""),  # "off to the left", "over on the right"
    (rf"\b(?:beside|next\s+to|near|close\s+to)\s+{_LISTENER}\s*,?\s+(?=(?:on|to)\s+the\b)", ""),
    (r"(?<!the )(?<!your )(?<!my )\bright\s+(?=(?:above|below|behind|beneath|underneath|under"
     r"|over|overhead|in\s+front)\b)", ""),  # "right above you", not "on the right above"
    (r"\b(?:to\s+(?:the|your|my)\s+)?(?:front|forward)[- ](left|right)\b", r"in front on the \1"),
    (r"\b(left|right)[- ]front\b", r"in front on the \1"),
    (r"\b(?:to\s+(?:the|your|my)\s+)?(?:back|rear)[- ](left|right)\b", r"behind on the \1"),
    (r"\b(left|right)(?:[- ](?:back|rear)|-behind)\b|\bbehind-(left|right)\b",
     lambda match: f"behind on the {(match[1] or match[2]).lower()}"),
    (r"\b(?:to|from|at|on|towards?)\s+(?:the|your|its|my)\s+(left|right)(?:[- ]hand)?"
     rf"(?:\s+side)?(?:\s+of\s+(?:{_LISTENER}|{_SETTING}))?\b", r"on the \1"),
    (rf"(?<!the )(?<!your )(?<!my )\b(left|right)\s+of\s+{_LISTENER}\b", r"on the \1"),
    (rf"\bin\s+front\s+of\s+{_LISTENER}\b|(?<!-)\bup\s+front\b"
     rf"|\b(?:at|in|from|to|towards?)\s+the\s+front(?:\s+of\s+{_SETTING})?\b"
     rf"|\b(?:(?:straight|dead)\s+)?ahead(?:\s+of\s+{_LISTENER})?\b", "in front"),
    (rf"\b(?:from\s+)?behind\s+{_LISTENER}\b|\bfrom\s+behind\b"
     rf"|\b(?:at|in|to|from|towards?)\s+the\s+(?:back|rear)(?:\s+of\s+{_SETTING})?\b"
     rf"|\bat\s+(?:your|my)\s+back\b|\bin\s+back\s+of\s+{_LISTENER}\b", "behind"),
    (r"\b(in\s+front|behind)\s*,?\s+(?:and\s+)?on\s+the\s+(left|right)\b", r"\1 on the \2"),
    (rf"(?:\b(?:directly|straight)\s+(?:above|overhead)|(?<!-)\bup\s+above|\bfrom\s+above)"
     rf"(?:\s+{_LISTENER})?\b|\babove\s+{_LISTENER}\b|\bstraight\s+up\b"
     r"|\bover\s+(?:your|my)\s+head\b", "overhead"),
    (rf"(?:\bdirectly\s+below|\bfrom\s+below)(?:\s+{_LISTENER})?\b"
     rf"|\b(?:below|under|beneath|underneath)\s+{_LISTENER}\b|\bunderneath\b|\bbeneath\b"
     r"|\bunder\s+(?:your|my)\s+feet\b|\bunderfoot\b", "below"),
    (r"(?<!-)\b(?:high\s+up|up\s+high)\b", "above"),  # not "a power-up high ..."
    (r"(?<!-)\b(?:low\s+down|down\s+low)\b", "below"),
    (r"\bhigh\s+(?=(?:above|overhead)\b)", ""),  # "high above you"
    (rf"\b(above|below)\s+and\s+on\s+the\s+(left|right)\s*,?\s+(?:and\s+)?(?:{_SLIGHTLY}\s+)?"
     r"(behind|in\s+front)\b(?!\s*,?\s+(?:and\s+)?on\s+the\b)",
     r"\1 and \3 on the \2"),  # "in the lower left behind you"
    (rf"(?<!above and )(?<!below and )(?<!above )(?<!below )(?<!behind )(?<!front )"
     rf"\bon\s+the\s+(left|right)\s*,?\s+(?:and\s+)?(?:{_SLIGHTLY}\s+)?(behind|in\s+front)\b"
     r"(?!\s*,?\s+(?:and\s+)?on\s+the\b)", r"\2 on the \1"),  # "on the left and behind"
    (r"\boverhead\s+(?:and\s+)?(?=(?:in\s+front|behind|on\s+the\s+(?:left|right))\b)",
     "above and "),  # "overhead to the left", "above you on the left"
    (r"\b(on\s+the\s+(?:left|right)|in\s+front|behind)\s+overhead\b", r"\1 above"),
))
"""Common ways to say the caption's positions, rewritten into the caption's words first."""


@cache
def _horizontal_azimuths() -> dict[str, float]:
    """The caption's eight horizontal phrases and their sector centres (degrees)."""
    return {horizontal_words(float(azimuth)): float(azimuth)
            for azimuth in (0, 45, 90, 135, 180, -135, -90, -45)}


@cache
def _position_pattern() -> re.Pattern[str]:
    phrases = sorted(_horizontal_azimuths(), key=len, reverse=True)  # longest phrase wins
    horizontal = "|".join([*(r"\s+".join(map(re.escape, phrase.split())) for phrase in phrases),
                           f"{_AZIMUTH_MARK}{_EXACT}"])
    vertical = f"above|below|{_ELEVATION_MARK}{_EXACT}"
    return re.compile(  # a vertical word before a horizontal phrase, or one after it
        rf"\b(?P<before>{vertical})\s*,?\s+(?:and\s+)?(?P<led>{horizontal})\b"
        rf"|\b(?P<horizontal>{horizontal})\b"
        rf"(?:\s*,?\s+(?:and\s+)?(?P<after>{vertical})\b(?!\s+and\s+(?:{horizontal})\b))?"
        rf"|\b(?P<overhead>overhead)\b|\b(?P<vertical>{vertical})\b"
        rf"|\b(?P<exact>{_PLACE_MARK}{_EXACT}/{_EXACT})", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _rewrite_synonyms(text: str) -> str:
    """``text`` with :data:`_SYNONYMS` applied in turn; cached, as one prompt is read for its
    places, its sounds and its clauses many times over (some forty substitutions each)."""
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    return text


def _normalise(text: str) -> str:
    text = " ".join(text.lower().split())
    return _rewrite_synonyms(_MOTION.sub(" ", text))


def _place_direction(match: re.Match[str]) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of one match of :func:`_position_pattern`."""
    if match["horizontal"] or match["led"]:
        horizontal = " ".join((match["horizontal"] or match["led"]).lower().split())
        azimuth = (_marked(horizontal) if horizontal.startswith(_AZIMUTH_MARK)
                   else _horizontal_azimuths()[horizontal])
        vertical = (match["before"] or match["after"] or "").lower()
        elevation = ({"": 0.0, "above": _VERTICAL_DEGREES, "below": -_VERTICAL_DEGREES}
                     .get(vertical) if not vertical.startswith(_ELEVATION_MARK)
                     else _marked(vertical))
        return azimuth, elevation
    if match["exact"]:
        angles = _MARKS.fullmatch(match["exact"])
        return float(angles["azimuth"]), float(angles["elevation"])
    vertical = (match["vertical"] or "").lower()
    if vertical.startswith(_ELEVATION_MARK):
        return 0.0, _marked(vertical)
    if match["overhead"] or vertical == "above":
        return 0.0, 90.0
    return 0.0, -90.0


def _marked(mark: str) -> float:
    """The angle a mark of :data:`_EXACT` keeps."""
    return float(mark.partition("=")[2])


def prompt_directions(text: str) -> list[tuple[float, float]]:
    """Every position a text states, in order, as (azimuth, elevation) degrees.

    Reads the caption vocabulary of :mod:`swansphere.data.captions` ("on the left", "behind
    on the right", "above and in front", "overhead", "below", ...) plus common paraphrases
    ("to your left", "on my right", "front-left", "behind you", "directly above", "high up",
    "low down", "under your feet", "in your right ear", "over your left shoulder"), terse
    places ("a dog, left", "a dog on left"); one place said in two pieces ("up and to the
    right", "to the left and slightly behind") is one place. A horizontal phrase gives its
    sector centre at elevation 0, or ±45° (the middle of the band the captioner calls
    "above"/"below") when "above"/"below" goes with it; "overhead", a bare "above" and a bare
    "below" give the poles. A place stated in numbers is that direction exactly: clock
    positions ("at 2 o'clock": azimuth -60), angles ("30 degrees to the left", "20 degrees
    above the horizon") and coordinates ("azimuth -90, elevation 40"), alone or with words
    ("30 degrees to the left, above": elevation 45; "elevation 20 on the left": azimuth 90).
    Motion clauses ("moving left", "from left to right") are not positions and are ignored.
    """
    return [_place_direction(match) for match in _position_pattern().finditer(_normalise(text))]


def without_places(text: str) -> str:
    """What a text says besides where: its place phrases and motion clauses removed
    ("A bell rings to your left" -> "a bell rings"), lower case, one space between words;
    what a sound is named by, for matching it to sound classes."""
    stripped = _position_pattern().sub(" ", _normalise(text))
    stripped = re.sub(r"\b(?:on|to|in|at|from)\s+(?:the\s+)?(?=[\s,.;]|$)|\(\s*\)", " ",
                      stripped)
    return " ".join(stripped.split()).strip(" ,.;:")


def canonical_places(text: str) -> str:
    """``text`` with each place it states in the caption vocabulary's own words.

    Every phrase :func:`prompt_directions` reads as a position becomes
    :func:`position_words` of that position ("to the front left" -> "in front on the left",
    "up high to the front right" -> "above and in front on the right", "at your back" ->
    "behind"), the poles plain "above" / "below" ("directly above you", "overhead" ->
    "above") unless that would join them to the next place ("overhead, on the left" stays);
    motion clauses and all other words stay as written, so the positions read back are
    unchanged, but for a place stated in numbers, which becomes its sector's words ("at 2
    o'clock" -> "in front on the right"; its coordinates where those words would join the
    next place). For text encoders that learned only the
    captioner's words (a hashed-word vocabulary trained on its captions), a paraphrase then
    means what it says instead of nothing.
    """
    for words in (_plain_words, position_words):  # "overhead, on the left": two places
        canonical = _rewrite_places(text, words)
        if _sectors(canonical) == _sectors(text):
            return canonical
    return _readable(_rewrite_places(text, _place_mark))  # numbers that words would join


def _clause_places(text: str) -> str:
    """:func:`canonical_places`, but a place stated in numbers that its sector's words would
    move kept exact, as its marks: what a text is cut into clauses by, so that each clause
    states the place the whole text does (:func:`_readable` then says the marks)."""
    canonical = canonical_places(text)
    if prompt_directions(canonical) == prompt_directions(text):
        return canonical
    return _rewrite_places(text, _exact_words)


def _exact_words(azimuth: float, elevation: float) -> str:
    """Position words for a place, or its marks where no words say it exactly."""
    words = position_words(azimuth, elevation)
    return words if prompt_directions(words) == [(azimuth, elevation)] else _place_mark(
        azimuth, elevation)


_MARKS = re.compile(rf"{_PLACE_MARK}(?P<azimuth>{_EXACT})/(?P<elevation>{_EXACT})",
                    re.IGNORECASE)


def _readable(text: str) -> str:
    """Place marks (:func:`_place_mark`) said as coordinates ("at azimuth -60 elevation 0"),
    which :func:`prompt_directions` reads back as that one place."""
    def coordinates(match: re.Match[str]) -> str:
        return (f"at azimuth {_number(float(match['azimuth']))} "
                f"elevation {_number(float(match['elevation']))}")

    return _MARKS.sub(coordinates, text)


def _number(value: float) -> str:
    """An angle as few digits as say it to a thousandth of a degree ("-60", "12.25")."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _sectors(text: str) -> list[str]:
    """The position words of each place a text states: what its places are in the caption
    vocabulary (a place stated in numbers is said as its sector)."""
    return [position_words(*place) for place in prompt_directions(text)]


def _rewrite_places(text: str, words: Callable[[float, float], str]) -> str:
    pieces, start = [], 0
    for motion in _MOTION.finditer(text):  # "moving to the front" is no place: kept as is
        pieces += [_rewrite_segment(text[start:motion.start()], words), motion.group()]
        start = motion.end()
    return "".join([*pieces, _rewrite_segment(text[start:], words)])


def _rewrite_segment(text: str, words: Callable[[float, float], str]) -> str:
    return _position_pattern().sub(lambda match: words(*_place_direction(match)),
                                   _rewrite_synonyms(text))


def _plain_words(azimuth: float, elevation: float) -> str:
    """:func:`position_words`, but the poles as plain "above" / "below": the word every
    raised or lowered source's caption shares, where "overhead" needs a source above
    :data:`OVERHEAD_DEGREES`, which scenes seldom or never place (the default simulator
    stops at 60°)."""
    if abs(elevation) > OVERHEAD_DEGREES:
        return "above" if elevation > 0 else "below"
    return position_words(azimuth, elevation)


_JOINED_BY = (r"(?:(?:accompanied|joined|followed|answered)\s+by|(?:together|along)\s+with"
              r"|alongside|with)\s+")
_SENTENCE = r"[.;!?]\s+(?:meanwhile\s*,?\s+)?"
_WHILE = r",?\s+(?:while|whilst|as|whereas|but|(?:and\s+)?then|meanwhile\s*,?)\s+"
_AND = r",?\s+(?:and|plus)\s+"
_COMMA = rf",\s+(?:{_JOINED_BY})?"
_WITH = rf"\s+{_JOINED_BY}"
_CLAUSE_BREAKS = tuple(re.compile(pattern, re.IGNORECASE)
                       for pattern in (_SENTENCE, _WHILE, _AND, _COMMA, _WITH))
"""Where one source's clause ends and the next begins, strongest first: a sentence, "while" /
"as" / "but" / "then", "and", a comma, "with" / "accompanied by" (the joiners of
:func:`swansphere.data.captions.natural_caption` and others people write)."""
_SOUND_BREAKS = tuple(re.compile(pattern, re.IGNORECASE)
                      for pattern in (_SENTENCE, _WHILE, f"{_AND}|{_COMMA}", _WITH))
"""The breaks between sounds at one place: those of :data:`_CLAUSE_BREAKS`, but "and" and
a comma as one, the separators of a list ("a violin, a flute and a drum")."""


def source_clauses(text: str) -> list[str]:
    """The text cut into one clause per stated place, each with the words that go with it
    ("a bell rings to your left and a siren wails behind you" -> ``["a bell rings on the
    left", "a siren wails behind"]``), places in the words of :func:`canonical_places` (or,
    for a place stated in numbers that no such words say exactly, its coordinates: "at 2
    o'clock" -> "at azimuth -60").

    Between two places the cut goes at the strongest break (see :data:`_CLAUSE_BREAKS`),
    its last occurrence there, since a clause's own words mostly come before its place; words
    before the first place and after the last stay with their clause. A text that states
    fewer than two places comes back whole, as written.
    """
    canonical = _clause_places(text)
    motions = [motion.span() for motion in _MOTION.finditer(canonical)]
    places = [match.span() for match in _position_pattern().finditer(canonical)
              if not any(start < match.end() and match.start() < end for start, end in motions)]
    if len(places) < 2:
        return [text]
    clauses, start = [], 0
    for (_, end), (next_start, _) in pairwise(places):
        cut_start, cut_end = _clause_break(canonical, end, next_start)
        clauses.append(canonical[start:cut_start])
        start = cut_end
    clauses.append(canonical[start:])
    return [_readable(clause).strip(" \t\n,;.") for clause in clauses]


_WHERE_ONLY = re.compile(
    r"(?:(?:very|quite|rather|slightly|somewhere|really|a\s+(?:bit|little)|far(?:\s+(?:away|off))?"
    r"|faraway|distant|in\s+the\s+distance|a\s+long\s+way\s+(?:off|away)|up\s+close"
    r"|close(?:\s+by)?|near(?:by)?|(?:right\s+)?(?:next\s+to|beside)\s+(?:you|me))[\s,;.]*)*")
"""Words that say only how far or how vaguely, once the places are removed ("far away",
"somewhere close by"): a piece of a clause made of them alone names no sound."""


def sound_parts(text: str) -> list[str]:
    """A clause of at most one place cut at every occurrence of its strongest break (see
    :data:`_SOUND_BREAKS`) outside its place's words, each part given that place's words
    where it lacks them ("I hear a fiddle and a chap talking behind me" -> ``["I hear a
    fiddle behind", "a chap talking behind"]``, places in the words of
    :func:`source_clauses`); ``[text]`` where it has no break between words other than
    the place's, several places or a motion. Whether the parts name several sounds is for
    the caller to judge: one sound's words may hold a break too ("a dog barks and growls").
    """
    canonical = _clause_places(text)
    places = [match.span() for match in _position_pattern().finditer(canonical)]
    if len(places) > 1 or states_motion(canonical):
        return [text]
    place = places[0] if places else None
    for pattern in _SOUND_BREAKS:
        cuts = [match.span() for match in pattern.finditer(canonical)
                if place is None or match.end() <= place[0] or match.start() >= place[1]]
        bounds = [0, *(edge for cut in cuts for edge in cut), len(canonical)]
        spans = [(start, end) for start, end in zip(bounds[::2], bounds[1::2], strict=True)
                 if not _WHERE_ONLY.fullmatch(without_places(canonical[start:end]))]
        if len(spans) > 1:
            return [_readable(_with_place(canonical, span, place)) for span in spans]
    return [text]


def _with_place(text: str, span: tuple[int, int], place: tuple[int, int] | None) -> str:
    """``text[span]`` stripped, the words of ``place`` added where the span lacks them."""
    part = text[span[0]:span[1]].strip(" \t\n,;.")
    if place is None or span[0] <= place[0] < span[1]:
        return part
    return f"{part} {text[place[0]:place[1]]}"


def _clause_break(text: str, after: int, before: int) -> tuple[int, int]:
    """The span of the strongest break in ``text[after:before]`` (its last occurrence), or
    an empty one at ``after`` where there is none."""
    gap = text[after:before]
    for pattern in _CLAUSE_BREAKS:
        found = list(pattern.finditer(gap))
        if found:
            return after + found[-1].start(), after + found[-1].end()
    return after, after


def states_motion(text: str) -> bool:
    """Whether a text says a sound moves ("moving right", "from left to right"): its place,
    if it states one, is then where the sound is on average, not where it stays."""
    return _MOTION.search(" ".join(text.lower().split())) is not None


MOTION_DEGREES = 60.0
"""How far a sound said to be "moving left" (and so on) after its place travels, centred on
that place: the simulator's moving sources sweep 30°-120°."""


def prompt_motion(text: str) -> tuple[tuple[float, float], ...] | None:
    """Where a text says its one sound moves: the (start, middle, end) of its path, as
    (azimuth, elevation) degrees, or ``None`` when it states no motion, or several.

    "from the left to the right" (the ends front, back, left or right, on the horizon) goes
    the short way, through the front when the ends face each other across the listener, and
    through the left from behind to the front or back, unless the text states the place it
    passes ("from right to left behind you" goes through the back, "from left to right
    above you" over the top). "behind on the left, moving right" is a
    sweep of :data:`MOTION_DEGREES` centred on the stated place (in front when none is
    stated, as several places are not one): left and right along the place's height, up and
    down along its meridian, to the front and to the back along the great circle towards
    them (none when the place is already there).
    """
    motions = list(_MOTION.finditer(" ".join(text.lower().split())))
    places = set(prompt_directions(text))
    if len(motions) != 1 or len(places) > 1:
        return None
    motion = motions[0]
    if motion["start"] or motion["bare_start"]:
        start, end = (_endpoint_azimuth(motion[name] or motion[f"bare_{name}"])
                      for name in ("start", "end"))
        first, middle, last = _sweep_between(start, end)
        through = places.pop() if places else middle
        return first, middle if through in (first, last) else through, last
    azimuth, elevation = places.pop() if places else (0.0, 0.0)
    half = MOTION_DEGREES / 2
    heading = motion["heading"]
    if heading in ("left", "right"):
        sign = 1.0 if heading == "left" else -1.0
        return tuple((_wrap(azimuth + sign * step), elevation) for step in (-half, 0.0, half))
    if heading in ("up", "down"):
        sign = 1.0 if heading == "up" else -1.0
        return tuple((azimuth, max(-90.0, min(90.0, elevation + sign * step)))
                     for step in (-half, 0.0, half))
    goal = 0.0 if heading == "front" else 180.0
    return _great_circle_sweep((azimuth, elevation), (goal, 0.0), half)


def _endpoint_azimuth(words: str) -> float:
    """Azimuth of one end of a "from ... to ..." motion (:data:`_ENDPOINT`)."""
    for name, azimuth in (("front", 0.0), ("left", 90.0), ("right", -90.0)):
        if re.search(rf"\b{name}\b", words):
            return azimuth
    return 180.0  # back, rear, behind


def _wrap(azimuth: float) -> float:
    return (azimuth + 180.0) % 360.0 - 180.0


def _sweep_between(start: float, end: float) -> tuple[tuple[float, float], ...]:
    """From azimuth ``start`` to ``end`` on the horizon the short way (facing ends: through
    the front, or through the left between front and back)."""
    turn = _wrap(end - start)
    if abs(turn) == 180.0:
        middle = 0.0 if start in (90.0, -90.0) else 90.0
    else:
        middle = _wrap(start + turn / 2)
    return (start, 0.0), (middle, 0.0), (end, 0.0)


def _vector(azimuth: float, elevation: float) -> tuple[float, float, float]:
    a, e = math.radians(azimuth), math.radians(elevation)
    return math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)


def _great_circle_sweep(place: tuple[float, float], goal: tuple[float, float],
                        half: float) -> tuple[tuple[float, float], ...] | None:
    """``half`` degrees either side of ``place`` on the great circle towards ``goal``."""
    p, g = _vector(*place), _vector(*goal)
    cosine = sum(a * b for a, b in zip(p, g, strict=True))
    towards = [b - cosine * a for a, b in zip(p, g, strict=True)]
    norm = math.sqrt(sum(c * c for c in towards))
    if norm < 1e-9:
        return None
    towards = [c / norm for c in towards]

    def at(step: float) -> tuple[float, float]:
        c, s = math.cos(math.radians(step)), math.sin(math.radians(step))
        x, y, z = (c * a + s * b for a, b in zip(p, towards, strict=True))
        return math.degrees(math.atan2(y, x)), math.degrees(math.asin(max(-1.0, min(1.0, z))))

    return at(-half), place, at(half)


def prompt_direction(text: str) -> tuple[float, float] | None:
    """The one position a text states, as (azimuth, elevation) degrees, else ``None``.

    ``None`` when the text states no position or several different ones (a scene with many
    sources has no single direction to score a whole-clip direction against).
    """
    distinct = sorted(set(prompt_directions(text)))
    return distinct[0] if len(distinct) == 1 else None
