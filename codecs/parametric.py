"""``foa-parametric``: a transform codec that keeps what a sound is and where it is.

Each hop of the four AmbiX channels goes through a modified discrete cosine transform (MDCT,
sine window of two hops, 50 % overlap: an orthogonal lapped transform). A latent frame holds:

- **low**: the omni (W) channel's first ``low_bins`` MDCT coefficients, exactly (0–1.5 kHz in
  the default: pitch, harmonics, onsets); or, with ``low_band = "power"``, each of those
  bins' log power (the squares of the MDCT and of the sine transform on the same window,
  averaged: steady for a steady tone, whatever its phase), so a model generates powers
  instead of a waveform's signs. The decoder gives the powers phases that continue the
  tones they describe (:func:`locked_phases`);
- **envelope**: W's log mean power in ``envelope_bands`` mel-spaced bands above them. The
  decoder fills each band with the upper half of the low band, copied up and scaled to that
  power (spectral band replication), plus a little deterministic noise so a band whose copy
  source is silent (a hi-hat over a quiet low band) still sounds;
- **direction** and **diffuseness** per ``direction_bands`` mel-spaced bands over the whole
  spectrum (DirAC-style): ``d = Σ W·(Y, Z, X) / Σ W²`` (the unit direction of a plane wave,
  shorter for mixed or diffuse sound) and ``a = √(Σ(Y² + Z² + X²) / Σ W² − |d|²)``, the
  first-order energy that ``d`` does not explain. The decoder rebuilds each first-order
  channel as ``d·W`` plus ``a/√3`` times a decorrelated copy of W made orthogonal to W and to
  the other two copies in every band and frame, so the cross products W·(Y, Z, X) (the
  intensity) and the first-order energies come back as they were.

A plane wave therefore keeps its direction exactly, and the whole-clip intensity direction
of any scene survives up to the high-band resynthesis. The transform is orthogonal, so
Parseval holds frame by frame and band sums in the MDCT domain are energies in time.

Latents are standardised per dimension with ``latent_mean`` / ``latent_std``, statistics
fitted on training scenes (``swansphere train`` with ``task = "codec-fit"``) and saved as
the codec's weights; an unfitted codec uses 0 and 1.

Streaming: latent frame ``k`` analyses samples ``[(k − 1)·hop, (k + 1)·hop)``, which have all
arrived when hop ``k`` ends (encoder lookahead 0). Decoding frame ``k`` completes the
overlap-add of samples ``[(k − 1)·hop, k·hop)`` from frames ``k − 1`` and ``k`` (decoder
lookahead 0), so the round trip lags the input by one hop: :attr:`delay` = ``hop_length``
samples (16 ms at 16 kHz).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from swansphere.errors import AudioFormatError

from .base import CodecInfo, check_audio, check_latents
from .config import FoaParametricConfig

FOA_CHANNELS = 4
POWER_FLOOR = 1e-10
"""Added to a band's mean power per MDCT bin before the log (about −100 dB): the code of
silence."""
NOISE_SHARE = 0.1
"""Amplitude of the deterministic noise added to the copied-up high band, relative to the
copy's RMS: about 1 % of the band's power, and all of it when the copy source is silent."""
MAX_AMPLITUDE = 10.0
"""The loudest audio the decoder reproduces, 20 dB over full scale: a frame holding more energy
than audio within ±10 can is scaled down to it (``_within_amplitude``)."""
DECORRELATION_SEED = 20_260_604
DIRECTION_BAND_MIN_WIDTH = 4
"""W and its three decorrelated copies need four orthogonal directions in every band."""
DecodeState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def mdct_basis(hop: int, transform: str = "cosine") -> torch.Tensor:
    """``(2·hop, hop)`` sine-windowed MDCT analysis matrix; its transpose synthesises.

    With 50 % overlap-add the transform is orthogonal (Princen–Bradley), so analysis then
    synthesis reconstructs exactly, one hop late. ``transform = "sine"`` gives the modified
    discrete sine transform on the same windows: with the MDCT, a complex (MCLT) spectrum
    whose power does not swing with a tone's phase.
    """
    n = torch.arange(2 * hop, dtype=torch.float64)[:, None]
    k = torch.arange(hop, dtype=torch.float64)[None, :]
    window = torch.sin(math.pi * (n + 0.5) / (2 * hop))
    kernel = torch.cos if transform == "cosine" else torch.sin
    waves = kernel(math.pi / hop * (n + 0.5 + hop / 2) * (k + 0.5))
    return (window * waves * math.sqrt(2.0 / hop)).to(torch.float32)


def mel_band_edges(start: int, stop: int, count: int, sample_rate: int, hop: int,
                   min_width: int = 1) -> list[int]:
    """``count + 1`` increasing MDCT bin edges from ``start`` to ``stop``, mel-spaced,
    every band at least ``min_width`` bins wide (the config checks that this fits)."""
    bin_hz = sample_rate / (2 * hop)
    low, high = (2595 * math.log10(1 + start * bin_hz / 700),
                 2595 * math.log10(1 + stop * bin_hz / 700))
    mels = np.linspace(low, high, count + 1)
    edges = np.round(700 * (10 ** (mels / 2595) - 1) / bin_hz).astype(int)
    edges[0], edges[-1] = start, stop
    for i in range(1, count + 1):
        edges[i] = max(edges[i], edges[i - 1] + min_width)
    for i in range(count - 1, 0, -1):  # keep the top edge at ``stop``
        edges[i] = min(edges[i], edges[i + 1] - min_width)
    return edges.tolist()


def _membership(edges: list[int], bins: int) -> torch.Tensor:
    """``(bins, bands)`` 0/1 matrix: ``x @ m`` sums each band, ``y @ m.T`` spreads back."""
    matrix = torch.zeros(bins, len(edges) - 1)
    for band, (low, high) in enumerate(itertools.pairwise(edges)):
        matrix[low:high, band] = 1.0
    return matrix


def _hash_signs(frames: torch.Tensor, bins: int) -> torch.Tensor:
    """``(len(frames), bins)`` pseudo-random ±1 from an integer hash of (frame, bin):
    the same for a frame however a stream is cut into chunks."""
    k = torch.arange(bins, dtype=torch.int64, device=frames.device)
    x = frames[:, None] * 0x9E3779B1 + k[None, :] * 0x85EBCA77 + 0x27D4EB2F
    x = x ^ (x >> 15)
    x = x * 0x2C1B3C6D
    x = x ^ (x >> 12)
    x = x * 0x297A2D39
    x = x ^ (x >> 15)
    return ((x >> 7) & 1).to(torch.float32) * 2.0 - 1.0


def _peak_offsets(log_power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Local maxima of ``(..., bins)`` log powers, and for every bin the offset ``δ`` in
    ``[-½, ½]`` of the tone it would be the peak of.

    A sine-windowed MCLT sees a tone ``δ`` bins above bin ``k`` with magnitudes
    ``∝ |cos(πd) / (1 − 4d²)|`` at distance ``d``, so the larger neighbour's magnitude ratio
    ``r`` gives the offset exactly: ``|δ| = (3r − 1) / (2(1 + r))``, towards that neighbour.
    """
    beyond = torch.full_like(log_power[..., :1], -math.inf)
    left = torch.cat([beyond, log_power[..., :-1]], dim=-1)
    right = torch.cat([log_power[..., 1:], beyond], dim=-1)
    audible = log_power > math.log(10 * POWER_FLOOR)
    peak = (log_power > left) & (log_power >= right) & audible
    towards_right = right > left
    ratio = ((torch.maximum(left, right) - log_power) / 2).exp().clamp(1 / 3, 1.0)
    offset = (3 * ratio - 1) / (2 * (1 + ratio))
    return peak, torch.where(towards_right, offset, -offset)


