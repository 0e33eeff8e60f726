"""Baselines for the streaming model, generated and scored through the same harness.

* :class:`GlobalBaseline`: a whole-clip (non-causal) diffusion transformer of the same size
  (the ``global-dit`` backbone) inside an ordinary :class:`~swansphere.pipeline.Pipeline`: the
  same codec, conditioners, sampler and guidance weights; the first audio exists only once
  the whole clip has been sampled and decoded.
* :class:`CascadeBaseline`: mono generation, then ambisonic panning. Any generator (the
  streaming pipeline or the global baseline) makes a clip; its omnidirectional W channel is
  kept as the mono signal and re-encoded as a plane wave toward the direction that the video
  shows (:func:`salient_directions`, frame by frame) or, without video, that the prompt
  names (:func:`swansphere.evaluation.metrics.prompt_direction`), else the front.
* :func:`generate_clips` writes a folder of clips (AmbiX WAV plus a JSON sidecar with the
  prompt) for ``swansphere eval``, from prompts (:func:`prompt_requests`) or simulated scenes
  (:func:`scene_requests`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import numpy as np
import torch

from swansphere.config import ClipBackboneSpec
from swansphere.errors import ConfigError
from swansphere.pipeline import (
    Chunk,
    GenerationError,
    Pipeline,
    PipelineConfig,
    frames_and_times,
)
from swansphere.registry import Registry, default_registry
from swansphere.spatial import encode, write_foa
from swansphere.spatial.salience import per_sample_directions, salient_directions
from swansphere.spatial.words import prompt_direction


class ClipGenerator(Protocol):
    """What the baselines and :func:`generate_clips` accept: ``generate(...) -> (4, n)``."""

    @property
    def sample_rate(self) -> int: ...

    def generate(self, text: str | None = None, video: Any = None,
                 duration: float | None = None, seed: int = 0) -> torch.Tensor: ...


# --- the global baseline ------------------------------------------------------------------------

def same_size_pipeline_config(config: PipelineConfig, *,
                              patch_frames: int = 1) -> PipelineConfig:
    """A streaming pipeline's config with its ``causal-dit`` backbone replaced by the
    same-size ``global-dit`` with ``patch_frames`` latent frames per token
    (:func:`swansphere.plugins.global_dit.same_size_config`), and without exemplar prompts
    (a whole clip has no stream for an exemplar to start)."""
    from swansphere.plugins.global_dit import same_size_config

    if config.backbone.type != "causal-dit":
        raise ConfigError(f"the same-size global baseline is built from a causal-dit "
                          f"pipeline; this one's backbone is {config.backbone.type!r}")
    matched = same_size_config(config.backbone.config, patch_frames=patch_frames)
    backbone = ClipBackboneSpec(type="global-dit", config=matched)
    return attrs.evolve(config, backbone=backbone, exemplar_prompts=False)


class GlobalBaseline:
    """Whole-clip generation with a ``global-dit`` pipeline (same call as
    :meth:`Pipeline.generate`); :meth:`stream` yields the whole clip as its only chunk."""

    name = "global"

    def __init__(self, pipeline: Pipeline) -> None:
        if pipeline.streams:
            raise ConfigError(f"GlobalBaseline needs a pipeline with a whole-clip backbone "
                              f"(global-dit), got {pipeline.config.backbone.type!r}; build one "
                              "with GlobalBaseline.same_size_as(pipeline)")
        self.pipeline = pipeline

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path, *,
                        registry: Registry | None = None) -> GlobalBaseline:
        """Load a trained ``global-dit`` pipeline saved with ``save_pretrained``."""
        return cls(Pipeline.from_pretrained(name_or_dir, registry=registry))

    @classmethod
    def from_config(cls, config: PipelineConfig, *,
                    registry: Registry | None = None) -> GlobalBaseline:
        """Build from a ``global-dit`` pipeline config (random weights)."""
        return cls(Pipeline.from_config(config, registry=registry))

    @classmethod
    def same_size_as(cls, pipeline: Pipeline, *, patch_frames: int = 1,
                     registry: Registry | None = None,
                     share_components: bool = True) -> GlobalBaseline:
        """A random-weight global baseline of the same size as a streaming pipeline, with
        ``patch_frames`` latent frames per token.

        ``share_components`` reuses the pipeline's codec and conditioners (their weights
        too), so only the backbone differs; that is what a timing comparison needs.
        """
        config = same_size_pipeline_config(pipeline.config, patch_frames=patch_frames)
        if not share_components:
            return cls.from_config(config, registry=registry)
        backbone = (registry or default_registry()).create(config.backbone.kind,
                                                           config.backbone)
        twin = Pipeline(config, codec=pipeline.codec, backbone=backbone,
                        sampler=pipeline.sampler, text=pipeline.text_encoder,
                        video=pipeline.video_encoder)
        return cls(twin)

    @property
    def sample_rate(self) -> int:
        return self.pipeline.sample_rate

    def generate(self, text: str | None = None, video: Any = None,
                 duration: float | None = None, seed: int = 0) -> torch.Tensor:
        """AmbiX audio ``(4, n)`` of the whole clip (arguments as :meth:`Pipeline.generate`)."""
        return self.pipeline.generate(text, video, duration, seed)

    def stream(self, text: str | None = None, video: Any = None,
               duration: float | None = None, seed: int = 0) -> Iterator[Chunk]:
        """One chunk: the whole clip, available only when all of it is done."""
        return self.pipeline.stream(text, video, duration, seed)


# --- the cascade baseline -----------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class PanDirections:
    """Where the cascade pans a clip: per-sample or constant angles (degrees) and why."""

    azimuth: np.ndarray | float
    elevation: np.ndarray | float
    source: str
    """``"video"``, ``"prompt"`` or ``"default"``."""


class CascadeBaseline:
    """Mono generation, then panning: the W channel of ``generator``'s clip re-encoded as a
    plane wave toward the video's salient direction, else the prompt's, else
    ``default_direction`` (azimuth, elevation in degrees)."""

    name = "cascade"

    def __init__(self, generator: ClipGenerator, *,
                 default_direction: tuple[float, float] = (0.0, 0.0)) -> None:
        self.generator = generator
        self.default_direction = default_direction

    @property
    def sample_rate(self) -> int:
        return self.generator.sample_rate

    def generate(self, text: str | None = None, video: Any = None,
                 duration: float | None = None, seed: int = 0) -> torch.Tensor:
        """AmbiX ``(4, n)``: the generator's W channel panned by :meth:`directions`.

        The generator sees the video too when it has a video conditioner; otherwise it makes
        the mono signal from the text alone, as long as the video (or ``duration``)."""
        generator_video = video
        if video is not None and self._video_encoder() is None:
            generator_video = None
            if duration is None:
                duration = _video_duration(self._frames_and_times(video)[1])
        mono = self.generator.generate(text, generator_video, duration, seed)[0]
        return self.pan(mono, text, video)

    def pan(self, mono: torch.Tensor, text: str | None, video: Any = None) -> torch.Tensor:
        """AmbiX ``(4, n)``: ``mono`` re-encoded as a plane wave along :meth:`directions`."""
        pan = self.directions(text, video, mono.shape[-1])
        return encode(mono, pan.azimuth, pan.elevation)

    def directions(self, text: str | None, video: Any, samples: int) -> PanDirections:
        """The panning angles for a clip of ``samples`` samples."""
        if video is not None:
            frames, times = self._frames_and_times(video)
            track = salient_directions(frames, times)
            if track is not None:
                azimuth, elevation = per_sample_directions(*track, samples, self.sample_rate)
                return PanDirections(azimuth=azimuth, elevation=elevation, source="video")
        stated = prompt_direction(text) if text else None
        if stated is not None:
            return PanDirections(azimuth=stated[0], elevation=stated[1], source="prompt")
        azimuth, elevation = self.default_direction
        return PanDirections(azimuth=azimuth, elevation=elevation, source="default")

    def _frames_and_times(self, video: Any) -> tuple[torch.Tensor, torch.Tensor]:
        from swansphere.conditioning.video import frames_as_tensor, split_video_item

        if isinstance(video, str | Path):
            video = frames_and_times(video)
        frames, times = split_video_item(video)
        frames = frames_as_tensor(frames)
        if times is None:
            times = torch.arange(frames.shape[0], dtype=torch.float64) / self._frame_rate()
        return frames, torch.as_tensor(times, dtype=torch.float64)

    def _video_encoder(self) -> Any:
        pipeline = getattr(self.generator, "pipeline", self.generator)
        return getattr(pipeline, "video_encoder", None)

    def _frame_rate(self) -> float:
        encoder = self._video_encoder()
        if encoder is None:
            raise GenerationError("video frames without timestamps need a generator with a "
                                  "video conditioner (its frame rate); pass (frames, times)")
        return float(encoder.frame_rate)


def _video_duration(times: torch.Tensor) -> float:
    """A video's length: its last frame time plus its median frame interval."""
    if times.numel() < 2:
        raise GenerationError("give a duration: one video frame does not say how long the "
                              "clip is")
    return float(times[-1] + times.diff().median())


