"""The ``foa-parametric`` codec: exact where it promises, and space kept for any scene."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import swansphere
from swansphere.codecs.config import FoaParametricConfig
from swansphere.codecs.parametric import FoaParametricCodec
from swansphere.codecs.weights import load_codec
from swansphere.errors import AudioFormatError, ConfigError
from swansphere.evaluation.codec_metrics import round_trip
from swansphere.metrics.direction import energy_map_correlation
from swansphere.spatial import angular_errors, encode
from swansphere.testing.streaming import CodecConformanceSuite

SMALL = {"type": "foa-parametric", "sample_rate": 8000, "hop_length": 32, "low_bins": 6,
         "envelope_bands": 4, "direction_bands": 3}


def small_codec() -> FoaParametricCodec:
    return swansphere.create("codec", SMALL)


class TestParametricCodecConforms(CodecConformanceSuite):
    max_examples = 8

    def make_codec(self):
        return small_codec()


class TestDefaultParametricCodecConforms(CodecConformanceSuite):
    max_examples = 3
    max_blocks = 4

    def make_codec(self):
        return swansphere.create("codec", {"type": "foa-parametric"})


def textbook_mdct(signal: np.ndarray, hop: int) -> np.ndarray:
    """``(frames, hop)`` MDCT of a 1-D signal, written from the definition in float64: frame
    ``k`` windows samples ``[(k - 1)·hop, (k + 1)·hop)`` (zeros before the start)."""
    padded = np.concatenate([np.zeros(hop), signal])
    n = np.arange(2 * hop)
    window = np.sin(np.pi * (n + 0.5) / (2 * hop))
    frames = []
    for start in range(0, len(padded) - 2 * hop + 1, hop):
        block = padded[start:start + 2 * hop] * window
        frames.append([math.sqrt(2 / hop) * np.sum(block * np.cos(
            np.pi / hop * (n + 0.5 + hop / 2) * (k + 0.5))) for k in range(hop)])
    return np.array(frames)


def textbook_imdct(coefficients: np.ndarray, hop: int) -> np.ndarray:
    """Windowed inverse MDCT with overlap-add, from the definition; output lags by one hop."""
    n = np.arange(2 * hop)
    window = np.sin(np.pi * (n + 0.5) / (2 * hop))
    out = np.zeros((len(coefficients) + 1) * hop)
    for index, frame in enumerate(coefficients):
        k = np.arange(hop)
        block = math.sqrt(2 / hop) * np.cos(
            np.pi / hop * (n[:, None] + 0.5 + hop / 2) * (k[None, :] + 0.5)) @ frame
        out[index * hop:index * hop + 2 * hop] += window * block
    return out[:len(coefficients) * hop]


def test_low_band_is_the_textbook_mdct_of_w():
    codec = small_codec()
    generator = torch.Generator().manual_seed(1)
    audio = torch.randn(1, 4, 10 * 32 + 5, generator=generator)
    coded = codec.parameters_of(audio)[0, :, :6].double().numpy()
    expected = textbook_mdct(audio[0, 0].double().numpy(), 32)[:, :6]
    np.testing.assert_allclose(coded, expected, atol=1e-5)


class TestPowerParametricCodecConforms(CodecConformanceSuite):
    max_examples = 6

    def make_codec(self):
        return swansphere.create("codec", {**SMALL, "low_band": "power"})


def textbook_mdst(signal: np.ndarray, hop: int) -> np.ndarray:
    """:func:`textbook_mdct` with sines: the modified discrete sine transform."""
    padded = np.concatenate([np.zeros(hop), signal])
    n = np.arange(2 * hop)
    window = np.sin(np.pi * (n + 0.5) / (2 * hop))
    kernel = np.sin(np.pi / hop * (n[:, None] + 0.5 + hop / 2) * (np.arange(hop)[None] + 0.5))
    blocks = [padded[start:start + 2 * hop] * window
              for start in range(0, len(padded) - 2 * hop + 1, hop)]
    return math.sqrt(2 / hop) * np.array(blocks) @ kernel


def test_a_power_low_band_is_the_log_mean_of_mdct_and_mdst_squares():
    codec = swansphere.create("codec", {**SMALL, "low_band": "power"})
    audio = torch.randn(1, 4, 10 * 32 + 5, generator=torch.Generator().manual_seed(1))
    coded = codec.parameters_of(audio)[0, :, :6].double().numpy()
    w = audio[0, 0].double().numpy()
    power = (textbook_mdct(w, 32)[:, :6] ** 2 + textbook_mdst(w, 32)[:, :6] ** 2) / 2
    np.testing.assert_allclose(coded, np.log(power + 1e-10), atol=1e-4)
    waveform = small_codec().parameters_of(audio)[0]
    torch.testing.assert_close(codec.parameters_of(audio)[0, :, 6:], waveform[:, 6:])


@pytest.mark.parametrize("phase", [0.0, 1.0, 2.5])
def test_a_steady_tone_codes_as_a_steady_power_whatever_its_phase(phase):
    """What a model has to predict for a held note: one value per bin, not a waveform's
    swings (the MDCT's own square of the same tone varies by orders of magnitude)."""
    codec = swansphere.create("codec", {**SMALL, "low_band": "power"})
    t = torch.arange(32 * 40) / 8000
    tone = torch.sin(2 * math.pi * 290.0 * t + phase)  # in bin 2 (125 Hz bins), off centre
    coded = codec.parameters_of(encode(tone, 30.0, 0.0)[None])[0, 4:, 2]
    assert float(coded.std()) < 0.05
    waveform = small_codec().parameters_of(encode(tone, 30.0, 0.0)[None])[0, 4:, 2]
    assert float((waveform.square() + 1e-10).log().std()) > 1.0


def test_a_power_low_band_decodes_to_its_power_and_keeps_direction():
    codec = swansphere.create("codec", {"type": "foa-parametric", "low_band": "power"})
    signal = torch.randn(16000, generator=torch.Generator().manual_seed(4))
    foa = encode(signal, 70.0, 20.0)
    decoded = round_trip(codec, foa[None])[0]
    assert float(angular_errors(foa[:, :decoded.shape[-1]], decoded)["angular"]) < 1e-3
    low_hz = 1500
    spectrum = torch.fft.rfft(torch.stack([foa[0, :decoded.shape[-1]], decoded[0]])).abs()
    cut = round(low_hz * decoded.shape[-1] / 16000)
    energies = spectrum[:, :cut].square().sum(-1)
    assert float(10 * torch.log10(energies[1] / energies[0]).abs()) < 1.0


def _share_explained_by(signal: torch.Tensor, phase: torch.Tensor, window: int = 512
                        ) -> torch.Tensor:
    """Per window, the share of ``signal``'s energy that a sinusoid with the phase track
    ``phase`` (any amplitude and phase offset) explains."""
    shares = []
    for start in range(0, signal.shape[-1] - window + 1, window):
        part = signal[start:start + window].double()
        track = phase[start:start + window].double()
        basis = torch.stack([track.cos(), track.sin()], dim=1)
        fit = basis @ torch.linalg.lstsq(basis, part[:, None]).solution
        shares.append(fit.square().sum() / part.square().sum())
    return torch.stack(shares)


def _power_round_trip_of_tone(phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """W of a tone with the phase track ``phase`` (16 kHz) through the default power codec,
    and the track, both without the first and last 64 ms (the stream's start and end)."""
    codec = swansphere.create("codec", {"type": "foa-parametric", "low_band": "power"})
    decoded = round_trip(codec, encode(0.3 * phase.cos(), 40.0, 10.0)[None])[0, 0]
    return decoded[1024:-1024], phase[1024:decoded.shape[-1] - 1024]


@settings(max_examples=8, deadline=None)
@given(hz=st.floats(150.0, 1350.0), offset=st.floats(0.0, 2 * math.pi))
def test_a_held_note_decodes_to_one_steady_sinusoid(hz, offset):
    """Coded powers carry no phase; the decoder continues each tone's own (pseudo-random
    signs would turn a held note into noise around its frequency)."""
    phase = 2 * math.pi * hz * torch.arange(16000) / 16000 + offset
    decoded, phase = _power_round_trip_of_tone(phase)
    assert float(_share_explained_by(decoded, phase).mean()) > 0.98


@pytest.mark.parametrize(("start_hz", "stop_hz"), [(300.0, 600.0), (900.0, 500.0)])
def test_a_gliding_note_stays_one_sinusoid_from_bin_to_bin(start_hz, stop_hz):
    t = torch.arange(2 * 16000) / 16000
    phase = 2 * math.pi * (start_hz * t + (stop_hz - start_hz) * t.square() / 4) + 0.7
    decoded, phase = _power_round_trip_of_tone(phase)
    assert float(_share_explained_by(decoded, phase).min()) > 0.96


def test_a_clip_decoded_with_its_own_phases_is_the_waveform_low_bands_round_trip():
    """The powers with the clip's own phases are its MDCT coefficients: every channel comes
    back as with the exact low band; a NaN guide leaves the decoder's own phases."""
    power = swansphere.create("codec", {"type": "foa-parametric", "low_band": "power"})
    waveform = swansphere.create("codec", {"type": "foa-parametric"})
    foa = encode(torch.randn(8000, generator=torch.Generator().manual_seed(5)), 40.0, 15.0)
    latents, guide = power.encode(foa[None]), power.phase_guide(foa[None])
    state = power.init_decode_state(1)
    guided = power.guided_decode_step(latents, state, guide)[0]
    torch.testing.assert_close(guided, waveform.decode(waveform.encode(foa[None])),
                               atol=1e-5, rtol=1e-4)
    assert waveform.phase_guide(foa[None]) is None
    unguided = power.guided_decode_step(latents, state, torch.full_like(guide, math.nan))[0]
    torch.testing.assert_close(unguided, power.decode(latents))


@pytest.mark.parametrize("hz", [330.0, 441.7])
def test_a_held_note_goes_on_in_phase_where_its_guide_ends(hz):
    """After guided frames the decoder's own phases continue the guide's: the note goes on
    as the exact low band has it (a guide read the wrong way round jumps)."""
    codec = swansphere.create("codec", {"type": "foa-parametric", "low_band": "power"})
    exact = swansphere.create("codec", {"type": "foa-parametric"})
    t = torch.arange(16000) / 16000
    foa = encode(0.3 * torch.sin(2 * math.pi * hz * t + 0.4), 0.0, 0.0)[None]
    latents, guide = codec.encode(foa), codec.phase_guide(foa)
    guide[:, 20:] = math.nan
    decoded = codec.guided_decode_step(latents, codec.init_decode_state(1), guide)[0][0, 0]
    expected = exact.decode(exact.encode(foa))[0, 0]
    after = slice(21 * codec.hop_length, 40 * codec.hop_length)
    residual = (decoded[after] - expected[after]).square().sum() / expected[after].square().sum()
    assert float(residual) < 0.05
    with pytest.raises(AudioFormatError, match="phase guide"):
        codec.guided_decode_step(latents, codec.init_decode_state(1), guide[:, :3])


def test_a_guide_keeps_two_partials_the_powers_alone_merge():
    """Two partials 1.8 bins apart (a third, 220 and 277 Hz) merge into one tone when the
    decoder invents phases; with the recording's phases the fine spectrum is the clip's."""
    codec = swansphere.create("codec", {"type": "foa-parametric", "low_band": "power"})
    t = torch.arange(16000) / 16000
    chord = encode(0.2 * (torch.sin(2 * math.pi * 220 * t) + torch.sin(2 * math.pi * 277.2 * t)),
                   0.0, 0.0)[None]
    latents = codec.encode(chord)
    guided = codec.guided_decode_step(latents, codec.init_decode_state(1),
                                      codec.phase_guide(chord))[0][0, 0, codec.delay:]
    unguided = codec.decode(latents)[0, 0, codec.delay:]
    original = chord[0, 0, :guided.shape[-1]]

    def fine(signal):
        return torch.stft(signal, 4096, 1024, window=torch.hann_window(4096),
                          return_complex=True).abs()[:, 1:-1].flatten()

    def likeness(signal):
        return float(torch.nn.functional.cosine_similarity(fine(signal), fine(original), 0))

    assert likeness(guided) > 0.99
    assert likeness(unguided) < 0.9


@settings(max_examples=10, deadline=None)
@given(azimuth=st.floats(-180, 180), elevation=st.floats(-89, 89), seed=st.integers(0, 99))
def test_a_band_limited_plane_wave_comes_back_exactly_one_hop_late(azimuth, elevation, seed):
    """W made of low-band MDCT atoms only: the round trip is exact (all four channels)."""
    codec = small_codec()
    rng = np.random.default_rng(seed)
    coefficients = np.zeros((12, 32))
    coefficients[:, :6] = rng.normal(size=(12, 6))
    omni = torch.from_numpy(textbook_imdct(coefficients, 32)).float()
    foa = encode(omni, azimuth, elevation)[None]
    decoded = codec.decode(codec.encode(foa))
    assert codec.delay == 32
    # exact to float rounding: the silent high band codes as the floor, which decodes to 0
    torch.testing.assert_close(decoded[..., 32:], foa[..., :-32], atol=2e-5, rtol=0)


@settings(max_examples=10, deadline=None)
@given(azimuth=st.floats(-180, 180), elevation=st.floats(-89, 89), seed=st.integers(0, 99))
def test_any_plane_wave_keeps_its_direction(azimuth, elevation, seed):
    codec = swansphere.create("codec", {"type": "foa-parametric"})
    signal = torch.randn(8000, generator=torch.Generator().manual_seed(seed))
    foa = encode(signal, azimuth, elevation)
    estimate = round_trip(codec, foa[None])[0]
    errors = angular_errors(foa[:, :estimate.shape[-1]], estimate)
    assert float(errors["angular"]) < 1e-3


def _scene(seed: int, samples: int = 6000) -> torch.Tensor:
    """Two plane waves with different spectra and a diffuse (incoherent) field."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.cumsum(torch.randn(samples, generator=generator), 0)
    low = low - low.mean()
    high = torch.randn(samples, generator=generator)
    diffuse = 0.3 * torch.randn(4, samples, generator=generator) * torch.tensor(
        [1.0, 3 ** -0.5, 3 ** -0.5, 3 ** -0.5])[:, None]
    return encode(0.02 * low, 60.0, 10.0) + encode(high, -120.0, -30.0) + diffuse


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoding_then_encoding_returns_the_latents(seed):
    """The codec is a projection: re-encoding decoded audio gives the coded parameters back
    (one frame later), low band, envelope, directions and diffuseness alike."""
    codec = swansphere.create("codec", {"type": "foa-parametric"})
    latents = codec.encode(_scene(seed)[None])
    again = codec.encode(codec.decode(latents))
    torch.testing.assert_close(again[:, 1:], latents[:, :-1], atol=2e-3, rtol=2e-3)


def test_intensity_and_energy_map_of_a_mixed_scene_survive():
    codec = swansphere.create("codec", {"type": "foa-parametric"})
    scene = _scene(3, 16000)
    estimate = round_trip(codec, scene[None])[0]
    reference = scene[:, :estimate.shape[-1]]
    assert float(angular_errors(reference, estimate)["angular"]) < 0.02
    assert float(energy_map_correlation(reference, estimate)) > 0.99


def test_high_band_power_follows_the_envelope_even_over_a_silent_low_band():
    """A hi-hat-like sound with nothing below 1.5 kHz still comes out, at its power."""
    codec = swansphere.create("codec", {"type": "foa-parametric"})
    noise = torch.randn(16000, generator=torch.Generator().manual_seed(5))
    spectrum = torch.fft.rfft(noise)
    spectrum[:int(len(spectrum) * 3000 / 8000)] = 0
    hiss = torch.fft.irfft(spectrum, n=16000)
    foa = encode(hiss, 30.0, 0.0)[None]
    estimate = round_trip(codec, foa)
    power_in = foa[0, 0, 1024:-1024].square().mean()
    power_out = estimate[0, 0, 1024:-1024].square().mean()
    assert 0.8 < float(power_out / power_in) < 1.25


def test_silence_and_wild_latents_decode_to_finite_audio():
    codec = swansphere.create("codec", {"type": "foa-parametric"})
    silent = codec.decode(codec.encode(torch.zeros(1, 4, 2048)))
    assert torch.equal(silent, torch.zeros_like(silent))
    wild = 5 * torch.randn(2, 6, codec.latent_dim, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(codec.decode(wild)).all()


def test_fitted_statistics_standardise_and_survive_save_and_load(tmp_path):
    codec = swansphere.create("codec", {"type": "foa-parametric"})
    scenes = torch.stack([_scene(seed, 8192) for seed in range(4)])
    codec.fit_statistics(codec.parameters_of(scenes))
    latents = codec.encode(scenes).reshape(-1, codec.latent_dim)
    torch.testing.assert_close(latents.mean(0), torch.zeros(codec.latent_dim), atol=1e-4,
                               rtol=0)
    spread = latents.std(0)
    assert ((spread - 1).abs() < 1e-3).all()
    codec.save_pretrained(tmp_path / "codec")
    loaded = load_codec(tmp_path / "codec")
    torch.testing.assert_close(loaded.encode(scenes), codec.encode(scenes))
    torch.testing.assert_close(loaded.decode(latents[None]), codec.decode(latents[None]))


@pytest.mark.parametrize(("fields", "message"), [
    ({"low_bins": 250, "envelope_bands": 16}, "low_bins + envelope_bands"),
    ({"direction_bands": 65}, "4 bins each"),
    ({"low_bins": 1}, "low_bins"),
])
def test_inconsistent_configs_say_what_to_change(fields, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        swansphere.create("codec", {"type": "foa-parametric", **fields})


def test_a_pipeline_generates_through_the_parametric_codec():
    """The codec slots into a pipeline (lookahead 0) at its latent size; the streamed
    chunks' audio is one offline decode of their latents."""
    from swansphere.config import structure
    from swansphere.pipeline import Pipeline, PipelineConfig

    codec = small_codec()
    block = {"layers": 1, "width": 32, "heads": 2, "kv_heads": 1}
    config = {"codec": SMALL,
              "backbone": {"type": "causal-dit", "latent_dim": codec.latent_dim,
                           "latent_frame_rate": codec.frame_rate, "patch_frames": 4,
                           "text_dim": 32, "attention_window": 8, "caption_layers": 1,
                           "lm": block, "locenc": block, "locdit": block},
              "sampler": {"type": "euler", "steps": 2},
              "text": {"type": "text-transformer", "dim": 32, "layers": 1, "heads": 2,
                       "vocab_size": 64}}
    pipeline = Pipeline.from_config(structure(config, PipelineConfig))
    chunks = list(pipeline.stream(text="a bell on the left", duration=0.2, seed=3))
    audio = torch.cat([chunk.audio for chunk in chunks], -1)
    latents = torch.cat([chunk.latents for chunk in chunks], -2)
    assert audio.shape[0] == 4 and torch.isfinite(audio).all() and audio.abs().max() > 0
    offline = pipeline.codec.decode(latents.reshape(1, -1, codec.latent_dim))[0]
    torch.testing.assert_close(audio, offline[:, :audio.shape[-1]])  # trimmed to duration


def test_latents_far_outside_any_audio_decode_no_louder_than_the_bounds():
    """Latents of an undertrained model can lie far outside what audio codes (log band power
    of 28 where full scale gives 5.5); the decoder holds them to audio within ±MAX_AMPLITUDE
    instead of blasting tens of dB over full scale, and leaves coded audio alone."""
    from swansphere.codecs.parametric import MAX_AMPLITUDE

    codec = swansphere.create("codec", {"type": "foa-parametric"})
    config = codec.config
    wild = torch.zeros(1, 20, codec.latent_dim)
    wild[..., :config.low_bins] = 1e3 * torch.randn(1, 20, config.low_bins,
                                                    generator=torch.Generator().manual_seed(1))
    wild[..., config.low_bins:config.low_bins + config.envelope_bands] = 28.0
    audio = codec.decode(wild)
    level = audio[0, 0].square().mean().sqrt()
    assert torch.isfinite(audio).all()
    assert float(level) < MAX_AMPLITUDE * math.sqrt(2)  # overlap-add of two bounded frames
    scene = _scene(2, 8192)
    bounded = codec.decode(codec.encode(scene[None]))
    unbounded_decoder = codec._within_amplitude
    codec._within_amplitude = lambda omni: omni
    try:
        torch.testing.assert_close(bounded, codec.decode(codec.encode(scene[None])))
    finally:
        codec._within_amplitude = unbounded_decoder


@pytest.mark.parametrize("fields", [{}, {"low_bins": 20, "envelope_bands": 5,
                                         "direction_bands": 3}])
def test_latent_parts_tile_the_frame_in_order(fields) -> None:
    config = FoaParametricConfig(**fields)
    parts = list(config.latent_parts().values())
    assert parts[0].start == 0 and parts[-1].stop == FoaParametricCodec(config).latent_dim
    assert all(before.stop == after.start for before, after in itertools.pairwise(parts))
    assert [part.stop - part.start for part in parts] == [
        config.low_bins, config.envelope_bands, 3 * config.direction_bands,
        config.direction_bands]


def test_statistics_fitted_with_another_low_band_are_refused(tmp_path):
    from swansphere.codecs.weights import WeightsError

    saved = swansphere.create("codec", {**SMALL, "low_band": "power"}).save_pretrained(
        tmp_path / "codec")
    loaded = swansphere.create("codec", {**SMALL, "low_band": "power", "weights": str(saved)})
    assert loaded.config.low_band == "power"
    with pytest.raises(WeightsError, match=r"saved with low_band = 'power'.*'waveform'"):
        swansphere.create("codec", {**SMALL, "weights": str(saved)})
