"""Metrics for generated FOA: direction errors, energy-map correlation, Fréchet distance, and
direction accuracy against a prompt or a scene.

* The paper's Δθ, Δφ, Δangular (radians) come from :func:`swansphere.spatial.angular_errors`;
  this module adds what a benchmark needs around them: clips without a direction (silence,
  W only) become NaN instead of voiding a batch, and aggregation says how they count.
* Energy maps are :func:`swansphere.spatial.energy_map` panoramas; their Pearson correlation
  is weighted by the solid angle of each ERP pixel (cos(elevation)) so the poles, drawn as wide
  as the equator, do not count more than they cover.
* The Fréchet distance compares Gaussian fits of two embedding sets (float64, no scipy: an
  eigenvalue-based matrix square root, or an exact sample-space form for small sets).
* Direction accuracy compares the generated clip's direction with a target from the scene's
  ground truth or parsed from the prompt (:func:`prompt_direction`), in the caption vocabulary
  of :mod:`swansphere.data.captions`.

See ``docs/evaluation.md`` for the formulas. Angles at this API are degrees except the paper's
Δ errors, which the paper reports in radians.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Any, Literal

import torch

from swansphere.data.captions import (
    ELEVATION_DEGREES,
    OVERHEAD_DEGREES,
    horizontal_words,
    position_words,
)
from swansphere.errors import AudioFormatError, ConfigError, SwanSphereError
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
DEFAULT_TOLERANCE_DEGREES = 30.0
"""Cone half-angle for direction accuracy: a caption sector is 45° wide, so a source anywhere
inside the sector a prompt names lies within about 30° of the sector centre (near the horizon)."""


class NotEnoughSamplesError(SwanSphereError, ValueError):
    """Too few embeddings to fit a Gaussian for the Fréchet distance."""


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


# --- Fréchet distance ------------------------------------------------------------------------

def _samples(embeddings: Any) -> torch.Tensor:
    """``(n, d)`` float64 embeddings, checked: 2-D, at least 2 rows, finite."""
    data = torch.as_tensor(embeddings).to(torch.float64)
    if data.ndim != 2:
        raise NotEnoughSamplesError(f"embeddings must have shape (samples, dim); got "
                                    f"{tuple(data.shape)}")
    if data.shape[0] < 2:
        raise NotEnoughSamplesError(
            f"the Fréchet distance needs at least 2 embeddings per set to fit a covariance; got "
            f"{data.shape[0]}: evaluate more (or longer) clips")
    if not bool(torch.isfinite(data).all()):
        raise NotEnoughSamplesError("embeddings contain NaN or infinite values")
    return data


def gaussian_fit(embeddings: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(d,)`` and unbiased covariance ``(d, d)`` (float64) of ``(n, d)`` embeddings."""
    data = _samples(embeddings)
    centred = data - data.mean(dim=0)
    return data.mean(dim=0), centred.T @ centred / (data.shape[0] - 1)


def frechet_distance(first: Any, second: Any) -> float:
    """Fréchet distance between Gaussian fits of two embedding sets ``(n1, d)``, ``(n2, d)``.

    Raises :class:`NotEnoughSamplesError` for fewer than 2 embeddings in a set. With fewer
    samples than dimensions the covariances are rank-deficient; the distance is still defined
    (nothing is inverted) but biased upwards, so compare figures only at equal sample counts.
    Small sets take the cheaper, equivalent sample-space route (:func:`_frechet_from_samples`).
    """
    first, second = _samples(first), _samples(second)
    if first.shape[1] != second.shape[1]:
        raise NotEnoughSamplesError(f"embedding sizes differ: {first.shape[1]} and "
                                    f"{second.shape[1]}")
    rows1, rows2 = first.shape[0], second.shape[0]
    if rows1 * rows2 * min(rows1, rows2) < first.shape[1] ** 3:
        return _frechet_from_samples(first, second)
    return frechet_distance_from_stats(*gaussian_fit(first), *gaussian_fit(second))


def _frechet_from_samples(first: torch.Tensor, second: torch.Tensor) -> float:
    """The same distance from the centred data matrices A1 ``(n1, d)`` and A2 ``(n2, d)``.

    With Σi = AiᵀAi / (ni − 1): tr Σi = ‖Ai‖²_F / (ni − 1), and the nonzero eigenvalues of
    Σ1Σ2 are those of MMᵀ / ((n1 − 1)(n2 − 1)) with M = A1A2ᵀ, so ``tr((Σ1Σ2)^½)`` is M's
    nuclear norm over √((n1 − 1)(n2 − 1)): one SVD of an n1 × n2 matrix instead of two
    d × d eigendecompositions.
    """
    scale1, scale2 = first.shape[0] - 1, second.shape[0] - 1
    centred1, centred2 = first - first.mean(dim=0), second - second.mean(dim=0)
    trace_root = torch.linalg.svdvals(centred1 @ centred2.T).sum() / math.sqrt(scale1 * scale2)
    distance = ((first.mean(dim=0) - second.mean(dim=0)).square().sum()
                + centred1.square().sum() / scale1 + centred2.square().sum() / scale2
                - 2 * trace_root)
    return max(float(distance), 0.0)


