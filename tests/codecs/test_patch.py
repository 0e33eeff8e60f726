"""patch: exact inverse, orthonormal DCT, low-pass truncation, config errors, save/load."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.codecs.patch import PatchCodec, dct_basis
from swansphere.codecs.weights import load_codec
from swansphere.errors import ConfigError

EXAMPLES = settings(max_examples=15, deadline=None, derandomize=True)


@EXAMPLES
@given(hop=st.integers(1, 24), frames=st.integers(0, 5), extra=st.integers(0, 23),
       transform=st.sampled_from(["dct", "identity"]), seed=st.integers(0, 2**16))
def test_round_trip_is_exact(hop, frames, extra, transform, seed):
    codec = swansphere.create("codec", {"type": "patch", "hop_length": hop,
                                        "transform": transform})
    audio = torch.randn(2, 4, frames * hop + extra % hop, generator=torch.Generator()
                        .manual_seed(seed))
    latents = codec.encode(audio)
    assert latents.shape == (2, frames, 4 * hop)
    torch.testing.assert_close(codec.decode(latents), audio[..., :frames * hop],
                               atol=1e-5, rtol=1e-5)


@EXAMPLES
@given(size=st.integers(1, 40))
def test_dct_basis_is_orthonormal(size):
    basis = dct_basis(size).double()
    torch.testing.assert_close(basis.T @ basis, torch.eye(size, dtype=torch.float64),
                               atol=1e-6, rtol=0)


def test_dct_coefficient_k_is_a_cosine_of_k_half_periods():
    hop, k = 16, 3
    n = torch.arange(hop, dtype=torch.float32)
    wave = torch.cos(math.pi * (n + 0.5) * k / hop)
    coefficients = wave @ dct_basis(hop)
    assert int(coefficients.abs().argmax()) == k
    assert coefficients.abs().sum() == pytest.approx(coefficients[k].abs().item(), rel=1e-5)


def test_truncation_low_passes_and_shrinks_the_latent():
    codec = swansphere.create("codec", {"type": "patch", "hop_length": 32, "coefficients": 4})
    assert codec.latent_dim == 16
    n = torch.arange(32 * 4, dtype=torch.float32)
    low = torch.sin(2 * math.pi * n / 128.0)  # well inside the kept band
    high = torch.sin(2 * math.pi * n * 0.4)  # far above it
    audio = torch.stack([low + high] * 4)[None]
    decoded = codec.decode(codec.encode(audio))
    energy = lambda x: float(x.square().sum())  # noqa: E731
    assert energy(decoded) < energy(audio)
    assert energy(decoded - low) < 0.2 * energy(high)


@pytest.mark.parametrize(("fields", "message"), [
    ({"transform": "identity", "coefficients": 3}, "needs transform"),
    ({"hop_length": 8, "coefficients": 9}, "coefficients must lie in 1..hop_length"),
    ({"transform": "wavelet"}, "transform"),
])
def test_bad_configs_raise(fields, message):
    with pytest.raises(ConfigError, match=message):
        swansphere.create("codec", {"type": "patch", **fields})


def test_save_pretrained_writes_config_only(tmp_path):
    codec = swansphere.create("codec", {"type": "patch", "hop_length": 16, "coefficients": 5})
    codec.save_pretrained(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
    loaded = load_codec(tmp_path)
    assert isinstance(loaded, PatchCodec) and loaded.config == codec.config
