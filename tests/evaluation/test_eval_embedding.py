"""The aisfx embedding: safe checkpoint reading, conversion, front end and real weights."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from swansphere.errors import ResourceNotFoundError
from swansphere.metrics import embedding as emb
from swansphere.metrics.frechet import frechet_distance

HAS_AISFX = importlib.util.find_spec("aisfx") is not None
needs_aisfx = pytest.mark.skipif(not HAS_AISFX, reason=f"aisfx absent ({emb.INSTALL_HINT})")


# --- front end (no weights needed) --------------------------------------------------------------

def test_mel_filterbank_has_one_unit_sum_triangle_per_band():
    bank = emb.mel_filterbank()
    assert bank.shape == (1025, 96)
    torch.testing.assert_close(bank.sum(dim=0), torch.ones(96, dtype=torch.float64))
    peaks = bank.argmax(dim=0)
    assert bool((peaks[1:] >= peaks[:-1]).all())  # bands rise in frequency
    assert bank[-1].abs().sum() == 0  # the Nyquist bin lies outside the last band


@pytest.mark.parametrize(("samples", "frames"), [(1, 2), (1024, 2), (1025, 3), (44100, 45)])
def test_frames_are_centred_on_multiples_of_the_hop(samples, frames):
    spectrogram = emb.LogMelFrontEnd()(torch.zeros(samples))
    assert spectrogram.shape == (frames, 96)
    assert spectrogram.abs().max() == 0  # silence maps to 0 after log10(1 + 10⁴x)


def test_front_end_sees_a_tone_in_the_right_band():
    time = torch.arange(44100, dtype=torch.float64) / 44100
    spectrogram = emb.LogMelFrontEnd()(0.5 * torch.sin(2 * math.pi * 1000 * time))
    band = int(spectrogram[10:-10].mean(dim=0).argmax())
    centre_hz = float(emb.mel_filterbank()[:, band].argmax()) * 44100 / 2048
    assert abs(centre_hz - 1000) < 100


@pytest.mark.parametrize(("frames", "blocks"), [(1, 1), (99, 1), (100, 1), (149, 1), (150, 2),
                                                (260, 4)])
def test_blocks_of_100_frames_every_50(frames, blocks):
    spectrogram = torch.arange(frames, dtype=torch.float32)[:, None].expand(frames, 96)
    out = emb.spectrogram_blocks(spectrogram)
    assert out.shape == (blocks, 100, 96)
    assert out[-1, 0, 0] == 50 * (blocks - 1)
    if frames < 100:
        assert out[0, frames:].abs().sum() == 0  # zero padding


# --- finding and reading the checkpoint ---------------------------------------------------------

def test_absent_aisfx_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ResourceNotFoundError, match=r"pip install --no-deps aisfx==0\.1\.2"):
        emb.aisfx_checkpoint()


class _Hostile:
    """Unpickling this would create a file: a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_reader_never_unpickles_foreign_objects(tmp_path):
    marker = tmp_path / "executed"
    checkpoint = tmp_path / "checkpoint.pth"
    torch.save(({"w": torch.zeros(1)}, {"x": _Hostile(marker)}), checkpoint)
    with pytest.raises(ResourceNotFoundError, match="not the aisfx"):
        emb.read_checkpoint(checkpoint)
    assert not marker.exists()


