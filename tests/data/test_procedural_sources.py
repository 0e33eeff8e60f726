"""The procedural stand-ins: a dog that barks in runs, the same for the same draw."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from swansphere.data.clips import is_permissive
from swansphere.data.procedural import dog_barks
from swansphere.data.sources import catalogue
from swansphere.data.vocabulary import class_clips

RATE = 16000


def frame_levels_db(signal: np.ndarray, frame: int = 320) -> np.ndarray:
    frames = signal[:signal.size // frame * frame].reshape(-1, frame).astype(np.float64)
    return 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def test_the_same_draw_is_the_same_dog_and_another_draw_another():
    first = dog_barks(np.random.default_rng(3), RATE, 2 * RATE)
    again = dog_barks(np.random.default_rng(3), RATE, 2 * RATE)
    other = dog_barks(np.random.default_rng(4), RATE, 2 * RATE)
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


@settings(max_examples=25, deadline=None)
@given(rate=st.sampled_from([8000, 16000, 22050, 44100, 48000]),
       seconds=st.floats(0.001, 1.5), seed=st.integers(0, 2 ** 32 - 1))
def test_any_rate_and_length_gives_a_levelled_finite_signal(rate, seconds, seed):
    count = max(int(seconds * rate), 1)
    audio = dog_barks(np.random.default_rng(seed), rate, count)
    assert audio.shape == (count,) and audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 0.9 + 1e-6


def test_the_procedural_dog_is_a_permissive_clip_of_the_dog_class():
    [clip] = catalogue(["procedural"])
    assert clip.phrase == "a dog barks" and is_permissive(clip.licence)
    assert [c.label for c in class_clips([clip])] == ["dog"]
