"""Procedural stand-ins for vocabulary classes that no permissively licensed recording covers.

Every recorded dog in the installed sound sets is under a copyleft licence, so the shipped
model could not be shown one. A bark is simple enough to synthesise: a short voiced burst
whose pitch jumps up and falls, a rough (period-doubled) voice source, a fast attack and a
quick decay, shaped by the resonances of a dog's vocal tract, in runs of about three barks.
The parameters were chosen among a small grid by how the aisfx embedding ranks the result
against the *training* clips of every licence, and only then judged on held-out recordings
(docs/evaluation.md, "A procedural dog"). The renders are this project's own work
(licence ``synthesised``), so the shipped model may learn from them.
"""

from __future__ import annotations

import numpy as np

from .clips import SoundClip, normalise_level
from .synthetic import SYNTHETIC_LICENCE, SYNTHETIC_PACKAGE

BARK_FORMANTS = ((500.0, 1.0), (1200.0, 0.7), (2500.0, 0.3))
"""Vocal-tract resonances of a medium dog's bark, ``(Hz, gain)``: lower than a person's vowels."""


def _resonances(freqs: np.ndarray) -> np.ndarray:
    """The bark's spectral envelope: a resonance peak per formant, 120 Hz + 10 % wide."""
    return sum(gain / (1.0 + ((freqs - centre) / (120.0 + 0.1 * centre)) ** 2)
               for centre, gain in BARK_FORMANTS)


def _bark(rng: np.random.Generator, sample_rate: int, pitch: float, seconds: float
          ) -> np.ndarray:
    """One bark: a harmonic burst at ``pitch`` Hz rising by about a fourth then falling, with
    period doubling (the rasp), a little breath noise and a 8 ms attack."""
    count = max(int(seconds * sample_rate), 1)
    t = np.arange(count) / sample_rate
    rise = np.sin(np.pi * np.minimum(t / (0.35 * seconds), 1.0))
    contour = pitch * (1.0 + 0.35 * rise - 0.4 * (t / seconds) ** 2)
    contour *= 1.0 + 0.03 * rng.standard_normal(count).cumsum() / np.sqrt(np.arange(1, count + 1))
    phase = 2.0 * np.pi * np.cumsum(contour) / sample_rate
    harmonics = np.arange(1, int(0.45 * sample_rate / contour.max()) + 1)
    voice = (np.sin(harmonics[:, None] * phase[None, :] + rng.uniform(0, 2 * np.pi,
                                                                       (harmonics.size, 1)))
             / harmonics[:, None]).sum(axis=0)
    source = voice * (1.0 + 0.5 * np.sin(phase / 2.0)) + 0.3 * rng.standard_normal(count)
    envelope = np.minimum(t / 0.008, 1.0) * np.exp(-np.maximum(t - 0.03, 0.0) / (0.35 * seconds))
    spectrum = np.fft.rfft(source * envelope)
    freqs = np.fft.rfftfreq(count, 1.0 / sample_rate)
    return np.fft.irfft(spectrum * _resonances(freqs), count)


def dog_barks(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A dog barking: barks a quarter to half a second apart, and after three in ten of them
    a pause of about a second (runs of about three); each dog (draw of ``rng``) has its own
    pitch and bark length."""
    pitch, seconds = rng.uniform(420.0, 480.0), rng.uniform(0.19, 0.22)
    out = np.zeros(num_samples)
    position = int(rng.uniform(0.02, 0.08) * sample_rate)
    while position < num_samples:
        bark = _bark(rng, sample_rate, pitch * rng.uniform(0.95, 1.05), seconds)
        stop = min(num_samples, position + bark.size)
        out[position:stop] += bark[:stop - position]
        gap = rng.uniform(0.25, 0.45) if rng.random() < 0.7 else rng.uniform(0.8, 1.2)
        position += int(gap * sample_rate)
    return normalise_level(out)


def procedural_clips() -> tuple[SoundClip, ...]:
    """The procedural stand-ins, one :class:`SoundClip` per class; each draw of the
    renderer's generator is another animal of the class."""
    return (SoundClip(clip_id="procedural/dog", label="dog", noun="a dog", verb="barks",
                      licence=SYNTHETIC_LICENCE, package=SYNTHETIC_PACKAGE, render=dog_barks),)
