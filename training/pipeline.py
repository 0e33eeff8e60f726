"""Pipeline training (``task = "pipeline"``): the backbone learns to generate codec latents.

The paper's curriculum has two stages, one config each:

* ``stage = "pseudo-foa"``: non-spatial pretraining. Each scene's sound is reduced to a
  stereo pair (``W ± Y``) and turned into pseudo-FOA on a random axis
  (:func:`swansphere.data.files.pseudo_foa`); captions name the sounds but not where they are;
  no video. The model learns what things sound like before it learns where they are.
* ``stage = "foa"``: real FOA scenes with their spatial captions and panorama videos. Text and
  video are each dropped per item (the backbone's ``text_dropout`` / ``video_dropout``) so
  that the guidance branches of generation are trained too. ``init`` starts it from the
  stage-1 pipeline.

The codec is frozen (train it first with ``task = "codec"`` and name it in
``[pipeline.codec] weights``): every scene is encoded once (streamed shards: each batch as
it comes, see :class:`PipelineDataConfig`), and the latents are divided by
``latent_scale`` (the standard deviation of the training latents when
``normalize_latents``), so the flow starts from unit-variance noise. The text conditioner
trains with the backbone (``train_text``); the video conditioner keeps its SVAC weights unless
``train_video``. Every step's batch and noise come from ``step_generator(seed, step)``, so a
resumed run ends where an uninterrupted one does. The result goes to
``<output_dir>/pipeline/``, loadable with :meth:`swansphere.Pipeline.from_pretrained`.

Example (``swansphere train stage2.toml``)::

    task = "pipeline"
    stage = "foa"
    init = "runs/stage1/pipeline"
    [pipeline.codec]
    type = "foa-vae"
    weights = "runs/codec/codec"
    ...
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import torch

from swansphere.config import unstructure
from swansphere.data.exemplars import CHOICES as EXEMPLAR_CHOICES
from swansphere.errors import ConfigError
from swansphere.pipeline import LatentRange, Pipeline, PipelineConfig, without_weight_paths

from .common import (
    OptimizerConfig,
    RunConfig,
    autocast,
    build_optimizer,
    caption_style_field,
    check_class_count,
    clip_gradients,
    clips_fingerprint,
    learning_rate,
    probability_field,
    scene_cache_path,
    set_learning_rate,
    step_generator,
    task_named,
)
from .distributed import Distributed
from .tasks import TrainingTask
from .trainer import Trainer

VALIDATION_SEED_OFFSET = 2_000_003
VALIDATION_STREAM = 99
STAGES = ("pseudo-foa", "foa")


@attrs.frozen(kw_only=True)
class PipelineDataConfig:
    """Simulated scenes: of the synthesised sources, of the sound vocabulary's clips, or
    streamed from shards.

    Attributes:
        source: ``"synthetic"`` (:class:`~swansphere.data.synthetic.SyntheticFOADataset`),
            ``"vocabulary"``: the installed sound sets' clips of the vocabulary's classes
            (:func:`~swansphere.data.vocabulary.class_clips`), training scenes from the
            training clips and validation scenes from the held-out clips of each class
            (:func:`~swansphere.data.vocabulary.split_clips`), or ``"shards"``: every step
            streams its batch from ``shards`` (:class:`~swansphere.data.shards.ShardDataset`:
            shuffled, split over ranks and ``workers`` loader processes, resumed exactly),
            cropped to ``clip_seconds``; the first ``train_scenes`` samples in shard order
            measure the latent scale.
        shards / validation_shards: with ``source = "shards"``, a shard folder or a brace
            pattern (``"data/shard-{000000..000009}.tar"``); validation reads the first
            ``validation_scenes`` samples of ``validation_shards`` (default: of ``shards``,
            which then measures fit, not generalisation).
        shuffle_buffer: samples each shard stream holds for shuffling.
        sets: sound sets to draw from (``None``: every installed set).
        permissive_only: only clips a shipped model may learn from.
        room_probability: share of scenes rendered in a simulated room.
        sustained_probability: share of events that sound through the whole scene, from
            its first sample, their recordings repeated
            (:class:`~swansphere.data.scenes.SceneSampler`): without them four training
            scenes in five begin with no named source and a named sound is heard about half
            the time, and a model learns to start quiet and to stop (docs/data.md).
        captions: ``"templates"`` (the ground truth's template caption) or ``"natural"``
            (:func:`~swansphere.data.captions.metadata_natural_caption`: the training family
            for training scenes, the held-out family for validation scenes).
        train_scenes / validation_scenes: scenes per split (validation: a disjoint seed).
        clip_seconds: length of each scene.
        min_sources, max_sources, moving_probability, diffuse_probability: scene statistics.
        seed: scene seed.
        render_width: width of the rendered panoramas (the video conditioner resizes them).
        workers: processes that render scenes, or with shards loader workers (0: in this
            process).
        cache_dir: keep rendered scenes here (safetensors), keyed by everything above and
            by which clips a vocabulary split draws from; while a split renders, its finished
            parts are kept there too, so a cut render resumes.
        min_classes: with ``vocabulary``, refuse to render a split whose installed clips
            name fewer classes than this (a recipe written for the full sound sets would
            otherwise train quietly on what a machine happens to have).
        exemplar_prefix: with ``vocabulary``, the share of training items of one sound class
            that start from that class's exemplar, as a pipeline with ``exemplar_prompts``
            starts a stream (docs/training.md, "Exemplar prefixes"): the exemplar's patches
            come first, given, never a target, and the scene follows, its last patches cut so
            that every item keeps its length. The trained pipeline carries the exemplar bank
            and has ``exemplar_prompts`` on. Validation scenes stay unprefixed.
        exemplar_seconds / exemplar_per_class / exemplar_choice: the bank's exemplars: each
            class's loudest ``exemplar_seconds`` of ``exemplar_per_class`` of its training
            clips, its most typical ones (``"typical"``) or its first ones (``"first"``, the
            choice of runs before the option existed)
            (:func:`~swansphere.data.exemplars.exemplar_bank`).
        exemplar_own: the share of one-class scenes (drawn once, by ``seed``) whose
            exemplar is cut from the scene's own recording (its loudest
            ``exemplar_seconds``, as the bank cuts its clips) instead of the bank's clip of
            its class: a reference the head can copy, so that it learns to copy what it is
            shown rather than to recognise the bank's clips (docs/training.md, "Exemplar
            references").
    """

    source: str = attrs.field(default="synthetic", validator=attrs.validators.in_(
        ("synthetic", "vocabulary", "shards")))
    shards: str | None = None
    validation_shards: str | None = None
    shuffle_buffer: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    sets: tuple[str, ...] | None = None
    permissive_only: bool = True
    room_probability: float = probability_field()
    sustained_probability: float = probability_field()
    captions: str = caption_style_field()
    train_scenes: int = attrs.field(default=512, validator=attrs.validators.ge(1))
    validation_scenes: int = attrs.field(default=32, validator=attrs.validators.ge(1))
    clip_seconds: float = attrs.field(default=4.0, validator=attrs.validators.gt(0))
    min_sources: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    max_sources: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    moving_probability: float = 0.3
    diffuse_probability: float = 0.3
    seed: int = 0
    render_width: int = attrs.field(default=128, validator=attrs.validators.ge(2))
    workers: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    cache_dir: str | None = None
    min_classes: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    exemplar_prefix: float = probability_field()
    exemplar_seconds: float = attrs.field(default=1.024, validator=attrs.validators.gt(0))
    exemplar_per_class: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    exemplar_choice: str = attrs.field(default="typical",
                                       validator=attrs.validators.in_(EXEMPLAR_CHOICES))
    exemplar_own: float = probability_field()

    def __attrs_post_init__(self) -> None:
        if self.captions == "natural" and self.source != "vocabulary":
            raise ConfigError("data.captions = \"natural\" needs data.source = \"vocabulary\" "
                              "(natural captions name the vocabulary's classes)")
        if self.sustained_probability and self.source != "vocabulary":
            raise ConfigError("data.sustained_probability needs data.source = \"vocabulary\" "
                              "(synthesised sources already sound throughout; shards are "
                              "rendered already)")
        for name in ("exemplar_prefix", "exemplar_own"):
            if getattr(self, name) and self.source != "vocabulary":
                raise ConfigError(f"data.{name} needs data.source = \"vocabulary\" (an "
                                  f"exemplar is a training clip of the scene's sound class)")
        if (self.source == "shards") != (self.shards is not None):
            raise ConfigError("data.source = \"shards\" and data.shards go together: name the "
                              "shards (a folder or \"DIR/shard-{000000..000009}.tar\")")


@attrs.frozen(kw_only=True)
class PipelineValidationConfig:
    """What validation measures beyond the loss.

    ``generated_scenes`` validation captions (and videos) are generated from, and the
    direction of each generated clip is compared with its scene's (``val_angular_error``, rad);
    0 skips generation, which is slow on a CPU. ``batch_size`` scenes go through one forward
    pass: the validation loss's, and the frozen codec's when it encodes the scenes once.
    """

    generated_scenes: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    batch_size: int = attrs.field(default=32, validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True)
class PipelineTrainConfig:
    """A whole pipeline training run, one TOML file (``task = "pipeline"``).

    ``own_history`` is the share of each batch's items that hear the stream's own samples:
    the model, in inference, hears the clip's first patches and makes the rest (the
    pipeline's sampler and guidance), and the item trains on the clip's patches with that as
    its history (docs/training.md, "The stream's own history").
    """

    task: str = attrs.field(default="pipeline", validator=task_named("pipeline"))
    stage: Literal["pseudo-foa", "foa"] = attrs.field(default="foa",
                                                      validator=attrs.validators.in_(STAGES))
    pipeline: PipelineConfig
    init: str | None = None
    train_text: bool = True
    train_video: bool = False
    normalize_latents: bool = True
    own_history: float = probability_field()
    data: PipelineDataConfig = attrs.field(factory=PipelineDataConfig)
    validation: PipelineValidationConfig = attrs.field(factory=PipelineValidationConfig)
    optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig)
    run: RunConfig = attrs.field(factory=RunConfig)


# ------------------------------------------------------------------------------------ data


@attrs.frozen(kw_only=True, eq=False)
class ScenePool:
    """The scenes of one split: ``foa`` ``(S, 4, n)``, a caption each, and (stage ``foa``)
    panorama ``frames`` ``(S, T, H, W, 3)`` uint8 at ``times`` ``(T,)`` seconds."""

    foa: torch.Tensor
    captions: tuple[str, ...]
    frames: torch.Tensor | None = None
    times: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.foa.shape[0]


@functools.lru_cache(maxsize=4)
def split_dataset(sample_rate: int, clip_seconds: float, seed: int, min_sources: int,
                  max_sources: int, moving_probability: float, diffuse_probability: float,
                  vocabulary: tuple | None = None) -> Any:
    """The scenes of one split (item ``i`` a pure function of ``seed`` and ``i``).
    ``vocabulary`` is ``None`` (synthesised sources) or ``(sets, permissive_only,
    room_probability, sustained_probability, captions, validation)``: the vocabulary's
    training or held-out clips, captioned by the training or held-out family."""
    scenes = {"sample_rate": sample_rate, "clip_seconds": clip_seconds, "size": 2**31 - 1,
              "seed": seed, "min_sources": min_sources, "max_sources": max_sources,
              "moving_probability": moving_probability,
              "diffuse_probability": diffuse_probability}
    if vocabulary is None:
        from swansphere.data.synthetic import SyntheticFOADataset

        return SyntheticFOADataset(**scenes)
    from swansphere.data.datasets import SceneDataset

    sets, permissive_only, room_probability, sustained, captions, validation = vocabulary
    clips = list(vocabulary_split(sets, permissive_only, validation))
    family = ("held_out" if validation else "training") if captions == "natural" else None
    return SceneDataset(clips, room_probability=room_probability, caption_family=family,
                        sustained_probability=sustained, **scenes)


@functools.lru_cache(maxsize=4)
def vocabulary_split(sets: tuple[str, ...] | None, permissive_only: bool,
                     validation: bool) -> tuple[Any, ...]:
    """The installed clips of the vocabulary's classes in one split (training or held out)."""
    from swansphere.data.sources import catalogue
    from swansphere.data.vocabulary import class_clips, split_clips

    clips = split_clips(class_clips(catalogue(list(sets) if sets is not None else None),
                                    permissive_only=permissive_only))[1 if validation else 0]
    if not clips:
        raise ConfigError("found no installed clips of the sound vocabulary's classes "
                          "(permissive ones with permissive_only) for data.source = "
                          "\"vocabulary\", vocabulary prompts or the identity reward; install "
                          "the sound sets (scripts/install-sound-sets.sh) or check their sets")
    return tuple(clips)


