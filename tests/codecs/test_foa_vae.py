"""foa-vae: presets, configs, layers, posterior, and pretrained weights on disk."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.codecs.causal import CausalConv1d, CausalConvTranspose1d
from swansphere.codecs.config import FoaVaeConfig
from swansphere.codecs.foa_vae import FoaVae, count_parameters, sample_posterior
from swansphere.codecs.weights import WeightsError, load_codec, load_weights
from swansphere.config import CodecSpec, dumps_toml, loads_toml
from swansphere.errors import AudioFormatError, ConfigError, ResourceNotFoundError
from swansphere.protocols import LatentCodec

SMALL = {"type": "foa-vae", "sample_rate": 8000, "strides": [2, 4], "channels": [4, 8, 8],
         "latent_dim": 6, "dilations": [1], "kernel_size": 3, "skip_coefficients": 1}


def small_vae(**overrides) -> FoaVae:
    torch.manual_seed(0)
    return swansphere.create("codec", {**SMALL, **overrides})


def test_tiny_preset_matches_design():
    codec = swansphere.create("codec", {"type": "foa-vae", "preset": "tiny"})
    assert (codec.sample_rate, codec.hop_length, codec.latent_dim) == (16000, 256, 32)
    assert codec.frame_rate == 62.5
    assert codec.lookahead == 0 and codec.decode_lookahead == 0
    assert isinstance(codec, LatentCodec)


def test_paper_preset_builds_on_meta_device():
    with torch.device("meta"):
        codec = swansphere.create("codec", {"type": "foa-vae", "preset": "paper"})
        latents = codec.encode(torch.empty(1, 4, 2048 * 3))
    assert (codec.sample_rate, codec.hop_length, codec.latent_dim) == (44100, 2048, 128)
    assert codec.frame_rate == pytest.approx(21.533, abs=1e-3)
    assert latents.shape == (1, 3, 128)
    assert 100e6 < count_parameters(codec) < 150e6


def test_overrides_replace_preset_fields_only():
    config = FoaVaeConfig(preset="tiny", latent_dim=24)
    arch = config.architecture()
    assert arch.latent_dim == 24 and arch.hop_length == 256 and arch.sample_rate == 16000


@pytest.mark.parametrize(("fields", "message"), [
    ({"channels": [4, 8]}, "len\\(strides\\) \\+ 1"),
    ({"latent_dim": 0}, "latent_dim must be positive"),
    ({"preset": "huge"}, "unknown foa-vae preset 'huge'"),
    ({"skip_coefficients": 2}, r"skip_coefficients must lie in 0\.\.min\(.*\) = 1"),
    ({"strides": [2, 4], "channel": [1]}, "unknown key"),
])
def test_bad_configs_raise_config_errors(fields, message):
    with pytest.raises(ConfigError, match=message):
        swansphere.create("codec", {**SMALL, **fields})


def test_config_round_trips_through_toml():
    spec = loads_toml(dumps_toml(CodecSpec(type="foa-vae", config=FoaVaeConfig(
        preset="paper", strides=(2, 2), channels=(1, 2, 3)))), CodecSpec)
    assert spec.config == FoaVaeConfig(preset="paper", strides=(2, 2), channels=(1, 2, 3))
    assert loads_toml(dumps_toml(spec), CodecSpec) == spec


@settings(max_examples=15, deadline=None, derandomize=True)
@given(kernel=st.integers(1, 6), stride=st.integers(1, 4), dilation=st.integers(1, 3),
       length=st.integers(0, 40))
def test_causal_conv_output_length_and_receptive_field(kernel, stride, dilation, length):
    span = (kernel - 1) * dilation + 1
    if span < stride:
        with pytest.raises(ValueError, match="shorter than the stride"):
            CausalConv1d(1, 1, kernel, stride=stride, dilation=dilation)
        return
    conv = CausalConv1d(2, 3, kernel, stride=stride, dilation=dilation)
    x = torch.randn(1, 2, length)
    y = conv(x)
    assert y.shape == (1, 3, length // stride)
    assert conv.init_state(1).shape[-1] == span - stride


def test_transposed_conv_carries_overlap_between_steps():
    conv = CausalConvTranspose1d(2, 3, 6, stride=2)
    x = torch.randn(1, 2, 5)
    offline = conv(x)
    state = conv.init_state(1)
    outs = []
    for frame in x.split(1, dim=-1):
        out, state = conv.step(frame, state)
        outs.append(out)
    assert offline.shape == (1, 3, 10)
    torch.testing.assert_close(torch.cat(outs, dim=-1), offline)
    assert state.shape == (1, 3, 4)


def test_untrained_codec_is_the_low_pass_patch_codec():
    """The linear paths start as the patch codec's DCT and the conv stacks add nothing yet."""
    vae = swansphere.create("codec", {"type": "foa-vae", "preset": "tiny"})
    patch = swansphere.create("codec", {"type": "patch", "hop_length": 256, "coefficients": 6})
    audio = torch.randn(1, 4, 256 * 4)
    with torch.no_grad():
        latents = vae.encode(audio)
        torch.testing.assert_close(latents[..., :24], patch.encode(audio), atol=1e-5, rtol=1e-5)
        assert torch.count_nonzero(latents[..., 24:]) == 0
        torch.testing.assert_close(vae.decode(latents), patch.decode(patch.encode(audio)),
                                   atol=1e-5, rtol=1e-5)