# --- generators by name -------------------------------------------------------------------------

def as_generator(pipeline: Pipeline) -> ClipGenerator:
    """A pipeline as a clip generator: a whole-clip one wrapped in :class:`GlobalBaseline`."""
    return pipeline if pipeline.streams else GlobalBaseline(pipeline)


def load_generator(kind: str, model: str | Path, *, mono_model: str | Path | None = None,
                   registry: Registry | None = None) -> ClipGenerator:
    """``"streaming"`` (a causal pipeline), ``"global"`` (a trained ``global-dit`` pipeline) or
    ``"cascade"`` (``mono_model``'s or ``model``'s clips panned, see :class:`CascadeBaseline`)."""
    if kind == "cascade":
        source = mono_model or model
        return CascadeBaseline(as_generator(Pipeline.from_pretrained(source, registry=registry)))
    if kind not in ("streaming", "global"):
        raise ConfigError(f"unknown generator {kind!r}; use streaming, global or cascade")
    generator = as_generator(Pipeline.from_pretrained(model, registry=registry))
    if (kind == "global") != isinstance(generator, GlobalBaseline):
        wanted = "a global-dit" if kind == "global" else "a streaming (causal-dit)"
        raise ConfigError(f"--generator {kind} needs {wanted} pipeline; {model} is not one")
    return generator