def sound_caption(sources: list[dict[str, Any]]) -> str:
    """What a scene sounds like, without where: ``"A dog barks and a bell rings."``"""
    text = " and ".join(f"{source['noun']} {source['verb']}" for source in sources)
    return text[:1].upper() + text[1:] + "."


def pseudo_foa_scene(foa: torch.Tensor, sources: list[dict[str, Any]],
                     index: int) -> dict[str, Any]:
    """Stage 1's form of a scene: its stereo pair (``W ± Y``) as pseudo-FOA on the axis
    ``index`` picks, and a caption that names the sounds but not where they are."""
    from swansphere.data.files import PSEUDO_AXES, pseudo_foa

    omni, left_right = foa[0], foa[1]
    axis = PSEUDO_AXES[index % len(PSEUDO_AXES)]
    return {"foa": pseudo_foa(torch.stack([omni + left_right, omni - left_right]) / 2, axis),
            "caption": sound_caption(sources)}


RENDER_PART_SCENES = 512
"""Scenes rendered and cached together (beside the cache file, until the split is whole): a
render cut short, by a session's time limit say, resumes after its last finished part."""


def render_scene(job: tuple[tuple, int, str, int, float]) -> dict[str, Any]:
    """One scene of a split as the stage needs it (a top-level function, for worker pools)."""
    dataset_key, index, stage, render_width, fps = job
    dataset = split_dataset(*dataset_key)
    item = dataset[index]
    if stage == "pseudo-foa":
        return pseudo_foa_scene(item["foa"], item["sources"], index)
    from swansphere.data.panorama import PanoramaRenderer

    frames, times = PanoramaRenderer(width=render_width, height=render_width // 2,
                                     fps=fps).render(dataset.scene(index))
    return {"foa": item["foa"], "caption": item["caption"], "frames": torch.from_numpy(frames),
            "times": torch.from_numpy(times)}


