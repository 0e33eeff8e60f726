"""Direction analysis from the intensity vector: whole clips, framewise tracks, paper metrics.

The time-domain intensity proxy of the paper is ``I = (mean(W·X), mean(W·Y), mean(W·Z))``; for
a plane wave from unit vector u it equals ``mean(s²)·u``. Its energy counterpart in SN3D is
``E = mean(½(W² + X² + Y² + Z²))``, which equals ``mean(s²)`` for a plane wave and also for an
isotropic diffuse field, so ``1 − ‖I‖ / E`` is a diffuseness in [0, 1]: 0 for one plane wave,
near 1 for diffuse noise. Results are float64 tensors with the input's batch shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from swansphere.errors import AudioFormatError, ConfigError

from .foa import W, X, Y, Z, validate_foa

_SILENCE = 1e-12  # ‖I‖ below this fraction of E: no direction to speak of


def _intensity_and_energy(foa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample intensity ``(..., 3, n)`` as (x, y, z) and energy ``(..., n)``."""
    intensity = foa[..., W:W + 1, :] * foa[..., [X, Y, Z], :]
    energy = 0.5 * foa.square().sum(dim=-2)
    return intensity, energy


def intensity_vector(foa: Any) -> torch.Tensor:
    """Whole-clip intensity ``(..., 3)``: (mean(W·X), mean(W·Y), mean(W·Z)) in float64."""
    foa = validate_foa(foa).to(torch.float64)
    intensity, _ = _intensity_and_energy(foa)
    return intensity.mean(dim=-1)