# --- folders of clips for `swansphere eval` -----------------------------------------------------

@attrs.frozen(kw_only=True)
class ClipRequest:
    """One clip to generate: written to ``<out>/<key>.wav`` (``key`` may contain folders)."""

    key: str
    text: str | None = None
    video: Any = None
    duration: float | None = None
    seed: int = 0


def prompt_requests(prompts: Sequence[str], *, duration: float | None = None,
                    seed: int = 0) -> list[ClipRequest]:
    """One request per prompt, keyed ``prompt-000``, ``prompt-001``, ... (seed + index)."""
    return [ClipRequest(key=f"prompt-{index:03d}", text=prompt, duration=duration,
                        seed=seed + index) for index, prompt in enumerate(prompts)]


def scene_requests(folder: str | Path, *, with_video: bool = True, with_text: bool = False,
                   seed: int = 0) -> list[ClipRequest]:
    """Requests for simulated scenes (``swansphere data simulate``): one per
    ``<scene>/metadata.json``, keyed ``<scene>/foa`` so that the clips pair with the scenes'
    ``foa.wav`` in ``swansphere eval --reference``; as long as the reference, conditioned on
    the scene's panorama video and/or caption."""
    import soundfile

    scenes = sorted(path.parent for path in Path(folder).glob("*/metadata.json"))
    if not scenes:
        raise ConfigError(f"{folder} holds no scene folders with metadata.json; simulate "
                          "some with 'swansphere data simulate'")
    requests = []
    for index, scene in enumerate(scenes):
        metadata = json.loads((scene / "metadata.json").read_text(encoding="utf-8"))
        video = scene / "video.npz"
        if with_video and not video.is_file():
            raise ConfigError(f"{scene} has no video.npz; simulate with video or use text")
        requests.append(ClipRequest(
            key=f"{scene.name}/foa", text=metadata.get("caption") if with_text else None,
            video=video if with_video else None,
            duration=soundfile.info(scene / "foa.wav").duration, seed=seed + index))
    return requests


def generate_clips(generator: ClipGenerator, requests: Sequence[ClipRequest],
                   out_dir: str | Path, *, name: str | None = None,
                   progress: bool = True) -> list[Path]:
    """Generate every request into ``out_dir`` as ``<key>.wav`` plus ``<key>.json`` (the
    prompt, seed, duration and generator), the layout ``swansphere eval`` reads."""
    from tqdm import tqdm

    out = Path(out_dir)
    label = name or getattr(generator, "name", type(generator).__name__)
    written = []
    for request in tqdm(requests, desc=f"generate ({label})", unit="clip",
                        disable=not progress):
        audio = generator.generate(request.text, request.video, request.duration,
                                   request.seed)
        target = out / f"{request.key}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        path = write_foa(target, audio, generator.sample_rate)
        sidecar = {"generator": label, "seed": request.seed,
                   "duration_s": audio.shape[-1] / generator.sample_rate,
                   "video": _describe_video(request.video)}
        if request.text is not None:
            sidecar["prompt"] = request.text
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n",
                                             encoding="utf-8")
        written.append(path)
    return written


def _describe_video(video: Any) -> str | None:
    if video is None:
        return None
    return str(video) if isinstance(video, str | Path) else "frames"
