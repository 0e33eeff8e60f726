"""Synthesised sound sources and a free-field FOA dataset that needs no installed sound sets.

Every source is a small procedural model (bells, whistles, bird chirps, engines, clocks,
formant "speech", knocks, rain, sirens, steam) rendered from a ``numpy`` generator, so the
same generator state gives the same samples on every machine. They are the test and
bootstrap material: the codec and the model can train on :class:`SyntheticFOADataset` before
any Debian sound package is installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from ..errors import ConfigError
from .clips import Renderer, SoundClip, normalise_level
from .datasets import SceneDataset

SYNTHETIC_LICENCE = "synthesised"
SYNTHETIC_PACKAGE = "swansphere"


def _times(sample_rate: int, num_samples: int) -> np.ndarray:
    return np.arange(num_samples, dtype=np.float64) / sample_rate


def _band_noise(rng: np.random.Generator, num_samples: int, sample_rate: int,
                low: float, high: float) -> np.ndarray:
    """White noise restricted to ``[low, high]`` Hz in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sample_rate)
    spectrum[(freqs < low) | (freqs > high)] = 0.0
    return np.fft.irfft(spectrum, num_samples)


def _strike_times(rng: np.random.Generator, duration: float, mean_gap: float) -> np.ndarray:
    """Event onsets: the first near the start, then gaps jittered around ``mean_gap``."""
    onsets, now = [], rng.uniform(0.0, 0.1 * duration)
    while now < duration:
        onsets.append(now)
        now += mean_gap * rng.uniform(0.6, 1.4)
    return np.asarray(onsets)


def _decaying(t: np.ndarray, onsets: np.ndarray, decay: float) -> np.ndarray:
    """Sum of exponential decays starting at each onset (zero before it)."""
    env = np.zeros_like(t)
    for onset in onsets:
        after = t >= onset
        env[after] += np.exp(-(t[after] - onset) / decay)
    return env


def _nyquist_guard(freq: float | np.ndarray, sample_rate: int) -> np.ndarray:
    return np.minimum(freq, 0.45 * sample_rate)


