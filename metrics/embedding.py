"""A frozen audio embedding for Fréchet distances: the aisfx "X-Sequential-CE" network.

The ``aisfx`` wheel (0.1.2, Ma & Lerch, ISMIR 2022) ships a CNN trained to classify sound
effects across nine libraries; its 512-d penultimate features describe ~2.3 s blocks of
96-band log-mel spectrogram at 44.1 kHz. It is the only audio network on PyPI whose weights
ship inside the wheel, so it works offline. The package pins old numpy/librosa and is never
imported here: install it with ``pip install --no-deps aisfx==0.1.2``; this module finds its
checkpoint by path, reads it with ``torch.load(weights_only=True)`` allowing exactly the three
numpy globals it contains, converts the embedding network once to safetensors in the cache
(``$SWANSPHERE_CACHE`` or ``~/.cache/swansphere``) and loads that into :class:`AisfxNet`, our
own implementation of the architecture, with strict key checking.

The front end reproduces the Essentia pipeline the model was trained with (not aisfx's
optional librosa path, whose spectrogram is transposed relative to what the network expects):
frames of 2048 samples every 1024, the first centred on sample 0; symmetric Hann window;
magnitude spectrum; 96 HTK-mel triangles (0-22050 Hz) weighted in mel, each summing to 1,
applied to the power spectrum; ``log10(1 + 10⁴·x)`` scaled by 1/9.4578 (the training set's
maximum); blocks of 100 frames every 50, the last partial block dropped unless it is the only
one (then zero-padded). Parity with the original pipeline is measured in
``docs/evaluation.md``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from swansphere.errors import AudioFormatError, ResourceNotFoundError
from swansphere.fileio import atomic_file

AISFX_VERSION = "0.1.2"
INSTALL_HINT = f"pip install --no-deps aisfx=={AISFX_VERSION}"
SAMPLE_RATE = 44100
FRAME_LENGTH = 2048
HOP_LENGTH = 1024
MEL_BANDS = 96
BLOCK_FRAMES = 100
BLOCK_HOP = 50
EMBEDDING_DIM = 512
LOG_SCALE = 1e4
SPECTROGRAM_MAX = 9.457798957824707
"""Largest log-mel value over aisfx's training set: inputs are divided by it."""

_WIDTHS = (64, 128, 256, 512)
_CHECKPOINT_GLOBALS = ("numpy.core.multiarray.scalar", "numpy.dtype", "numpy.dtypes.Int64DType")
"""Everything non-tensor in ``aisfx/models/checkpoint.pth``: numpy integers in its
dataset table (classifier bookkeeping we drop)."""


# --- weights -----------------------------------------------------------------------------------

def cache_dir() -> Path:
    """``$SWANSPHERE_CACHE`` if set, else ``~/.cache/swansphere``."""
    return Path(os.environ.get("SWANSPHERE_CACHE") or Path.home() / ".cache" / "swansphere")


def aisfx_checkpoint() -> Path:
    """Path of the installed aisfx checkpoint (found without importing the package)."""
    spec = importlib.util.find_spec("aisfx")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "models" / "checkpoint.pth"
        if path.is_file():
            return path
    raise ResourceNotFoundError(
        f"the aisfx audio embedding is not installed (needed for the Fréchet distance); run "
        f"'{INSTALL_HINT}' (--no-deps: its pinned numpy/librosa are not needed)")


def converted_weights(checkpoint: Path | None = None, directory: Path | None = None) -> Path:
    """The safetensors file of the embedding network, converting the checkpoint on first use.

    The file name carries the checkpoint's SHA-256, so another aisfx release converts afresh.
    The write is atomic (a temporary file, then ``os.replace``).
    """
    checkpoint = Path(checkpoint) if checkpoint else aisfx_checkpoint()
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    target = Path(directory or cache_dir()) / f"aisfx-x-sequential-ce-{digest[:16]}.safetensors"
    if not target.is_file():
        _convert(checkpoint, target, digest)
    return target


def _numpy_globals() -> list[Any]:
    import numpy as np
    from numpy._core.multiarray import scalar

    allowed = [(scalar, _CHECKPOINT_GLOBALS[0]), np.dtype, np.dtypes.Int64DType]
    return allowed


