"""Holding streams at places: each row's sound field turned, chunk by chunk, so that the
direction its sound has come from lately lies where that row should be.

A generator places a sound near where it was asked to, seldom exactly there. When the place
is known (a prompt that states one), the whole sound field can be turned onto it: a rotation
keeps what the field holds (its sound, its spread, its reverberation) and moves only where it
comes from. :class:`PlaceHold` reads the direction from the intensity vector of the audio
so far (``mean(W·(X, Y, Z))``, docs/spatial.md), forgetting the past with a time constant of
:data:`HOLD_MEMORY_SECONDS`, so that it follows a stream that drifts; within a chunk it fades
from the previous chunk's rotation to the new one, so the turn never clicks. It is causal: a
chunk's rotation depends on that chunk and the ones before it only.
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

    ``targets`` are unit vectors ``(rows, 3)`` (front x, left y, up z) and ``active`` says
    which rows have one; other rows pass unchanged. ``strength`` is the share of the angle
    between the estimate and the target that the rotation turns (1: all of it).
    """

    targets: torch.Tensor
    active: torch.Tensor
    sample_rate: int
    strength: float = 1.0
    memory_seconds: float = HOLD_MEMORY_SECONDS
    intensity: torch.Tensor = attrs.field(init=False)
    energy: torch.Tensor = attrs.field(init=False)
    rotation: torch.Tensor | None = attrs.field(init=False, default=None)
    settled: torch.Tensor = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0 or not math.isfinite(self.strength):
            raise ConfigError(f"a place hold's strength is a share in [0, 1], got "
                              f"{self.strength!r}")
        if self.memory_seconds <= 0 or self.sample_rate <= 0:
            raise ConfigError("a place hold needs a positive memory and sample rate")
        rows = self.targets.shape[0]
        self.intensity = torch.zeros(rows, 3, dtype=torch.float64)
        self.energy = torch.zeros(rows, dtype=torch.float64)
        self.settled = torch.zeros(rows, dtype=torch.bool)

    @classmethod
    def for_places(cls, places: Sequence[tuple[float, float] | None], sample_rate: int,
                   strength: float = 1.0) -> PlaceHold:
        """A hold for rows at ``places`` (azimuth, elevation in degrees; ``None``: no place)."""
        active = torch.tensor([place is not None for place in places])
        degrees = torch.tensor([place or (0.0, 0.0) for place in places], dtype=torch.float64)
        radians = torch.deg2rad(degrees).reshape(len(places), 2)
        targets = unit_vectors(radians[:, 0], radians[:, 1])
        return cls(targets, active, sample_rate, strength)

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """The next chunk ``(rows, 4, n)``, each active row turned towards its place."""
        if audio.ndim != 3 or audio.shape[-2] != 4 or audio.shape[0] != self.targets.shape[0]:
            raise ConfigError(f"a place hold of {self.targets.shape[0]} rows got a chunk of "
                              f"shape {tuple(audio.shape)}; expected (rows, 4, samples)")
        if not bool(self.active.any()) or self.strength == 0.0 or audio.shape[-1] == 0:
            return audio
        previous, current = self._update(audio)
        ramp = torch.arange(1, audio.shape[-1] + 1, dtype=audio.dtype) / audio.shape[-1]
        start = ambix_matrix(previous).to(audio) @ audio
        if torch.equal(previous, current):
            return start
        end = ambix_matrix(current).to(audio) @ audio
        return start + (end - start) * ramp

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
        turn = rotation_between(estimate, self.targets, self.strength)
        identity = torch.eye(3, dtype=torch.float64).expand_as(turn)
        previous = identity if self.rotation is None else self.rotation
        current = torch.where(directed[:, None, None], turn, previous)
        # until a row has had a direction it has played nothing worth fading from
        previous = torch.where(self.settled[:, None, None], previous, current)
        self.settled = self.settled | directed
        self.rotation = current
        return previous, current
