"""The procedural stand-ins: a dog that barks in runs, wind in gusts, a crackling fire,
thunder that cracks and rolls away, chirping crickets, steps at a walking pace, a heart's lub
and dub, a camera's click-click, a lion's low breathy roar, a horse's quavering neigh; the
same for the same draw."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.clips import is_permissive
from swansphere.data.procedural import (
    PROCEDURAL_SOUNDS,
    camera,
    crickets,
    dog_barks,
    fire,
    footsteps,
    heartbeat,
    horse,
    lion,
    thunder,
    wind,
)
from swansphere.data.sources import catalogue
from swansphere.data.vocabulary import class_clips

RATE = 16000
RENDERERS = [render for *_, render in PROCEDURAL_SOUNDS]


def frame_levels_db(signal: np.ndarray, frame: int = 320) -> np.ndarray:
    frames = signal[:signal.size // frame * frame].reshape(-1, frame).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def energy_share(signal: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    """The share of ``signal``'s energy between ``low`` and ``high`` Hz."""
    power = np.abs(np.fft.rfft(signal.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(signal.size, 1.0 / rate)
    return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())


@pytest.mark.parametrize("render", RENDERERS, ids=lambda render: render.__name__)
def test_the_same_draw_is_the_same_sound_and_another_draw_another(render):
    first = render(np.random.default_rng(3), RATE, 2 * RATE)
    again = render(np.random.default_rng(3), RATE, 2 * RATE)
    other = render(np.random.default_rng(4), RATE, 2 * RATE)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_barks_come_in_separate_bursts_with_silence_between():
    for seed in range(4):
        levels = frame_levels_db(dog_barks(np.random.default_rng(seed), RATE, 3 * RATE))
        loud = levels > levels.max() - 12.0
        onsets = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
        assert len(onsets) >= 3, seed          # several barks in three seconds
        assert loud.mean() < 0.6, seed         # each one short, with quiet between
        assert levels.min() < levels.max() - 30.0, seed


def test_a_bark_sounds_in_a_dogs_voice_range():
    audio = dog_barks(np.random.default_rng(0), RATE, 2 * RATE).astype(np.float64)
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1.0 / RATE)
    centroid = float((freqs * power).sum() / power.sum())
    assert 400.0 < centroid < 1000.0  # measured 610-635 Hz for four dogs
    assert power[freqs > 3500].sum() < 0.01 * power.sum()  # the resonances end at ~3 kHz