def read_checkpoint(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The aisfx state dict, unpickled with ``weights_only=True`` and three numpy globals."""
    import pickle

    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            state, _datasets = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ResourceNotFoundError(
            f"{checkpoint} is not the aisfx {AISFX_VERSION} checkpoint this loader knows "
            f"({type(error).__name__}: {first_line}); reinstall it with '{INSTALL_HINT}'"
        ) from error
    return state


def _convert(checkpoint: Path, target: Path, digest: str) -> None:
    from safetensors.torch import save_file

    state = read_checkpoint(checkpoint)
    tensors = {_our_key(key): value.contiguous() for key, value in state.items()
               if key.startswith("embedding_net.")}
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as temporary:
        save_file(tensors, str(temporary), metadata={
            "source": f"aisfx {AISFX_VERSION} models/checkpoint.pth", "sha256": digest,
            "licence": "CC-BY-4.0 (pre-trained model, A. B. Ma and A. Lerch, 2022)"})


def _our_key(key: str) -> str:
    """``embedding_net.conv_block2.bn1.weight`` -> ``blocks.1.norm1.weight``."""
    _, block, layer, name = key.split(".")
    index = int(block.removeprefix("conv_block")) - 1
    return f"blocks.{index}.{layer.replace('bn', 'norm')}.{name}"


# --- network -----------------------------------------------------------------------------------

class _ConvBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and ReLU, then optional 2×2 max pooling."""

    def __init__(self, channels_in: int, channels_out: int, pool: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels_out)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        x = F.relu(self.norm2(self.conv2(x)))
        return F.max_pool2d(x, 2) if self.pool else x


class AisfxNet(nn.Module):
    """The X-Sequential-CE embedding CNN: four conv blocks, mean over mel bands, max over time.

    Input ``(batch, frames, mel_bands)`` normalised log-mel blocks; output ``(batch, 512)``.
    """

    def __init__(self) -> None:
        super().__init__()
        widths = (1, *_WIDTHS)
        self.blocks = nn.ModuleList(
            _ConvBlock(widths[i], widths[i + 1], pool=i < len(_WIDTHS) - 1)
            for i in range(len(_WIDTHS)))

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        x = spectrogram.unsqueeze(1)
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=3).amax(dim=2)


# --- front end ---------------------------------------------------------------------------------

