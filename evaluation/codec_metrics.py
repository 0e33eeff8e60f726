"""How well a codec's round trip keeps the signal and the space.

- per-channel SI-SDR (dB) between input and reconstruction, for W, Y, Z and X (energies
  pooled over clips, so near-silent channels do not dominate);
- the paper's direction errors (Δθ, Δφ, Δangular, radians) between the whole-clip intensity
  directions of input and reconstruction, through :func:`swansphere.spatial.angular_errors`.
"""

from __future__ import annotations

from typing import Any

import torch

from swansphere.errors import AudioFormatError

ACN_NAMES = ("W", "Y", "Z", "X")
EPS = 1e-12


def _projection(reference: torch.Tensor, estimate: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Target and noise parts of ``estimate`` (zero-mean, trimmed to the common length)."""
    length = min(reference.shape[-1], estimate.shape[-1])
    ref = reference[..., :length].to(torch.float64)
    est = estimate[..., :length].to(torch.float64)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    est = est - est.mean(dim=-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / ref.square().sum(-1, keepdim=True).clamp_min(EPS)
    target = scale * ref
    return target, est - target


def si_sdr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB along the last axis (zero-mean), shape ``reference.shape[:-1]``.

    ``10 log10(|a·s|² / |a·s − ŝ|²)`` with ``a = <ŝ, s> / |s|²``; the longer signal is trimmed.
    """
    target, noise = _projection(reference, estimate)
    ratio = target.square().sum(-1).clamp_min(EPS) / noise.square().sum(-1).clamp_min(EPS)
    return 10.0 * torch.log10(ratio)


def pooled_si_sdr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Per-channel SI-SDR of ``(clips, channels, n)`` with energies summed over the clips.

    Each clip keeps its own optimal scale, but target and noise energies are pooled before
    the ratio, so a clip whose channel is almost silent (Z of a source on the horizon) weighs
    by its energy instead of dominating a mean of decibels. Shape ``(channels,)``.
    """
    target, noise = _projection(reference, estimate)
    ratio = (target.square().sum(dim=(0, -1)).clamp_min(EPS)
             / noise.square().sum(dim=(0, -1)).clamp_min(EPS))
    return 10.0 * torch.log10(ratio)


def direction_errors(reference: torch.Tensor, estimate: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-clip Δθ, Δφ, Δangular (radians) for ``(batch, 4, n)`` clips; NaN where a clip has no
    direction (silent or omnidirectional), so one such clip does not void the batch."""
    from swansphere.spatial import angular_errors

    length = min(reference.shape[-1], estimate.shape[-1])
    rows = []
    for ref, est in zip(reference[..., :length], estimate[..., :length], strict=True):
        try:
            rows.append({k: float(v) for k, v in angular_errors(ref, est).items()})
        except AudioFormatError:
            rows.append({"theta": float("nan"), "phi": float("nan"), "angular": float("nan")})
    return {key: torch.tensor([row[key] for row in rows], dtype=torch.float64)
            for key in ("theta", "phi", "angular")}


def reconstruction_metrics(reference: torch.Tensor, estimate: torch.Tensor) -> dict[str, Any]:
    """Per-channel SI-SDR pooled over the batch (``si_sdr_W`` ... ``si_sdr_X``, their mean
    ``si_sdr``; see :func:`pooled_si_sdr`) and mean direction errors (``delta_theta``,
    ``delta_phi``, ``delta_angular``, radians) over a batch of ``(clips, 4, n)``."""
    per_channel = pooled_si_sdr(reference, estimate)
    metrics: dict[str, Any] = {f"si_sdr_{name}": float(value)
                               for name, value in zip(ACN_NAMES, per_channel, strict=True)}
    metrics["si_sdr"] = float(per_channel.mean())
    errors = direction_errors(reference, estimate)
    for key in ("theta", "phi", "angular"):
        metrics[f"delta_{key}"] = float(errors[key].nanmean())
    return metrics


def round_trip(codec: Any, audio: torch.Tensor) -> torch.Tensor:
    """Offline encode + decode, aligned with ``audio``: the codec's ``delay`` (samples the
    decoded audio lags by, 0 if it declares none) is cut from the front, so sample ``i`` of
    the result reconstructs ``audio[..., i]``. Shorter than ``audio`` by the dropped partial
    hop and the delay; callers trim the reference to the result's length."""
    with torch.no_grad():
        return codec.decode(codec.encode(audio))[..., getattr(codec, "delay", 0):]