def scene_dataset_key(data: PipelineDataConfig, sample_rate: int, *,
                      validation: bool) -> tuple:
    """The arguments of :func:`split_dataset` for one split of ``data`` (not shards)."""
    seed = data.seed + (VALIDATION_SEED_OFFSET if validation else 0)
    vocabulary = None if data.source == "synthetic" else (
        data.sets, data.permissive_only, data.room_probability, data.sustained_probability,
        data.captions, validation)
    return (sample_rate, data.clip_seconds, seed, data.min_sources, data.max_sources,
            data.moving_probability, data.diffuse_probability, vocabulary)


def scene_recordings(data: PipelineDataConfig, sample_rate: int, *,
                     validation: bool) -> list[Any]:
    """Each scene's first recording (a vocabulary clip), where all its sounds are of one
    class, else ``None`` (drawn again from the scene sampler, which is cheap: nothing is
    rendered)."""
    size = data.validation_scenes if validation else data.train_scenes
    dataset = split_dataset(*scene_dataset_key(data, sample_rate, validation=validation))
    events = [dataset.scene(index).events for index in range(size)]
    return [scene[0].clip if len({event.clip.label for event in scene}) == 1 else None
            for scene in events]


def render_pool(data: PipelineDataConfig, stage: str, sample_rate: int, fps: float, *,
                validation: bool, progress: bool = True) -> ScenePool:
    """All scenes of one split, rendered (in ``data.workers`` processes) or from the cache;
    with shards, the split's first samples in shard order."""
    if data.source == "shards":
        return shard_pool(list(itertools.islice(shard_samples(data, validation=validation),
                                                data.validation_scenes if validation
                                                else data.train_scenes)),
                          stage, sample_rate)
    size = data.validation_scenes if validation else data.train_scenes
    dataset_key = scene_dataset_key(data, sample_rate, validation=validation)
    vocabulary = dataset_key[-1]
    key = {"dataset": dataset_key[:-1], "size": size, "stage": stage, "fps": fps,
           "render_width": data.render_width, "version": 1}
    if vocabulary is not None:
        clips = vocabulary_split(data.sets, data.permissive_only, validation)
        check_class_count(clips, data.min_classes)
        key["vocabulary"] = vocabulary
        key["clips"] = clips_fingerprint(clips)
    cache = scene_cache_path(data.cache_dir, "pipeline-scenes", key)
    if cache is not None and cache.is_file():
        return _read_pool(cache)
    jobs = [(dataset_key, index, stage, data.render_width, fps) for index in range(size)]
    label = "render validation scenes" if validation else "render scenes"
    part_size = RENDER_PART_SCENES if cache is not None else size
    parts, part_paths = [], []
    for start in range(0, size, part_size):
        part_jobs = jobs[start:start + part_size]
        path = None if cache is None else cache.with_name(
            f"{cache.stem}.part-{start}-{start + len(part_jobs)}{cache.suffix}")
        if path is not None and path.is_file():
            parts.append(_read_pool(path))
        else:
            items = _map_with_progress(render_scene, part_jobs, data.workers, progress, label,
                                       done=start, total=size)
            parts.append(_pool_of(items, stage))
            if path is not None:
                _write_pool(parts[-1], path, {**key, "first": start})
        part_paths.append(path)
    pool = _joined(parts)
    if cache is not None:
        _write_pool(pool, cache, key)
        for path in part_paths:
            path.unlink(missing_ok=True)
    return pool