def _hz_to_mel(frequency: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + frequency / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (torch.pow(10.0, mel / 2595.0) - 1.0)


def mel_filterbank(bins: int = FRAME_LENGTH // 2 + 1, bands: int = MEL_BANDS,
                   sample_rate: float = SAMPLE_RATE) -> torch.Tensor:
    """``(bins, bands)`` HTK-mel triangles from 0 Hz to Nyquist, weighted in mel, unit sums.

    Band i rises from edge i to edge i+1 and falls to edge i+2 (edges equally spaced in mel,
    bins belong to ``[edge_i, edge_{i+2})``), with weights linear in mel, as in Essentia's
    ``MelBands(warpingFormula="htkMel", weighting="warping", normalize="unit_sum")``.
    """
    frequency_step = (sample_rate / 2) / (bins - 1)
    top = _hz_to_mel(torch.tensor(sample_rate / 2, dtype=torch.float64))
    edges = _mel_to_hz(top / (bands + 1) * torch.arange(bands + 2, dtype=torch.float64))
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    index = torch.arange(bins, dtype=torch.float64)
    frequency, mel = index * frequency_step, _hz_to_mel(index * frequency_step)
    rising = (mel - _hz_to_mel(low)) / (_hz_to_mel(centre) - _hz_to_mel(low))
    falling = (_hz_to_mel(high) - mel) / (_hz_to_mel(high) - _hz_to_mel(centre))
    weights = torch.where((frequency >= low) & (frequency < centre), rising,
                          torch.where((frequency >= centre) & (frequency < high), falling, 0.0))
    return (weights / weights.sum(dim=1, keepdim=True)).T.contiguous()


class LogMelFrontEnd(nn.Module):
    """44.1 kHz mono ``(..., n)`` -> normalised log-mel ``(..., frames, 96)``.

    ``frames = ceil(n / 1024) + 1``: frame i covers samples ``[1024(i − 1), 1024(i − 1) +
    2048)``, zero outside the signal.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(FRAME_LENGTH, periodic=False,
                                                         dtype=torch.float64), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(), persistent=False)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        n = signal.shape[-1]
        frames = math.ceil(n / HOP_LENGTH) + 1
        right = (frames - 1) * HOP_LENGTH + FRAME_LENGTH - HOP_LENGTH - n
        padded = F.pad(signal.to(torch.float64), (HOP_LENGTH, right))
        windowed = padded.unfold(-1, FRAME_LENGTH, HOP_LENGTH) * self.window
        power = torch.fft.rfft(windowed).abs().square()
        mel = power @ self.filterbank
        return (torch.log10(1.0 + LOG_SCALE * mel) / SPECTROGRAM_MAX).to(torch.float32)


def spectrogram_blocks(spectrogram: torch.Tensor) -> torch.Tensor:
    """``(frames, bands)`` -> ``(blocks, 100, bands)``: every 50 frames, partial tail dropped
    unless the clip is shorter than one block (then one zero-padded block)."""
    frames = spectrogram.shape[0]
    count = (frames - BLOCK_FRAMES) // BLOCK_HOP + 1 if frames >= BLOCK_FRAMES else 1
    padded = F.pad(spectrogram, (0, 0, 0, max(0, BLOCK_FRAMES - frames)))
    return padded.unfold(0, BLOCK_FRAMES, BLOCK_HOP)[:count].transpose(1, 2)


# --- the embedding -----------------------------------------------------------------------------

class AisfxEmbedding:
    """Frozen aisfx embeddings of audio: one 512-d vector per ~2.3 s block.

    ``AisfxEmbedding.load()`` builds it from the installed aisfx wheel (see the module doc).
    """

    dim = EMBEDDING_DIM
    sample_rate = SAMPLE_RATE
    block_seconds = BLOCK_FRAMES * HOP_LENGTH / SAMPLE_RATE

    def __init__(self, network: AisfxNet, *, batch_size: int = 16) -> None:
        self.network = network.eval().requires_grad_(False)
        self.front_end = LogMelFrontEnd()
        self.batch_size = batch_size

    @classmethod
    def load(cls, weights: Path | None = None, **kwargs: Any) -> AisfxEmbedding:
        """From converted weights (default: convert the installed aisfx checkpoint once)."""
        from safetensors.torch import load_file

        network = AisfxNet()
        network.load_state_dict(load_file(str(weights or converted_weights())), strict=True)
        return cls(network, **kwargs)

    def spectrogram(self, audio: Any, sample_rate: int) -> torch.Tensor:
        """Mono ``(n,)`` audio at any rate -> normalised log-mel ``(frames, 96)``."""
        import torchaudio.functional

        signal = torch.as_tensor(audio)
        if signal.ndim != 1 or signal.numel() == 0 or not signal.is_floating_point():
            raise AudioFormatError(f"the embedding takes mono float audio of shape (samples,); "
                                   f"got {signal.dtype} {tuple(signal.shape)}")
        signal = signal.to(torch.float32)
        if sample_rate != SAMPLE_RATE:
            signal = torchaudio.functional.resample(signal, int(sample_rate), SAMPLE_RATE)
        return self.front_end(signal)

    @torch.no_grad()
    def embed(self, audio: Any, sample_rate: int) -> torch.Tensor:
        """Mono ``(n,)`` audio -> ``(blocks, 512)`` float32 embeddings, one per block."""
        blocks = spectrogram_blocks(self.spectrogram(audio, sample_rate))
        return torch.cat([self.network(chunk) for chunk in blocks.split(self.batch_size)])

    def embed_foa(self, foa: Any, sample_rate: int, channel: int = 0) -> torch.Tensor:
        """AmbiX ``(4, n)`` -> block embeddings of one channel (default W, the omni signal)."""
        from swansphere.spatial import validate_foa

        return self.embed(validate_foa(foa, ndim=2)[channel], sample_rate)
