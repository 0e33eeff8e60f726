"""Reconstruction losses that keep space: per-channel spectra, sound-field direction, KL.

- :func:`multi_resolution_stft_loss` compares magnitude spectra of every ACN channel at several
  resolutions (spectral convergence plus log-magnitude L1), so each channel's timbre survives.
- :func:`spatial_intensity_loss` compares the normalised active-intensity vector of every
  time-frequency tile. For SN3D FOA, ``Re(W* · [X, Y, Z]) / (½(|W|² + |X|² + |Y|² + |Z|²))``
  is the unit direction of arrival for a plane wave and shrinks toward 0 as the field becomes
  diffuse; matching it tile by tile (weighted by energy) keeps both direction and diffuseness.
  Per-channel spectra alone do not: a sign flip of X has the same spectra.
- :func:`relative_waveform_loss` ties the phase (the waveform) that spectra leave free.
- :func:`kl_divergence` is the VAE prior term, KL(q(z|x) || N(0, I)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

EPS = 1e-7
LOG_FLOOR = 1e-5  # magnitudes below this (about -100 dB) count as silence in the log term
ACN_W, ACN_Y, ACN_Z, ACN_X = 0, 1, 2, 3


def stft_magnitude(audio: torch.Tensor, fft_size: int, hop: int) -> torch.Tensor:
    """Magnitude STFT of every channel: ``(..., n)`` -> ``(..., fft_size // 2 + 1, frames)``."""
    return stft(audio, fft_size, hop).abs()


def stft(audio: torch.Tensor, fft_size: int, hop: int) -> torch.Tensor:
    """Complex STFT (Hann window) of every channel of ``(..., n)``."""
    flat = audio.reshape(-1, audio.shape[-1])
    window = torch.hann_window(fft_size, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(flat, fft_size, hop, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    return spec.reshape(*audio.shape[:-1], *spec.shape[-2:])


def multi_resolution_stft_loss(reference: torch.Tensor, estimate: torch.Tensor,
                               fft_sizes: Sequence[int] = (1024, 512, 256, 128, 64),
                               floor: float = 0.05) -> torch.Tensor:
    """Mean over resolutions and ACN channels of spectral convergence + log-magnitude L1.

    Each channel is its own signal here (``(batch, 4, n)`` -> 4 spectra per item), so a quiet
    Z channel weighs as much as W. The convergence denominator has a floor of ``floor`` times
    the batch's mean spectral norm, so a near-silent crop cannot blow the loss up.
    """
    total = reference.new_zeros(())
    for fft_size in fft_sizes:
        ref = stft_magnitude(reference, fft_size, fft_size // 4)
        est = stft_magnitude(estimate, fft_size, fft_size // 4)
        ref_norm = torch.linalg.vector_norm(ref, dim=(-2, -1))
        scale = ref_norm + floor * ref_norm.mean().detach() + EPS
        convergence = torch.linalg.vector_norm(ref - est, dim=(-2, -1)) / scale
        log_l1 = (torch.log(ref.clamp_min(LOG_FLOOR))
                  - torch.log(est.clamp_min(LOG_FLOOR))).abs().mean(dim=(-2, -1))
        total = total + (convergence + log_l1).mean()
    return total / len(fft_sizes)


def normalised_intensity(spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised active intensity ``(..., 3, F, T)`` (x, y, z) and energy ``(..., F, T)``.

    ``spec`` is the complex STFT of an AmbiX signal, ``(..., 4, F, T)`` in ACN order.
    """
    w = spec[..., ACN_W, :, :]
    velocity = torch.stack([spec[..., ACN_X, :, :], spec[..., ACN_Y, :, :],
                            spec[..., ACN_Z, :, :]], dim=-3)
    intensity = (w.conj().unsqueeze(-3) * velocity).real
    energy = 0.5 * (w.abs().square() + velocity.abs().square().sum(dim=-3))
    return intensity / energy.unsqueeze(-3).clamp_min(EPS), energy


def spatial_intensity_loss(reference: torch.Tensor, estimate: torch.Tensor,
                           fft_size: int = 512) -> torch.Tensor:
    """Energy-weighted squared distance between normalised intensity vectors per TF tile.

    0 for identical sound fields; up to 4 for a plane wave sent to the opposite direction.
    The weights are the reference energy (normalised per item), so silent tiles, whose
    direction is noise, do not count.
    """
    ref_intensity, energy = normalised_intensity(stft(reference, fft_size, fft_size // 4))
    est_intensity, _ = normalised_intensity(stft(estimate, fft_size, fft_size // 4))
    distance = (ref_intensity - est_intensity).square().sum(dim=-3)
    weights = energy / energy.sum(dim=(-2, -1), keepdim=True).clamp_min(EPS)
    return (weights * distance).sum(dim=(-2, -1)).mean()


def relative_waveform_loss(reference: torch.Tensor, estimate: torch.Tensor,
                           floor: float = 0.05) -> torch.Tensor:
    """Squared waveform error relative to the reference energy, per item and ACN channel.

    Spectral losses leave the phase free, so alone they let SI-SDR stay near zero correlation;
    this term ties the waveform, and with it the inter-channel phase that carries direction.
    Normalising per channel makes it gain-invariant and lets a quiet Z channel count as much
    as W; a floor of ``floor`` times the batch's mean channel energy keeps near-silent crops
    from exploding the ratio.
    """
    error = (estimate - reference).square().sum(dim=-1)
    energy = reference.square().sum(dim=-1)
    return (error / (energy + floor * energy.mean().detach() + EPS)).mean()


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), summed over latent dims, mean over frames/batch."""
    per_dim = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar)
    return per_dim.sum(dim=-1).mean()