def _pool_of(items: list[dict[str, Any]], stage: str) -> ScenePool:
    return ScenePool(
        foa=torch.stack([item["foa"] for item in items]),
        captions=tuple(item["caption"] for item in items),
        frames=torch.stack([item["frames"] for item in items]) if stage == "foa" else None,
        times=items[0]["times"] if stage == "foa" else None)


def _joined(parts: list[ScenePool]) -> ScenePool:
    if len(parts) == 1:
        return parts[0]
    frames = None if parts[0].frames is None else torch.cat([part.frames for part in parts])
    return ScenePool(foa=torch.cat([part.foa for part in parts]),
                     captions=tuple(caption for part in parts for caption in part.captions),
                     frames=frames, times=parts[0].times)


def shard_samples(data: PipelineDataConfig, *, validation: bool) -> Any:
    """A split's samples in shard order, whole in every process."""
    from swansphere.data.shards import ShardDataset

    shards = data.validation_shards if validation and data.validation_shards else data.shards
    return ShardDataset(shards, crop_seconds=data.clip_seconds, seed=data.seed, ordered=True)


def shard_stream(data: PipelineDataConfig, *, skip: int = 0) -> Any:
    """The training stream of ``data.shards``: endless, shuffled, this process's part, past
    the ``skip`` items it already delivered."""
    from swansphere.data.shards import ShardDataset

    return ShardDataset(data.shards, crop_seconds=data.clip_seconds, seed=data.seed,
                        shuffle_buffer=data.shuffle_buffer, repeat=True, skip=skip)


def shard_pool(items: list[dict[str, Any]], stage: str, sample_rate: int) -> ScenePool:
    """Shard items (:class:`~swansphere.data.shards.ShardDataset`) as the stage needs them:
    pseudo-FOA with sound captions in stage 1; FOA, caption and panorama (when the shards
    have video) in stage 2."""
    if not items:
        raise ConfigError("data.shards holds no usable samples; see 'swansphere data shard'")
    rates = {item["sample_rate"] for item in items}
    if rates != {sample_rate}:
        raise ConfigError(f"the shards are at {sorted(rates)} Hz, the pipeline's codec at "
                          f"{sample_rate} Hz; simulate the scenes at the codec's rate")
    if stage == "pseudo-foa":
        scenes = [pseudo_foa_scene(item["foa"], item["metadata"]["sources"],
                                   zlib.crc32(item["key"].encode())) for item in items]
        return ScenePool(foa=torch.stack([scene["foa"] for scene in scenes]),
                         captions=tuple(scene["caption"] for scene in scenes))
    with_video = all("video" in item for item in items)
    return ScenePool(foa=torch.stack([item["foa"] for item in items]),
                     captions=tuple(item["caption"] for item in items),
                     frames=torch.stack([item["video"] for item in items]) if with_video
                     else None, times=items[0]["video_times"] if with_video else None)


