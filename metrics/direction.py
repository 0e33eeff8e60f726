"""Direction metrics of generated FOA (docs/evaluation.md).

* The paper's Δθ, Δφ, Δangular (radians) come from :func:`swansphere.spatial.angular_errors`;
  this module adds what a benchmark or a reward needs around them: clips without a direction
  (silence, W only) become NaN instead of voiding a batch, and aggregation says how they count.
* Energy maps are :func:`swansphere.spatial.energy_map` panoramas; their Pearson correlation
  is weighted by the solid angle of each ERP pixel (cos(elevation)) so the poles, drawn as wide
  as the equator, do not count more than they cover.

Angles at this API are degrees except the paper's Δ errors, which the paper reports in radians.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch

from swansphere.errors import AudioFormatError, ConfigError
from swansphere.spatial import angular_errors, direction, energy_map, erp_grid, validate_foa
from swansphere.spatial.encoding import degrees_to_radians, unit_vectors

WITHOUT_DIRECTION_ERROR = math.pi
"""The one policy for a generated clip without a direction (silent, or W only), everywhere a
direction is scored (docs/evaluation.md, "Clips without a direction"): its per-clip errors are
undefined (NaN) and counted; wherever one number must stand for it (a reward that ranks
candidates, a validation mean, ``silent="worst"``, a benchmark mean) it is π for Δθ, Δφ and
Δangular alike, the largest possible error, so silence never scores better than a clip that
points the wrong way. A reference without a direction is never scored."""

SilentPolicy = Literal["exclude", "worst"]
"""How clips whose generated audio has no direction count in the direction errors:
``"exclude"`` leaves them out of the mean and median (they are still counted), ``"worst"``
scores them :data:`WITHOUT_DIRECTION_ERROR` (π)."""

ERROR_NAMES = ("theta", "phi", "angular")


# --- the paper's direction errors --------------------------------------------------------------

def has_direction(foa: Any) -> torch.Tensor:
    """Boolean tensor of the batch shape: does each clip have a whole-clip direction?

    False for silent clips and clips with no directional component (W only), exactly where
    :func:`swansphere.spatial.direction` refuses to answer.
    """
    foa = validate_foa(foa)
    try:
        direction(foa)
        return torch.ones(foa.shape[:-2], dtype=torch.bool)
    except AudioFormatError:
        if foa.ndim == 2:
            return torch.tensor(False)
    flat = foa.reshape(-1, *foa.shape[-2:])
    return torch.stack([has_direction(clip) for clip in flat]).reshape(foa.shape[:-2])


def clip_direction_errors(reference: Any, generated: Any) -> dict[str, torch.Tensor]:
    """Per-clip Δθ, Δφ, Δangular (radians, float64) of ``(..., 4, n)`` clips, batched.

    Batch shapes broadcast and lengths may differ. Clips where either side has no direction
    get NaN errors; ``reference_has_direction`` and ``generated_has_direction`` (booleans) say
    which side, so :func:`aggregate_direction_errors` can count them.
    """
    try:
        errors = angular_errors(reference, generated)
        every = torch.ones(errors["angular"].shape, dtype=torch.bool)
        return errors | {"reference_has_direction": every,
                         "generated_has_direction": every.clone()}
    except AudioFormatError:
        pass  # a bad input raises again below; otherwise some clip has no direction
    reference = validate_foa(reference, name="reference audio")
    generated = validate_foa(generated, name="generated audio")
    shape = torch.broadcast_shapes(reference.shape[:-2], generated.shape[:-2])
    reference = reference.expand(*shape, *reference.shape[-2:])
    generated = generated.expand(*shape, *generated.shape[-2:])
    ref_ok, gen_ok = has_direction(reference), has_direction(generated)
    both = ref_ok & gen_ok
    errors = {name: torch.full(shape, math.nan, dtype=torch.float64) for name in ERROR_NAMES}
    if bool(both.any()):
        scored = angular_errors(reference[both], generated[both])
        for name in ERROR_NAMES:
            errors[name][both] = scored[name]
    return errors | {"reference_has_direction": ref_ok, "generated_has_direction": gen_ok}


def worst_case_direction_errors(reference: Any, generated: Any) -> dict[str, torch.Tensor]:
    """Per-clip Δθ, Δφ, Δangular (radians, float64) where one number must stand for every
    clip: :data:`WITHOUT_DIRECTION_ERROR` (π) where the generated clip has no direction, NaN
    only where the reference has none (nothing to compare with). Arguments as
    :func:`clip_direction_errors`."""
    errors = clip_direction_errors(reference, generated)
    missing = errors["reference_has_direction"] & ~errors["generated_has_direction"]
    return {name: errors[name].masked_fill(missing, WITHOUT_DIRECTION_ERROR)
            for name in ERROR_NAMES}


def aggregate_direction_errors(errors: dict[str, torch.Tensor],
                               silent: SilentPolicy = "exclude") -> dict[str, Any]:
    """Mean and median Δθ, Δφ, Δangular over clips, from :func:`clip_direction_errors`.

    Clips whose reference has no direction are never scored (nothing to compare with). Clips
    whose generated audio has no direction follow ``silent`` (see :data:`SilentPolicy`).
    Returns ``theta_mean``, ``theta_median``, ... (NaN when no clip is scored), ``scored``,
    ``reference_without_direction`` and ``generated_without_direction``.
    """
    if silent not in ("exclude", "worst"):
        raise ConfigError(f"silent must be 'exclude' or 'worst', got {silent!r}")
    ref_ok = errors["reference_has_direction"].reshape(-1)
    gen_ok = errors["generated_has_direction"].reshape(-1)
    keep = ref_ok & (gen_ok | (silent == "worst"))
    summary: dict[str, Any] = {}
    for name in ERROR_NAMES:
        values = errors[name].reshape(-1).clone()
        values[ref_ok & ~gen_ok] = WITHOUT_DIRECTION_ERROR
        summary |= summarize(values[keep], prefix=name)
    return summary | {"scored": int(keep.sum()),
                      "reference_without_direction": int((~ref_ok).sum()),
                      "generated_without_direction": int((ref_ok & ~gen_ok).sum())}


def summarize(values: torch.Tensor, prefix: str) -> dict[str, float]:
    """``{prefix}_mean`` and ``{prefix}_median`` of the finite values (NaN if there are none)."""
    finite = values[torch.isfinite(values)].to(torch.float64)
    if finite.numel() == 0:
        return {f"{prefix}_mean": math.nan, f"{prefix}_median": math.nan}
    # torch.median returns the lower middle value; the usual median averages the two middles
    middle = finite.sort().values[[(finite.numel() - 1) // 2, finite.numel() // 2]]
    return {f"{prefix}_mean": float(finite.mean()), f"{prefix}_median": float(middle.mean())}


# --- spherical energy maps -------------------------------------------------------------------

def solid_angle_weights(width: int, height: int) -> torch.Tensor:
    """``(height, width)`` weights proportional to each ERP pixel's solid angle, summing to 1."""
    _, elevation = erp_grid(width, height)
    weights = torch.cos(degrees_to_radians(elevation))
    return weights / weights.sum()


