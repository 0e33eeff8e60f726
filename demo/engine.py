"""One demo request from inputs to files, without Gradio: the page (:mod:`.app`) only shows
what this yields.

A request streams the model's AmbiX chunks through the streaming binaural decoder (each chunk
comes out as a small 16-bit WAV for the page's player), then writes the AmbiX WAV, the
headphone WAV, the 360° MP4, the energy map and the direction track and, for a video, the
video with the energy laid over. Bad input raises :class:`~swansphere.errors.GenerationError`
(or another :class:`~swansphere.SwanSphereError` from the library) with one clear line.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch

from swansphere import Pipeline
from swansphere.cli_args import MAX_SEED
from swansphere.errors import GenerationError
from swansphere.pipeline import BUILTIN_MODELS, CONFIG_FILE
from swansphere.spatial import binaural_decoder, write_360_mp4, write_foa, write_wav
from swansphere.spatial.plot import map_figure, overlay_video, save_figure, track_figure
from swansphere.spatial.video_io import iter_panorama_video, probe_video, read_panorama_video

MIN_DURATION = 0.5
MAX_DURATION = 30.0
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".npz")
OVERLAY_FPS, OVERLAY_WIDTH = 10.0, 640
"""The overlay in the page is held in memory while it is encoded: at most 30 s of 640 × 320
frames at 10 fps, under 200 MB (``swansphere spatial overlay`` keeps the video's own rate)."""


def shipped_models() -> list[str]:
    """Names of the models that come with the package (``tiny``, ``tiny-next``)."""
    return sorted(path.name for path in BUILTIN_MODELS.iterdir()
                  if (path / CONFIG_FILE).is_file())


@dataclass(frozen=True)
class Request:
    """What the page asks for, checked (see :func:`check_request`)."""

    prompt: str | None
    video: Path | None
    duration: float
    seed: int
    model: str


@dataclass(frozen=True)
class Results:
    """The files a request wrote."""

    ambix: Path
    binaural: Path
    mp4: Path
    energy_map: Path
    track: Path
    overlay: Path | None

    @property
    def downloads(self) -> list[Path]:
        return [self.ambix, self.binaural, self.mp4]


def check_request(prompt: str | None, video: str | Path | None, duration: Any, seed: Any,
                  model: str | None) -> Request:
    """Turn the page's raw values into a :class:`Request`, or say in one line what is wrong."""
    prompt = (prompt or "").strip() or None
    if prompt is None and not video:
        raise GenerationError("type a prompt or upload a 360° video (or both)")
    duration = _number(duration, "the duration")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise GenerationError(f"the duration must be between {MIN_DURATION:g} and "
                              f"{MAX_DURATION:g} seconds; got {duration:g}")
    if not (model or "").strip():
        raise GenerationError(f"choose a model ({', '.join(shipped_models())}) or type the "
                              "folder of one saved with save_pretrained")
    return Request(prompt=prompt, video=check_video(video) if video else None,
                   duration=duration, seed=_seed(seed), model=model.strip())


def _seed(value: Any) -> int:
    number = _number(value, "the seed")
    seed = value if isinstance(value, int) else int(number) if number.is_integer() else -1
    if not 0 <= seed <= MAX_SEED:
        raise GenerationError(f"the seed must be a whole number from 0 to {MAX_SEED}; "
                              f"got {value}")
    return seed


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise GenerationError(f"{what} must be a number; got {value!r}")
    return number


def check_video(video: str | Path) -> Path:
    """The uploaded video's path if it is a panorama video the demo can read."""
    path = Path(video)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise GenerationError(f"{path.name} is not a video the demo reads; upload one of "
                              f"{', '.join(VIDEO_SUFFIXES)} (an equirectangular 360° video)")
    if path.suffix.lower() == ".npz":
        frames = iter_panorama_video(path)
        try:
            next(frames, None)
        finally:
            frames.close()
    else:
        probe_video(path)
    return path


def wav_bytes(audio: torch.Tensor, sample_rate: int) -> bytes:
    """``(channels, n)`` float audio as a 16-bit WAV file in memory (clipped to ±1)."""
    buffer = io.BytesIO()
    samples = audio.detach().clamp(-1.0, 1.0).T.numpy()
    soundfile.write(buffer, samples, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class DemoEngine:
    """Runs requests; keeps each model it loaded, and writes into ``workdir``."""

    def __init__(self, workdir: Path, registry: Any = None) -> None:
        self.workdir = Path(workdir)
        self.registry = registry
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()
        self._runs = 0

    def pipeline(self, model: str) -> Pipeline:
        """The named model, loaded once."""
        with self._lock:
            if model not in self._pipelines:
                pipeline = Pipeline.from_pretrained(model, registry=self.registry)
                for module in pipeline.modules().values():
                    module.eval()
                self._pipelines[model] = pipeline
            return self._pipelines[model]

    def run(self, request: Request) -> Iterator[bytes | Results]:
        """Yield the headphone render chunk by chunk (WAV bytes), then the :class:`Results`."""
        pipeline = self.pipeline(request.model)
        rate = pipeline.sample_rate
        decoder = binaural_decoder(rate)
        state = decoder.init_state()
        foa, stereo = [], []
        with torch.inference_mode():
            for chunk in pipeline.stream(request.prompt, request.video, request.duration,
                                         request.seed):
                heard, state = decoder.step(chunk.audio, state)
                foa.append(chunk.audio)
                stereo.append(heard)
                yield wav_bytes(heard, rate)
        yield self._write(request, torch.cat(foa, dim=-1), torch.cat(stereo, dim=-1), rate)

    def _write(self, request: Request, foa: torch.Tensor, stereo: torch.Tensor,
               rate: int) -> Results:
        folder = self._new_folder()
        results = Results(ambix=folder / "ambix.wav", binaural=folder / "binaural.wav",
                          mp4=folder / "360.mp4", energy_map=folder / "energy-map.png",
                          track=folder / "direction-track.png",
                          overlay=folder / "overlay.mp4" if request.video else None)
        write_foa(results.ambix, foa, rate)
        write_wav(results.binaural, stereo, rate)
        frames, fps, backdrop = self._panorama(request.video)
        write_360_mp4(results.mp4, foa, rate, frames=frames, fps=fps)
        subject = f"“{request.prompt}”" if request.prompt else request.video.name
        save_figure(map_figure(foa, rate, backdrop=backdrop,
                               title=f"Energy map and direction track: {subject}"),
                    results.energy_map)
        save_figure(track_figure(foa, rate, title=f"Direction track: {subject}"),
                    results.track)
        if results.overlay is not None:
            overlaid, overlay_fps = overlay_video(foa, rate, request.video, fps=OVERLAY_FPS,
                                                  max_width=OVERLAY_WIDTH)
            write_360_mp4(results.overlay, foa, rate, frames=overlaid, fps=overlay_fps,
                          audio_codec="aac", faststart=True)
        return results

    def _new_folder(self) -> Path:
        with self._lock:
            self._runs += 1
            folder = self.workdir / f"run-{self._runs:04d}"
        folder.mkdir(parents=True)
        return folder

    @staticmethod
    def _panorama(video: Path | None) -> tuple[Any, float | None, np.ndarray | None]:
        """What the 360° MP4 shows (frames or a file, and a rate) and the map's backdrop."""
        if video is None:
            return None, None, None
        if video.suffix.lower() == ".npz":  # ffmpeg cannot read it: hand over the frames
            frames, _, fps = read_panorama_video(video)
            return frames, fps, frames[0]
        first = iter_panorama_video(video)
        try:
            backdrop = next(first)[0][0]
        finally:
            first.close()
        return video, None, backdrop
