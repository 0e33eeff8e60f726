"""Procedural stand-ins for sound classes that no permissively licensed recording covers.

Every recorded dog in the installed sound sets is under a copyleft licence, so the shipped
model could not be shown one. A bark is simple enough to synthesise: a short voiced burst
whose pitch jumps up and falls, a rough (period-doubled) voice source, a fast attack and a
quick decay, shaped by the resonances of a dog's vocal tract, in runs of about three barks.
The parameters were chosen among a small grid by how the aisfx embedding ranks the result
against the *training* clips of every licence, and only then judged on held-out recordings
(docs/evaluation.md, "A procedural dog").

Wind, a crackling fire, thunder, crickets, footsteps and a heartbeat, sounds people ask a
scene for more than any other, have no permissive recording here either, and are the classic
subjects of procedural sound design: shaped noise for wind and a fire's roar, random clicks
for its crackle, a crack and a long low rumble for thunder, trains of tone pulses for
crickets, heel-and-toe thuds for steps, damped low thumps for a heart, a pair of mechanical
clicks for a camera's shutter, and, like the bark, voiced calls for a lion's roar and a
horse's neigh (docs/data.md, "Procedural sounds"). The renders are this
project's own work (licence ``synthesised``), so the shipped model may learn from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import numpy as np

from .clips import Renderer, SoundClip, normalise_level
from .synthetic import synthesised_clips

BARK_FORMANTS = ((500.0, 1.0, 170.0), (1200.0, 0.7, 240.0), (2500.0, 0.3, 370.0))
"""Vocal-tract resonances of a medium dog's bark, ``(Hz, gain, width in Hz)``: lower than a
person's vowels, each 120 Hz + 10 % wide."""


def _resonances(freqs: np.ndarray, formants: tuple[tuple[float, float, float], ...]
                ) -> np.ndarray:
    """A spectral envelope: a resonance peak per formant ``(Hz, gain, width in Hz)``."""
    return sum(gain / (1.0 + ((freqs - centre) / width) ** 2)
               for centre, gain, width in formants)


def _bark(rng: np.random.Generator, sample_rate: int, pitch: float, seconds: float
          ) -> np.ndarray:
    """One bark: a harmonic burst at ``pitch`` Hz rising by about a fourth then falling, with
    period doubling (the rasp), a little breath noise and a 8 ms attack."""
    count = max(int(seconds * sample_rate), 1)
    t = np.arange(count) / sample_rate
    rise = np.sin(np.pi * np.minimum(t / (0.35 * seconds), 1.0))
    contour = pitch * (1.0 + 0.35 * rise - 0.4 * (t / seconds) ** 2)
    voice, phase = _harmonic_voice(rng, sample_rate, contour, 0.03)
    source = voice * (1.0 + 0.5 * np.sin(phase / 2.0)) + 0.3 * rng.standard_normal(count)
    envelope = np.minimum(t / 0.008, 1.0) * np.exp(-np.maximum(t - 0.03, 0.0) / (0.35 * seconds))
    spectrum = np.fft.rfft(source * envelope)
    freqs = np.fft.rfftfreq(count, 1.0 / sample_rate)
    return np.fft.irfft(spectrum * _resonances(freqs, BARK_FORMANTS), count)