def _angles(intensity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Paper's angles in radians: θ = atan2(Iy, Ix), φ = atan2(Iz, √(Ix² + Iy²))."""
    x, y, z = intensity.unbind(-1)
    return torch.atan2(y, x), torch.atan2(z, torch.hypot(x, y))


def _directional_intensity(foa: Any, name: str) -> torch.Tensor:
    """Whole-clip intensity, refusing clips that have no direction (silent or W only)."""
    foa = validate_foa(foa, name=name).to(torch.float64)
    intensity, energy = _intensity_and_energy(foa)
    intensity, energy = intensity.mean(dim=-1), energy.mean(dim=-1)
    if bool((intensity.norm(dim=-1) <= _SILENCE * energy).any()):
        raise AudioFormatError(
            f"{name} is silent or has no directional component (zero intensity vector), so it "
            "has no direction; check that the clip is not all zeros or omnidirectional (W only)")
    return intensity


def direction(foa: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole-clip direction (azimuth, elevation) in degrees from the intensity vector.

    Returns float64 tensors of the batch shape (0-d for one clip; ``float()`` them if needed).
    Raises :class:`~swansphere.errors.AudioFormatError` for silent or direction-less input.
    """
    azimuth, elevation = _angles(_directional_intensity(foa, "FOA audio"))
    return torch.rad2deg(azimuth), torch.rad2deg(elevation)


def angular_errors(reference: Any, generated: Any) -> dict[str, torch.Tensor]:
    """The paper's Δθ, Δφ and Δangular in radians between two clips' whole-clip directions.

    ``theta``: |θ_ref − θ_gen| wrapped to [0, π]; ``phi``: |φ_ref − φ_gen|; ``angular``: the
    great-circle angle between the two intensity directions. Clips may differ in length; batch
    shapes broadcast. Silent or direction-less clips raise
    :class:`~swansphere.errors.AudioFormatError` instead of returning meaningless angles.
    """
    ref = _directional_intensity(reference, "reference audio")
    gen = _directional_intensity(generated, "generated audio")
    ref_theta, ref_phi = _angles(ref)
    gen_theta, gen_phi = _angles(gen)
    theta = torch.remainder(ref_theta - gen_theta, 2 * math.pi)
    theta = torch.minimum(theta, 2 * math.pi - theta)
    ref, gen = torch.broadcast_tensors(ref, gen)
    angular = torch.atan2(torch.linalg.cross(ref, gen).norm(dim=-1), (ref * gen).sum(dim=-1))
    return {"theta": theta, "phi": (ref_phi - gen_phi).abs(), "angular": angular}


@dataclass(frozen=True, eq=False)
class DirectionTrack:
    """Framewise direction analysis of a clip (see :func:`direction_track`).

    ``times`` ``(frames,)`` are frame centres in seconds; ``azimuth`` and ``elevation`` (degrees),
    ``diffuseness`` (0 = one plane wave, 1 = no net direction) and ``energy`` (mean
    ½(W² + X² + Y² + Z²), the source power for a plane wave) have shape ``(..., frames)``.
    Frames without energy have NaN angles and diffuseness 1.
    """

    times: torch.Tensor
    azimuth: torch.Tensor
    elevation: torch.Tensor
    diffuseness: torch.Tensor
    energy: torch.Tensor

    def __len__(self) -> int:
        return self.times.shape[0]

    def to_dict(self) -> dict[str, list]:
        """Plain lists for JSON, with ``None`` where an angle is undefined (silent frame)."""
        return {name: _json_list(getattr(self, name)) for name in
                ("times", "azimuth", "elevation", "diffuseness", "energy")}


def _json_list(values: torch.Tensor) -> list:
    def clean(item: Any) -> Any:
        if isinstance(item, list):
            return [clean(value) for value in item]
        return None if math.isnan(item) else item

    return clean(values.tolist())


def _frame_means(signals: torch.Tensor, frame: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Means of ``(..., channels, n)`` over frames; also the frame centres in samples."""
    n = signals.shape[-1]
    # enough frames to reach the clip's end, but none that starts after it (hop > frame)
    frames = min(1 + math.ceil(max(n - frame, 0) / hop), 1 + (n - 1) // hop)
    padded_length = (frames - 1) * hop + frame
    flat = signals.reshape(-1, signals.shape[-2], n)
    flat = F.pad(flat, (0, padded_length - n))
    sums = F.avg_pool1d(flat, kernel_size=frame, stride=hop) * frame
    starts = torch.arange(frames, dtype=torch.float64, device=signals.device) * hop
    counts = (n - starts).clamp(max=frame)  # the last frame may be cut short by the clip end
    means = sums.reshape((*signals.shape[:-1], frames)) / counts
    return means, starts + counts / 2


def direction_track(foa: Any, sample_rate: float, frame_seconds: float = 0.1,
                    hop_seconds: float = 0.05) -> DirectionTrack:
    """Framewise direction and diffuseness of AmbiX ``(..., 4, n)``.

    Frames of ``frame_seconds`` start every ``hop_seconds``; the last one may be shorter and a
    clip shorter than one frame gives a single frame. Per frame: intensity I and energy E as in
    the module doc, direction from I, diffuseness ``1 − ‖I‖ / E``.
    """
    for label, value in (("sample_rate", sample_rate), ("frame_seconds", frame_seconds),
                         ("hop_seconds", hop_seconds)):
        if not value > 0:
            raise ConfigError(f"{label} must be positive; got {value}")
    foa = validate_foa(foa).to(torch.float64)
    intensity, energy = _intensity_and_energy(foa)
    frame = max(1, round(frame_seconds * sample_rate))
    hop = max(1, round(hop_seconds * sample_rate))
    means, centres = _frame_means(torch.cat([intensity, energy.unsqueeze(-2)], dim=-2), frame, hop)
    intensity, energy = means[..., :3, :].movedim(-2, -1), means[..., 3, :]
    silent = energy <= 0
    azimuth, elevation = _angles(intensity)
    nan = torch.tensor(math.nan, dtype=torch.float64)
    ratio = intensity.norm(dim=-1) / torch.where(silent, 1.0, energy)
    return DirectionTrack(
        times=centres / sample_rate,
        azimuth=torch.where(silent, nan, torch.rad2deg(azimuth)),
        elevation=torch.where(silent, nan, torch.rad2deg(elevation)),
        diffuseness=torch.where(silent, 1.0, (1 - ratio).clamp(0.0, 1.0)),
        energy=energy,
    )