def test_conversion_keeps_the_embedding_network_under_our_names(tmp_path):
    state = {"embedding_net.conv_block1.conv1.weight": torch.ones(2, 1, 3, 3),
             "embedding_net.conv_block4.bn2.running_var": torch.ones(3),
             "fc.0.0.weight": torch.ones(1)}
    checkpoint = tmp_path / "checkpoint.pth"
    torch.save((state, {"prosfx": (0, 78)}), checkpoint)  # the dataset table is dropped
    path = emb.converted_weights(checkpoint, tmp_path / "cache")
    from safetensors.torch import load_file

    assert sorted(load_file(path)) == ["blocks.0.conv1.weight", "blocks.3.norm2.running_var"]
    stamp = path.stat().st_mtime_ns
    assert emb.converted_weights(checkpoint, tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == stamp  # converted once
    assert not list(path.parent.glob(".*tmp"))


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SWANSPHERE_CACHE", str(tmp_path))
    assert emb.cache_dir() == tmp_path
    monkeypatch.delenv("SWANSPHERE_CACHE")
    assert emb.cache_dir() == Path.home() / ".cache" / "swansphere"


# --- the real network (skipped only without aisfx) ----------------------------------------------

@pytest.fixture(scope="module")
def aisfx(aisfx_cache) -> emb.AisfxEmbedding:
    return emb.AisfxEmbedding.load(emb.converted_weights(directory=aisfx_cache))


def _sounds() -> dict[str, torch.Tensor]:
    """One-second 16 kHz clips: three noise bursts and three tones."""
    rate, generator = 16000, torch.Generator().manual_seed(7)
    time = torch.arange(rate, dtype=torch.float32) / rate
    envelope = torch.exp(-3 * time)
    sounds = {f"noise{i}": 0.3 * envelope * torch.randn(rate, generator=generator)
              for i in range(3)}
    sounds |= {f"tone{i}": 0.3 * envelope * torch.sin(2 * math.pi * f * time)
               for i, f in enumerate((440.0, 660.0, 880.0))}
    return sounds


@pytest.fixture(scope="module")
def embedded(aisfx) -> dict[str, torch.Tensor]:
    """Embeddings of :func:`_sounds`, in one batch through the network."""
    sounds = _sounds()
    blocks = torch.cat([emb.spectrogram_blocks(aisfx.spectrogram(sound, 16000))
                        for sound in sounds.values()])
    with torch.no_grad():
        return dict(zip(sounds, aisfx.network(blocks), strict=True))


@needs_aisfx
def test_converted_weights_load_strictly(aisfx_cache):
    from safetensors.torch import load_file

    network = emb.AisfxNet()
    state = load_file(emb.converted_weights(directory=aisfx_cache))
    assert set(state) == set(network.state_dict())
    network.load_state_dict(state, strict=True)
    original = emb.read_checkpoint(emb.aisfx_checkpoint())  # needs the numpy allowlist
    learned = [v for k, v in original.items() if k.startswith("embedding_net.")
               and k.endswith(("weight", "bias"))]
    assert sum(p.numel() for p in network.parameters()) == sum(v.numel() for v in learned)
    torch.testing.assert_close(network.blocks[3].norm2.running_var,
                               original["embedding_net.conv_block4.bn2.running_var"])


@needs_aisfx
def test_embeddings_are_deterministic_and_per_block(aisfx, embedded):
    once = aisfx.embed(_sounds()["noise0"], 16000)
    assert once.shape == (1, 512)
    assert torch.equal(aisfx.embed(_sounds()["noise0"], 16000), once)
    torch.testing.assert_close(once[0], embedded["noise0"])  # batch-independent
    foa = torch.zeros(4, 16000)
    foa[0] = _sounds()["tone0"]
    torch.testing.assert_close(aisfx.embed_foa(foa, 16000)[0], embedded["tone0"])


@needs_aisfx
def test_similar_sounds_embed_closer(embedded):
    def distance(a: str, b: str) -> float:
        return float((embedded[a] - embedded[b]).norm())

    assert distance("noise0", "noise1") < distance("noise0", "tone0")
    assert distance("tone0", "tone1") < distance("tone0", "noise1")


@needs_aisfx
def test_frechet_distance_of_embeddings_grows_with_a_shift(embedded):
    noises = torch.stack([embedded[f"noise{i}"] for i in range(3)])
    tones = torch.stack([embedded[f"tone{i}"] for i in range(3)])
    mixed = torch.stack([embedded["noise1"], embedded["noise2"], embedded["tone0"]])
    assert frechet_distance(noises, noises) == pytest.approx(0.0, abs=1e-6)
    assert 0 < frechet_distance(noises, mixed) < frechet_distance(noises, tones)