def _map_with_progress(function: Any, jobs: list, workers: int, progress: bool,
                       label: str, *, done: int = 0, total: int | None = None) -> list:
    """``function`` over ``jobs`` (in ``workers`` processes), with a bar that starts at ``done``
    of ``total`` (a part of a larger render)."""
    from tqdm.auto import tqdm

    bar = functools.partial(tqdm, total=total or len(jobs), initial=done, desc=label,
                            disable=None if progress else True)
    if workers == 0:
        return [function(job) for job in bar(jobs)]
    # Spawned, single-threaded workers: forking a process that holds CUDA or OpenMP state is
    # unsafe, and one torch thread per worker keeps the cores from being oversubscribed.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=torch.set_num_threads, initargs=(1,)) as executor:
        return list(bar(executor.map(function, jobs, chunksize=8)))


def _write_pool(pool: ScenePool, path: Path, key: dict[str, Any]) -> None:
    from swansphere.codecs.weights import save_tensors

    tensors = {"foa": pool.foa}
    if pool.frames is not None:
        tensors.update(frames=pool.frames, times=pool.times)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(tensors, path, {"scenes": json.dumps(key),
                                 "captions": json.dumps(list(pool.captions))})


def _read_pool(path: Path) -> ScenePool:
    from safetensors import safe_open

    from swansphere.codecs.weights import load_tensors

    tensors = load_tensors(path)
    with safe_open(str(path), framework="pt") as handle:
        captions = tuple(json.loads(handle.metadata()["captions"]))
    return ScenePool(foa=tensors["foa"], captions=captions, frames=tensors.get("frames"),
                     times=tensors.get("times"))


# ------------------------------------------------------------------------------------ trainer


@attrs.frozen(kw_only=True, eq=False)
class TrainingSet:
    """One split on the training device: backbone-space ``latents`` ``(S, F, D)``, captions,
    their conditioner inputs (:class:`~swansphere.conditions.PreparedConditions`: captions
    and video prepared once, the frozen text encoder's states precomputed) and the rendered
    ``scenes`` (for validation figures)."""

    latents: torch.Tensor
    captions: tuple[str, ...]
    conditions: Any
    scenes: ScenePool
    prefixes: torch.Tensor | None = None
    """With ``data.exemplar_prefix`` or a backbone that takes a reference: each scene's
    exemplar latents ``(S, P·patch_frames, D)`` in backbone space (zeros where ``prefixed`` is
    False)."""
    prefixed: torch.Tensor | None = None
    """``(S,)`` bool: the scene is of one class that the exemplar bank holds."""

    def __len__(self) -> int:
        return self.latents.shape[0]


