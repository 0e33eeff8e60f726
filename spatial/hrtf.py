"""Binaural rendering of AmbiX through virtual loudspeakers and a SOFA HRTF set.

The decoder feeds 32 virtual loudspeakers spread uniformly over the sphere (the vertices of an
icosahedron and a dodecahedron together: a spherical 5-design, symmetric left/right and
front/back) with a max-rE sampling decoder, and renders each through the HRIR pair measured
nearest to it. Everything is linear, so the whole chain collapses into 2 × 4 filters (ear ×
ACN channel) that are resampled once to the audio rate and cached per file and rate.

HRIR sets are SOFA files (``SimpleFreeFieldHRIR``, HDF5) read with h5py. Without an explicit
path the set comes from ``$SWANSPHERE_SOFA`` or from Debian's ``libmysofa1``
(``/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa``). Levels are diffuse-field normalised:
the HRIRs are scaled so their mean energy over directions and ears is 1.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from swansphere.errors import AudioFileError, ConfigError, ResourceNotFoundError

from .beams import steered_weights
from .encoding import degrees_to_radians, unit_vectors
from .foa import as_foa, validate_foa

SOFA_ENV = "SWANSPHERE_SOFA"
DEFAULT_SOFA_PATHS = (
    Path("/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa"),
    Path("/usr/share/libmysofa/default.sofa"),
)
_BLOCK = 1 << 15  # samples per FFT block when rendering whole clips


@dataclass(frozen=True, eq=False)
class HrtfSet:
    """HRIR pairs: ``impulse_responses`` ``(directions, 2, taps)`` float32 (left, right ear),
    measured from ``azimuth``/``elevation`` (degrees, ``(directions,)``) at ``sample_rate``."""

    impulse_responses: torch.Tensor
    azimuth: torch.Tensor
    elevation: torch.Tensor
    sample_rate: int
    path: Path | None = None


def find_sofa(path: str | os.PathLike[str] | None = None) -> Path:
    """The SOFA file to use: ``path``, else ``$SWANSPHERE_SOFA``, else libmysofa's KEMAR set."""
    if path is None and os.environ.get(SOFA_ENV):
        path = os.environ[SOFA_ENV]
        if not Path(path).is_file():
            raise ResourceNotFoundError(f"{SOFA_ENV}={path} does not name a file; point it at "
                                        "a SOFA HRIR set or unset it")
    if path is not None:
        if not Path(path).is_file():
            raise ResourceNotFoundError(f"HRTF set {path} not found; check the path")
        return Path(path)
    for candidate in DEFAULT_SOFA_PATHS:
        if candidate.is_file():
            return candidate
    raise ResourceNotFoundError(
        "no HRTF set found for binaural rendering: install the MIT KEMAR set with "
        f"`apt-get install libmysofa1`, or set {SOFA_ENV}=/path/to/set.sofa (or pass a path)")


def load_sofa(path: str | os.PathLike[str] | None = None) -> HrtfSet:
    """Read a SimpleFreeFieldHRIR SOFA file (see :func:`find_sofa` for the default)."""
    import h5py

    path = find_sofa(path)
    try:
        with h5py.File(path, "r") as sofa:
            return _read_hrtf(sofa, path)
    except OSError as error:
        raise AudioFileError(f"{path} is not a SOFA (HDF5) file ({error}); give a "
                             "SimpleFreeFieldHRIR .sofa file") from error
    except (KeyError, ValueError) as error:
        raise AudioFileError(f"{path} is not a usable SimpleFreeFieldHRIR SOFA file ({error}); "
                             "give a set with Data.IR, Data.SamplingRate and "
                             "SourcePosition") from error


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | np.bytes_) else str(value)


def _read_hrtf(sofa: Any, path: Path) -> HrtfSet:
    convention = _text(sofa.attrs.get("SOFAConventions", "SimpleFreeFieldHRIR"))
    if convention not in ("SimpleFreeFieldHRIR", "GeneralFIR"):
        raise ValueError(f"convention {convention} has no HRIRs")
    ir = np.asarray(sofa["Data.IR"], dtype=np.float64)
    if ir.ndim != 3 or ir.shape[1] != 2:
        raise ValueError(f"Data.IR has shape {ir.shape}, not (directions, 2 ears, taps)")
    rates = np.unique(np.asarray(sofa["Data.SamplingRate"]))
    if rates.size != 1 or rates[0] <= 0:
        raise ValueError(f"Data.SamplingRate is {rates}, not one positive rate")
    azimuth, elevation = _source_directions(sofa["SourcePosition"], len(ir))
    if "Data.Delay" in sofa:
        ir = _apply_delays(ir, np.asarray(sofa["Data.Delay"], dtype=np.float64))
    if "ReceiverPosition" in sofa and _right_ear_first(np.asarray(sofa["ReceiverPosition"])):
        ir = ir[:, ::-1]
    if not np.isfinite(ir).all():
        raise ValueError("Data.IR contains NaN or infinite values")
    return HrtfSet(impulse_responses=torch.from_numpy(ir.astype(np.float32)),
                   azimuth=torch.from_numpy(azimuth), elevation=torch.from_numpy(elevation),
                   sample_rate=round(float(rates[0])), path=path)


