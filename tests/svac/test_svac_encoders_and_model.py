"""The FOA encoder sees direction; the SVAC model trains, saves and plugs into the backbone."""

from __future__ import annotations

import tomllib

import pytest
import torch

import swansphere
from swansphere.conditioning.config import PanoramaVideoConfig
from swansphere.errors import AudioFormatError
from swansphere.nn.configs import FOAAudioEncoderConfig
from swansphere.nn.foa_audio import (
    PAIRS,
    broadband_moments,
    covariance_features,
    frame_pooling,
)
from swansphere.plugins.svac.config import SVACLossConfig, SVACModelConfig
from swansphere.plugins.svac.model import (
    CONDITIONER_FILE,
    SVACModel,
    load_svac,
    write_conditioner_table,
)
from swansphere.spatial import encode, plane_wave_gains

RATE = 16000
TINY = SVACModelConfig(
    video=PanoramaVideoConfig(dim=16, height=16, width=32, channels=(8, 16), token_dim=16,
                              heads=2, temporal_kernel=2),
    audio=FOAAudioEncoderConfig(hop_length=256, bands=12, channels=(8, 8)))


def bands(count: int = 16, n_fft: int = 512):
    import torchaudio

    return torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, RATE / 2, count, RATE)


def noise(samples: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(samples, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("azimuth", "elevation"), [(0, 0), (90, 0), (-135, 30), (60, -45)])
def test_covariance_features_read_the_plane_wave_direction(azimuth, elevation):
    foa = encode(noise(RATE), azimuth, elevation).unsqueeze(0)
    features = covariance_features(foa, 512, 256, bands())
    gains = plane_wave_gains(azimuth, elevation).float()           # (W, Y, Z, X)
    row_of_w = [PAIRS.index((0, j)) for j in (1, 2, 3)]            # W·Y, W·Z, W·X over W·W
    measured = features[0, row_of_w].mean(dim=(1, 2))
    torch.testing.assert_close(measured, gains[1:], atol=1e-3, rtol=0)
    broadband = broadband_moments(features)[0, :3].mean(dim=-1)     # same rows, all bands
    torch.testing.assert_close(broadband, gains[1:], atol=1e-3, rtol=0)


def test_covariance_features_ignore_the_gain():
    foa = encode(noise(RATE, 1), 30, 10).unsqueeze(0) + 0.01 * torch.randn(1, 4, RATE)
    quiet = covariance_features(foa, 512, 256, bands())
    loud = covariance_features(10 * foa, 512, 256, bands())
    torch.testing.assert_close(quiet, loud, atol=1e-4, rtol=1e-4)


def test_frame_pooling_averages_frames_round_each_step():
    frame_times = torch.arange(11, dtype=torch.float64) * 0.1          # 0.0 .. 1.0 s
    weights = frame_pooling(frame_times, torch.tensor([0.0, 0.5, 5.0]), window_seconds=0.2)
    assert weights.shape == (1, 3, 11)
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 3, dtype=torch.float64))
    assert weights[0, 1].nonzero().flatten().tolist() == [4, 5, 6]
    assert weights[0, 2].nonzero().flatten().tolist() == [10]       # nearest when none in reach


def test_audio_encoder_is_direction_aware_and_checks_its_input():
    torch.manual_seed(0)
    model = SVACModel(TINY)
    times = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    source = noise(RATE)
    left = model.embed_audio(encode(source, 90, 0).unsqueeze(0), times)
    right = model.embed_audio(encode(source, -90, 0).unsqueeze(0), times)
    assert left.shape == (1, 3, 16)
    assert (left - right).abs().max() > 1e-3
    with pytest.raises(AudioFormatError):
        model.embed_audio(torch.zeros(1, 3, RATE), times)


def batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    foa = 0.1 * torch.randn(3, 4, RATE // 2, generator=generator)
    frames = torch.rand(3, 2, 3, 16, 32, generator=generator)
    return foa, frames, torch.arange(2, dtype=torch.float64) / 4


def test_loss_trains_both_encoders_and_is_reproducible():
    torch.manual_seed(0)
    model = SVACModel(TINY)
    foa, frames, times = batch()
    loss, metrics = model.loss(foa, frames, times, SVACLossConfig(min_shift_seconds=0.25),
                               torch.Generator().manual_seed(5))
    loss.backward()
    assert {"hard_audio_wins", "hard_video_wins"} <= set(metrics)
    for part in (model.video, model.audio):
        assert sum(p.grad.abs().sum() for p in part.parameters() if p.grad is not None) > 0
    again, _ = model.loss(foa, frames, times, SVACLossConfig(min_shift_seconds=0.25),
                          torch.Generator().manual_seed(5))
    torch.testing.assert_close(again, loss)
    semantic = SVACLossConfig(time_negatives=0, rotation_negatives=0, roll_negatives=0)
    _, metrics = model.loss(foa, frames, times, semantic, torch.Generator().manual_seed(5))
    assert not {"hard_audio_wins", "hard_video_wins"} & set(metrics)


def test_trained_video_encoder_plugs_into_the_registry(tmp_path):
    torch.manual_seed(0)
    model = SVACModel(TINY).eval()
    directory = model.save_pretrained(tmp_path / "svac")
    write_conditioner_table(directory)
    table = tomllib.loads((directory / CONDITIONER_FILE).read_text())
    assert table["type"] == "panorama-video"
    conditioner = swansphere.create("conditioner", table)
    _, frames, times = batch(1)
    with torch.no_grad():
        torch.testing.assert_close(conditioner(frames).tokens,
                                   model.embed_video(frames, times))
        loaded = load_svac(directory)
        torch.testing.assert_close(loaded.embed_audio(batch(1)[0], times),
                                   model.embed_audio(batch(1)[0], times))


def test_svac_video_and_text_conditioners_drive_the_causal_backbone(tmp_path):
    """The exported table builds a conditioner whose tokens are the backbone's video input."""
    torch.manual_seed(0)
    directory = SVACModel(TINY).save_pretrained(tmp_path / "svac")
    table = tomllib.loads(write_conditioner_table(directory).read_text())
    video = swansphere.create("conditioner", table)
    text = swansphere.create("conditioner", {"type": "text-transformer", "dim": 12,
                                             "layers": 1, "heads": 2})
    size = {"layers": 1, "width": 16, "heads": 2, "kv_heads": 1}
    backbone = swansphere.create("backbone", {
        "type": "causal-dit", "latent_dim": 6, "latent_frame_rate": 8.0, "patch_frames": 2,
        "text_dim": 12, "video_dim": TINY.video.dim, "lm": size, "locenc": size,
        "locdit": size, "caption_layers": 1, "attention_window": 0, "video_dropout": 0.0})
    with torch.no_grad():                      # wake the zero-initialised gates and adapters
        for parameter in backbone.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape))
    frames = torch.rand(6, 3, 16, 32, generator=torch.Generator().manual_seed(2))
    conditions = backbone.make_conditions(text=text(text.prepare(["a bell on the left", None])),
                                          video=video(video.prepare([frames, None])))
    latents = torch.randn(2, 6, 6, generator=torch.Generator().manual_seed(3))
    loss = backbone.loss(latents, conditions, torch.Generator().manual_seed(4))
    loss.backward()
    assert torch.isfinite(loss)
    assert video.readout.project.weight.grad.abs().sum() > 0       # trainable end to end