class PipelineTrainer(Trainer):
    """Trains a :class:`~swansphere.Pipeline`'s backbone and conditioners; see the module doc."""

    def __init__(self, config: PipelineTrainConfig, *, registry: Any = None,
                 progress: bool = True, distributed: Distributed | None = None) -> None:
        if config.stage == "pseudo-foa" and config.train_video:
            raise ConfigError("stage \"pseudo-foa\" has no video; set train_video = false")
        super().__init__(config, registry=registry, progress=progress, distributed=distributed)
        # With init every weight comes from that pipeline: the components' own weight files
        # (codec, SVAC) are not read, and need not exist.
        built = config.pipeline if config.init is None else without_weight_paths(config.pipeline)
        self.pipeline = Pipeline.from_config(built, registry=self.registry)
        self._latent_scale_known = not config.normalize_latents
        if config.data.exemplar_prefix:
            self._check_loss_takes("given_patches", "data.exemplar_prefix")
        if config.own_history:
            self._check_loss_takes("history", "own_history")
        if self._reference_frames and config.data.source != "vocabulary":
            raise ConfigError("a backbone with reference_frames learns from each scene's "
                              "exemplar: it needs data.source = \"vocabulary\"")
        if config.init is not None:
            self._start_from(config.init)
        for module in self.pipeline.modules().values():
            module.to(self.device)
        self.trainable = self._trainable_modules()
        self.optimizer = build_optimizer(
            (p for module in self.trainable.values() for p in module.parameters()),
            config.optimizer)
        # Under torchrun each rank computes the loss of its slice of every batch; DDP averages
        # the gradients. Null tokens of dropped modalities get none: find_unused_parameters.
        self.train_loss = self.dist.wrap(torch.nn.ModuleDict(self.trainable), self.batch_loss,
                                         find_unused_parameters=True)
        self._sets: dict[bool, TrainingSet] = {}
        self._step_data: TrainingSet | None = None
        self._shard_stream: tuple[int, Any] | None = None  # (next step, items iterator)

    @property
    def _reference_frames(self) -> int:
        """Frames of each item's exemplar the backbone sees as its reference (0: none)."""
        return getattr(self.pipeline.backbone, "reference_frames", 0)

    def _check_loss_takes(self, argument: str, setting: str) -> None:
        import inspect

        backbone = self.pipeline.backbone
        if not (self.pipeline.streams
                and argument in inspect.signature(backbone.loss).parameters):
            raise ConfigError(f"{setting} needs a streaming backbone whose loss takes "
                              f"{argument} (causal-dit); {type(backbone).__name__} does not")

    def _start_from(self, directory: str) -> None:
        from swansphere.config import load_toml
        from swansphere.pipeline import CONFIG_FILE, WEIGHTS_FILE

        path = Path(directory)
        if not (path / CONFIG_FILE).is_file():
            raise ConfigError(f"init = {directory!r} is not a pipeline directory (no "
                              f"{CONFIG_FILE}); point it at <stage-1 output_dir>/pipeline")
        previous = load_toml(path / CONFIG_FILE, PipelineConfig, registry=self.registry)
        self.pipeline.load_weights(path / WEIGHTS_FILE)
        self._set_latent_scale(previous.latent_scale)

    def _trainable_modules(self) -> dict[str, torch.nn.Module]:
        """The modules the optimizer updates; the others are frozen in eval mode."""
        wanted = {"backbone": True, "text": self.config.train_text,
                  "video": self.config.train_video and self.config.stage == "foa"}
        trainable = {}
        for name, module in self.pipeline.modules().items():
            keep = wanted.get(name, False)
            module.requires_grad_(keep)
            module.train(keep)
            if keep:
                trainable[name] = module
        return trainable

    def _set_latent_scale(self, scale: float) -> None:
        self.pipeline.config = attrs.evolve(self.pipeline.config, latent_scale=float(scale))
        self._latent_scale_known = True

    # ---------------------------------------------------------------- data

    def training_set(self, validation: bool = False) -> TrainingSet:
        """One split, built on first use (training first: it fixes the latent scale)."""
        for split in (False, validation):
            if split not in self._sets:
                self._sets[split] = self._build_set(split)
        return self._sets[validation]

    def _build_set(self, validation: bool) -> TrainingSet:
        pipeline, data = self.pipeline, self.config.data
        fps = getattr(pipeline.video_encoder, "frame_rate", 4.0)
        pool = render_pool(data, self.config.stage, pipeline.sample_rate, fps,
                           validation=validation, progress=self.progress)
        latents = self._encode(pool.foa)
        if not validation and not self._latent_scale_known:
            self._set_latent_scale(float(latents.std()))
        data = self._on_device(pool, latents)
        if not validation:  # what generation may hold its samples inside (docs/samplers.md)
            self.pipeline.config = attrs.evolve(self.pipeline.config,
                                                latent_range=LatentRange.of(data.latents))
            if self.config.data.exemplar_prefix or self._reference_frames:
                data = self._with_exemplars(data)
        return data

    def _with_exemplars(self, data: TrainingSet) -> TrainingSet:
        """``data`` with each scene's exemplar (a prefix, a reference or both); the pipeline
        takes the bank and turns ``exemplar_prompts`` on, so that it starts streams as it was
        trained to continue or follow them."""
        from swansphere.conditioning.exemplars import placed
        from swansphere.data.exemplars import clip_window, exemplar_bank
        from swansphere.data.vocabulary import training_phrases

        config, rate = self.config.data, self.pipeline.sample_rate
        clips = vocabulary_split(config.sets, config.permissive_only, False)
        bank = exemplar_bank(clips, training_phrases({clip.label for clip in clips}),
                             sample_rate=rate, seconds=config.exemplar_seconds,
                             per_class=config.exemplar_per_class, choice=config.exemplar_choice)
        self.pipeline = self.pipeline.replace(exemplars=bank, exemplar_prompts=True)
        recordings = scene_recordings(config, rate, validation=False)
        classes = [None if clip is None else clip.label for clip in recordings]
        prefixed = torch.tensor([name in bank.class_names for name in classes])
        silence = torch.zeros_like(bank.class_prompt(bank.class_names[0], None))
        own = np.random.default_rng(config.seed).random(len(classes)) < config.exemplar_own

        def prompt(index: int) -> torch.Tensor:
            if not prefixed[index]:
                return silence
            window = clip_window(recordings[index], rate, config.exemplar_seconds) if (
                own[index]) else None
            if window is None:  # from the bank (or the scene's recording is silent there)
                return bank.class_prompt(classes[index], data.captions[index], seed=index)
            return placed(window, data.captions[index])

        batch, count = self.config.validation.batch_size, len(classes)
        with torch.no_grad():  # a batch of prompts at a time: their audio is never all held
            prefixes = torch.cat([self.pipeline.prompt_latents(torch.stack(
                [prompt(i) for i in range(first, min(first + batch, count))]).to(
                    self.device)).float() for first in range(0, count, batch)])
        if config.exemplar_prefix and prefixes.shape[1] >= data.latents.shape[1]:
            raise ConfigError(f"data.exemplar_seconds ({config.exemplar_seconds:g} s) leaves "
                              f"nothing of a {config.clip_seconds:g} s scene to learn from")
        if prefixes.shape[1] < self._reference_frames:
            raise ConfigError(f"data.exemplar_seconds ({config.exemplar_seconds:g} s) is "
                              f"shorter than the backbone's reference "
                              f"({self._reference_frames} frames)")
        return attrs.evolve(data, prefixes=prefixes,
                            prefixed=prefixed.to(self.device))

    def _on_device(self, pool: ScenePool, latents: torch.Tensor) -> TrainingSet:
        """Scenes and their codec latents as the backbone trains on them."""
        pipeline = self.pipeline
        conditioning = pipeline.conditioning
        clips = None
        if pool.frames is not None and pipeline.video_encoder is not None:
            clips = [(frames.numpy(), pool.times.numpy()) for frames in pool.frames]
        captions = list(pool.captions) if conditioning.text is not None else None
        prepared = conditioning.prepare(captions, clips).to(self.device)
        return TrainingSet(latents=latents / pipeline.config.latent_scale,
                           captions=pool.captions, scenes=pool,
                           conditions=conditioning.precompute(prepared))

    def _shard_batch(self, step: int) -> TrainingSet:
        """This process's rows of step ``step``'s batch, streamed from ``data.shards``; a
        stream opened at a later step (a resumed run) skips what the earlier steps took."""
        from swansphere.data.shards import check_split, shard_paths

        data, total = self.config.data, self.config.run.batch_size
        rows = self.dist.shard(total)
        share = rows.stop - rows.start
        if self._shard_stream is None or self._shard_stream[0] != step:
            check_split(len(shard_paths(data.shards)[0]), self.dist.world_size,
                        max(data.workers, 1))
            loader = torch.utils.data.DataLoader(shard_stream(data, skip=step * share),
                                                 batch_size=None, num_workers=data.workers)
            self._shard_stream = (step, iter(loader))
        items = [next(self._shard_stream[1]) for _ in range(share)]
        self._shard_stream = (step + 1, self._shard_stream[1])
        pool = shard_pool(items, self.config.stage, self.pipeline.sample_rate)
        return self._on_device(pool, self._encode(pool.foa))

    @torch.no_grad()
    def _encode(self, foa: torch.Tensor) -> torch.Tensor:
        codec, batch = self.pipeline.codec, self.config.validation.batch_size
        parts = [codec.encode(foa[i:i + batch].to(self.device)).float()
                 for i in range(0, foa.shape[0], batch)]
        return torch.cat(parts)

    def conditions(self, data: TrainingSet, index: torch.Tensor) -> Any:
        """The backbone's conditions for the scenes ``index`` (text, and video in stage 2),
        through the pipeline's one conditioning path, with gradients for the trainable
        conditioners."""
        prepared = data.conditions.select(index).to(self.device)
        return self.pipeline.conditioning.encode(prepared)

    # ---------------------------------------------------------------- steps

    def batch_loss(self, index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The flow loss of the scenes ``index`` of the step's data (their conditions
        included, so the trainable conditioners are inside the DDP forward)."""
        data = self._step_data
        latents = data.latents[index.to(self.device)]
        conditions = self.conditions(data, index)
        options: dict[str, Any] = {}
        if self.config.data.exemplar_prefix:
            latents, options["given_patches"] = self._prefixed(data, index.to(self.device),
                                                               latents, generator)
        if self._reference_frames and data.prefixes is not None:
            options["reference"] = data.prefixes[index.to(self.device)]
            options["reference_valid"] = data.prefixed[index.to(self.device)]
        if self.config.own_history:
            options["history"] = self._own_history(data, index, latents, options, generator)
        return self.pipeline.backbone.loss(latents, conditions, generator=generator, **options)

    def _own_history(self, data: TrainingSet, index: torch.Tensor, latents: torch.Tensor,
                     options: dict[str, Any], generator: torch.Generator) -> torch.Tensor:
        """``latents`` where a share ``own_history`` of the items hear, from patch ``k`` on
        (one ``k`` per batch, at least every chosen item's given patches), what the model
        makes after the clip's first ``k`` patches (following the item's reference, if the
        loss ``options`` give one)."""
        from swansphere.nn.flow import uniform
        from swansphere.pipeline import LiveSession

        backbone = self.pipeline.backbone
        frames = backbone.patch_frames
        count = latents.shape[1] // frames
        rows = (uniform((len(index),), generator, self.device)
                < self.config.own_history).nonzero()[:, 0]
        given = options.get("given_patches")
        first = int(given[rows].max()) if given is not None and len(rows) else 0
        start = int(torch.randint(first, count, (1,), generator=generator))
        seeds = torch.randint(2**62, (len(rows),), generator=generator).tolist()
        history = latents.clone()
        if not len(rows):
            return history
        # Made as the pipeline streams by default, in the weights' precision, not under the
        # step's autocast (bfloat16 rollouts would be about a fifth faster on this CPU).
        with torch.no_grad(), torch.autocast(self.device.type, enabled=False):
            conditions = self.conditions(data, index[rows.cpu()])
            state = backbone.init_state(len(rows), conditions)
            if "reference" in options:
                state = backbone.with_reference(state, options["reference"][rows],
                                                options["reference_valid"][rows])
            session = LiveSession(self.pipeline, state,
                                  tuple(torch.Generator().manual_seed(s) for s in seeds))
            if start:
                session.prime_latents(latents[rows, :start * frames])
            made = [session.next_patches()[1] for _ in range(count - start)]
        history[rows, start * frames:count * frames] = torch.cat(made, 1).to(history)
        return history

    def _prefixed(self, data: TrainingSet, index: torch.Tensor, latents: torch.Tensor,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A share ``data.exemplar_prefix`` of the items (of those that have an exemplar)
        start from it: ``(latents, given patches per item)``."""
        from swansphere.nn.flow import uniform

        draw = uniform((len(index),), generator, self.device) < self.config.data.exemplar_prefix
        chosen = draw & data.prefixed[index]
        prefix = data.prefixes[index]
        joined = torch.cat((prefix, latents), 1)[:, :latents.shape[1]]
        patches = prefix.shape[1] // self.pipeline.backbone.patch_frames
        return (torch.where(chosen.view(-1, 1, 1), joined, latents),
                chosen.long() * patches)

    def train_step(self, step: int) -> dict[str, float]:
        """One optimizer step on a batch drawn from ``(seed, step)``; with several processes
        every rank draws the same batch and takes its slice (its own noise stream). With
        shards each rank streams its own rows instead."""
        run, data, dist = self.config.run, self.training_set(), self.dist
        for module in self.trainable.values():
            module.train()
        generator = step_generator(run.seed, step)
        if self.config.data.source == "shards":
            data = self._shard_batch(step)
            index = torch.arange(len(data))
        else:
            index = torch.randint(len(data), (run.batch_size,), generator=generator)
            index = index[dist.shard(len(index))]
        if dist.is_distributed:
            generator = step_generator(run.seed, step, stream=1 + dist.rank)
        self._step_data = data
        lr = learning_rate(step, run.steps, self.config.optimizer)
        set_learning_rate(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(run):
            loss = self.train_loss(index, generator)
        (loss * dist.mean_weight(run.batch_size)).backward()
        parameters = [p for module in self.trainable.values() for p in module.parameters()]
        grad_norm = clip_gradients(parameters, self.config.optimizer.grad_clip)
        self.optimizer.step()
        return dist.mean({"loss": float(loss.detach()), "grad_norm": grad_norm, "lr": lr})

    def validate(self, done: int | None = None) -> dict[str, float]:
        """The flow loss on validation scenes (fixed draws) and, when configured, the direction
        error of clips generated from their captions and videos."""
        data = self.training_set(validation=True)
        for module in self.pipeline.modules().values():
            module.eval()
        count = min(len(data), self.config.validation.batch_size)
        index = torch.arange(count)
        generator = step_generator(self.config.run.seed, 0, VALIDATION_STREAM)
        with torch.no_grad():
            loss = self.pipeline.backbone.loss(data.latents[:count], self.conditions(data, index),
                                               generator=generator)
        metrics = {"val_loss": float(loss)}
        if self.config.validation.generated_scenes:
            metrics["val_angular_error"] = self._generated_direction_error(data)
        return metrics

    def _generated_direction_error(self, data: TrainingSet) -> float:
        """Mean angle (rad) between generated and reference clip directions; a silent clip
        counts as π and a reference without a direction is left out (the policy of
        docs/evaluation.md). The model's own: places are not held (docs/pipeline.md)."""
        from swansphere.metrics.direction import worst_case_direction_errors

        pipeline = self.pipeline
        if pipeline.config.place_hold:
            pipeline = pipeline.replace(place_hold=0.0)
        scenes = data.scenes
        count = min(len(data), self.config.validation.generated_scenes)
        duration = scenes.foa.shape[-1] / pipeline.sample_rate
        errors = []
        for i in range(count):
            video = None if scenes.frames is None else (scenes.frames[i].numpy(),
                                                         scenes.times.numpy())
            audio = pipeline.generate(data.captions[i], video, duration=duration, seed=i).cpu()
            errors.append(float(worst_case_direction_errors(scenes.foa[i], audio)["angular"]))
        scored = [error for error in errors if not math.isnan(error)]
        return float(np.mean(scored)) if scored else math.nan

    # ---------------------------------------------------------------- checkpoints

    export_name = "pipeline"
    precisions = ("float32", "bfloat16")

    def write_model(self, directory: Path) -> None:
        self.pipeline.save_pretrained(directory)

    def restore(self, checkpoint: str | Path) -> int:
        """Load weights, latent scale, optimizer and RNG; returns the completed steps."""
        from swansphere.config import load_toml
        from swansphere.pipeline import CONFIG_FILE, WEIGHTS_FILE

        from .checkpoint import load_checkpoint, resolve_checkpoint

        path = resolve_checkpoint(checkpoint)
        saved = load_toml(path / CONFIG_FILE, PipelineConfig, registry=self.registry)
        self.pipeline.load_weights(path / WEIGHTS_FILE)
        self._set_latent_scale(saved.latent_scale)
        self._sets.clear()
        return int(load_checkpoint(path, self.optimizer)["step"])

    def run(self, resume: str | Path | None = None) -> dict[str, Any]:
        """Train to ``run.steps`` (from a checkpoint when ``resume``), export, summarise."""
        from .loop import train_and_export

        summary = train_and_export(self, task="pipeline", resume=resume,
                                   export_key="pipeline_dir",
                                   description=f"train pipeline ({self.config.stage})")
        return {**summary, "latent_scale": self.pipeline.config.latent_scale,
                "pipeline_config": unstructure(self.pipeline.config, registry=self.registry)}


TASK = TrainingTask(name="pipeline", config_class=PipelineTrainConfig, run=PipelineTrainer.train,
                    description="train the generation pipeline: stage 1 pseudo-FOA, stage 2 "
                                "FOA with text and video")