def frechet_distance_from_stats(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor,
                                cov2: torch.Tensor) -> float:
    """``|μ1 − μ2|² + tr(Σ1) + tr(Σ2) − 2 tr((Σ1^½ Σ2 Σ1^½)^½)``, in float64.

    ``tr((Σ1 Σ2)^½)`` equals the trace of the square root of the symmetric PSD matrix
    ``Σ1^½ Σ2 Σ1^½``, whose eigenvalues an ``eigh`` finds stably; tiny negative eigenvalues
    from rounding are clamped to 0, and so is a result that rounds below zero.
    """
    mean1, mean2, cov1, cov2 = (t.to(torch.float64) for t in (mean1, mean2, cov1, cov2))
    root1 = _psd_sqrt(cov1)
    inner = root1 @ cov2 @ root1
    eigenvalues = torch.linalg.eigvalsh(0.5 * (inner + inner.T)).clamp_min(0.0)
    trace_root = eigenvalues.sqrt().sum()
    distance = (mean1 - mean2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root
    return max(float(distance), 0.0)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, vectors = torch.linalg.eigh(0.5 * (matrix + matrix.T))
    return (vectors * eigenvalues.clamp_min(0.0).sqrt()) @ vectors.T


# --- direction accuracy ----------------------------------------------------------------------

def angle_between(azimuth: Any, elevation: Any, target_azimuth: Any,
                  target_elevation: Any) -> torch.Tensor:
    """Great-circle angle in degrees (float64) between directions given in degrees."""
    first = unit_vectors(degrees_to_radians(azimuth), degrees_to_radians(elevation))
    second = unit_vectors(degrees_to_radians(target_azimuth),
                          degrees_to_radians(target_elevation))
    first, second = torch.broadcast_tensors(first, second)
    cross = torch.linalg.cross(first, second).norm(dim=-1)
    return torch.rad2deg(torch.atan2(cross, (first * second).sum(dim=-1)))


def same_sector(azimuth: float, elevation: float, target_azimuth: float,
                target_elevation: float) -> bool:
    """Do both directions fall in the same caption sector?

    Near the horizon that is one of the eight 45° azimuth sectors of
    :func:`swansphere.data.captions.horizontal_words`; a target in a polar cap (beyond
    ``OVERHEAD_DEGREES``, where captions say only "overhead"/"below") needs the same cap.
    """
    if abs(target_elevation) > OVERHEAD_DEGREES:
        return elevation * target_elevation > 0 and abs(elevation) > OVERHEAD_DEGREES
    if abs(elevation) > OVERHEAD_DEGREES:
        return False
    return horizontal_words(azimuth) == horizontal_words(target_azimuth)


def direction_accuracy(azimuth: Any, elevation: Any, target_azimuth: Any, target_elevation: Any,
                       *, tolerance: float = DEFAULT_TOLERANCE_DEGREES) -> dict[str, torch.Tensor]:
    """Per-clip agreement of generated directions with targets (all degrees, 1-D inputs).

    Returns ``error`` (great-circle degrees), ``within_cone`` (error ≤ ``tolerance``),
    ``same_sector`` (:func:`same_sector`) and ``same_words`` (the caption would use the same
    position words, :func:`swansphere.data.captions.position_words`, vertical part included).
    """
    values = [torch.as_tensor(v, dtype=torch.float64).reshape(-1)
              for v in (azimuth, elevation, target_azimuth, target_elevation)]
    values = torch.broadcast_tensors(*values)
    error = angle_between(*values)
    rows = list(zip(*(v.tolist() for v in values), strict=True))
    return {
        "error": error,
        "within_cone": error <= tolerance,
        "same_sector": torch.tensor([same_sector(*row) for row in rows], dtype=torch.bool),
        "same_words": torch.tensor([position_words(*row[:2]) == position_words(*row[2:])
                                    for row in rows], dtype=torch.bool),
    }


# --- directions stated by a prompt -----------------------------------------------------------

_VERTICAL_DEGREES = (ELEVATION_DEGREES + OVERHEAD_DEGREES) / 2
"""Elevation of "above"/"below" next to a horizontal phrase: the middle of the band where the
captioner adds those words."""

_ENDPOINT = (r"(?:(?:the|your|my)\s+)?(?:front|back|rear|left|right)|behind(?:\s+(?:you|me))?"
             r"|in\s+front(?:\s+of\s+(?:you|me))?")
_MOTION = re.compile(
    r"\b(?:moving|heading|drifting)\s+(?:to\s+the\s+)?(?:front|back|left|right|up|down)\b"
    rf"|\bfrom\s+(?:{_ENDPOINT})\s+(?:over\s+)?to\s+(?:{_ENDPOINT})\b")
"""Motion clauses ("moving left", "heading right", "from left to right", "from behind you to
the front"; :func:`swansphere.data.captions.natural_caption`): not a position."""

_LISTENER = r"(?:you|your\s+head|my\s+head|the\s+listener|us|me)"
_SYNONYMS = tuple((re.compile(pattern), replacement) for pattern, replacement in (
    (r"\b(?:off|directly|straight)\s+(?=(?:to|on|in|at|behind)\b)", ""),
    (r"\b(?:to\s+the\s+)?(?:front|forward)[- ](left|right)\b", r"in front on the \1"),
    (r"\b(left|right)[- ]front\b", r"in front on the \1"),
    (r"\b(?:to\s+the\s+)?(?:back|rear)[- ](left|right)\b", r"behind on the \1"),
    (r"\b(left|right)[- ](?:back|rear)\b", r"behind on the \1"),
    (r"\b(?:to|from|at|on)\s+(?:the|your|its|my)\s+(left|right)(?:[- ]hand)?(?:\s+side)?\b",
     r"on the \1"),
    (rf"\bin\s+front\s+of\s+{_LISTENER}\b|\b(?:(?:straight|dead)\s+)?ahead\b|\bfrom\s+the\s+front\b",
     "in front"),
    (rf"\bbehind\s+{_LISTENER}\b|\bfrom\s+behind\b|\b(?:at|in|to|from)\s+the\s+(?:back|rear)\b"
     r"|\bat\s+(?:your|my)\s+back\b",
     "behind"),
    (r"\b(in\s+front|behind)\s*,?\s+(?:and\s+)?on\s+the\s+(left|right)\b", r"\1 on the \2"),
    (rf"\b(?:directly|straight)\s+(?:above|overhead)\b|\bstraight\s+up\b|\bup\s+above\b"
     rf"|\babove\s+{_LISTENER}\b|\bfrom\s+above\b|\bover\s+(?:your|my)\s+head\b",
     "overhead"),
    (rf"\bdirectly\s+below\b|\bunderneath\b|\bbeneath\b|\b(?:below|under)\s+{_LISTENER}\b"
     r"|\bfrom\s+below\b|\bunder\s+(?:your|my)\s+feet\b|\bunderfoot\b", "below"),
    (r"(?<!-)\b(?:high\s+up|up\s+high)\b", "above"),  # not "a power-up high ..."
    (r"(?<!-)\b(?:low\s+down|down\s+low)\b", "below"),
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
    horizontal = "|".join(re.escape(phrase) for phrase in phrases)
    return re.compile(
        rf"\b(?:(?P<before>above|below)\s*,?\s+(?:and\s+)?)?(?P<horizontal>{horizontal})\b"
        rf"(?:\s*,?\s+(?:and\s+)?(?P<after>above|below)\b)?"
        rf"|\b(?P<overhead>overhead)\b|\b(?P<vertical>above|below)\b")


def _normalise(text: str) -> str:
    text = " ".join(text.lower().split())
    text = _MOTION.sub(" ", text)
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    return text


def prompt_directions(text: str) -> list[tuple[float, float]]:
    """Every position a text states, in order, as (azimuth, elevation) degrees.

    Reads the caption vocabulary of :mod:`swansphere.data.captions` ("on the left", "behind
    on the right", "above and in front", "overhead", "below", ...) plus common paraphrases
    ("to your left", "on my right", "front-left", "behind you", "directly above", "high up",
    "low down", "under your feet"). A horizontal phrase gives
    its sector centre at elevation 0, or ±45° (the middle of the band the captioner calls
    "above"/"below") when "above"/"below" goes with it; "overhead", a bare "above" and a bare
    "below" give the poles. Motion clauses ("moving left", "from left to right") are not
    positions and are ignored.
    """
    found = []
    for match in _position_pattern().finditer(_normalise(text)):
        if match["horizontal"]:
            vertical = match["before"] or match["after"]
            elevation = {None: 0.0, "above": _VERTICAL_DEGREES,
                         "below": -_VERTICAL_DEGREES}[vertical]
            found.append((_horizontal_azimuths()[match["horizontal"]], elevation))
        elif match["overhead"] or match["vertical"] == "above":
            found.append((0.0, 90.0))
        else:
            found.append((0.0, -90.0))
    return found


def prompt_direction(text: str) -> tuple[float, float] | None:
    """The one position a text states, as (azimuth, elevation) degrees, else ``None``.

    ``None`` when the text states no position or several different ones (a scene with many
    sources has no single direction to score a whole-clip direction against).
    """
    distinct = sorted(set(prompt_directions(text)))
    return distinct[0] if len(distinct) == 1 else None