def bell(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Inharmonic partials (church-bell ratios) struck repeatedly, decaying exponentially."""
    t = _times(sample_rate, num_samples)
    f0, decay = rng.uniform(300.0, 900.0), rng.uniform(0.3, 1.0)
    env = _decaying(t, _strike_times(rng, t[-1], rng.uniform(0.4, 0.9)), decay)
    ratios, weights = (1.0, 2.0, 2.76, 5.4, 8.93), (1.0, 0.6, 0.5, 0.3, 0.2)
    out = sum(w * np.sin(2 * np.pi * _nyquist_guard(f0 * r, sample_rate) * t)
              for r, w in zip(ratios, weights, strict=True))
    return normalise_level(out * env)


def whistle(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A harmonic tone with vibrato and slow attack/release, held for most of the clip."""
    t = _times(sample_rate, num_samples)
    f0 = rng.uniform(250.0, 700.0)
    rate, depth = rng.uniform(4.0, 7.0), rng.uniform(0.01, 0.03)
    phase = 2 * np.pi * np.cumsum(f0 * (1 + depth * np.sin(2 * np.pi * rate * t))) / sample_rate
    out = sum(np.sin(k * phase) / k for k in range(1, 6) if k * f0 < 0.45 * sample_rate)
    ramp = np.clip(np.minimum(t / 0.08, (t[-1] - t) / 0.15), 0.0, 1.0)
    return normalise_level(out * ramp)


def chirp(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Groups of short bird-like frequency sweeps."""
    t = _times(sample_rate, num_samples)
    out = np.zeros(num_samples)
    high = 0.45 * sample_rate
    for onset in _strike_times(rng, t[-1], rng.uniform(0.15, 0.35)):
        length = rng.uniform(0.04, 0.12)
        start_f, end_f = sorted(rng.uniform(0.15 * high, high, size=2))[:: rng.choice((-1, 1))]
        inside = (t >= onset) & (t < onset + length)
        local = t[inside] - onset
        freq = start_f + (end_f - start_f) * local / length
        out[inside] += np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.hanning(inside.sum())
    return normalise_level(out)


def engine(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A low harmonic drone with a wandering speed, firing-rate modulation and rumble."""
    t = _times(sample_rate, num_samples)
    f0 = rng.uniform(30.0, 70.0) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    drone = sum(np.sin(k * phase) / k ** 0.7 for k in range(1, 20))
    rumble = _band_noise(rng, num_samples, sample_rate, 40.0, min(600.0, 0.45 * sample_rate))
    firing = 1 + 0.5 * np.sin(phase * 2)
    return normalise_level(drone * firing + 3.0 * rumble)


def clock(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Regular ticks alternating between two pitches (tick, tock)."""
    t = _times(sample_rate, num_samples)
    period = 1.0 / rng.uniform(1.5, 4.0)
    out = np.zeros(num_samples)
    pitches = _nyquist_guard(np.array([rng.uniform(1500, 3000), rng.uniform(800, 1400)]),
                             sample_rate)
    for index, onset in enumerate(np.arange(rng.uniform(0, period), t[-1], period)):
        after = t >= onset
        local = t[after] - onset
        out[after] += np.sin(2 * np.pi * pitches[index % 2] * local) * np.exp(-local / 0.004)
    return normalise_level(out)


_VOWEL_FORMANTS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
                   (570, 840, 2410), (660, 1720, 2410), (440, 1020, 2240))


def _formant_gain(freqs: np.ndarray, formants: tuple[int, ...]) -> np.ndarray:
    """Spectral envelope of a vowel: a sum of resonance peaks (bandwidth ~ 80 Hz + 8 %)."""
    gain = np.zeros_like(freqs)
    for order, centre in enumerate(formants):
        width = 80.0 + 0.08 * centre
        gain += (0.7 ** order) / (1.0 + ((freqs - centre) / width) ** 2)
    return gain


def speech(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Speech-like babble: voiced syllables with vowel formants, pitch contour and pauses."""
    out = np.zeros(num_samples)
    f0_base, position = rng.uniform(95.0, 230.0), int(rng.uniform(0.0, 0.1) * sample_rate)
    while position < num_samples:
        length = int(rng.uniform(0.12, 0.3) * sample_rate)
        stop = min(num_samples, position + length)
        local = np.arange(stop - position) / sample_rate
        f0 = f0_base * (1 + 0.15 * rng.uniform(-1, 1) + 0.1 * local / max(local[-1], 1e-3))
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        formants = _VOWEL_FORMANTS[rng.integers(len(_VOWEL_FORMANTS))]
        harmonics = np.arange(1, int(0.45 * sample_rate / f0_base))
        gains = _formant_gain(harmonics * f0_base, formants)
        syllable = (gains[:, None] * np.sin(harmonics[:, None] * phase[None, :])).sum(axis=0)
        out[position:stop] = syllable * np.hanning(stop - position)
        pause = rng.uniform(0.02, 0.08) if rng.random() < 0.8 else rng.uniform(0.2, 0.4)
        position = stop + int(pause * sample_rate)
    return normalise_level(out)


def knock(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Groups of two to four low thumps on a door."""
    t = _times(sample_rate, num_samples)
    out = np.zeros(num_samples)
    pitch = rng.uniform(90.0, 200.0)
    click = _band_noise(rng, num_samples, sample_rate, 200.0, min(2000.0, 0.45 * sample_rate))
    for group in _strike_times(rng, t[-1], rng.uniform(0.8, 1.4)):
        for hit in range(int(rng.integers(2, 5))):
            onset = group + hit * rng.uniform(0.12, 0.2)
            after = t >= onset
            local = t[after] - onset
            out[after] += (np.sin(2 * np.pi * pitch * local) + 0.3 * click[after]) * np.exp(
                -local / 0.03)
    return normalise_level(out)


def rain(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Broadband patter: filtered noise plus many tiny random droplets."""
    bed = _band_noise(rng, num_samples, sample_rate, 500.0, 0.45 * sample_rate)
    drops = np.zeros(num_samples)
    count = int(rng.uniform(30, 80) * num_samples / sample_rate)
    drops[rng.integers(0, num_samples, size=count)] = rng.uniform(-1, 1, size=count)
    kernel = np.exp(-np.arange(int(0.003 * sample_rate) + 1) / (0.0007 * sample_rate))
    return normalise_level(0.4 * bed / (np.std(bed) + 1e-12) + np.convolve(drops, kernel)[
        :num_samples] * 3.0)


def siren(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A wailing tone sweeping slowly between a low and a high pitch."""
    t = _times(sample_rate, num_samples)
    low, high = rng.uniform(500.0, 800.0), rng.uniform(1100.0, 1600.0)
    freq = _nyquist_guard(low + (high - low) * 0.5 * (1 - np.cos(
        2 * np.pi * rng.uniform(0.3, 0.9) * t + rng.uniform(0, 2 * np.pi))), sample_rate)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    return normalise_level(np.sin(phase) + 0.3 * np.sin(3 * phase))


def steam(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Bursts of band-passed noise with smooth onsets: hissing steam or a spray."""
    t = _times(sample_rate, num_samples)
    low = rng.uniform(1500.0, 3000.0)
    noise = _band_noise(rng, num_samples, sample_rate, low, 0.45 * sample_rate)
    env = np.zeros(num_samples)
    for onset in _strike_times(rng, t[-1], rng.uniform(0.5, 1.0)):
        length = rng.uniform(0.2, 0.5)
        inside = (t >= onset) & (t < onset + length)
        env[inside] = np.sin(np.pi * (t[inside] - onset) / length)
    return normalise_level(noise * env)


_SYNTHS: tuple[tuple[str, str, str, Callable[..., np.ndarray]], ...] = (
    ("bell", "a bell", "rings", bell),
    ("whistle", "someone", "whistles", whistle),
    ("bird", "a bird", "chirps", chirp),
    ("engine", "an engine", "rumbles", engine),
    ("clock", "a clock", "ticks", clock),
    ("speech", "a person", "talks", speech),
    ("knock", "someone", "knocks", knock),
    ("rain", "rain", "patters", rain),
    ("siren", "a siren", "wails", siren),
    ("steam", "steam", "hisses", steam),
)


def synthetic_clips() -> tuple[SoundClip, ...]:
    """The catalogue of procedural sources, one :class:`SoundClip` per class."""
    return synthesised_clips("synthetic", _SYNTHS)


def synthesised_clips(set_name: str, sounds: Iterable[tuple[str, str, str, Renderer]]
                      ) -> tuple[SoundClip, ...]:
    """One :class:`SoundClip` (id ``set_name/label``, licence ``synthesised``) per
    ``(label, noun, verb, render)`` of this project's own renderers."""
    return tuple(
        SoundClip(clip_id=f"{set_name}/{label}", label=label, noun=noun, verb=verb,
                  licence=SYNTHETIC_LICENCE, package=SYNTHETIC_PACKAGE, render=render)
        for label, noun, verb, render in sounds)


def synthetic_labels() -> tuple[str, ...]:
    """Class names of the procedural sources, in catalogue order."""
    return tuple(label for label, *_ in _SYNTHS)


def render_clip(label: str, seed: int, sample_rate: int = 16000,
                seconds: float = 2.0) -> np.ndarray:
    """Render the procedural source ``label`` deterministically from ``seed`` (float32)."""
    by_label = {clip.label: clip for clip in synthetic_clips()}
    if label not in by_label:
        raise ConfigError(f"unknown synthetic source {label!r}; choose one of "
                          f"{', '.join(by_label)}")
    return by_label[label].render(np.random.default_rng(seed), sample_rate,
                                  math.ceil(seconds * sample_rate))


class SyntheticFOADataset(SceneDataset):
    """Free-field FOA scenes of the synthesised sources (no sound set needed): a
    :class:`~swansphere.data.datasets.SceneDataset` of :func:`synthetic_clips`."""

    def __init__(self, sample_rate: int = 16000, clip_seconds: float = 2.0, size: int = 1000,
                 seed: int = 0, max_sources: int = 3, moving_probability: float = 0.5,
                 diffuse_probability: float = 0.3, min_sources: int = 1,
                 track_hop_seconds: float = 0.05) -> None:
        super().__init__(synthetic_clips(), sample_rate=sample_rate, clip_seconds=clip_seconds,
                         size=size, seed=seed, min_sources=min_sources,
                         max_sources=max_sources, moving_probability=moving_probability,
                         diffuse_probability=diffuse_probability,
                         track_hop_seconds=track_hop_seconds)