def _harmonic_voice(rng: np.random.Generator, sample_rate: int, contour: np.ndarray,
                    jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """A voice along the pitch ``contour`` (Hz, one value a sample), which wanders by
    ``jitter``: every harmonic below 0.45 of the rate at 1/n, each at a random phase. Returns
    the voice and its fundamental's phase."""
    count = contour.size
    contour = contour * (1.0 + jitter * rng.standard_normal(count).cumsum()
                         / np.sqrt(np.arange(1, count + 1)))
    phase = 2.0 * np.pi * np.cumsum(contour) / sample_rate
    harmonics = np.arange(1, int(0.45 * sample_rate / contour.max()) + 1)
    voice = (np.sin(harmonics[:, None] * phase[None, :]
                    + rng.uniform(0, 2 * np.pi, (harmonics.size, 1)))
             / harmonics[:, None]).sum(axis=0)
    return voice, phase


def dog_barks(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A dog barking: barks a quarter to half a second apart, and after three in ten of them
    a pause of about a second (runs of about three); each dog (draw of ``rng``) has its own
    pitch and bark length."""
    pitch, seconds = rng.uniform(420.0, 480.0), rng.uniform(0.19, 0.22)
    out = np.zeros(num_samples)
    position = int(rng.uniform(0.02, 0.08) * sample_rate)
    while position < num_samples:
        bark = _bark(rng, sample_rate, pitch * rng.uniform(0.95, 1.05), seconds)
        _add_at(out, position, bark)
        gap = rng.uniform(0.25, 0.45) if rng.random() < 0.7 else rng.uniform(0.8, 1.2)
        position += int(gap * sample_rate)
    return normalise_level(out)


def _add_at(out: np.ndarray, start: int, piece: np.ndarray) -> None:
    """Add ``piece`` into ``out`` from sample ``start`` on, what falls past the end cut."""
    piece = piece[:max(out.size - start, 0)]
    out[start:start + piece.size] += piece


def _onsets(rng: np.random.Generator, count: int, sample_rate: int,
            gap: Callable[[], float]) -> Iterator[int]:
    """Event onsets in a clip of ``count`` samples: the first 0.05-0.3 s in, each next
    ``gap()`` seconds later (drawn after the event before it is made)."""
    onset = int(rng.uniform(0.05, 0.3) * sample_rate)
    while onset < count:
        yield onset
        onset += int(gap() * sample_rate)


def _slow_curve(rng: np.random.Generator, count: int, sample_rate: int, changes: float
                ) -> np.ndarray:
    """A control curve in [0, 1] of ``count`` samples that wanders about ``changes`` times a
    second (random points joined by a cosine ease), for gusts and flickers."""
    points = max(int(np.ceil(count / sample_rate * changes)) + 2, 2)
    values = rng.uniform(0.0, 1.0, points)
    position = np.arange(count) / sample_rate * changes
    index = np.minimum(position.astype(int), points - 2)
    ease = 0.5 - 0.5 * np.cos(np.pi * (position - index))
    return values[index] * (1.0 - ease) + values[index + 1] * ease


def _shaped_noise(rng: np.random.Generator, count: int, sample_rate: int,
                  shape: Callable[[np.ndarray, float], np.ndarray],
                  control: np.ndarray) -> np.ndarray:
    """White noise whose spectrum changes with time: each 64 ms frame (half overlapping,
    Hann-windowed, added back) takes the magnitude ``shape(freqs, value)`` of the
    ``control`` curve's value at its centre."""
    frame = 1 << max(int(np.ceil(np.log2(0.064 * sample_rate))), 4)
    hop = frame // 2
    window = np.hanning(frame + 1)[:frame]
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    out = np.zeros(count + frame)
    for start in range(-hop, count, hop):
        noise = rng.standard_normal(frame) * window
        value = float(control[min(max(start + hop, 0), count - 1)])
        piece = np.fft.irfft(np.fft.rfft(noise) * shape(freqs, value), frame)
        begin = max(start, 0)
        out[begin:start + frame] += piece[begin - start:]
    return out[:count]


def wind(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Wind: low, broad noise with a howling resonance whose pitch and strength rise and
    fall with gusts (every second or two); each draw is another wind."""
    count = max(num_samples, 1)
    gusts = _slow_curve(rng, count, sample_rate, rng.uniform(0.4, 0.8))
    low, high = rng.uniform(200.0, 300.0), rng.uniform(700.0, 1000.0)

    def shape(freqs: np.ndarray, gust: float) -> np.ndarray:
        centre = low + (high - low) * gust
        howl = 1.0 / (1.0 + ((freqs - centre) / (0.12 * centre)) ** 2)
        body = 1.0 / (1.0 + (freqs / (0.6 * centre)) ** 2)
        return (0.2 + gust) * (0.6 * body + howl)

    return normalise_level(_shaped_noise(rng, count, sample_rate, shape, gusts))


def fire(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A crackling fire: a low flickering roar under random crackles (about 20 a second,
    a few milliseconds each, bright, of very uneven loudness) and now and then a lower pop."""
    count = max(num_samples, 1)
    flicker = _slow_curve(rng, count, sample_rate, 3.0)
    roar = _shaped_noise(rng, count, sample_rate,
                         lambda freqs, value: (0.5 + value) / (1.0 + (freqs / 400.0) ** 2),
                         flicker)
    out = 0.15 * roar / (np.sqrt(np.mean(roar ** 2)) + 1e-12)
    for rate, seconds, brightness, loudness in ((20.0, 0.004, 1.0, 1.0), (1.5, 0.015, 0.3, 2.0)):
        for onset in np.flatnonzero(rng.random(count) < rate / sample_rate):
            _add_at(out, onset, _crackle(rng, sample_rate, seconds, brightness,
                                         loudness * 10 ** rng.uniform(-1.5, 0.0)))
    return normalise_level(out)


def _crackle(rng: np.random.Generator, sample_rate: int, seconds: float, brightness: float,
             amplitude: float) -> np.ndarray:
    """One burst of a fire: noise decaying over ``seconds``, differenced (brighter) by
    ``brightness`` of one step."""
    size = max(int(4 * seconds * sample_rate), 2)
    noise = rng.standard_normal(size)
    bright = noise - brightness * np.concatenate(([0.0], noise[:-1]))
    return amplitude * bright * np.exp(-np.arange(size) / (seconds * sample_rate))


def thunder(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Thunder: a bright crack, then a deep rumble that rolls (several overlapping swells)
    and dies away over seconds; a long clip has a clap every five to nine seconds."""
    count = max(num_samples, 1)
    out = np.zeros(count)
    for onset in _onsets(rng, count, sample_rate, lambda: rng.uniform(5.0, 9.0)):
        _add_at(out, onset, _clap(rng, sample_rate, rng.uniform(3.0, 5.0)))
    return normalise_level(out)


def _clap(rng: np.random.Generator, sample_rate: int, seconds: float) -> np.ndarray:
    """One thunderclap ``seconds`` long."""
    count = int(seconds * sample_rate)
    t = np.arange(count) / sample_rate
    rumble = _shaped_noise(rng, count, sample_rate,
                           lambda freqs, _: 1.0 / (1.0 + (freqs / 120.0) ** 4), np.zeros(count))
    swells = sum(np.clip((t - start) / 0.15, 0.0, 1.0) * np.exp(-np.maximum(t - start, 0.0) / decay)
                 for start, decay in zip(np.sort(rng.uniform(0.0, 0.4 * seconds, 4)),
                                         rng.uniform(0.4, 1.2, 4), strict=True))
    crack = _crackle(rng, sample_rate, rng.uniform(0.03, 0.08), 0.7, 1.0)
    rumble *= swells / (np.sqrt(np.mean(rumble ** 2)) + 1e-12)
    rumble[:crack.size] += 2.0 * crack[:count] / (np.abs(crack).max() + 1e-12)
    return rumble


def crickets(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Crickets: two to four insects, each chirping two or three times a second in bursts of
    three to five tone pulses near 4-5 kHz (below the Nyquist frequency at low rates)."""
    count = max(num_samples, 1)
    t = np.arange(count) / sample_rate
    out = np.zeros(count)
    for _ in range(int(rng.integers(2, 5))):
        carrier = min(rng.uniform(3800.0, 5000.0), 0.4 * sample_rate)
        tone = np.sin(2 * np.pi * carrier * t + rng.uniform(0, 2 * np.pi))
        period, pulses = 1.0 / rng.uniform(2.0, 3.0), int(rng.integers(3, 6))
        phase = (t + rng.uniform(0.0, period)) % period
        pulse = np.sin(np.pi * np.clip(phase % 0.03 / 0.018, 0.0, 1.0)) ** 2
        out += rng.uniform(0.3, 1.0) * tone * pulse * (phase < 0.03 * pulses)
    return normalise_level(out)


def footsteps(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """Someone walking: about two steps a second, each a heel's low thud with a click, then
    the sole rolling onto the toe a tenth of a second later, softer; each draw is another
    walker (pace, weight, how hard the floor is)."""
    count = max(num_samples, 1)
    out = np.zeros(count)
    pace, weight, hardness = rng.uniform(0.45, 0.6), rng.uniform(90.0, 160.0), rng.uniform()
    for onset in _onsets(rng, count, sample_rate, lambda: pace * rng.uniform(0.95, 1.05)):
        for delay, gain in ((0.0, 1.0), (rng.uniform(0.07, 0.11), 0.45)):
            _add_at(out, onset + int(delay * sample_rate),
                    gain * _step_sound(rng, sample_rate, weight, hardness))
    return normalise_level(out)


def _step_sound(rng: np.random.Generator, sample_rate: int, weight: float, hardness: float
                ) -> np.ndarray:
    """One footfall: a decaying noise burst shaped as a low thud near ``weight`` Hz and,
    the harder the floor, a brighter click near 2 kHz."""
    size = int(0.08 * sample_rate)
    burst = rng.standard_normal(size) * np.exp(-np.arange(size) / (0.015 * sample_rate))
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    thud = 1.0 / (1.0 + ((freqs - weight) / (0.5 * weight)) ** 2)
    click = hardness * 0.3 / (1.0 + ((freqs - 2000.0) / 800.0) ** 2)
    return np.fft.irfft(np.fft.rfft(burst) * (thud + click), size)


def heartbeat(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A heart beating 60 to 80 times a minute: each beat a low "lub" (a damped 40-60 Hz
    thump) and, about a third of a second later, a shorter, higher and softer "dub"."""
    count = max(num_samples, 1)
    out = np.zeros(count)
    period, pitch = 60.0 / rng.uniform(60.0, 80.0), rng.uniform(40.0, 60.0)
    for onset in _onsets(rng, count, sample_rate, lambda: period * rng.uniform(0.97, 1.03)):
        for delay, gain, frequency, decay in ((0.0, 1.0, pitch, 0.05),
                                              (0.3 * period, 0.6, 1.5 * pitch, 0.035)):
            _add_at(out, onset + int(delay * sample_rate),
                    gain * _thump(sample_rate, frequency, decay))
    return normalise_level(out)


def _thump(sample_rate: int, frequency: float, decay: float) -> np.ndarray:
    """A damped low sine with a 10 ms attack: one heart sound."""
    t = np.arange(int(5 * decay * sample_rate)) / sample_rate
    return np.sin(2 * np.pi * frequency * t) * np.minimum(t / 0.01, 1.0) * np.exp(-t / decay)


def camera(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A camera's shutter, a shot every one to two seconds: a sharp click as the mirror flips
    up (a 1 ms ring near 2.5-4 kHz over a tick of noise), then, 50-120 ms later, a softer and
    higher one as the shutter closes (3.5-5.5 kHz); rings stay below 0.4 of the rate."""
    count = max(num_samples, 1)
    out = np.zeros(count)
    top = 0.4 * sample_rate
    for onset in _onsets(rng, count, sample_rate, lambda: rng.uniform(0.8, 2.0)):
        _add_at(out, onset, _click(rng, sample_rate, min(rng.uniform(2500.0, 4000.0), top),
                                   0.001))
        closes = onset + int(rng.uniform(0.05, 0.12) * sample_rate)
        _add_at(out, closes, 0.7 * _click(rng, sample_rate,
                                          min(rng.uniform(3500.0, 5500.0), top), 0.00075))
    return normalise_level(out)


def _click(rng: np.random.Generator, sample_rate: int, frequency: float, decay: float
           ) -> np.ndarray:
    """A mechanical click: a ring at ``frequency`` Hz decaying over ``decay`` seconds and a
    noise tick three times shorter."""
    t = np.arange(max(int(6 * decay * sample_rate), 1)) / sample_rate
    tick = rng.standard_normal(t.size) * np.exp(-t / (0.3 * decay))
    return tick + np.sin(2 * np.pi * frequency * t) * np.exp(-t / decay)


@attrs.frozen
class CallShape:
    """How one animal's voiced call is shaped: its pitch contour (``bend``: the start, peak
    and end pitch as fractions of the call's pitch, the peak ``peak_at`` of the way in),
    vocal-tract resonances (``formants``: Hz, gain, width in Hz), breath noise (against a
    voice of peak 1), tremolo (rate in Hz, depth), attack and release (s), and ``jitter``,
    how far the pitch wanders."""

    bend: tuple[float, float, float]
    peak_at: float
    formants: tuple[tuple[float, float, float], ...]
    breath: float
    tremolo: tuple[float, float]
    attack: float
    release: float
    jitter: float


LION_ROAR = CallShape(bend=(0.8, 1.0, 0.6), peak_at=0.3,
                      formants=((400.0, 1.0, 150.0), (960.0, 0.6, 300.0)), breath=1.0,
                      tremolo=(8.0, 0.4), attack=0.1, release=0.4, jitter=0.03)
"""A roar: low and as breathy as it is voiced, rising a quarter then sinking to 0.6 of its
pitch, shaken at 8 Hz, through a big cat's long vocal tract (resonances near 400 and 960 Hz)."""
HORSE_NEIGH = CallShape(bend=(1.0, 1.1, 0.5), peak_at=0.15,
                        formants=((900.0, 1.0, 250.0), (2200.0, 0.6, 400.0)), breath=0.8,
                        tremolo=(20.0, 0.6), attack=0.03, release=0.3, jitter=0.02)
"""A neigh: high, rising a tenth then falling to half its pitch, with the fast, deep quaver
(20 Hz) of a whinny, and breath."""


def _voiced_call(rng: np.random.Generator, sample_rate: int, seconds: float, pitch: float,
                 shape: CallShape) -> np.ndarray:
    """One call ``seconds`` long at about ``pitch`` Hz: the bark's harmonic voice along the
    shape's contour, tremolo and breath, then its resonances."""
    count = max(int(seconds * sample_rate), 1)
    t = np.arange(count) / sample_rate
    along = t / seconds
    start, top, end = shape.bend
    contour = pitch * np.where(
        along < shape.peak_at,
        start + (top - start) * np.sin(0.5 * np.pi * along / shape.peak_at),
        top + (end - top) * ((along - shape.peak_at) / (1.0 - shape.peak_at)) ** 2)
    voice, _ = _harmonic_voice(rng, sample_rate, contour, shape.jitter)
    rate, depth = shape.tremolo
    voice *= 1.0 - depth + depth * 0.5 * (1.0 + np.sin(2 * np.pi * rate * t
                                                       + rng.uniform(0, 6.3)))
    source = voice / (np.abs(voice).max() + 1e-12) + shape.breath * rng.standard_normal(count)
    envelope = (np.minimum(t / shape.attack, 1.0)
                * np.clip((seconds - t) / shape.release, 0.0, 1.0))
    freqs = np.fft.rfftfreq(count, 1.0 / sample_rate)
    return np.fft.irfft(np.fft.rfft(source * envelope) * _resonances(freqs, shape.formants),
                        count)


def _calls(rng: np.random.Generator, sample_rate: int, num_samples: int,
           call: Callable[[], np.ndarray], pause: tuple[float, float]) -> np.ndarray:
    """Calls one after another, the first 20-100 ms in, each ``pause`` seconds (drawn
    between its bounds) after the end of the one before."""
    out = np.zeros(max(num_samples, 1))
    position = int(rng.uniform(0.02, 0.1) * sample_rate)
    while position < out.size:
        piece = call()
        _add_at(out, position, piece)
        position += piece.size + int(rng.uniform(*pause) * sample_rate)
    return normalise_level(out)


def lion(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A lion roaring: roars of 0.8-1.5 s near 110-130 Hz (:data:`LION_ROAR`), 0.3-1 s
    apart."""
    return _calls(rng, sample_rate, num_samples,
                  lambda: _voiced_call(rng, sample_rate, rng.uniform(0.8, 1.5),
                                       120.0 * rng.uniform(0.9, 1.1), LION_ROAR), (0.3, 1.0))


def horse(rng: np.random.Generator, sample_rate: int, num_samples: int) -> np.ndarray:
    """A horse neighing: neighs of 0.8-1.4 s near 810-990 Hz (:data:`HORSE_NEIGH`), 0.5-1.5 s
    apart."""
    return _calls(rng, sample_rate, num_samples,
                  lambda: _voiced_call(rng, sample_rate, rng.uniform(0.8, 1.4),
                                       900.0 * rng.uniform(0.9, 1.1), HORSE_NEIGH), (0.5, 1.5))


PROCEDURAL_SOUNDS: tuple[tuple[str, str, str, Renderer], ...] = (
    ("dog", "a dog", "barks", dog_barks),
    ("wind", "wind", "howls", wind),
    ("fire", "a fire", "crackles", fire),
    ("thunder", "thunder", "rumbles", thunder),
    ("crickets", "crickets", "chirp", crickets),
    ("footsteps", "footsteps", "approach", footsteps),
    ("heartbeat", "a heart", "beats", heartbeat),
    ("camera", "a camera", "clicks", camera),
    ("lion", "a lion", "roars", lion),
    ("horse", "a horse", "neighs", horse),
)
"""Each procedural class: its label, noun, verb and renderer."""


def procedural_clips() -> tuple[SoundClip, ...]:
    """The procedural stand-ins, one :class:`SoundClip` per class; each draw of the
    renderer's generator is another animal, wind or fire of the class."""
    return synthesised_clips("procedural", PROCEDURAL_SOUNDS)
