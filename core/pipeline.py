"""The generation pipeline: codec + conditioners + causal backbone + sampler, from one config.

Generation is patch by patch: the backbone's LM gives ``h_t``, the sampler integrates the
(guided) LocDiT velocity from noise to the patch's latents, the codec decodes them to audio at
once, and the LM advances. ``stream`` yields each chunk as soon as it is decoded; ``generate``
is the concatenation of the same chunks, so streamed and offline audio are identical for a
seed. ``session`` is the push-based form for live video. ``generate_takes`` samples several
clips of one input (one per seed) as a single batch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from .components import ComponentKind
from .conditions import ConditionEncoder, PreparedConditions
from .config import (
    AnyBackboneSpec,
    BackboneSpec,
    ClipBackboneSpec,
    CodecSpec,
    ComponentSpec,
    ConditionerSpec,
    SamplerSpec,
    backbone_spec_class,
    dump_toml,
    load_toml,
    structure,
    structure_component,
    unstructure,
)
from .errors import ConfigError, GenerationError, ResourceNotFoundError, SwanSphereError
from .fileio import atomic_directory
from .reading import ClauseReading
from .registry import Registry, default_registry

CONFIG_FILE = "pipeline.toml"
WEIGHTS_FILE = "model.safetensors"
BUILTIN_MODELS = Path(__file__).parent / "models"
EXEMPLARS_FILE = "exemplars.safetensors"
_PLAIN_SETTINGS = ("sources", "output_gain_db", "latent_range", "hold_latent_range",
                   "exemplar_prompts", "exemplar_chain", "exemplar_anchor", "exemplar_steps",
                   "exemplar_phases", "place_hold", "place_focus", "video_places")
"""Config values that :meth:`Pipeline.replace` sets as they are (no component to rebuild)."""
SOURCE_MODES = ("joint", "separate")
"""How :meth:`Pipeline.stream` takes a prompt that places several sounds: the backbone
generates the whole scene from the whole prompt (``joint``), or each place's clause is a
stream of its own and the streams' AmbiX is summed (``separate``; docs/pipeline.md)."""
VIDEO_PLACES = ("model", "salient")
"""Where a stream that has a video puts its sound: where the backbone, conditioned on the
video, puts it (``model``; a model without a video conditioner takes no video), or also held
(by ``place_hold``; 0 holds nothing) on what stands out in the frames, frame by frame
(``salient``: :mod:`swansphere.spatial.salience`; a model without a video conditioner then
takes a video for that alone, and makes its sound from the words; docs/pipeline.md, "Places
from the video")."""
PLACE_FRAME_RATE = 4.0
"""Frames per second at which a model without a video conditioner reads a video file for its
places (``video_places = "salient"``), and how long such a video's last frame lasts."""
PROMPT_WITH_VIDEO = ("an audio prompt cannot share a stream with video yet: the prompt would "
                     "take the time of the video's first frames")


@attrs.frozen(kw_only=True)
class Guidance:
    """The paper's multi-condition guidance weights: v_u + w1(v_c1 − v_u) + w2(v_all − v_c1),
    and ``reference``: + reference·(v_all − v_unreferenced), a pull towards the recording a
    backbone with ``reference_frames`` follows (docs/samplers.md, "Reference guidance")."""

    w1: float = 1.4
    w2: float = 3.0
    reference: float = 0.0


def _finite_values(instance: Any, attribute: attrs.Attribute, value: tuple) -> None:
    if not value or not all(math.isfinite(v) for v in value):
        raise ValueError(f"latent_range.{attribute.name} must be finite numbers, one per "
                         f"latent dimension; got {value!r}")


@attrs.frozen(kw_only=True)
class LatentRange:
    """The training latents' range per dimension in the backbone's space: their
    :data:`LATENT_RANGE_QUANTILES` (written by the pipeline trainer)."""

    low: tuple[float, ...] = attrs.field(converter=tuple, validator=_finite_values)
    high: tuple[float, ...] = attrs.field(converter=tuple, validator=_finite_values)

    def __attrs_post_init__(self) -> None:
        if len(self.low) != len(self.high) or any(
                lo > hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise ValueError("latent_range needs as many lows as highs, each low <= its high")

    @classmethod
    def of(cls, latents: torch.Tensor, rows: int = 2**20) -> LatentRange:
        """The range of ``latents`` ``(..., dim)``, from at most ``rows`` evenly spaced frames."""
        flat = latents.reshape(-1, latents.shape[-1]).float()
        flat = flat[::max(1, flat.shape[0] // rows)]
        low, high = (flat.quantile(q, dim=0) for q in LATENT_RANGE_QUANTILES)
        return cls(low=low.tolist(), high=high.tolist())


LATENT_RANGE_QUANTILES = (0.001, 0.999)
"""The quantiles that bound :class:`LatentRange`: the rare extremes of real audio are kept,
the out-of-range values that guidance extrapolates to (docs/samplers.md) are not."""


@attrs.frozen(kw_only=True)
class PipelineConfig:
    """Everything a pipeline is made of. ``backbone`` names a causal backbone (the pipeline
    streams) or a whole-clip one (it generates clips at once). ``latent_scale`` maps codec
    latents to the backbone's unit-variance space (``backbone = codec / latent_scale``).
    ``output_gain_db`` scales the decoded audio: the make-up gain that brings a model whose
    codec and few-step sampler lose level back to its training scenes' (docs/pipeline.md).
    ``latent_range`` is the training latents' range per dimension; with ``hold_latent_range``
    every sampler step keeps its clean prediction inside it (docs/samplers.md). With
    ``exemplar_prompts`` a text-only stream whose words name a class of the pipeline's
    exemplar bank starts from that class's clip, placed where the words say
    (docs/pipeline.md, "Exemplar prompts"), or from all of that class's clips one after
    another with ``exemplar_chain``; with ``exemplar_anchor`` above 0 each patch of a
    primed stream is sampled from that flow time on, starting from the prompt's patch (looped)
    mixed with noise, so the stream stays a variation of it (docs/pipeline.md, "Anchored
    sampling"), in ``exemplar_steps`` sampler steps where that is above 0 (else the
    sampler's own: a late start needs fewer, a stream from noise keeps them), and with
    ``exemplar_phases`` a codec that can (``phase_guide``) decodes each such patch with the
    phases of the prompt's patch it started from. With ``place_hold``
    above 0 a text-only stream whose words state one place, or one motion, has its sound
    field turned, chunk by chunk, towards that place or along that path, by that share of
    the angle it is off, and ``place_focus`` of its directional channels comes from its
    omnidirectional one sent from that place, so a diffuse field gets a direction
    (docs/pipeline.md, "Holding places"); with ``video_places = "salient"`` a stream with video
    is held, frame by frame, where the video shows something (:data:`VIDEO_PLACES`)."""

    codec: CodecSpec
    backbone: AnyBackboneSpec
    sampler: SamplerSpec
    text: ConditionerSpec | None = None
    video: ConditionerSpec | None = None
    guidance: Guidance = Guidance()
    latent_scale: float = attrs.field(default=1.0, validator=attrs.validators.gt(0.0))
    default_duration: float = attrs.field(default=10.0, validator=attrs.validators.gt(0.0))
    sources: str = attrs.field(default="joint", validator=attrs.validators.in_(SOURCE_MODES))
    output_gain_db: float = attrs.field(default=0.0, validator=[attrs.validators.ge(-60.0),
                                                                attrs.validators.le(60.0)])
    latent_range: LatentRange | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(
            LatentRange)))
    hold_latent_range: bool = attrs.field(default=False, validator=attrs.validators.instance_of(
        bool))
    exemplar_prompts: bool = attrs.field(default=False, validator=attrs.validators.instance_of(
        bool))
    exemplar_chain: bool = attrs.field(default=False, validator=attrs.validators.instance_of(
        bool))
    exemplar_anchor: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0),
                                                                 attrs.validators.lt(1.0)])
    exemplar_steps: int = attrs.field(default=0, validator=[attrs.validators.instance_of(int),
                                                            attrs.validators.ge(0)])
    exemplar_phases: bool = attrs.field(default=False, validator=attrs.validators.instance_of(
        bool))
    place_hold: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0),
                                                            attrs.validators.le(1.0)])
    place_focus: float = attrs.field(default=0.0, validator=[attrs.validators.ge(0.0),
                                                             attrs.validators.le(1.0)])
    video_places: str = attrs.field(default="model",
                                    validator=attrs.validators.in_(VIDEO_PLACES))


@attrs.frozen(kw_only=True, eq=False)
class Chunk:
    """One decoded piece of a stream: ``audio`` ``(4, n)`` AmbiX starting at ``start`` s.

    ``latents`` ``(patch_frames, latent_dim)`` are the sampled patch in the backbone's space
    (what preference optimisation and latent-space metrics work on); ``None`` where the chunk
    is the sum of several sources' streams (``sources = "separate"``).
    """

    audio: torch.Tensor
    index: int
    start: float
    sample_rate: int
    latents: torch.Tensor | None = None

    @property
    def end(self) -> float:
        return self.start + self.audio.shape[-1] / self.sample_rate


@attrs.frozen(kw_only=True, eq=False)
class Takes:
    """Clips of one input, one per seed: ``audio`` ``(K, 4, n)`` AmbiX and ``latents``
    ``(K, frames, latent_dim)`` in the backbone's space (``None`` where each take is the sum
    of several sources' streams, ``sources = "separate"``).

    Takes started from an audio prompt (``audio_prompt`` or exemplar prompts) also carry what
    the backbone heard before them: ``prompt`` ``(K, frames, latent_dim)``, the prompt's
    latents (history, not output), and, for a backbone that follows a reference, the
    ``reference`` ``(K, reference_frames, latent_dim)`` each take followed and
    ``reference_valid`` ``(K,)``; preference optimisation scores a take with them.
    """

    audio: torch.Tensor
    latents: torch.Tensor | None
    seeds: tuple[int, ...]
    prompt: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    reference_valid: torch.Tensor | None = None


