"""Holding streams at places: each row's sound field turned, chunk by chunk, so that the
direction its sound has come from lately lies where that row should be.

A generator places a sound near where it was asked to, seldom exactly there. When the place
is known (a prompt that states one), the whole sound field can be turned onto it: a rotation
keeps what the field holds (its sound, its spread, its reverberation) and moves only where it
comes from. :class:`PlaceHold` reads the direction from the intensity vector of the audio
so far (``mean(W·(X, Y, Z))``, docs/spatial.md), forgetting the past with a time constant of
:data:`HOLD_MEMORY_SECONDS`, so that it follows a stream that drifts; within a chunk it fades
from the previous chunk's rotation to the new one, so the turn never clicks. It is causal: a
chunk's rotation depends on that chunk and the ones before it only. A place may also move:
a path of places, travelled at an even pace over a given number of samples (a sound said to
move "from left to right" over a clip).

A turn moves a field's direction but cannot give a field one it lacks: a diffuse stream
(sound from everywhere, as a generator makes with no words to go on) stays diffuse. ``focus``
replaces that share of each held row's directional channels (X, Y, Z) with its omnidirectional
one (W) sent from the row's place, as a plane wave from there would be: 0 keeps the field as
it was turned, 1 makes the row a point source at its place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import torch

from swansphere.errors import ConfigError

from .encoding import unit_vectors
from .rotation import ambix_matrix, rotation_between

HOLD_MEMORY_SECONDS = 2.0
"""How long the direction estimate remembers: the intensity of audio this long ago counts
1/e as much as the newest."""

_NO_DIRECTION = 1e-3
"""Below this ratio of intensity to energy a field has no direction worth turning (silence,
or a diffuse field): the previous rotation stays."""


@attrs.define(eq=False)
class PlaceHold:
    """The streaming state that holds each row of AmbiX chunks ``(rows, 4, n)`` at a place.

    ``targets`` are unit vectors ``(rows, 3)`` (front x, left y, up z), or paths of them
    ``(rows, K, 3)`` travelled great circle by great circle, at an even pace over ``span``
    samples (then held at their end); ``active`` says which rows have one; other rows pass
    unchanged. ``strength`` is the share of the angle between the estimate and the target
    that the rotation turns (1: all of it); ``focus`` the share of a held row's directional
    channels that comes from its omnidirectional one sent from its place (module docstring).
    """

    targets: torch.Tensor
    active: torch.Tensor
    sample_rate: int
    strength: float = 1.0
    memory_seconds: float = HOLD_MEMORY_SECONDS
    span: int = 1
    focus: float = 0.0
    samples_seen: int = attrs.field(init=False, default=0)
    intensity: torch.Tensor = attrs.field(init=False)
    energy: torch.Tensor = attrs.field(init=False)
    rotation: torch.Tensor | None = attrs.field(init=False, default=None)
    settled: torch.Tensor = attrs.field(init=False)
    focused_place: torch.Tensor | None = attrs.field(init=False, default=None)
    focused_rows: torch.Tensor | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0 or not math.isfinite(self.strength):
            raise ConfigError(f"a place hold's strength is a share in [0, 1], got "
                              f"{self.strength!r}")
        if not 0.0 <= self.focus <= 1.0 or not math.isfinite(self.focus):
            raise ConfigError(f"a place hold's focus is a share in [0, 1], got {self.focus!r}")
        if self.memory_seconds <= 0 or self.sample_rate <= 0:
            raise ConfigError("a place hold needs a positive memory and sample rate")
        if self.targets.dim() == 2:
            self.targets = self.targets[:, None]
        if self.span < 1:
            raise ConfigError(f"a place hold's path needs a span of at least one sample, got "
                              f"{self.span}")
        rows = self.targets.shape[0]
        self.intensity = torch.zeros(rows, 3, dtype=torch.float64)
        self.energy = torch.zeros(rows, dtype=torch.float64)
        self.settled = torch.zeros(rows, dtype=torch.bool)

    @classmethod
    def for_places(cls, places: Sequence[tuple[float, float] | None], sample_rate: int,
                   strength: float = 1.0, focus: float = 0.0) -> PlaceHold:
        """A hold for rows at ``places`` (azimuth, elevation in degrees; ``None``: no place)."""
        return cls.for_paths([None if place is None else [place] for place in places],
                             sample_rate, 1, strength, focus)

    @classmethod
    def for_paths(cls, paths: Sequence[Sequence[tuple[float, float]] | None], sample_rate: int,
                  span: int, strength: float = 1.0, focus: float = 0.0) -> PlaceHold:
        """A hold for rows along ``paths`` (each a sequence of (azimuth, elevation) degrees, one
        place for a sound that stays; ``None``: no place), travelled over ``span`` samples.
        Paths of more than one place must have the same number of places."""
        lengths = {len(path) for path in paths if path is not None and len(path) > 1}
        if len(lengths) > 1 or any(path is not None and not path for path in paths):
            raise ConfigError(f"a place hold's paths need the same number of places, got "
                              f"{sorted(lengths)}")
        count = lengths.pop() if lengths else 1
        degrees = torch.tensor([[(0.0, 0.0)] * count if path is None else
                                list(path) * count if len(path) == 1 else list(path)
                                for path in paths], dtype=torch.float64)
        radians = torch.deg2rad(degrees).reshape(len(paths), count, 2)
        targets = unit_vectors(radians[..., 0], radians[..., 1])
        active = torch.tensor([path is not None for path in paths])
        return cls(targets, active, sample_rate, strength, span=span, focus=focus)

    def follow(self, places: torch.Tensor, rows: torch.Tensor) -> None:
        """From the next chunk on, hold the ``rows`` (a mask ``(rows,)``) at ``places`` (unit
        vectors ``(rows, 3)``; other rows' entries are ignored): a place learnt while the
        stream runs, such as where its video shows the sound now."""
        if places.shape != (self.targets.shape[0], 3) or rows.shape != self.active.shape:
            raise ConfigError(f"a place hold of {self.targets.shape[0]} rows follows places "
                              f"(rows, 3) and a row mask (rows,), got {tuple(places.shape)} "
                              f"and {tuple(rows.shape)}")
        moved = places.to(self.targets)[:, None].expand_as(self.targets)
        self.targets = torch.where(rows[:, None, None], moved, self.targets)
        self.active = self.active | rows

    def target(self, position: int) -> torch.Tensor:
        """Every row's place ``(rows, 3)`` ``position`` samples into the stream."""
        waypoints = self.targets
        if waypoints.shape[1] == 1:
            return waypoints[:, 0]
        progress = min(max(position / self.span, 0.0), 1.0) * (waypoints.shape[1] - 1)
        index = min(int(progress), waypoints.shape[1] - 2)
        start = waypoints[:, index]
        turn = rotation_between(start, waypoints[:, index + 1], progress - index)
        return (turn @ start[..., None])[..., 0]

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """The next chunk ``(rows, 4, n)``, each active row turned towards its place."""
        if audio.ndim != 3 or audio.shape[-2] != 4 or audio.shape[0] != self.targets.shape[0]:
            raise ConfigError(f"a place hold of {self.targets.shape[0]} rows got a chunk of "
                              f"shape {tuple(audio.shape)}; expected (rows, 4, samples)")
        if audio.shape[-1] == 0 or (self.strength == 0.0 and self.focus == 0.0):
            return audio
        previous, current = self._update(audio)
        self.samples_seen += audio.shape[-1]
        ramp = torch.arange(1, audio.shape[-1] + 1, dtype=audio.dtype) / audio.shape[-1]
        turned = ambix_matrix(previous).to(audio) @ audio
        if not torch.equal(previous, current):
            turned = turned + (ambix_matrix(current).to(audio) @ audio - turned) * ramp
        return self._focused(turned, ramp) if self.focus else turned

    def _focused(self, audio: torch.Tensor, ramp: torch.Tensor) -> torch.Tensor:
        """``audio`` with ``focus`` of each held row's X, Y, Z taken from W sent from its
        place. Across a chunk the place glides from the previous chunk's (along the chord)
        and a row that has just been given one fades in, so neither clicks."""
        end = self.target(self.samples_seen).to(audio)
        held = self.active.to(audio)
        if self.focused_place is None:  # the first chunk: nothing played to fade from
            self.focused_place, self.focused_rows = end, held
        was_held = self.focused_rows.to(audio)
        start = torch.where(was_held[:, None] > 0, self.focused_place.to(audio), end)
        self.focused_place, self.focused_rows = end, held
        place = start[..., None] + (end - start)[..., None] * ramp  # (rows, 3: x y z, n)
        plane_wave = audio[:, :1] * place[:, [1, 2, 0]]  # AmbiX order Y, Z, X
        share = self.focus * (was_held[:, None] + (held - was_held)[:, None] * ramp)[:, None]
        directional = audio[:, 1:] + (plane_wave - audio[:, 1:]) * share
        return torch.cat([audio[:, :1], directional], 1)

    def _update(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fold the chunk into the running estimate; the rotations at its start and end."""
        samples = audio.to(torch.float64)
        w, y, z, x = samples.unbind(-2)
        decay = math.exp(-audio.shape[-1] / (self.memory_seconds * self.sample_rate))
        chunk_intensity = torch.stack([(w * x).sum(-1), (w * y).sum(-1), (w * z).sum(-1)], -1)
        self.intensity = self.intensity * decay + chunk_intensity
        self.energy = self.energy * decay + 0.5 * samples.square().sum((-2, -1))
        norm = self.intensity.norm(dim=-1)
        directed = (norm > _NO_DIRECTION * self.energy) & (self.energy > 0) & self.active
        estimate = self.intensity / norm.clamp_min(1e-300)[:, None]
        turn = rotation_between(estimate, self.target(self.samples_seen + audio.shape[-1]),
                                self.strength)
        identity = torch.eye(3, dtype=torch.float64).expand_as(turn)
        previous = identity if self.rotation is None else self.rotation
        current = torch.where(directed[:, None, None], turn, previous)
        # until a row has sounded it has played nothing worth fading from; once it has (held
        # or not, turned or not), a new turn fades in from the one it played with
        previous = torch.where(self.settled[:, None, None], previous, current)
        self.settled = self.settled | (samples != 0).any(-1).any(-1)
        self.rotation = current
        return previous, current