def energy_map_correlation(reference: Any, generated: Any, *, width: int = 64, height: int = 32,
                           pattern: str = "cardioid", solid_angle: bool = True) -> torch.Tensor:
    """Pearson correlation of the two clips' spherical energy maps, per clip (float64).

    Maps are :func:`swansphere.spatial.energy_map` panoramas (mean beam power towards every
    pixel). With ``solid_angle`` (the default) each pixel is weighted by cos(elevation), its
    share of the sphere; otherwise all pixels count alike. A flat map (silence, W only) has
    no spatial pattern to correlate: its clips give NaN.
    """
    ref_map = energy_map(validate_foa(reference, name="reference audio"), width, height, pattern)
    gen_map = energy_map(validate_foa(generated, name="generated audio"), width, height, pattern)
    ref_map, gen_map = torch.broadcast_tensors(ref_map.to(torch.float64),
                                               gen_map.to(torch.float64))
    weights = (solid_angle_weights(width, height) if solid_angle
               else torch.full((height, width), 1.0 / (width * height), dtype=torch.float64))
    weights = weights.to(ref_map.device)

    def centred(values: torch.Tensor) -> torch.Tensor:
        return values - (weights * values).sum(dim=(-2, -1), keepdim=True)

    ref_c, gen_c = centred(ref_map), centred(gen_map)
    covariance = (weights * ref_c * gen_c).sum(dim=(-2, -1))
    ref_var = (weights * ref_c.square()).sum(dim=(-2, -1))
    gen_var = (weights * gen_c.square()).sum(dim=(-2, -1))
    flat = _flat(ref_var, ref_map) | _flat(gen_var, gen_map)
    correlation = covariance / torch.sqrt(ref_var * gen_var).clamp_min(1e-300)
    return torch.where(flat, math.nan, correlation.clamp(-1.0, 1.0))


def _flat(variance: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Maps whose variation is at the level of rounding (relative to their mean power)."""
    level = maps.abs().amax(dim=(-2, -1))
    return variance <= (1e-9 * level).square()


# --- angles ------------------------------------------------------------------------------------

def angle_between(azimuth: Any, elevation: Any, target_azimuth: Any,
                  target_elevation: Any) -> torch.Tensor:
    """Great-circle angle in degrees (float64) between directions given in degrees."""
    first = unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation))
    second = unit_vectors(degrees_to_radians(target_azimuth),
                          degrees_to_radians(target_elevation))
    first, second = torch.broadcast_tensors(first, second)
    cross = torch.linalg.cross(first, second).norm(dim=-1)
    return torch.rad2deg(torch.atan2(cross, (first * second).sum(dim=-1)))