class Pipeline:
    """Text and/or panoramic video in, streaming first-order ambisonics out.

    Build one with :meth:`from_config`, :meth:`from_pretrained` or directly from components.
    """

    def __init__(self, config: PipelineConfig, *, codec: Any, backbone: Any, sampler: Any,
                 text: Any = None, video: Any = None, exemplars: Any = None) -> None:
        self.config = config
        self.codec, self.backbone, self.sampler = codec, backbone, sampler
        self.text_encoder, self.video_encoder = text, video
        self.exemplars = exemplars
        """The :class:`~swansphere.conditioning.exemplars.ExemplarBank` that
        ``exemplar_prompts`` draws from (saved as ``exemplars.safetensors``), or ``None``."""
        self.patch_stepper: Any = None
        """Set by :meth:`compile`: runs each stream's whole per-patch step as one call."""
        self._check_fit()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, config: PipelineConfig, *, registry: Registry | None = None,
                    exemplars: Any = None) -> Pipeline:
        """Build every component through the registry (random weights for trainable ones);
        ``exemplars`` is the exemplar bank, if any."""
        registry = registry or default_registry()
        parts = {name: registry.create(spec.kind, spec) for name, spec in
                 _component_specs(config).items()}
        return cls(config, **parts, exemplars=exemplars)

    @classmethod
    def from_pretrained(cls, name_or_dir: str | Path, *, registry: Registry | None = None,
                        overrides: Sequence[str] = ()) -> Pipeline:
        """Load a saved pipeline: a directory from :meth:`save_pretrained`, or the name of a
        model shipped in the package (``"tiny"``, ``"tiny-next"``).

        ``overrides`` are ``"key=value"`` strings applied to the saved config before anything
        is built, as ``--set`` does (``"sampler.type=heun"``, ``"guidance.w2=2"``); a change
        that reshapes a trained component makes its weights not fit, which is an error.
        """
        directory = _resolve_model(name_or_dir)
        config = load_toml(directory / CONFIG_FILE, PipelineConfig, registry=registry,
                           overrides=overrides)
        exemplars = None
        if (directory / EXEMPLARS_FILE).is_file():
            from swansphere.conditioning.exemplars import ExemplarBank

            exemplars = ExemplarBank.load(directory / EXEMPLARS_FILE)
        pipeline = cls.from_config(config, registry=registry, exemplars=exemplars)
        pipeline.load_weights(directory / WEIGHTS_FILE)
        return pipeline

    def replace(self, *, registry: Registry | None = None, **changes: Any) -> Pipeline:
        """A pipeline with some parts swapped; the others are shared, weights included.

        ``codec``, ``backbone``, ``sampler``, ``text`` and ``video`` each take a spec (such
        as another pipeline's ``config.sampler``), a built component (whose ``config`` is the
        config class of exactly one registered component), a config table
        (``{"type": "heun", "steps": 8}``; a table without ``type`` changes fields of the
        current component) or a spec; ``None`` drops a conditioner. ``guidance`` takes a
        :class:`Guidance` or a table of its fields; ``sources``, ``output_gain_db``,
        ``latent_range`` (a :class:`LatentRange` or ``None``) and ``hold_latent_range`` their
        values; ``exemplars`` an exemplar bank or ``None``. A component rebuilt from a table
        has fresh weights unless its config names a weights file.
        """
        registry = registry or default_registry()
        exemplars = changes.pop("exemplars", self.exemplars)
        settings = ("guidance", *_PLAIN_SETTINGS, "exemplars")
        unknown = set(changes) - {*_SPEC_CLASSES, *settings}
        if unknown:
            raise ConfigError(f"Pipeline.replace: unknown part {sorted(unknown)[0]!r}; parts "
                              f"are {', '.join([*_SPEC_CLASSES, *settings])}")
        parts = {"codec": self.codec, "backbone": self.backbone, "sampler": self.sampler,
                 "text": self.text_encoder, "video": self.video_encoder}
        config_changes: dict[str, Any] = {}
        if "guidance" in changes:
            config_changes["guidance"] = _guidance(changes.pop("guidance"), self.config.guidance)
        for name in _PLAIN_SETTINGS:
            if name in changes:
                config_changes[name] = changes.pop(name)
        for name, value in changes.items():
            spec, part = _replacement(name, value, getattr(self.config, name), registry)
            config_changes[name], parts[name] = spec, part
        try:
            config = attrs.evolve(self.config, **config_changes)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"Pipeline.replace: {error.args[0]}") from None
        return type(self)(config, **parts, exemplars=exemplars)

    def compile(self, **options: Any) -> Pipeline:
        """Run every stream's per-patch step (LM step, LocEnc, the guided sampling loop) as one
        compiled call: ``torch.compile`` with these ``options``, by default
        ``mode="reduce-overhead"``, which on CUDA records the step once as a CUDA graph and
        replays it for every patch. Audio equals the uncompiled stream's to float rounding.

        Needs a backbone with a fixed-shape step (``patch_stepper``, as ``causal-dit`` has,
        with an attention window) and a deterministic sampler. The first stream of each batch
        size and prompt length compiles (seconds to minutes); later ones reuse it. Returns the
        pipeline itself.
        """
        self._require_streaming("compile()")
        make = getattr(self.backbone, "patch_stepper", None)
        if make is None:
            raise GenerationError(f"the {self.config.backbone.type!r} backbone has no "
                                  "fixed-shape patch step to compile")
        guidance = self.config.guidance
        try:
            self.patch_stepper = make(self.generation_sampler, w1=guidance.w1,
                                      w2=guidance.w2, reference=guidance.reference,
                                      compile=options or {"mode": "reduce-overhead"})
        except SwanSphereError as error:  # no window, a stochastic sampler
            raise GenerationError(f"cannot compile this pipeline: {error}") from None
        return self

    def save_pretrained(self, directory: str | Path, *, dtype: torch.dtype | None = None
                        ) -> Path:
        """Write ``pipeline.toml`` and ``model.safetensors`` (and ``exemplars.safetensors``
        where the pipeline has a bank) atomically into ``directory``.

        Every weight goes into ``model.safetensors``, so the components' ``weights`` paths
        (where a codec or an SVAC encoder was first loaded from) are dropped from the TOML:
        the directory is complete on its own. ``dtype`` stores the weights at a lower
        precision (``torch.float16`` halves a shipped model); loading casts them back.
        """
        from safetensors.torch import save_file

        weights = self.state_dict()
        if dtype is not None:
            weights = {k: v.to(dtype) if v.is_floating_point() else v
                       for k, v in weights.items()}
        with atomic_directory(directory) as temporary:
            dump_toml(without_weight_paths(self.config), temporary / CONFIG_FILE)
            save_file(weights, str(temporary / WEIGHTS_FILE))
            if self.exemplars is not None:
                self.exemplars.save(temporary / EXEMPLARS_FILE)
        return Path(directory)

    def modules(self) -> dict[str, torch.nn.Module]:
        """The trainable components by name (those that are ``nn.Module``)."""
        parts = {"codec": self.codec, "backbone": self.backbone, "text": self.text_encoder,
                 "video": self.video_encoder}
        return {name: part for name, part in parts.items() if isinstance(part, torch.nn.Module)}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every weight, keyed ``<component>.<parameter>``, contiguous (for safetensors)."""
        return {f"{name}.{key}": value.detach().contiguous()
                for name, module in self.modules().items()
                for key, value in module.state_dict().items()}

    def load_weights(self, path: str | Path) -> None:
        """Load a ``model.safetensors`` written by :meth:`save_pretrained` (it must fit)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except (OSError, ValueError, SafetensorError) as error:
            raise ResourceNotFoundError(f"cannot read weights {path}: {error}; the file is "
                                        "truncated or not a safetensors file: save or copy "
                                        "the model again") from None
        for name, module in self.modules().items():
            prefix = f"{name}."
            part = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                missing, unexpected = module.load_state_dict(part, strict=False)
            except RuntimeError as error:  # a tensor of the wrong shape
                reason = " ".join(str(error).split("\n\t")[1:2]) or str(error)
                raise ConfigError(f"{path}: weights do not fit the {name} config ({reason}); "
                                  f"use the {CONFIG_FILE} saved with them") from None
            if missing or unexpected:
                raise ConfigError(f"{path}: weights do not fit the {name} config "
                                  f"(missing {sorted(missing)[:3]}, unexpected "
                                  f"{sorted(unexpected)[:3]})")
        known = tuple(f"{name}." for name in self.modules())
        extra = sorted(k for k in tensors if not k.startswith(known))
        if extra:
            raise ConfigError(f"{path}: weights for no component: {extra[:3]}")

    @property
    def generation_sampler(self) -> Any:
        """What samples the latents: ``sampler``, held inside ``config.latent_range`` when
        ``config.hold_latent_range`` says so (docs/samplers.md)."""
        config = self.config
        if not config.hold_latent_range:
            return self.sampler
        if config.latent_range is None:
            raise ConfigError("hold_latent_range = true needs latent_range, which the "
                              "pipeline trainer writes; this model has none")
        from swansphere.samplers.solvers import HeldSampler

        return HeldSampler(self.sampler, torch.tensor(config.latent_range.low),
                           torch.tensor(config.latent_range.high))

    def _check_fit(self) -> None:
        codec, backbone = self.codec, self.backbone
        if codec.latent_dim != backbone.latent_dim:
            raise ConfigError(f"codec latent_dim {codec.latent_dim} != backbone latent_dim "
                              f"{backbone.latent_dim}")
        for name, encoder in (("text", self.text_encoder), ("video", self.video_encoder)):
            wanted = getattr(getattr(backbone, "config", None), f"{name}_dim", None)
            if encoder is not None and wanted is not None and encoder.dim != wanted:
                raise ConfigError(f"the {name} conditioner gives {encoder.dim}-d tokens but the "
                                  f"backbone's {name}_dim is {wanted}; make them equal")
        latent_range = self.config.latent_range
        if latent_range is not None and len(latent_range.low) != backbone.latent_dim:
            raise ConfigError(f"latent_range has {len(latent_range.low)} dimensions but the "
                              f"backbone's latents have {backbone.latent_dim}")
        if abs(backbone.frame_rate - codec.frame_rate) > 1e-6 * codec.frame_rate:
            raise ConfigError(f"codec frame rate {codec.frame_rate:g} Hz != backbone latent "
                              f"frame rate {backbone.frame_rate:g} Hz")
        if codec.decode_lookahead:
            raise ConfigError("the pipeline streams with a codec whose decoder has no "
                              "lookahead; this codec declares one")
        if self.config.exemplar_prompts and not self.streams:
            raise ConfigError("exemplar_prompts needs a streaming backbone: an exemplar starts "
                              "a stream; this model makes whole clips")
        if self.config.exemplar_prompts and self.exemplars is None:
            raise ConfigError(f"exemplar_prompts needs an exemplar bank ({EXEMPLARS_FILE} beside "
                              "pipeline.toml; benchmarks/attach_exemplars.py makes one)")
        if self.config.exemplar_anchor and not all(
                hasattr(self.sampler, name) for name in ("sample_from", "late_start")):
            raise ConfigError(f"exemplar_anchor needs a sampler that starts late from a given "
                              f"sample (sample_from, late_start); {type(self.sampler).__name__} "
                              "has not both")
        if self.exemplars is not None and self.exemplars.sample_rate != codec.sample_rate:
            raise ConfigError(f"the exemplar bank is at {self.exemplars.sample_rate} Hz, the "
                              f"codec at {codec.sample_rate} Hz")

    # ------------------------------------------------------------------ properties

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def samples_per_patch(self) -> int:
        return self.codec.hop_length * self.backbone.patch_frames

    @property
    def patch_seconds(self) -> float:
        return self.samples_per_patch / self.sample_rate

    def prompt_latents(self, audio: torch.Tensor) -> torch.Tensor:
        """The backbone-space latents ``(rows, patches·patch_frames, latent_dim)`` of an audio
        prompt ``(rows, 4, samples)``: its last whole patches through the codec, scaled as
        training scales latents. What :meth:`LiveSession.prime` feeds a stream, and what
        training on exemplar prefixes puts before a scene (docs/training.md), so that both see
        a prompt alike."""
        whole, frames = self._whole_patches(audio)
        return self.codec.encode(whole)[:, :frames] / self.config.latent_scale

    def _whole_patches(self, audio: torch.Tensor) -> tuple[torch.Tensor, int]:
        """An audio prompt's last whole patches and their latent frames: what
        :meth:`prompt_latents` encodes and an anchored stream takes its phases from."""
        patches = audio.shape[-1] // self.samples_per_patch
        if patches < 1:
            raise GenerationError(f"an audio prompt needs at least one patch "
                                  f"({self.patch_seconds * 1000:.0f} ms) of audio, got "
                                  f"{audio.shape[-1]} samples")
        return (audio[..., -patches * self.samples_per_patch:],
                patches * self.backbone.patch_frames)

    # ------------------------------------------------------------------ generation

    def generate(self, text: str | None = None, video: Any = None,
                 duration: float | None = None, seed: int = 0, *,
                 audio_prompt: Any = None) -> torch.Tensor:
        """AmbiX audio ``(4, n)``: the concatenated chunks of :meth:`stream`."""
        chunks = [chunk.audio for chunk in self.stream(text, video, duration, seed,
                                                       audio_prompt=audio_prompt)]
        return torch.cat(chunks, dim=-1)

    def stream(self, text: str | None = None, video: Any = None,
               duration: float | None = None, seed: int = 0, *,
               audio_prompt: Any = None) -> Iterator[Chunk]:
        """Yield :class:`Chunk` s of AmbiX audio as each patch is decoded.

        ``video`` is frames with their timing, ``(frames, times)`` (times in seconds) or
        ``{"frames": frames, "fps": rate}`` (frames ``(T, H, W, 3)`` or ``(T, 3, H, W)``), or
        the path of a video file; ``duration`` defaults to the video's length, or
        ``default_duration`` without video. A file is read as a stream, frame by frame as the
        patches need them, at the video conditioner's frame rate: memory stays at a few frames
        whatever the file's length, and the output is that of the same frames given at once.

        With ``sources = "separate"`` in the config, a prompt that states several places is
        cut into one clause per place (:func:`swansphere.spatial.words.source_clauses`), and
        a place that an exemplar bank finds several sounds at into one clause per sound
        (:meth:`ExemplarBank.sound_clauses`); each clause is streamed with the video (seeds
        ``seed``, ``seed + 1``, ...), all in one batch, and each chunk is their sum (its
        ``latents`` are ``None``).

        ``audio_prompt`` (AmbiX ``(4, n)`` at the pipeline's rate) is audio to continue: the
        stream goes on from it as if it had made it (:meth:`LiveSession.prime`), text-only
        and with one stream.
        """
        if audio_prompt is not None:
            self._check_prompted(text, video)
        if not self.streams:
            yield self._whole_clip(text, video, duration, seed)
            return
        clauses = self._source_clauses(text)
        if len(clauses) > 1:
            yield from self._stream_sources(clauses, video, duration, seed)
            return
        if isinstance(video, str | Path):
            yield from self._stream_file(text, Path(video), duration, seed)
            return
        session, duration = self._open_clip(text, video, duration, (seed,), audio_prompt)
        yield from session.generate(duration)

    def _open_clip(self, text: str | None, video: Any, duration: float | None,
                   seeds: tuple[int, ...], audio_prompt: Any) -> tuple[LiveSession, float]:
        """A session of one row per seed for one input, primed and held, and its length."""
        if video is not None:
            video = frames_and_times(video)  # a file is read once, for the model and places
        tracks, length = self._video_tracks([video])
        text_tokens, video_tokens, duration, matches = self._clip_inputs(
            text, video, duration, video_length=length,
            match_words=audio_prompt is None)
        session = self._open(text_tokens, seeds, video_tokens)
        session.prime_for([text] * len(seeds), audio_prompt,
                          None if matches is None else matches * len(seeds))
        session.hold_places([text] * len(seeds), duration, [video is not None] * len(seeds))
        session.follow_videos(None if tracks is None else tracks * len(seeds),
                              [text] * len(seeds))
        return session, duration

    def _check_prompted(self, text: str | None, video: Any) -> None:
        """Refuse an audio prompt where no single stream could continue it."""
        if not self.streams:
            raise GenerationError("an audio prompt needs a streaming backbone; this model "
                                  "makes whole clips")
        if video is not None:
            raise GenerationError(PROMPT_WITH_VIDEO)
        if len(self._source_clauses(text)) > 1:
            raise GenerationError("an audio prompt continues one stream, and this model streams "
                                  "each place and sound of the prompt on its own; name one "
                                  "sound at one place")

    def read_prompt(self, text: str | None, *, with_video: bool = False,
                    with_audio_prompt: bool = False) -> list[ClauseReading]:
        """How :meth:`stream` reads ``text``: per clause it streams (one, or one per stated
        place with ``sources = "separate"``), the words its text encoder gets, the places
        they state, whether the stream is held there, and the exemplar it starts from
        (``with_video``: as with a video, which no exemplar primes and the frames place;
        ``with_audio_prompt``: as with an audio prompt, which the stream starts from
        instead of an exemplar)."""
        clauses = self._source_clauses(text)
        model_video = with_video and not self._places_only
        primes = self.config.exemplar_prompts and not (model_video or with_audio_prompt)
        matches = self.exemplars.prompt_matches(clauses) if primes else [None] * len(clauses)
        words = self.text_encoder.as_read(clauses) if self.text_encoder is not None \
            else [None] * len(clauses)
        unmatched = [clause if primes and match is None else None
                     for clause, match in zip(clauses, matches, strict=True)]
        absent = (self.exemplars.absent_sounds(unmatched) if any(unmatched)
                  else [None] * len(clauses))
        readings = []
        for clause, match, read, lacked in zip(clauses, matches, words, absent, strict=True):
            path = _stated_path(clause) or ()
            readings.append(ClauseReading(
                text=clause, words=read, places=path,
                held=self.config.place_hold > 0 and (
                    self.config.video_places == "salient" if with_video else bool(path)),
                follows_video=with_video, searched=primes and self.exemplars.starts(clause),
                exemplar=match and match[0], similarity=match and match[1],
                anchor=self.config.exemplar_anchor if match else 0.0,
                exemplar_clips=len(self.exemplars.clips_of(match[0]))
                if match and self.config.exemplar_chain else 1,
                video_places_only=with_video and self._places_only, absent=lacked))
        return readings

    def _source_clauses(self, text: str | None) -> list[str | None]:
        if text is None or self.config.sources == "joint":
            return [text]
        from swansphere.spatial.words import source_clauses

        clauses = source_clauses(text)
        if self.exemplars is None:
            return clauses
        return [part for clause in clauses for part in self.exemplars.sound_clauses(clause)]

    def _stream_sources(self, clauses: Sequence[str], video: Any, duration: float | None,
                        seed: int) -> Iterator[Chunk]:
        """One stream per clause, batched, summed chunk by chunk (``sources = "separate"``)."""
        for first, audio in self._mixed_steps(clauses, video, duration, (seed,)):
            yield Chunk(audio=audio[0], index=first.index, start=first.start,
                        sample_rate=first.sample_rate)

    def _source_takes(self, clauses: Sequence[str], video: Any, duration: float | None,
                      seeds: tuple[int, ...]) -> Takes:
        """Take ``k``: what :meth:`stream` mixes for seed ``seeds[k]``, all takes in one batch."""
        steps = self._mixed_steps(clauses, video, duration, seeds)
        return Takes(audio=torch.cat([audio for _, audio in steps], -1), latents=None,
                     seeds=seeds)

    def _mixed_steps(self, clauses: Sequence[str], video: Any, duration: float | None,
                     seeds: tuple[int, ...]) -> Iterator[tuple[Chunk, torch.Tensor]]:
        """Per step, a chunk of the step and the audio ``(K, 4, n)`` of take ``k``: the sum over
        clauses ``i`` of the clause's stream with seed ``seeds[k] + i``, every row batched."""
        for seed in seeds:
            _check_seed(seed)
        texts = [clause for clause in clauses for _ in seeds]
        row_seeds = [(seed + offset) % 2**64 for offset in range(len(clauses)) for seed in seeds]
        videos = None if video is None else [video] * len(texts)
        for step in self.stream_many(texts, videos, duration=duration, seeds=row_seeds):
            audio = torch.stack([chunk.audio for chunk in step])
            yield step[0], audio.reshape(len(clauses), len(seeds), *audio.shape[1:]).sum(0)

    def _stream_file(self, text: str | None, path: Path, duration: float | None,
                     seed: int) -> Iterator[Chunk]:
        """:meth:`stream` from a video file: decoded frames are pushed into a live session."""
        from swansphere.spatial.video_io import iter_panorama_video

        if duration is not None:
            duration = self._duration(duration, None)
        session = self.session(text, seed)
        frames = iter_panorama_video(path, fps=self.video_frame_rate)
        try:
            for chunk, times in frames:
                session.push(chunk, times)
                yield from session.pull(duration)
                if duration is not None and session.samples_done >= round(
                        duration * self.sample_rate):
                    return
        finally:
            frames.close()  # stops the decoder when the caller stops early
        if not session.frames_pushed:
            raise GenerationError(f"the video {path} has no frames; give a video with frames "
                                  "or a duration without video")
        yield from session.close(duration)

    def generate_takes(self, text: str | None = None, video: Any = None,
                       duration: float | None = None, seeds: Sequence[int] = (0,), *,
                       audio_prompt: Any = None) -> Takes:
        """Several clips of one input, sampled together as one batch (arguments as
        :meth:`generate`, one take per seed).

        Take ``k`` is :meth:`generate` with ``seed=seeds[k]`` up to float rounding (with an
        ODE sampler; a stochastic sampler draws its own noise from the first seed), at a
        fraction of K separate calls' cost: what preference optimisation and "give me eight
        variations" need. With ``sources = "separate"`` and several places that holds too,
        every clause of every take in the one batch. ``audio_prompt`` as in :meth:`stream`.
        """
        seeds = tuple(seeds)
        if not seeds:
            raise GenerationError("generate_takes needs at least one seed")
        self._require_streaming("generate_takes")
        if audio_prompt is not None:
            self._check_prompted(text, video)
        clauses = self._source_clauses(text)
        if len(clauses) > 1:
            return self._source_takes(clauses, video, duration, seeds)
        session, duration = self._open_clip(text, video, duration, seeds, audio_prompt)
        total = round(duration * self.sample_rate)
        audio, latents = [], []
        while session.samples_done < total:
            batch_audio, patch = session.next_patches(total)
            audio.append(batch_audio)
            latents.append(patch)
        return Takes(audio=torch.cat(audio, dim=-1).float(), latents=torch.cat(latents, dim=1),
                     seeds=seeds, prompt=session.prompt, reference=session.reference,
                     reference_valid=session.reference_valid)

    def stream_many(self, texts: Sequence[str | None], videos: Sequence[Any] | None = None, *,
                    duration: float | None = None, seeds: Sequence[int] | None = None
                    ) -> Iterator[list[Chunk]]:
        """Several independent streams served together: stream ``i`` has its own prompt
        ``texts[i]``, video ``videos[i]`` (any form :meth:`stream` takes, or ``None``) and seed
        (default ``i``), and every step yields one :class:`Chunk` per stream, all sampled in
        one batched step, so that one device serves many listeners at the cost of about one.

        Stream ``i`` equals :meth:`stream` of its own input with the same ``duration`` (default:
        the longest video, else ``default_duration``) up to float rounding.
        """
        self._require_streaming("stream_many")
        videos = [None] * len(texts) if videos is None else list(videos)
        seeds = tuple(range(len(texts)) if seeds is None else seeds)
        if not texts or len({len(texts), len(videos), len(seeds)}) != 1:
            raise GenerationError(f"stream_many needs one text, video and seed per stream; got "
                                  f"{len(texts)} texts, {len(videos)} videos, {len(seeds)} seeds")
        raw = [None if video is None else frames_and_times(video) for video in videos]
        text_tokens, video_tokens, matches = self._encode_and_match(
            list(texts), [self._model_video(video) for video in raw], match_words=True)
        tracks, length = self._video_tracks(raw)
        if duration is None and video_tokens is None:
            duration = length
        duration = self._duration(duration, video_tokens)
        session = self._open(text_tokens, seeds, video_tokens, shared=False)
        session.prime_for(texts, matches=matches)
        session.hold_places(texts, duration, [video is not None for video in videos])
        session.follow_videos(tracks, texts)
        total = round(duration * self.sample_rate)
        while session.samples_done < total:
            start = session.samples_done / self.sample_rate
            audio, patches = session.next_patches(total)
            yield [Chunk(audio=row.float(), index=session.patches_done - 1, start=start,
                         sample_rate=self.sample_rate, latents=patch)
                   for row, patch in zip(audio, patches, strict=True)]

    def session(self, text: str | None = None, seed: int = 0) -> LiveSession:
        """A push-based session for live video: :meth:`LiveSession.push` frames as they
        arrive, :meth:`LiveSession.pull` the chunks that are ready."""
        self._require_streaming("a live session")
        salient = self.config.video_places == "salient"
        if self.video_encoder is None and not salient:
            raise GenerationError("this model has no video conditioner; a live session needs "
                                  "one (use stream() for text-only generation)")
        reads_video = self.video_encoder is not None
        text_tokens, _, matches = self._encode_and_match(
            None if text is None else [text], None, match_words=not reads_video)
        session = self._open(text_tokens, (seed,), None)
        if reads_video:
            session.video_state = self.video_encoder.init_state(1)
            session.with_video = True
        else:  # the backbone never sees the video: the words lead
            session.prime_for([text], matches=matches)
        if salient:
            from swansphere.spatial.salience import SalientTrack

            session.follow_videos([SalientTrack(interval=1.0 / self.video_frame_rate)],
                                  [text])
        return session

    def output_gain(self, audio: torch.Tensor) -> torch.Tensor:
        """Decoded audio times the config's ``output_gain_db`` (untouched at 0 dB)."""
        decibels = self.config.output_gain_db
        return audio if decibels == 0.0 else audio * 10.0 ** (decibels / 20.0)

    @property
    def streams(self) -> bool:
        """Whether the backbone is causal, so audio comes chunk by chunk (a whole-clip
        backbone's stream is one chunk, ready when the whole clip is)."""
        return self.config.backbone.kind is not ComponentKind.CLIP_BACKBONE

    def _require_streaming(self, what: str) -> None:
        if not self.streams:
            raise GenerationError(f"{what} needs a streaming (causal) backbone; this model's "
                                  f"{self.config.backbone.type!r} generates whole clips")

    def _whole_clip(self, text: str | None, video: Any, duration: float | None,
                    seed: int) -> Chunk:
        """The whole clip from a whole-clip backbone, as the one chunk of its stream."""
        _check_seed(seed)
        if video is not None:
            video = frames_and_times(video)  # a file is read once, for the model and places
        tracks, length = self._video_tracks([video])
        text_tokens, video_tokens, duration = self.clip_inputs(text, video, duration,
                                                               video_length=length)
        with torch.inference_mode():
            conditions = self.conditioning.from_tokens(text_tokens, video_tokens)
        samples = round(duration * self.sample_rate)
        frames = max(1, math.ceil(samples / self.codec.hop_length))
        guidance = self.config.guidance
        latents = self.backbone.generate(
            frames, conditions, sampler=self.generation_sampler,
            generator=torch.Generator().manual_seed(seed), w1=guidance.w1, w2=guidance.w2)
        with torch.inference_mode():
            audio = self.output_gain(self.codec.decode(latents * self.config.latent_scale))
        audio = audio[:1, :, :samples]
        hold = _place_hold(self, [None if video is not None else text], samples)
        if tracks is not None:  # the clip is one chunk: held where its last frame shows
            hold = _follow_tracks(self, hold, tracks, [text], samples / self.sample_rate)
        if hold is not None:
            audio = hold(audio)
        return Chunk(audio=audio[0].float(), index=0, start=0.0,
                     sample_rate=self.sample_rate, latents=latents[0])

    def _open(self, text: Any, seeds: tuple[int, ...], video: Any, *,
              shared: bool = True) -> LiveSession:
        """A session of one row per seed (``text`` and ``video`` are conditioner outputs, see
        :meth:`encode_inputs`): every row with the same conditions when ``shared``, else one
        row per item of the conditioner outputs."""
        for seed in seeds:
            _check_seed(seed)
        with torch.inference_mode():
            conditions = self.conditioning.from_tokens(text, video,
                                                       repeat=len(seeds) if shared else 1)
            state = self.backbone.init_state(len(seeds), conditions)
        return LiveSession(self, state,
                           tuple(torch.Generator().manual_seed(seed) for seed in seeds),
                           with_video=video is not None)

    @property
    def conditioning(self) -> ConditionEncoder:
        """Text and video to this model's conditions, the path that training, preference
        optimisation and the baselines take too (docs/pipeline.md, "Conditions")."""
        return ConditionEncoder(self.backbone, self.text_encoder, self.video_encoder)

    def conditions(self, text: str | None = None, video: Any = None, *, rows: int = 1) -> Any:
        """The backbone's conditions for one prompt and/or video (any form :meth:`stream`
        takes), repeated over ``rows`` rows; no gradient."""
        text_tokens, video_tokens = self.encode_inputs(text, video)
        with torch.inference_mode():
            return self.conditioning.from_tokens(text_tokens, video_tokens, repeat=rows)

    def encode_inputs(self, text: str | None = None, video: Any = None) -> tuple[Any, Any]:
        """The conditioners' outputs ``(text, video)`` for one input (``None`` where absent),
        checked as :meth:`generate` checks them; no gradient."""
        return self._encode_and_match(None if text is None else [text],
                                      None if video is None else [frames_and_times(video)],
                                      match_words=False)[:2]

    def clip_inputs(self, text: str | None, video: Any, duration: float | None, *,
                    video_length: float | None = None) -> tuple[Any, Any, float]:
        """:meth:`encode_inputs` and the clip length: ``duration``, else the video's length
        (``video_length`` where the conditioners do not see the video), else the config's
        ``default_duration``."""
        return self._clip_inputs(text, video, duration, video_length=video_length)[:3]

    def _clip_inputs(self, text: str | None, video: Any, duration: float | None, *,
                     video_length: float | None = None, match_words: bool = False
                     ) -> tuple[Any, Any, float, list[Any] | None]:
        """:meth:`clip_inputs`, and with ``match_words`` the exemplar bank's match of the
        text (:meth:`ExemplarBank.prompt_matches`) where one MiniLM pass gives it with the
        caption's states (else ``None``: the session matches the words itself)."""
        video = self._model_video(video)
        text_tokens, video_tokens, matches = self._encode_and_match(
            None if text is None else [text], None if video is None else [frames_and_times(video)],
            match_words=match_words)
        if duration is None and video_tokens is None:
            duration = video_length
        return text_tokens, video_tokens, self._duration(duration, video_tokens), matches

    def _encode_and_match(self, texts: Sequence[str | None] | None,
                          videos: Sequence[Any] | None, *, match_words: bool
                          ) -> tuple[Any, Any, list[Any] | None]:
        """The conditioners' outputs for a batch (videos as the model's video conditioner
        reads them) and, with ``match_words`` and no video, the exemplar bank's matches of
        the texts where :meth:`_read_words_once` makes them (else ``None``)."""
        with torch.inference_mode():
            conditioning = self.conditioning
            prepared = conditioning.prepare(texts, videos)
            matches = None
            if match_words and texts is not None and prepared.video is None:
                prepared, matches = self._read_words_once(texts, prepared)
            return (*conditioning.tokens(prepared), matches)

    def _read_words_once(self, texts: Sequence[str | None], prepared: PreparedConditions
                         ) -> tuple[PreparedConditions, list[Any] | None]:
        """``prepared`` (the captions ``texts``, no video) with the captions' MiniLM states,
        and the bank's match of each text (:meth:`ExemplarBank.prompt_matches`), from one
        MiniLM pass, where the text conditioner's MiniLM embeds as the bank's does (the
        weights are read once: on a CPU most of a pass; docs/pipeline.md, "Exemplar
        prompts"). ``(prepared, None)`` where it cannot."""
        bank, words = self.exemplars, self.text_encoder
        if not (self.config.exemplar_prompts and bank is not None and prepared.text is not None
                and hasattr(words, "precompute_with")):
            return prepared, None
        from swansphere.conditioning.exemplars import sentence_source

        starting = list(dict.fromkeys(text for text in texts if bank.starts(text)))
        queries = [query for query in bank.queries(starting) if query]
        if not queries:
            return prepared, [None] * len(texts)
        if not words.embeds_like(sentence_source()):
            return prepared, None
        states, sentences = words.precompute_with(prepared.text, queries)
        found = dict(zip(starting, bank.match(starting, embeddings=sentences), strict=True))
        return (attrs.evolve(prepared, text=states),
                [found.get(text) if text else None for text in texts])

    @property
    def video_frame_rate(self) -> float:
        """Frames per second a video file is read at, and how long a video's last frame
        lasts: the video conditioner's rate, else :data:`PLACE_FRAME_RATE`."""
        encoder = self.video_encoder
        return PLACE_FRAME_RATE if encoder is None else float(encoder.frame_rate)

    @property
    def _places_only(self) -> bool:
        """Whether the model reads a video only for where its sound is (no video conditioner,
        ``video_places = "salient"``): its conditioners never see the frames."""
        return self.video_encoder is None and self.config.video_places == "salient"

    def _model_video(self, video: Any) -> Any:
        """The video the conditioners see: none where they never see one."""
        return None if self._places_only else video

    def _video_tracks(self, videos: Sequence[Any]) -> tuple[list[Any] | None, float | None]:
        """Per row, the :class:`~swansphere.spatial.salience.SalientTrack` of its video
        (``None`` for a row without one), and the longest video's length in seconds; ``None,
        None`` unless ``video_places = "salient"`` and some row has a video."""
        if self.config.video_places != "salient" or all(video is None for video in videos):
            return None, None
        tracks, ends = [], []
        for video in videos:
            if video is None:
                tracks.append(None)
                continue
            frames, times = frames_and_times(video)  # with place_hold 0, only for the length
            tracks.append(_salient_track(self, frames, times) if self.config.place_hold
                          else None)
            ends.append(self._video_end(torch.as_tensor(np.asarray(times, dtype=np.float64))))
        return tracks, max(ends)

    def _video_end(self, times: torch.Tensor) -> float:
        """When a video of frames stamped ``times`` ends: one frame interval (at
        :attr:`video_frame_rate`) after its last frame."""
        if not times.numel():
            raise GenerationError("the video has no frames; give a video with frames or "
                                  "a --duration without video")
        return float(times.max()) + 1.0 / self.video_frame_rate

    def _duration(self, duration: float | None, video_tokens: Any) -> float:
        if duration is None:
            if video_tokens is None:
                return self.config.default_duration
            return self._video_end(video_tokens.times[video_tokens.mask])
        if not isinstance(duration, int | float) or not math.isfinite(duration) or duration <= 0:
            raise GenerationError(f"duration must be a positive number of seconds, got "
                                  f"{duration!r}")
        samples = duration * self.sample_rate
        if not math.isfinite(samples):
            raise GenerationError(f"duration {duration!r} s is too long to count in samples")
        if round(samples) < 1:
            raise GenerationError(f"duration {duration!r} s is shorter than one sample at "
                                  f"{self.sample_rate} Hz; give at least "
                                  f"{1 / self.sample_rate:.3g} s")
        return float(duration)


