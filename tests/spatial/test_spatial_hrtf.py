"""Binaural rendering from SOFA HRIR sets: synthetic sets, the real KEMAR set, errors."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere import AudioFileError, ResourceNotFoundError
from swansphere.spatial import (
    BinauralDecoder,
    binaural,
    binaural_decoder,
    encode,
    find_sofa,
    load_sofa,
)
from swansphere.spatial import hrtf as hrtf_module

KEMAR = hrtf_module.DEFAULT_SOFA_PATHS[0]
NOISE = 0.1 * torch.randn(2048, generator=torch.Generator().manual_seed(0))


def _impulse(length=256, at=20):
    signal = torch.zeros(length)
    signal[at] = 1.0
    return signal


def _onset_and_energy(stereo):
    """Per ear: the sample of the largest magnitude and the total energy."""
    return stereo.abs().argmax(dim=-1).tolist(), stereo.square().sum(dim=-1).tolist()


@pytest.mark.parametrize("azimuth", [90.0, 60.0, 120.0])
def test_synthetic_set_left_source_is_louder_and_earlier_on_the_left(write_sofa, azimuth):
    path = write_sofa()
    left = binaural(encode(_impulse(), azimuth, 0.0), 16000, hrtf=path)
    right = binaural(encode(_impulse(), -azimuth, 0.0), 16000, hrtf=path)
    (left_onset, right_onset), (left_energy, right_energy) = _onset_and_energy(left)
    assert left_energy > 2 * right_energy and left_onset < right_onset
    torch.testing.assert_close(right, left.flip(0))  # the set is left/right symmetric


def test_front_source_is_balanced(write_sofa):
    stereo = binaural(encode(NOISE, 0.0, 0.0), 16000, hrtf=write_sofa())
    torch.testing.assert_close(stereo[0], stereo[1])


def test_resampled_set_keeps_level_and_side(write_sofa):
    native = binaural(encode(NOISE, 90.0, 0.0), 16000, hrtf=write_sofa("a.sofa"))
    resampled = binaural(encode(NOISE, 90.0, 0.0), 16000, hrtf=write_sofa("b.sofa", 3))
    # the same set measured at 48 kHz, brought down to 16 kHz, renders the same ear signals
    native_energy, resampled_energy = native.square().sum(-1), resampled.square().sum(-1)
    assert float(resampled_energy[0]) > 2 * float(resampled_energy[1])
    torch.testing.assert_close(resampled_energy, native_energy, rtol=0.05, atol=0)


def test_reader_handles_swapped_ears_and_cartesian_positions(write_sofa):
    reference = load_sofa(write_sofa("plain.sofa"))
    for variant in (write_sofa("swapped.sofa", right_ear_first=True),
                    write_sofa("cartesian.sofa", cartesian=True)):
        loaded = load_sofa(variant)
        torch.testing.assert_close(loaded.impulse_responses, reference.impulse_responses)
        torch.testing.assert_close(loaded.elevation, reference.elevation)
        torch.testing.assert_close(torch.deg2rad(loaded.azimuth).cos(),
                                   torch.deg2rad(reference.azimuth).cos())


def test_reader_applies_broadband_delays(write_sofa):
    reference = load_sofa(write_sofa("plain.sofa")).impulse_responses
    delayed = load_sofa(write_sofa("delayed.sofa", delay=(3, 5))).impulse_responses
    torch.testing.assert_close(delayed[:, 0, 3:3 + reference.shape[-1]], reference[:, 0])
    torch.testing.assert_close(delayed[:, 1, 5:5 + reference.shape[-1]], reference[:, 1])


@settings(max_examples=20)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=12))
def test_streaming_equals_offline_for_any_chunking(chunk_sizes):
    decoder = BinauralDecoder(torch.randn(2, 4, 40, generator=torch.Generator().manual_seed(5)),
                              16000)
    foa = encode(NOISE[:700], torch.linspace(0, 180, 700), 10.0).unsqueeze(0)
    offline = decoder(foa)
    state, outputs, start = decoder.init_state((1,)), [], 0
    for size in [*chunk_sizes, 700]:  # a final big chunk covers whatever is left
        chunk = foa[..., start:start + size]
        output, state = decoder.step(chunk, state)
        outputs.append(output)
        start += chunk.shape[-1]
    torch.testing.assert_close(torch.cat(outputs, dim=-1), offline, atol=1e-6, rtol=1e-5)


def test_decoders_from_files_are_cached(write_sofa):
    path = write_sofa()
    assert binaural_decoder(16000, path) is binaural_decoder(16000, str(path))
    assert binaural_decoder(16000, path) is not binaural_decoder(8000, path)


def test_missing_set_says_how_to_install_one(monkeypatch, tmp_path):
    monkeypatch.delenv(hrtf_module.SOFA_ENV, raising=False)
    monkeypatch.setattr(hrtf_module, "DEFAULT_SOFA_PATHS", (tmp_path / "none.sofa",))
    with pytest.raises(ResourceNotFoundError, match="apt-get install libmysofa1") as error:
        binaural(encode(NOISE, 0.0, 0.0), 16000)
    assert hrtf_module.SOFA_ENV in str(error.value) and "\n" not in str(error.value)
    monkeypatch.setenv(hrtf_module.SOFA_ENV, str(tmp_path / "missing.sofa"))
    with pytest.raises(ResourceNotFoundError, match=r"SWANSPHERE_SOFA=.*does not name a file"):
        find_sofa()


def test_environment_variable_selects_the_set(monkeypatch, write_sofa):
    path = write_sofa()
    monkeypatch.setenv(hrtf_module.SOFA_ENV, str(path))
    assert find_sofa() == path


def test_unusable_files_raise(tmp_path):
    garbage = tmp_path / "garbage.sofa"
    garbage.write_bytes(b"not hdf5 at all")
    with pytest.raises(AudioFileError, match="not a SOFA"):
        load_sofa(garbage)
    incomplete = tmp_path / "incomplete.sofa"
    with h5py.File(incomplete, "w") as sofa:
        sofa["Data.IR"] = np.zeros((3, 2, 8))
    with pytest.raises(AudioFileError, match="SimpleFreeFieldHRIR"):
        load_sofa(incomplete)


@pytest.mark.skipif(not KEMAR.is_file(), reason="needs Debian's libmysofa1 (MIT KEMAR set)")
@pytest.mark.parametrize("sample_rate", [16000, 44100])
def test_kemar_left_source_is_louder_and_earlier_on_the_left(sample_rate):
    impulse = _impulse(length=1024, at=100)
    (left_onset, right_onset), (left_energy, right_energy) = _onset_and_energy(
        binaural(encode(impulse, 90.0, 0.0), sample_rate))
    assert left_energy > 2 * right_energy and left_onset < right_onset
    (left_onset, right_onset), (left_energy, right_energy) = _onset_and_energy(
        binaural(encode(impulse, -90.0, 0.0), sample_rate))
    assert right_energy > 2 * left_energy and right_onset < left_onset
    assert load_sofa(KEMAR).impulse_responses.shape == (710, 2, 512)