def test_posterior_sampling_uses_the_generator():
    codec = small_vae()
    mean, logvar = codec.posterior(torch.randn(2, 4, 64))
    assert mean.shape == logvar.shape == (2, 8, 6)
    draw = lambda seed: sample_posterior(mean, logvar, torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))
    torch.testing.assert_close(codec.encode(torch.zeros(1, 4, 64)),
                               codec.posterior(torch.zeros(1, 4, 64))[0])


def test_bad_latents_raise_audio_format_error():
    codec = small_vae()
    with pytest.raises(AudioFormatError, match=r"\(batch, frames, 6\)"):
        codec.decode(torch.zeros(1, 3, 5))
    with pytest.raises(AudioFormatError, match="unsqueeze"):
        codec.encode(torch.zeros(4, 64))


def test_save_and_load_pretrained_round_trip(tmp_path):
    codec = small_vae()
    codec.save_pretrained(tmp_path / "vae")
    assert sorted(p.name for p in (tmp_path / "vae").iterdir()) == ["config.toml",
                                                                    "model.safetensors"]
    loaded = FoaVae.from_pretrained(tmp_path / "vae")
    audio = torch.randn(1, 4, 128)
    torch.testing.assert_close(loaded.encode(audio), codec.encode(audio), rtol=0, atol=0)
    assert loaded.architecture == codec.architecture


def test_weights_field_loads_strictly(tmp_path):
    codec = small_vae()
    codec.save_pretrained(tmp_path)
    loaded = swansphere.create("codec", {**SMALL, "weights": str(tmp_path / "model.safetensors")})
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 codec.state_dict().values(), strict=True))
    with pytest.raises(WeightsError, match="saved with latent_dim = 6 but the config says 5"):
        swansphere.create("codec", {**SMALL, "latent_dim": 5, "weights": str(tmp_path)})
    bare = tmp_path / "bare"  # weights without the config they were saved with
    bare.mkdir()
    (bare / "model.safetensors").write_bytes((tmp_path / "model.safetensors").read_bytes())
    with pytest.raises(WeightsError, match="shape mismatches"):
        swansphere.create("codec", {**SMALL, "latent_dim": 5, "weights": str(bare)})
    with pytest.raises(WeightsError, match="missing keys"):
        swansphere.create("codec", {**SMALL, "dilations": [1, 2], "weights": str(bare)})


def test_unexpected_keys_and_corrupt_files_are_reported(tmp_path):
    big = small_vae(dilations=[1, 2])
    big.save_pretrained(tmp_path / "big")
    with pytest.raises(WeightsError, match="unexpected keys"):
        load_weights(small_vae(), tmp_path / "big")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_weights(small_vae(), tmp_path / "bad.safetensors")
    with pytest.raises(ResourceNotFoundError, match="does not exist"):
        load_weights(small_vae(), tmp_path / "absent.safetensors")
    with pytest.raises(ResourceNotFoundError, match=r"no config\.toml"):
        load_codec(tmp_path / "absent")