def _nearest_peaks(peak: torch.Tensor) -> torch.Tensor:
    """For every bin of ``(..., bins)`` the index of the nearest peak (the lower on a tie);
    a frame without peaks owns each bin itself."""
    bins = peak.shape[-1]
    index = torch.arange(bins, device=peak.device).expand_as(peak)
    below = torch.where(peak, index, -2 * bins).cummax(-1).values
    above = torch.where(peak, index, 3 * bins).flip(-1).cummin(-1).values.flip(-1)
    nearest = torch.where(index - below <= above - index, below, above)
    return torch.where((nearest < 0) | (nearest >= bins), index, nearest)


def locked_phases(power: torch.Tensor, phase: torch.Tensor, guide: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """MCLT phases for a low band's ``(batch, frames, bins)`` powers that continue the
    tones the powers describe, and the last frame's phases (the next call's ``phase``).

    Every bin belongs to its nearest spectral peak, a tone at ``p = k + δ``
    (:func:`_peak_offsets`). A tone's phase advances by ``−π(p + ½)`` per hop; within its
    main lobe the bins sit ``−π/2`` apart, and beyond 1.5 bins the window's sidelobes flip
    sign. Each frame continues the phase its peak's bin had in the frame before, so a held
    note decodes to one steady sinusoid, not noise (pseudo-random signs), and a gliding one
    hands its phase from bin to bin (phase locking; Laroche and Dolson, 1999). ``phase``
    ``(batch, bins)`` is the frame before the first. ``guide`` ``(batch, frames, bins)``, where
    not NaN, gives a bin's phase outright (:meth:`FoaParametricCodec.phase_guide`); the
    frames after it continue from it.
    """
    peak, offset = _peak_offsets((power + POWER_FLOOR).log())
    owner = _nearest_peaks(peak)
    distance = torch.arange(power.shape[-1], device=power.device) - owner
    advance = -math.pi * (owner + offset.gather(-1, owner) + 0.5)
    step = (advance - distance * (math.pi / 2) + math.pi * (distance.abs() >= 2)).float()
    guide = guide.to(phase) if guide is not None else None
    phases = []
    for frame in range(power.shape[1]):
        phase = (phase.gather(-1, owner[:, frame]) + step[:, frame]).remainder(2 * math.pi)
        if guide is not None:
            phase = torch.where(guide[:, frame].isnan(), phase, guide[:, frame])
        phases.append(phase)
    return torch.stack(phases, dim=1), phase


class FoaParametricCodec(CodecInfo, nn.Module):
    """MDCT transform codec with copied-up high band and DirAC-style direction parameters.

    Follows :class:`swansphere.protocols.LatentCodec`. States are tuples of tensors, never
    mutated in place, holding one hop of audio at most: a kept reference is a snapshot.
    """

    registered_name = "foa-parametric"

    def __init__(self, config: FoaParametricConfig | None = None) -> None:
        super().__init__()
        self.config = config or FoaParametricConfig()
        hop, rate = self.config.hop_length, self.config.sample_rate
        self.envelope_edges = mel_band_edges(self.config.low_bins, hop,
                                             self.config.envelope_bands, rate, hop)
        self.direction_edges = mel_band_edges(0, hop, self.config.direction_bands, rate, hop,
                                              min_width=DIRECTION_BAND_MIN_WIDTH)
        self.register_buffer("basis", mdct_basis(hop), persistent=False)
        self.register_buffer("sine_basis", mdct_basis(hop, "sine")[:, :self.config.low_bins],
                             persistent=False)
        self.register_buffer("envelope_bands", _membership(self.envelope_edges, hop),
                             persistent=False)
        self.register_buffer("direction_bands", _membership(self.direction_edges, hop),
                             persistent=False)
        self.register_buffer("copy_source", self._copy_source_bins(), persistent=False)
        generator = torch.Generator().manual_seed(DECORRELATION_SEED)
        self.register_buffer("decorrelation_signs",
                             torch.randint(0, 2, (3, hop), generator=generator) * 2.0 - 1.0,
                             persistent=False)
        self.register_buffer("latent_mean", torch.zeros(self.latent_dim))
        self.register_buffer("latent_std", torch.ones(self.latent_dim))

    # ---------------------------------------------------------------- metadata

    @property
    def latent_dim(self) -> int:
        config = self.config
        return config.low_bins + config.envelope_bands + 4 * config.direction_bands

    @property
    def delay(self) -> int:
        """Samples by which ``decode(encode(x))`` lags ``x``: one hop (overlap-add)."""
        return self.hop_length

    # ---------------------------------------------------------------- offline

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio ``(batch, 4, samples)`` -> latents ``(batch, samples // hop, latent_dim)``."""
        check_audio(audio)
        history = audio.new_zeros(audio.shape[0], FOA_CHANNELS, self.hop_length)
        return self.encode_step(audio, history)[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``(batch, frames, latent_dim)`` -> audio ``(batch, 4, frames * hop)``,
        lagging the encoded audio by :attr:`delay` samples."""
        return self.decode_step(latents, self.init_decode_state(latents.shape[0]))[0]

    def parameters_of(self, audio: torch.Tensor) -> torch.Tensor:
        """Unstandardised latents (the coded parameters), for fitting the statistics."""
        return self.encode(audio) * self.latent_std + self.latent_mean

    @torch.no_grad()
    def fit_statistics(self, parameters: torch.Tensor) -> None:
        """Set ``latent_mean`` / ``latent_std`` from ``(..., latent_dim)`` coded parameters
        (:meth:`parameters_of` training scenes); constant dimensions keep a std of 1."""
        flat = parameters.reshape(-1, self.latent_dim).to(torch.float64)
        std = flat.std(dim=0)
        self.latent_mean.copy_(flat.mean(dim=0))
        self.latent_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    # ---------------------------------------------------------------- streaming

    def init_encode_state(self, batch_size: int) -> torch.Tensor:
        """The last hop before the stream (silence), plus nothing pending."""
        return self.basis.new_zeros(batch_size, FOA_CHANNELS, self.hop_length)

    def encode_step(self, audio_chunk: torch.Tensor,
                    state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Any number of samples in; the latent frames whose hop they complete out."""
        check_audio(audio_chunk, "audio_chunk")
        hop = self.hop_length
        joined = torch.cat([state, audio_chunk.to(self.basis.dtype)], dim=-1)
        frames = (joined.shape[-1] - hop) // hop
        if frames == 0:
            return joined.new_zeros(joined.shape[0], 0, self.latent_dim), joined
        windows = joined[..., :(frames + 1) * hop].unfold(-1, 2 * hop, hop)
        coefficients = windows @ self.basis                      # (batch, 4, frames, hop)
        parameters = self._analyse(coefficients)
        if self.config.low_band == "power":
            parameters = self._low_power(parameters, windows[:, 0] @ self.sine_basis)
        latents = (parameters - self.latent_mean) / self.latent_std
        return latents, joined[..., frames * hop:]

    def init_decode_state(self, batch_size: int) -> DecodeState:
        """The second half of the previous frame's synthesis, the next frame's index, and
        the low band's phases in the frame before it (``power`` low band; float32)."""
        return (self.basis.new_zeros(batch_size, FOA_CHANNELS, self.hop_length),
                torch.zeros((), dtype=torch.int64),
                self.basis.new_zeros(batch_size, self.config.low_bins, dtype=torch.float32))

    def decode_step(self, latent_chunk: torch.Tensor, state: DecodeState
                    ) -> tuple[torch.Tensor, DecodeState]:
        """Any number of latent frames in; ``frames * hop`` samples out."""
        return self.guided_decode_step(latent_chunk, state, None)

    def phase_guide(self, audio: torch.Tensor) -> torch.Tensor | None:
        """The low band's phases ``(batch, samples // hop, low_bins)`` in ``audio`` (AmbiX
        ``(batch, 4, samples)``), framed as :meth:`encode` frames it: W's MCLT phase per bin.

        A stream that varies a recorded prompt frame by frame (anchored sampling) decodes its
        powers with the prompt's own phases (:meth:`guided_decode_step`) instead of inventing
        them: two partials closer than the MCLT resolves, a chord or a low voice's harmonics,
        come back as the recording has them, not as one tone. ``None`` for the ``waveform``
        low band, which codes its phases itself."""
        check_audio(audio)
        if self.config.low_band != "power":
            return None
        hop = self.hop_length
        omni = torch.cat([audio.new_zeros(audio.shape[0], hop), audio[:, 0]], dim=-1)
        frames = audio.shape[-1] // hop
        windows = omni[..., :(frames + 1) * hop].to(self.basis.dtype).unfold(-1, 2 * hop, hop)
        return torch.atan2(windows @ self.sine_basis,
                           windows @ self.basis[:, :self.config.low_bins])

    def guided_decode_step(self, latent_chunk: torch.Tensor, state: DecodeState,
                           guide: torch.Tensor | None) -> tuple[torch.Tensor, DecodeState]:
        """:meth:`decode_step` with the low band's phases ``guide`` ``(batch, frames,
        low_bins)`` (:meth:`phase_guide` of the audio these frames vary; NaN where there is
        none, there the decoder's own phases go on). Decoding a clip's latents with its own
        guide gives back W's low band exactly, as the ``waveform`` low band does."""
        check_latents(latent_chunk, self.latent_dim)
        tail, index, phase = state
        batch, frames, _ = latent_chunk.shape
        if guide is not None and tuple(guide.shape) != (batch, frames, self.config.low_bins):
            raise AudioFormatError(f"a phase guide for {frames} frames of {batch} rows is "
                                   f"({batch}, {frames}, {self.config.low_bins}), got "
                                   f"{tuple(guide.shape)}")
        if frames == 0:
            return tail.new_zeros(batch, FOA_CHANNELS, 0), state
        parameters = latent_chunk.to(self.basis.dtype) * self.latent_std + self.latent_mean
        frame_index = index + torch.arange(frames)
        coefficients, phase = self._synthesise(parameters, frame_index, phase, guide)
        halves = (coefficients @ self.basis.T).unflatten(-1, (2, self.hop_length))
        previous = torch.cat([tail[:, :, None], halves[:, :, :-1, 1]], dim=2)
        audio = (halves[:, :, :, 0] + previous).flatten(2)
        return audio, (halves[:, :, -1, 1], index + frames, phase)

    def skip_decode(self, latent_chunk: torch.Tensor, state: DecodeState) -> DecodeState:
        """The state :meth:`decode_step` leaves after ``latent_chunk``, without its audio:
        the low band's phases through every frame, and only the last frame synthesised (its
        second half is the state). What a stream primed with a prompt needs of the prompt."""
        check_latents(latent_chunk, self.latent_dim)
        _, index, phase = state
        frames = latent_chunk.shape[1]
        if frames == 0:
            return state
        parameters = latent_chunk.to(self.basis.dtype) * self.latent_std + self.latent_mean
        if frames > 1:
            _, phase = self._low_coefficients(self._split(parameters[:, :-1])[0], phase)
        last = (index + frames - 1).reshape(1)
        coefficients, phase = self._synthesise(parameters[:, -1:], last, phase)
        halves = (coefficients @ self.basis.T).unflatten(-1, (2, self.hop_length))
        return halves[:, :, -1, 1], index + frames, phase

    # ---------------------------------------------------------------- the parameters

    def _copy_source_bins(self) -> torch.Tensor:
        """For every bin above the low band, the low-band bin copied there: the upper half
        of the low band, repeated."""
        low = self.config.low_bins
        half = max(low // 2, 1)
        above = torch.arange(low, self.hop_length)
        return low - half + (above - low) % half

    def _analyse(self, coefficients: torch.Tensor) -> torch.Tensor:
        """MDCT coefficients ``(batch, 4, frames, hop)`` -> parameters ``(batch, frames, D)``.

        In float64: the diffuseness is the square root of a difference of nearly equal
        energies for a plane wave, where float32 rounding would leave a 1e-4 residue.
        """
        dtype = coefficients.dtype
        coefficients = coefficients.double()
        omni, first_order = coefficients[:, 0], coefficients[:, 1:]
        low = omni[..., :self.config.low_bins]
        envelope_bands, direction_bands = (self.envelope_bands.double(),
                                           self.direction_bands.double())
        envelope = (omni.square() @ envelope_bands) / envelope_bands.sum(0)
        omni_energy = omni.square() @ direction_bands
        floor = POWER_FLOOR * direction_bands.sum(0)
        intensity = (first_order * omni[:, None]) @ direction_bands   # (b, 3, f, bands)
        direction = intensity / (omni_energy + floor)[:, None]
        first_order_ratio = (first_order.square() @ direction_bands).sum(1) / (
            omni_energy + floor)
        diffuse = (first_order_ratio - direction.square().sum(1)).clamp_min(0.0).sqrt()
        return torch.cat([low, (envelope + POWER_FLOOR).log(),
                          direction.permute(0, 2, 3, 1).flatten(2), diffuse], dim=-1).to(dtype)

    def _low_power(self, parameters: torch.Tensor, sine: torch.Tensor) -> torch.Tensor:
        """Parameters with the low band's coefficients replaced by their bins' log power,
        ``log((mdct² + mdst²) / 2 + floor)``; ``sine`` is W's MDST ``(batch, frames, low)``."""
        low = self.config.latent_parts()["low band"]
        power = (parameters[..., low].double().square() + sine.double().square()) / 2
        return torch.cat([(power + POWER_FLOOR).log().to(parameters.dtype),
                          parameters[..., low.stop:]], dim=-1)

    def _low_coefficients(self, low: torch.Tensor, phase: torch.Tensor,
                          guide: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """The low band's MDCT coefficients from its latent values, and the phases to go on
        from: as coded, or (``power``) the real part of the MCLT with the coded power
        (``(mdct² + mdst²) / 2``) and :func:`locked_phases` (``guide`` where given)."""
        if self.config.low_band == "waveform":
            return low, phase
        most = math.log(self.hop_length * MAX_AMPLITUDE**2)
        power = (low.clamp(max=most).exp() - POWER_FLOOR * (1 + 1e-5)).clamp_min(0.0)
        phases, phase = locked_phases(power, phase, guide)
        return (2 * power).sqrt() * phases.cos().to(power), phase

    def _split(self, parameters: torch.Tensor) -> tuple[torch.Tensor, ...]:
        low, envelope, direction, diffuse = (
            parameters[..., part] for part in self.config.latent_parts().values())
        return low, envelope, direction.unflatten(-1, (self.config.direction_bands, 3)), diffuse

    def _synthesise(self, parameters: torch.Tensor, frame_index: torch.Tensor,
                    phase: torch.Tensor, guide: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters ``(batch, frames, D)`` -> MDCT coefficients ``(batch, 4, frames, hop)``,
        and the low band's phases to go on from."""
        low, envelope, direction, diffuse = self._split(parameters)
        low, phase = self._low_coefficients(low, phase, guide)
        omni = self._within_amplitude(
            torch.cat([low, self._high_band(low, envelope, frame_index)], dim=-1))
        spread = self.direction_bands.T
        diffuse_gain = (diffuse.clamp_min(0.0) / math.sqrt(3.0)) @ spread
        channels = [omni]
        for axis, copy in enumerate(self._decorrelated(omni)):
            channels.append(omni * (direction[..., axis] @ spread) + copy * diffuse_gain)
        return torch.stack(channels, dim=1), phase

    def _within_amplitude(self, omni: torch.Tensor) -> torch.Tensor:
        """W's coefficients scaled down where a frame holds more energy than audio within
        ±:data:`MAX_AMPLITUDE` can (the sine-windowed orthogonal transform gives a frame at
        most ``hop · A²``).

        Audio the encoder sees never comes near it, so coded audio is untouched; it stops a
        generated latent far outside the training range (an undertrained model's, say) from
        decoding to a blast of +80 dBFS."""
        limit = self.hop_length * MAX_AMPLITUDE**2
        energy = omni.square().sum(-1, keepdim=True)
        return omni * (limit / energy.clamp_min(limit)).sqrt()

    def _high_band(self, low: torch.Tensor, envelope: torch.Tensor,
                   frame_index: torch.Tensor) -> torch.Tensor:
        """The copied-up high band, each envelope band scaled to its coded mean power."""
        bands = self.envelope_bands[self.config.low_bins:]
        widths = bands.sum(0)
        copy = low[..., self.copy_source]
        copy_rms = ((copy.square() @ bands) / widths).sqrt() @ bands.T
        noise = _hash_signs(frame_index, copy.shape[-1]).to(copy)
        source = copy / (copy_rms + 1e-12) + NOISE_SHARE * noise
        source_power = (source.square() @ bands) / widths
        # The encoder codes log(power + floor); removing the floor (with a margin above the
        # float32 rounding of log and exp) makes silence decode to exact zeros.
        # No band holds more than a whole frame's energy bound (and exp cannot overflow).
        most = math.log(self.hop_length * MAX_AMPLITUDE**2)
        power = (envelope.clamp(max=most).exp() - POWER_FLOOR * (1 + 1e-5)).clamp_min(0.0)
        gain = (power / source_power.clamp_min(1e-12)).sqrt()
        return source * (gain @ bands.T)

    def _decorrelated(self, omni: torch.Tensor) -> list[torch.Tensor]:
        """Three sign-flipped copies of W, made orthogonal to W and to each other within every
        band and frame (Gram–Schmidt) and scaled back to W's band energy."""
        bands, spread = self.direction_bands, self.direction_bands.T
        energy = omni.square() @ bands
        basis, copies = [omni], []
        for signs in self.decorrelation_signs:
            copy = omni * signs
            for previous in basis:
                overlap = (copy * previous) @ bands / ((previous.square() @ bands) + 1e-20)
                copy = copy - previous * (overlap @ spread)
            copy_energy = copy.square() @ bands
            usable = copy_energy > 1e-6 * energy
            scale = torch.where(usable, energy / copy_energy.clamp_min(1e-30), 0.0).sqrt()
            copy = copy * (scale @ spread)
            basis.append(copy)
            copies.append(copy)
        return copies

    def extra_repr(self) -> str:
        config = self.config
        return (f"sample_rate={config.sample_rate}, hop_length={config.hop_length}, "
                f"low_bins={config.low_bins}, envelope_bands={config.envelope_bands}, "
                f"direction_bands={config.direction_bands}, latent_dim={self.latent_dim}")