def _source_directions(dataset: Any, count: int) -> tuple[np.ndarray, np.ndarray]:
    positions = np.broadcast_to(np.asarray(dataset, dtype=np.float64), (count, 3))
    if _text(dataset.attrs.get("Type", "spherical")).lower() == "cartesian":
        x, y, z = positions.T
        return np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))
    return positions[:, 0].copy(), positions[:, 1].copy()


def _apply_delays(ir: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """Prepend SOFA's broadband per-ear delays (in samples) to the impulse responses."""
    delays = np.rint(np.broadcast_to(delays, (len(ir), 2))).astype(int)
    if not delays.any():
        return ir
    if (delays < 0).any():
        raise ValueError("Data.Delay has negative delays")
    shifted = np.zeros((len(ir), 2, ir.shape[2] + delays.max()))
    for (direction, ear), delay in np.ndenumerate(delays):
        shifted[direction, ear, delay:delay + ir.shape[2]] = ir[direction, ear]
    return shifted


def _right_ear_first(receivers: np.ndarray) -> bool:
    """SOFA lists the left ear (+y) first by convention; trust the positions when given."""
    if receivers.shape[:2] != (2, 3):
        return False
    left_y, right_y = receivers[:, 1].reshape(2, -1)[:, 0]
    return bool(left_y < right_y)


def virtual_loudspeakers() -> torch.Tensor:
    """Unit vectors ``(32, 3)`` (float64): icosahedron + dodecahedron vertices."""
    phi = (1 + math.sqrt(5)) / 2
    points = []
    for a, b in ((1, phi), (1 / phi, phi)):  # icosahedron, then dodecahedron's rectangles
        for s, t in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            points += [(0, s * a, t * b), (s * a, t * b, 0), (t * b, 0, s * a)]
    points += [(x, y, z) for x in (1, -1) for y in (1, -1) for z in (1, -1)]  # cube corners
    vectors = torch.tensor(points, dtype=torch.float64)
    return vectors / vectors.norm(dim=-1, keepdim=True)


def _decoding_matrix(speakers: torch.Tensor) -> torch.Tensor:
    """Max-rE sampling decoder ``(speakers, 4)`` for SN3D input.

    Each loudspeaker gets a max-rE beam towards itself; on a spherical design the beams' W
    weights sum to 1, so the loudspeaker signals add up to the pressure W.
    """
    weights = steered_weights(speakers, "max_re")
    return weights / weights[:, 0].sum()


def decoder_filters(hrtf: HrtfSet, sample_rate: int) -> torch.Tensor:
    """The ``(2, 4, taps)`` float32 filters (ear × ACN channel) at ``sample_rate``."""
    import torchaudio.functional

    speakers = virtual_loudspeakers()
    measured = unit_vectors(degrees_to_radians(hrtf.azimuth), degrees_to_radians(hrtf.elevation))
    nearest = (speakers @ measured.T).argmax(dim=-1)
    ir = hrtf.impulse_responses.to(torch.float64)
    ir = ir / ir.square().sum(dim=-1).mean().sqrt()  # diffuse-field level normalisation
    filters = torch.einsum("kc,ket->ect", _decoding_matrix(speakers), ir[nearest])
    if hrtf.sample_rate != sample_rate:
        # keep the continuous-time gain: fewer (more) taps per second need larger (smaller) taps
        filters = torchaudio.functional.resample(filters.contiguous(), hrtf.sample_rate,
                                                 sample_rate)
        filters = filters * (hrtf.sample_rate / sample_rate)
    return filters.to(torch.float32)


class BinauralDecoder:
    """AmbiX -> binaural ``(..., 2, n)`` with fixed FIR filters; offline or streaming.

    ``decoder(foa)`` renders a clip (same length out, the filter tail is dropped). For streams,
    ``state = decoder.init_state(batch_shape)`` then ``out, state = decoder.step(chunk,
    state)``: chunks of any size give the same samples as the offline call. The state is the
    pending filter tail, a tensor ``(*batch_shape, 2, taps − 1)`` (``clone()`` to snapshot).
    """

    def __init__(self, filters: torch.Tensor, sample_rate: int) -> None:
        if filters.ndim != 3 or filters.shape[:2] != (2, 4):
            raise ConfigError(f"binaural filters must be (2, 4, taps); got {tuple(filters.shape)}")
        self.filters = filters
        self.sample_rate = int(sample_rate)
        self._responses: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}

    @classmethod
    def from_sofa(cls, path: str | os.PathLike[str] | HrtfSet | None = None, *,
                  sample_rate: int) -> BinauralDecoder:
        """Build from a SOFA path (default: :func:`find_sofa`) or a loaded :class:`HrtfSet`."""
        hrtf = path if isinstance(path, HrtfSet) else load_sofa(path)
        return cls(decoder_filters(hrtf, sample_rate), sample_rate)

    def _response(self, n_fft: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Filter spectra for one FFT size, kept: streams reuse a few sizes over and over."""
        key = (n_fft, dtype, device)
        if key not in self._responses:
            filters = self.filters.to(device=device, dtype=dtype)
            self._responses[key] = torch.fft.rfft(filters, n_fft)
        return self._responses[key]

    @property
    def taps(self) -> int:
        return self.filters.shape[-1]

    def init_state(self, batch_shape: tuple[int, ...] = (), *, dtype: torch.dtype = torch.float32,
                   device: torch.device | str | None = None) -> torch.Tensor:
        return torch.zeros((*batch_shape, 2, self.taps - 1), dtype=dtype, device=device)

    def step(self, chunk: Any, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Render one chunk ``(..., 4, m)``; returns ``(..., 2, m)`` and the next state."""
        chunk = as_foa(chunk)
        length = chunk.shape[-1]
        if length == 0:
            return chunk.new_zeros((*chunk.shape[:-2], 2, 0)), state
        n_fft = 1 << max(0, length + self.taps - 2).bit_length()
        spectrum = torch.fft.rfft(chunk, n_fft).unsqueeze(-3)  # (..., 1, 4, bins)
        response = self._response(n_fft, chunk.dtype, chunk.device)  # (2, 4, bins)
        full = torch.fft.irfft((spectrum * response).sum(dim=-2), n_fft)
        full = full[..., :length + self.taps - 1].clone()
        full[..., :self.taps - 1] += state.to(full.dtype)
        return full[..., :length], full[..., length:]

    def __call__(self, foa: Any) -> torch.Tensor:
        foa = validate_foa(foa)
        state = self.init_state(foa.shape[:-2], dtype=foa.dtype, device=foa.device)
        outputs = []
        for block in foa.split(_BLOCK, dim=-1):
            output, state = self.step(block, state)
            outputs.append(output)
        return torch.cat(outputs, dim=-1)


@functools.lru_cache(maxsize=8)
def _cached_decoder(path: Path, modified_ns: int, sample_rate: int) -> BinauralDecoder:
    del modified_ns  # part of the cache key only: an edited file is read again
    return BinauralDecoder.from_sofa(path, sample_rate=sample_rate)


def binaural_decoder(sample_rate: int,
                     hrtf: str | os.PathLike[str] | HrtfSet | None = None) -> BinauralDecoder:
    """A decoder for ``sample_rate``; decoders built from files are cached."""
    if not (isinstance(sample_rate, int | np.integer) and sample_rate > 0):
        raise ConfigError(f"sample_rate must be a positive integer; got {sample_rate!r}")
    if isinstance(hrtf, HrtfSet):
        return BinauralDecoder.from_sofa(hrtf, sample_rate=int(sample_rate))
    path = find_sofa(hrtf).resolve()
    return _cached_decoder(path, path.stat().st_mtime_ns, int(sample_rate))


def binaural(foa: Any, sample_rate: int,
             hrtf: str | os.PathLike[str] | HrtfSet | None = None) -> torch.Tensor:
    """Render AmbiX ``(..., 4, n)`` for headphones: ``(..., 2, n)`` (left, right).

    ``hrtf`` is a SOFA path, a loaded :class:`HrtfSet`, or None for the default set (see
    :func:`find_sofa`; raises :class:`~swansphere.errors.ResourceNotFoundError` saying how to
    install one when none is available).
    """
    return binaural_decoder(sample_rate, hrtf)(foa)