def test_wind_is_low_never_silent_and_rises_and_falls_in_gusts():
    for seed in range(4):
        audio = wind(np.random.default_rng(seed), RATE, 4 * RATE)
        assert energy_share(audio, 0.0, 2000.0) > 0.98, seed  # measured 0.998-0.999
        quarter_seconds = frame_levels_db(audio, RATE // 4)
        assert np.ptp(quarter_seconds) > 6.0, seed  # measured 9.9-14.5 dB
        levels = frame_levels_db(audio)
        assert levels.min() > levels.max() - 30.0, seed  # measured 16-21 dB apart


def test_a_fire_crackles_over_a_continuous_roar():
    for seed in range(4):
        audio = fire(np.random.default_rng(seed), RATE, 4 * RATE).astype(np.float64)
        steps = np.diff(audio) - np.diff(audio).mean()
        kurtosis = float(np.mean(steps ** 4) / np.mean(steps ** 2) ** 2)
        assert kurtosis > 30.0, seed  # clicks, not noise (3): measured 72-193
        assert energy_share(audio, 1000.0, RATE / 2) > 0.25, seed  # bright clicks: 0.39-0.54
        tenths = frame_levels_db(audio, RATE // 10)
        assert tenths.min() > tenths.max() - 25.0, seed  # the roar never stops: 12-15 dB


def test_thunder_cracks_then_rumbles_low_and_dies_away():
    for seed in range(4):
        audio = thunder(np.random.default_rng(seed), RATE, 4 * RATE)
        assert energy_share(audio, 0.0, 300.0) > 0.95, seed  # measured 0.990-0.996
        onset, rest = audio[:int(0.4 * RATE)], audio[int(0.4 * RATE):]
        assert energy_share(onset, 1000.0, RATE / 2) > 0.1, seed  # the crack: 0.13-0.99
        assert energy_share(rest, 1000.0, RATE / 2) < 0.01, seed
        seconds = frame_levels_db(audio, RATE)
        assert seconds[0] > seconds[-1] + 5.0, seed  # measured 7-19 dB


def test_crickets_chirp_in_pulses_of_a_high_tone_below_the_nyquist_frequency():
    for seed in range(4):
        audio = crickets(np.random.default_rng(seed), RATE, 4 * RATE)
        assert energy_share(audio, 3500.0, 5200.0) > 0.9, seed
        levels = frame_levels_db(audio, 80)
        assert (levels < levels.max() - 30.0).mean() > 0.3, seed  # pauses: 0.44-0.61
    low_rate = crickets(np.random.default_rng(0), 8000, 4 * 8000)
    assert energy_share(low_rate, 0.0, 3300.0, 8000) > 0.9


def repeat_period(signal: np.ndarray, shortest: float, longest: float) -> float:
    """The lag in seconds (20 ms steps, between ``shortest`` and ``longest``) at which the
    loudness of ``signal`` best repeats: its envelope's autocorrelation peak."""
    envelope = 10.0 ** (frame_levels_db(signal) / 20.0)
    centred = envelope - envelope.mean()
    lags = np.correlate(centred, centred, "full")[centred.size - 1:]
    within = np.arange(round(shortest / 0.02), round(longest / 0.02) + 1)
    return 0.02 * float(within[np.argmax(lags[within])])


def test_footsteps_fall_at_a_walking_pace_with_quiet_between():
    for seed in range(4):
        audio = footsteps(np.random.default_rng(seed), RATE, 4 * RATE).astype(np.float64)
        pace = repeat_period(audio, 0.3, 0.8)
        assert 0.44 <= pace <= 0.62, (seed, pace)  # measured 0.46-0.58 s
        levels = frame_levels_db(audio)
        assert (levels < levels.max() - 30.0).mean() > 0.5, seed  # measured 0.66-0.73
        assert energy_share(audio, 0.0, 3000.0) > 0.9, seed  # measured 0.96-0.998
        assert energy_share(audio, 0.0, 1000.0) > 0.4, seed  # the heel's thud: 0.51-0.99


def test_a_heart_beats_sixty_to_eighty_times_a_minute_lub_then_dub():
    for seed in range(4):
        audio = heartbeat(np.random.default_rng(seed), RATE, 4 * RATE).astype(np.float64)
        period = repeat_period(audio, 0.7, 1.2)
        assert 0.74 <= period <= 1.02, (seed, period)  # measured 0.84-0.96 s
        levels = frame_levels_db(audio)
        loud = levels > levels.max() - 10.0
        onsets = np.count_nonzero(loud[1:] & ~loud[:-1]) + int(loud[0])
        assert 1.5 <= onsets * period / 4.0 <= 2.5, (seed, onsets)  # two sounds a beat
        assert energy_share(audio, 0.0, 200.0) > 0.95, seed  # low thumps: 1.000


def test_a_camera_clicks_twice_a_shot_a_shot_every_one_to_two_seconds():
    for seed in range(4):
        audio = camera(np.random.default_rng(seed), RATE, 6 * RATE).astype(np.float64)
        levels = frame_levels_db(audio, 80)
        loud = levels > levels.max() - 20.0
        onsets = np.flatnonzero(np.diff(loud.astype(int)) == 1) + 1
        onsets = np.concatenate((np.flatnonzero(loud[:1]), onsets))
        gaps = np.diff(onsets) * 80 / RATE
        assert gaps.size >= 5, seed                   # three shots or more in six seconds
        assert np.all((gaps[0::2] >= 0.045) & (gaps[0::2] <= 0.125)), (seed, gaps)  # shutter
        assert np.all((gaps[1::2] >= 0.7) & (gaps[1::2] <= 2.05)), (seed, gaps)     # next shot
        assert (levels < levels.max() - 40.0).mean() > 0.9, seed  # short clicks: 0.98-0.99
        assert energy_share(audio, 1500.0, 8000.0) > 0.8, seed    # bright: 0.88-0.96


def tremolo_rate(signal: np.ndarray, lowest: float, highest: float) -> float:
    """The rate in Hz (between ``lowest`` and ``highest``) at which the loudness of
    ``signal`` (2.5 ms frames) swings most: its envelope's spectral peak."""
    envelope = 10.0 ** (frame_levels_db(signal, 40) / 20.0)
    power = np.abs(np.fft.rfft(envelope - envelope.mean()))
    rates = np.fft.rfftfreq(envelope.size, 40 / RATE)
    within = (rates >= lowest) & (rates <= highest)
    return float(rates[within][np.argmax(power[within])])


def breathiness(signal: np.ndarray, low: float, high: float, frame: int = 1024) -> float:
    """The median spectral flatness between ``low`` and ``high`` Hz of ``signal``'s loud
    frames (within 5 dB of the loudest): near 0 for a pure voice's harmonics, 1 for noise."""
    frames = signal[:signal.size // frame * frame].reshape(-1, frame)
    energy = np.mean(frames ** 2, axis=1)
    freqs = np.fft.rfftfreq(frame, 1.0 / RATE)
    band = (freqs >= low) & (freqs <= high)
    power = np.abs(np.fft.rfft(frames[energy > 0.3 * energy.max()] * np.hanning(frame)))
    power = power[:, band] ** 2 + 1e-20
    return float(np.median(np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)))


def test_a_lion_roars_low_and_breathy_shaken_eight_times_a_second():
    for seed in range(4):
        audio = lion(np.random.default_rng(seed), RATE, 6 * RATE).astype(np.float64)
        assert energy_share(audio, 0.0, 1500.0) > 0.95, seed  # low: 0.99
        assert breathiness(audio, 100.0, 1500.0) > 0.25, seed  # 0.34-0.36; voice alone 0.02
        assert 7.0 <= tremolo_rate(audio, 6.0, 14.0) <= 9.0, seed  # measured 7.5-8.7 Hz
        levels = frame_levels_db(audio)
        assert (levels < levels.max() - 30.0).mean() > 0.15, seed  # pauses: 0.26-0.38


def test_a_horse_neighs_high_with_a_fast_quaver():
    for seed in range(4):
        audio = horse(np.random.default_rng(seed), RATE, 6 * RATE).astype(np.float64)
        spectrum = np.abs(np.fft.rfft(audio))
        peak = np.fft.rfftfreq(audio.size, 1.0 / RATE)[np.argmax(spectrum)]
        assert 700.0 <= peak <= 1200.0, (seed, peak)  # the voice's pitch: 870-1010 Hz
        assert energy_share(audio, 0.0, 650.0) < 0.1, seed  # nothing below: 0.03-0.04
        assert 18.0 <= tremolo_rate(audio, 10.0, 30.0) <= 22.0, seed  # measured 19.8-20.3
        levels = frame_levels_db(audio)
        assert (levels < levels.max() - 30.0).mean() > 0.25, seed  # pauses: 0.41-0.45


@settings(max_examples=25, deadline=None)
@given(rate=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
       seconds=st.floats(0.001, 1.5), seed=st.integers(0, 2 ** 32 - 1),
       render=st.sampled_from(RENDERERS))
def test_any_rate_and_length_gives_a_levelled_finite_signal(rate, seconds, seed, render):
    count = max(int(seconds * rate), 1)
    audio = render(np.random.default_rng(seed), rate, count)
    assert audio.shape == (count,) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 0.9 + 1e-6


def test_each_procedural_sound_is_one_permissive_clip_of_its_class():
    clips = catalogue(["procedural"])
    assert [clip.phrase for clip in clips] == [
        "a dog barks", "wind howls", "a fire crackles", "thunder rumbles", "crickets chirp",
        "footsteps approach", "a heart beats", "a camera clicks", "a lion roars",
        "a horse neighs"]
    assert all(is_permissive(clip.licence) for clip in clips)
    assert [c.label for c in class_clips(clips)] == ["dog", "wind", "fire", "thunder",
                                                      "crickets", "footsteps", "heartbeat",
                                                      "camera", "lion", "horse"]