@attrs.define(eq=False)
class LiveSession:
    """One generation stream's explicit state (the backbone's, the decoder's, the RNG's).

    ``generate(duration)`` runs it offline; ``push``/``pull`` run it live. A patch is sampled
    once a frame stamped at or after its end time has arrived (frames come in time order, so
    every frame it may see is known; push frames that share a timestamp together), so live
    output equals offline output. A session has one row per generator, each drawing its own
    noise: one for streams, several for :meth:`Pipeline.generate_takes`.
    """

    pipeline: Pipeline
    backbone_state: Any
    generators: tuple[torch.Generator, ...]
    video_state: Any = None
    decode_state: Any = None
    pending_h: torch.Tensor | None = None
    """``h`` for the next patch when priming already stepped the LM past ``last_patch``."""
    last_patch: torch.Tensor | None = None
    patches_done: int = 0
    frames_pushed: int = 0
    samples_done: int = 0
    latest_frame_time: float = -math.inf
    closed: bool = False
    step_buffers: Any = None
    """The fixed-shape stream's buffers, when the pipeline is compiled."""
    with_video: bool = False
    """Whether the rows follow a video (given whole, or pushed live)."""
    prompt: torch.Tensor | None = None
    """The backbone-space latents the rows were primed with (:meth:`prime_latents`)."""
    reference: torch.Tensor | None = None
    """What a backbone with ``reference_frames`` follows (:meth:`prime`), with
    ``reference_valid``: its rows that have one."""
    reference_valid: torch.Tensor | None = None
    anchor: torch.Tensor | None = None
    """The prompt's latents that each patch starts from (``exemplar_anchor``), with
    ``anchor_valid``: its rows that have one (a silent prompt row has none)."""
    anchor_valid: torch.Tensor | None = None
    anchor_phase: torch.Tensor | None = None
    """Each row's first patch of the prompt's loop (:meth:`anchored_start`)."""
    anchor_guide: torch.Tensor | None = None
    """The prompt's low-band phases per frame, NaN in rows without a prompt
    (``exemplar_phases``: the codec's ``phase_guide``), decoded with the patch anchored to
    them."""
    place_hold: Any = None
    """The :class:`~swansphere.spatial.hold.PlaceHold` that turns the rows' audio towards
    their places (:meth:`hold_places`), or ``None``."""
    video_tracks: list[Any] | None = None
    """Per row, the :class:`~swansphere.spatial.salience.SalientTrack` whose latest direction
    the row is held at (:meth:`follow_videos`), or ``None``."""
    video_near: list[Any] | None = None
    """Per row, the place its words state (a unit vector), whose nearest object of the video
    the row follows, or ``None`` (the most salient)."""

    def __attrs_post_init__(self) -> None:
        self.decode_state = self.pipeline.codec.init_decode_state(len(self.generators))

    # ------------------------------------------------------------------ live video

    def push(self, frames: Any, times: Any = None, *, fps: float | None = None) -> None:
        """Add video frames that just arrived (``(T, H, W, 3)``) with their ``times`` in
        seconds from the start of the stream, or the ``fps`` they were captured at (then
        frame k of the stream is at k / fps). One of the two is required: a guessed rate
        would play the video too fast or too slow without a word."""
        if self.closed:
            raise GenerationError("the session is closed; open a new one")
        encoder = self.pipeline.video_encoder
        count = len(frames)
        if times is None:
            if fps is None:
                raise GenerationError("push(frames) needs their times (seconds) or fps=; the "
                                      "frame rate of a frame array is not known otherwise")
            times = (self.frames_pushed + np.arange(count)) / _frame_rate(fps)
        elif fps is not None:
            raise GenerationError("give push() times or fps, not both")
        if encoder is None:
            frame_times = np.asarray(times, dtype=np.float64)
        else:
            with torch.inference_mode():
                prepared = encoder.prepare([(frames, times)])
                tokens, self.video_state = encoder.step(prepared, self.video_state)
                self.backbone_state = self.pipeline.backbone.push_video(
                    self.backbone_state, tokens.tokens, tokens.times)
            frame_times = tokens.times.numpy()
        if self.video_tracks is not None:
            _read_frames(self.video_tracks[0], frames, times)
        self.frames_pushed += count
        if frame_times.size:
            self.latest_frame_time = float(frame_times.max())

    def pull(self, duration: float | None = None) -> list[Chunk]:
        """Every chunk whose video is complete: all frames up to its end time have arrived
        (and, with ``duration``, only up to that many seconds, the last chunk cut there)."""
        chunks = []
        total = None if duration is None else round(duration * self.pipeline.sample_rate)
        end_of_next = self.pipeline.patch_seconds * (self.patches_done + 1)
        while self.latest_frame_time >= end_of_next - 1e-9 and (
                total is None or self.samples_done < total):
            chunks.append(self._next_chunk(total))
            end_of_next += self.pipeline.patch_seconds
        return chunks

    def close(self, duration: float | None = None) -> list[Chunk]:
        """End the video: generate the remaining chunks up to ``duration`` seconds (default:
        one frame interval after the last frame, as offline generation does)."""
        self.closed = True
        if duration is None:
            duration = (self.latest_frame_time + 1.0 / self.pipeline.video_frame_rate
                        if self.frames_pushed else 0.0)
        return list(self.generate(duration))

    def snapshot(self) -> LiveSession:
        """An independent copy to restore later (shares the pipeline, copies all state)."""
        twin = copy.copy(self)
        twin.generators = tuple(torch.Generator().set_state(generator.get_state())
                                for generator in self.generators)
        twin.backbone_state = copy.deepcopy(self.backbone_state)  # steps consume a state
        twin.step_buffers = copy.deepcopy(self.step_buffers)
        twin.video_state = copy.deepcopy(self.video_state)
        twin.decode_state = copy.deepcopy(self.decode_state)
        twin.place_hold = copy.deepcopy(self.place_hold)
        twin.video_tracks = copy.deepcopy(self.video_tracks)
        return twin

    # ------------------------------------------------------------------ audio prompts

    def prime(self, audio: Any, *, history_patches: int | None = None) -> int:
        """Continue ``audio``: AmbiX ``(4, n)`` for every row, or ``(rows, 4, n)`` one per row,
        at the pipeline's rate. Its last whole patches are encoded and fed to the backbone and
        the decoder as if the session had made them, so the first chunk continues the prompt
        (which is not output again); with ``history_patches`` only that many of the last
        ones (a chained exemplar's last clip: the others are varied, not read first). Call
        it before the first chunk, without video (the prompt would take the video's first
        frames' time). Returns the patches fed. A backbone that takes a reference
        (``reference_frames``) also follows the prompt's sound for the rest of the stream;
        with ``exemplar_anchor`` every later patch starts from the whole prompt's patches,
        looped (:meth:`anchored_start`).
        """
        pipeline = self.pipeline
        if self.patches_done or self.last_patch is not None:
            raise GenerationError("prime() continues audio from the start of a session; this "
                                  "one has already made chunks")
        if self.with_video:
            raise GenerationError(PROMPT_WITH_VIDEO)
        audio = torch.as_tensor(audio, dtype=torch.float32)
        rows = len(self.generators)
        if audio.dim() == 2:
            audio = audio.expand(rows, *audio.shape)
        if audio.dim() != 3 or audio.shape[:2] != (rows, 4):
            raise GenerationError(f"an audio prompt is AmbiX (4, samples) or ({rows}, 4, "
                                  f"samples), got {tuple(audio.shape)}")
        if history_patches is not None and history_patches < 1:
            raise GenerationError(f"history_patches is at least 1, got {history_patches}")
        sounding = audio.flatten(1).abs().amax(1) > 0
        frames = pipeline.backbone.patch_frames
        with torch.inference_mode():
            latents = pipeline.prompt_latents(audio)
            anchored = bool(pipeline.config.exemplar_anchor) and bool(sounding.any())
            history = latents if history_patches is None else \
                latents[:, -history_patches * frames:]
            patches = self._prime(history, eager=anchored or pipeline.patch_stepper is None)
            if getattr(pipeline.backbone, "reference_frames", 0):
                self._follow(latents, sounding)
        if anchored:
            self.anchor, self.anchor_valid = latents, sounding
            loop = latents.shape[1] // frames
            self.anchor_phase = torch.tensor([loop_phase(generator.initial_seed(), loop)
                                              for generator in self.generators])
            self.anchor_guide = _prompt_guide(pipeline, audio, sounding)
        return patches

    def _follow(self, latents: torch.Tensor, sounding: torch.Tensor) -> None:
        """Make the prompt the reference of a backbone that takes one (docs/backbone.md): its
        first ``reference_frames`` frames, the prompt repeated if shorter; silent rows (an
        exemplar prompt's rows whose words name no sound) get none."""
        backbone = self.pipeline.backbone
        frames = backbone.reference_frames
        repeats = -(-frames // latents.shape[1])
        self.reference = latents.to(backbone.start.dtype).repeat(1, repeats, 1)[:, :frames]
        self.reference_valid = sounding
        self.backbone_state = backbone.with_reference(self.backbone_state, self.reference,
                                                      sounding)

    def prime_latents(self, latents: torch.Tensor) -> int:
        """:meth:`prime` from backbone-space latents ``(rows, patches·patch_frames, D)``
        (:meth:`Pipeline.prompt_latents`, or a training clip's own: training on the stream's
        own history rolls out from them). Video is not checked: the caller aligns it."""
        return self._prime(latents, eager=self.pipeline.patch_stepper is None)

    def _prime(self, latents: torch.Tensor, *, eager: bool) -> int:
        """:meth:`prime_latents`; ``eager``: the next patch is made by the eager path, so a
        backbone that can (``prime``) takes the whole prompt in one LM pass and leaves ``h``
        for it (a compiled stream takes the state before the prompt's last patch)."""
        pipeline = self.pipeline
        backbone, frames = pipeline.backbone, pipeline.backbone.patch_frames
        rows, patches = len(self.generators), latents.shape[1] // frames
        if self.patches_done or self.last_patch is not None:
            raise GenerationError("a session is primed before its first patch")
        if latents.dim() != 3 or latents.shape[0] != rows or patches < 1 or (
                latents.shape[1] % frames):
            raise GenerationError(f"prompt latents must be ({rows}, n·{frames}, latent_dim) "
                                  f"with n >= 1, got {tuple(latents.shape)}")
        with torch.inference_mode():
            latents = latents.to(backbone.start.dtype)
            if eager and hasattr(backbone, "prime"):
                h, state = backbone.prime(self.backbone_state, latents)
                self.pending_h = h[:, -1]
            else:
                _, state = backbone.step(None, self.backbone_state)
                if patches > 1:
                    _, state = backbone.step(latents[:, :-frames], state)
            self.decode_state = _skip_decode(pipeline.codec,
                                             latents * pipeline.config.latent_scale,
                                             self.decode_state)
        self.backbone_state, self.last_patch = state, latents[:, -frames:]
        self.prompt = latents
        return patches

    def prime_for(self, texts: Sequence[str | None], audio_prompt: Any = None,
                  matches: Sequence[Any] | None = None) -> None:
        """Prime a new session with ``audio_prompt`` if given, else with the pipeline's exemplar
        prompts for the rows' ``texts`` (``exemplar_prompts``; not with video): each row the
        clip of the class its words name, placed where they say, and silence for a row whose
        words name none (a scene whose sound has not begun yet); a chained prompt
        (``exemplar_chain``) is read from its last clip on and varied whole. Nothing when no
        row has one. ``matches`` are the bank's matches of ``texts`` if already made."""
        history = None
        if audio_prompt is None:
            audio_prompt = self._exemplar_prompts(texts, matches)
            if self.pipeline.config.exemplar_chain:
                history = self.pipeline.exemplars.audio.shape[-1] // self.pipeline.samples_per_patch
        if audio_prompt is not None:
            self.prime(audio_prompt, history_patches=history)

    def hold_places(self, texts: Sequence[str | None], duration: float,
                    follows_video: Sequence[bool] | None = None) -> None:
        """Hold each row at the one place its words state, or along the path they say its
        sound moves over ``duration`` seconds, if any (the pipeline's ``place_hold``), but
        not a row that follows a video, whose frames say where its sound is
        (``follows_video``, per row; by default every row when the session has video)."""
        if follows_video is None:
            follows_video = [self.with_video] * len(texts)
        self.place_hold = _place_hold(self.pipeline, [
            None if video else text for text, video in zip(texts, follows_video, strict=True)],
            round(duration * self.pipeline.sample_rate))

    def follow_videos(self, tracks: Sequence[Any] | None,
                      texts: Sequence[str | None]) -> None:
        """Hold each row that has a :class:`~swansphere.spatial.salience.SalientTrack` where
        its video last showed something, up to the end of each chunk (``video_places =
        "salient"``): on the object nearest the one place its words (``texts``) state, else
        the most salient; rows without a track keep their words' hold."""
        if tracks is None or all(track is None for track in tracks):
            return
        if self.place_hold is None:
            self.place_hold = _row_hold(self.pipeline, len(tracks))
        self.video_tracks = list(tracks)
        self.video_near = [_place_vector(text) for text in texts]

    def _exemplar_prompts(self, texts: Sequence[str | None],
                          matches: Sequence[Any] | None = None) -> torch.Tensor | None:
        pipeline = self.pipeline
        if not pipeline.config.exemplar_prompts or self.with_video:
            return None
        prompts = pipeline.exemplars.prompts(
            texts, [int(generator.initial_seed()) for generator in self.generators], matches,
            chain=pipeline.config.exemplar_chain)
        if all(prompt is None for prompt in prompts):
            return None
        length = max(prompt.shape[-1] for prompt in prompts if prompt is not None)
        return torch.stack([torch.zeros(4, length) if prompt is None
                            else torch.nn.functional.pad(prompt, (length - prompt.shape[-1], 0))
                            for prompt in prompts])

    # ------------------------------------------------------------------ generation

    def generate(self, duration: float) -> Iterator[Chunk]:
        """Yield chunks until ``duration`` seconds of audio have been produced."""
        total = round(duration * self.pipeline.sample_rate)
        while self.samples_done < total:
            yield self._next_chunk(total)

    def _next_chunk(self, total: int | None) -> Chunk:
        start = self.samples_done / self.pipeline.sample_rate
        audio, patch = self.next_patches(total)
        return Chunk(audio=audio[0].float(), index=self.patches_done - 1, start=start,
                     sample_rate=self.pipeline.sample_rate, latents=patch[0])

    def next_patches(self, total: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Every row's next patch, offline (no waiting for video): audio ``(rows, 4, n)``
        (cut at ``total`` samples) and latents ``(rows, patch_frames, latent_dim)``."""
        pipeline = self.pipeline
        with torch.inference_mode():
            if pipeline.patch_stepper is None or self.anchor is not None:
                patch = self._sample_patch(self._advance())
            else:
                patch = self._compiled_patch(pipeline.patch_stepper)
            audio, self.decode_state = self._decode(patch * pipeline.config.latent_scale)
            audio = pipeline.output_gain(audio)
        if total is not None:
            audio = audio[..., :total - self.samples_done]
        if self.video_tracks is not None:  # where each video shows something by the chunk's end
            _steer(self.place_hold, self.video_tracks, self.video_near,
                   (self.samples_done + audio.shape[-1]) / pipeline.sample_rate)
        if self.place_hold is not None:
            audio = self.place_hold(audio)
        self.last_patch = patch
        self.patches_done += 1
        self.samples_done += audio.shape[-1]
        return audio, patch

    def _decode(self, latents: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """The patch's audio and the decoder's next state: with the phases of the prompt's
        patch it is anchored to, where there is a guide (``exemplar_phases``)."""
        codec = self.pipeline.codec
        if self.anchor_guide is None:
            return codec.decode_step(latents, self.decode_state)
        rows, positions = self._anchor_positions()
        return codec.guided_decode_step(latents, self.decode_state,
                                        self.anchor_guide[rows, positions])

    def _anchor_positions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices ``(rows, 1)`` and the prompt frames ``(rows, patch_frames)`` the next
        patch is anchored to: patch k of the stream to patch (k + phase) mod P of the
        prompt's P (:meth:`anchored_start`)."""
        frames = self.pipeline.backbone.patch_frames
        index = (self.patches_done + self.anchor_phase) % (self.anchor.shape[1] // frames)
        positions = index[:, None] * frames + torch.arange(frames)
        return torch.arange(len(index))[:, None], positions

    def _advance(self) -> torch.Tensor:
        """The LM step that gives ``h`` for the next patch (the start token first), or the
        ``h`` that priming left (:meth:`prime_latents`)."""
        if self.pending_h is not None:
            h, self.pending_h = self.pending_h, None
            return h
        h, self.backbone_state = self.pipeline.backbone.step(self.last_patch, self.backbone_state)
        return h[:, -1]

    def _sample_patch(self, h: torch.Tensor) -> torch.Tensor:
        from swansphere.samplers.guidance import multi_condition_guidance

        pipeline = self.pipeline
        backbone = pipeline.backbone
        model = backbone.guided_model(h, backbone.context(self.backbone_state))
        guidance = pipeline.config.guidance
        velocity = multi_condition_guidance(model, guidance.w1, guidance.w2,
                                            guidance.reference)
        sampler, noise = pipeline.generation_sampler, self._noise().to(h)
        if self.anchor is None:
            return sampler.sample(velocity, noise, generator=self.generators[0])
        return sampler.sample_from(velocity, self.anchored_start(sampler, velocity, noise),
                                   pipeline.config.exemplar_anchor,
                                   pipeline.config.exemplar_steps or None,
                                   generator=self.generators[0])

    def anchored_start(self, sampler: Any, velocity: Any, noise: torch.Tensor) -> torch.Tensor:
        """Where the next patch's sampling starts, at flow time t0 = ``exemplar_anchor``:
        t0·a + (1 − t0)·noise, with ``a`` the prompt's patch at this point of its loop (patch k
        of the stream starts from patch (k + phase) mod P of a P-patch prompt, the phase drawn
        from the row's seed by :func:`loop_phase`, so that takes differ), so the stream varies
        its prompt rather than drifting from it (SDEdit). A row without a prompt starts from
        its own one-step guess instead, a = noise + v(noise, 0): ``sampler``'s late start."""
        start = self.pipeline.config.exemplar_anchor
        rows, positions = self._anchor_positions()
        anchor = self.anchor[rows, positions].to(noise)
        anchored = start * anchor + (1.0 - start) * noise
        if bool(self.anchor_valid.all()):
            return anchored
        guess = sampler.late_start(velocity, noise, start)
        return torch.where(self.anchor_valid.to(noise.device)[:, None, None], anchored, guess)

    def _compiled_patch(self, stepper: Any) -> torch.Tensor:
        """The LM step and the sampling of one patch as one call (:meth:`Pipeline.compile`)."""
        if self.step_buffers is None:  # a primed session resumes after its prompt
            self.step_buffers = stepper.open(self.backbone_state, self.last_patch)
        patch, self.backbone_state = stepper.step(self.backbone_state, self.step_buffers,
                                                  self._noise())
        return patch

    def _noise(self) -> torch.Tensor:
        """This patch's starting noise, one draw per row from the row's own generator."""
        backbone = self.pipeline.backbone
        shape = (1, backbone.patch_frames, backbone.latent_dim)
        return torch.cat([torch.randn(shape, generator=generator)
                          for generator in self.generators])


def _prompt_guide(pipeline: Pipeline, audio: torch.Tensor,
                  sounding: torch.Tensor) -> torch.Tensor | None:
    """The phases an anchored stream decodes with (``exemplar_phases``): the codec's
    ``phase_guide`` of the prompt's last whole patches, framed as
    :meth:`Pipeline.prompt_latents` frames them, NaN in silent rows; ``None`` without
    ``exemplar_phases`` or a codec that guides none (an optional method)."""
    guide_of = getattr(pipeline.codec, "phase_guide", None)
    if not pipeline.config.exemplar_phases or guide_of is None:
        return None
    whole, frames = pipeline._whole_patches(audio)
    guide = guide_of(whole)
    if guide is None:
        return None
    return torch.where(sounding.to(guide.device)[:, None, None], guide[:, :frames], torch.nan)


def _skip_decode(codec: Any, latents: torch.Tensor, state: Any) -> Any:
    """The decoder's state after ``latents``: the codec's ``skip_decode`` where it has one
    (optional: the state alone, cheaper), else ``decode_step`` with its audio dropped."""
    skip = getattr(codec, "skip_decode", None)
    if skip is not None:
        return skip(latents, state)
    return codec.decode_step(latents, state)[1]


def _place_hold(pipeline: Pipeline, texts: Sequence[str | None], samples: int) -> Any:
    """A :class:`~swansphere.spatial.hold.PlaceHold` for rows of ``texts`` whose sound moves
    over ``samples``, or ``None`` when the pipeline holds no places or no text states one
    place or one motion."""
    strength = pipeline.config.place_hold
    if strength == 0.0:
        return None
    from swansphere.spatial.hold import PlaceHold

    paths = [_stated_path(text) for text in texts]
    if all(path is None for path in paths):
        return None
    return PlaceHold.for_paths(paths, pipeline.sample_rate, max(samples, 1), strength,
                               pipeline.config.place_focus)


def _stated_path(text: str | None) -> tuple[tuple[float, float], ...] | None:
    """The places a text says its one sound goes through (one if it stays), or ``None``."""
    from swansphere.spatial.words import prompt_direction, prompt_motion, states_motion

    if not text:
        return None
    if states_motion(text):
        return prompt_motion(text)
    place = prompt_direction(text)
    return None if place is None else (place,)


def _row_hold(pipeline: Pipeline, rows: int) -> Any:
    """A :class:`~swansphere.spatial.hold.PlaceHold` of ``rows`` rows with no place yet."""
    from swansphere.spatial.hold import PlaceHold

    config = pipeline.config
    return PlaceHold.for_places([None] * rows, pipeline.sample_rate, config.place_hold,
                                config.place_focus)


def _follow_tracks(pipeline: Pipeline, hold: Any, tracks: Sequence[Any],
                   texts: Sequence[str | None], time: float) -> Any:
    """``hold`` (a new one if ``None``) steered to where each row's video shows something
    at ``time`` seconds (:func:`_steer`)."""
    hold = _row_hold(pipeline, len(tracks)) if hold is None else hold
    _steer(hold, tracks, [_place_vector(text) for text in texts], time)
    return hold


def _steer(hold: Any, tracks: Sequence[Any], near: Sequence[Any], time: float) -> None:
    """Turn ``hold``'s row of every video track towards the track's latest salient object at
    or before ``time`` (a chunk's end: no later frame is looked at), the one ``near`` the
    row's stated place if it has one; rows whose video has shown nothing yet, or that have
    none, keep what they had."""
    places = torch.zeros(len(tracks), 3, dtype=torch.float64)
    shown = torch.zeros(len(tracks), dtype=torch.bool)
    for row, (track, place_near) in enumerate(zip(tracks, near, strict=True)):
        place = None if track is None else track.at(time, place_near)
        if place is not None:
            places[row], shown[row] = place, True
    hold.follow(places, shown)


def _place_vector(text: str | None) -> torch.Tensor | None:
    """The unit vector of the one place ``text`` states (not a path), or ``None``."""
    path = _stated_path(text)
    if path is None or len(path) != 1:
        return None
    from swansphere.spatial.encoding import unit_vectors

    azimuth, elevation = torch.deg2rad(torch.tensor(path[0], dtype=torch.float64))
    return unit_vectors(azimuth, elevation)


def _salient_track(pipeline: Pipeline, frames: Any, times: Any) -> Any:
    """The :class:`~swansphere.spatial.salience.SalientTrack` of a whole video."""
    from swansphere.spatial.salience import SalientTrack

    track = SalientTrack(interval=1.0 / pipeline.video_frame_rate)
    _read_frames(track, frames, times)
    return track


def _read_frames(track: Any, frames: Any, times: Any) -> None:
    """Add decoded frames (any form the video conditioner takes) to ``track``; only the
    frames it reads are turned into floats."""
    from swansphere.conditioning.video import frames_as_tensor

    if len(frames) != len(times):
        raise GenerationError(f"a video needs one time per frame; got {len(frames)} frames "
                              f"and {len(times)} times")
    if not isinstance(frames, torch.Tensor):
        frames = np.asarray(frames)
    track.add(lambda indices: frames_as_tensor(frames[indices]), times)


def loop_phase(seed: int, patches: int) -> int:
    """The patch a stream of ``seed`` starts a ``patches``-patch loop from: seed 0 from its
    first, consecutive seeds a golden-ratio step apart (as far from each other as a loop of
    that length allows, for any length)."""
    return (seed * _GOLDEN_STEP) % 2**32 * patches >> 32


_GOLDEN_STEP = 2654435769
"""2^32 divided by the golden ratio, rounded (Knuth's multiplicative hash): exact for any seed."""


def _check_seed(seed: Any) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise GenerationError(f"seed must be an integer in [0, 2**64), got {seed!r}")


def frames_and_times(video: Any) -> tuple[Any, Any]:
    """``(frames, times)`` from ``(frames, times)``, ``{"frames", "times" | "fps"}`` or the
    path of a video file (read whole).

    A bare frame array is refused: without its frame rate every later step would have to
    guess one, and a wrong guess plays the video too fast or too slow.
    """
    if isinstance(video, str | Path):
        from swansphere.spatial import read_panorama_video

        frames, times, _ = read_panorama_video(video)
        return frames, times
    if isinstance(video, dict):
        unknown = set(video) - {"frames", "times", "fps"}
        if unknown or "frames" not in video or ("times" in video) == ("fps" in video):
            raise GenerationError(f"a video dict has 'frames' and either 'times' or 'fps'; "
                                  f"got keys {sorted(video)}")
        if "times" in video:
            return video["frames"], video["times"]
        return video["frames"], np.arange(len(video["frames"])) / _frame_rate(video["fps"])
    if isinstance(video, tuple) and len(video) == 2 and video[1] is not None:
        return video
    raise GenerationError("give video frames with their timing: (frames, times) with times in "
                          "seconds, or {'frames': frames, 'fps': rate}, or a video file path")


def _frame_rate(fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not math.isfinite(fps) \
            or fps <= 0:
        raise GenerationError(f"fps must be a positive number of frames per second, got "
                              f"{fps!r}")
    return float(fps)


def without_weight_paths(config: PipelineConfig) -> PipelineConfig:
    """``config`` with every component's ``weights`` field unset."""
    changes = {}
    for name, spec in _component_specs(config).items():
        if getattr(spec.config, "weights", None) is not None:
            changes[name] = attrs.evolve(spec, config=attrs.evolve(spec.config, weights=None))
    return attrs.evolve(config, **changes)


def _component_specs(config: PipelineConfig) -> dict[str, Any]:
    specs = {"codec": config.codec, "backbone": config.backbone, "sampler": config.sampler,
             "text": config.text, "video": config.video}
    return {name: spec for name, spec in specs.items() if spec is not None}


_SPEC_CLASSES = {"codec": (CodecSpec,), "backbone": (BackboneSpec, ClipBackboneSpec),
                 "sampler": (SamplerSpec,), "text": (ConditionerSpec,),
                 "video": (ConditionerSpec,)}


def _replacement(name: str, value: Any, current: Any, registry: Registry) -> tuple[Any, Any]:
    """``(spec, component)`` for one part given to :meth:`Pipeline.replace`."""
    spec_classes = _SPEC_CLASSES[name]
    if value is None:
        if spec_classes != (ConditionerSpec,):
            raise ConfigError(f"Pipeline.replace: a pipeline needs a {name}; only the text "
                              "and video conditioners can be dropped")
        return None, None
    if isinstance(value, Mapping | ComponentSpec):
        if isinstance(value, Mapping) and "type" not in value and current is not None:
            value = {**unstructure(current, registry=registry), **value}
        spec_class = backbone_spec_class(registry, value) if name == "backbone" \
            else spec_classes[0]
        spec = structure_component(registry, spec_class.kind, value, path=name)
        return spec, registry.create(spec.kind, spec)
    return _spec_of_built(name, value, spec_classes, registry), value


def _spec_of_built(name: str, component: Any, spec_classes: tuple[type, ...],
                   registry: Registry) -> Any:
    """The spec that describes a built component: the one registered component whose config
    class its ``config`` is (so that :meth:`Pipeline.save_pretrained` can write it)."""
    config = getattr(component, "config", None)
    matches = [(spec_class, registered.name) for spec_class in spec_classes
               for registered in registry.components(spec_class.kind)
               if config is not None and type(config) is registered.component.config_class]
    if len(matches) == 1:
        spec_class, registered_name = matches[0]
        return spec_class(type=registered_name, config=config)
    kind = spec_classes[0].kind.value
    if matches:
        raise ConfigError(f"Pipeline.replace: the {name} given could be any of the {kind}s "
                          f"{', '.join(n for _, n in matches)} (they share a config class); "
                          "give its spec or a config table {'type': ..., ...} instead")
    raise ConfigError(f"Pipeline.replace: the {name} given is not described by a registered "
                      f"{kind}'s config (its .config); give a config table "
                      "{'type': ..., ...} instead")


def _guidance(value: Any, current: Guidance) -> Guidance:
    if isinstance(value, Guidance):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"Pipeline.replace: guidance must be a Guidance or a table of w1, "
                          f"w2; got {type(value).__name__}")
    return structure({**unstructure(current), **value}, Guidance)


def _resolve_model(name_or_dir: str | Path) -> Path:
    path = Path(name_or_dir)
    if (path / CONFIG_FILE).is_file():
        return path
    builtin = BUILTIN_MODELS / str(name_or_dir)
    if isinstance(name_or_dir, str) and (builtin / CONFIG_FILE).is_file():
        return builtin
    shipped = sorted(p.name for p in BUILTIN_MODELS.glob("*") if (p / CONFIG_FILE).is_file())
    raise ResourceNotFoundError(
        f"no model at {name_or_dir!r}: give a directory written by save_pretrained (with "
        f"{CONFIG_FILE}) or a shipped model name ({', '.join(shipped) or 'none shipped yet'})")
