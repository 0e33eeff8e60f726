"""SVAC training (``task = "svac"``): align the panoramic video encoder with FOA audio.

Data: a pool of scenes, each an FOA clip and the panorama video drawn from its sources'
positions, rendered once. ``source = "synthetic"`` renders procedural scenes
(:class:`~swansphere.data.synthetic.SyntheticFOADataset`, the FOA through the codec trainer's
cached :func:`~swansphere.training.codec.render_pool`) with the simulator's
:class:`~swansphere.data.panorama.PanoramaRenderer`; ``source = "directory"`` reads folders
written by ``swansphere data simulate --out DIR --n N``. Validation scenes use a disjoint seed
(or their own folder).

Each step draws a batch of distinct scenes, turns every pair by a random yaw (FOA rotated,
panorama rolled) and applies the SVAC loss with its hard negatives
(:mod:`swansphere.plugins.svac`). Validation reports the loss and the held-out figures of
:mod:`swansphere.plugins.svac.evaluation`. Checkpoints, resume and the metrics log are the
shared ones of :mod:`swansphere.training.loop` / :mod:`~swansphere.training.checkpoint`; the
trained model goes to ``<output_dir>/svac/`` with ``video_conditioner.toml`` for the backbone.

Example config (``swansphere train svac.toml``)::

    task = "svac"
    [model.video]
    dim = 128
    height = 32
    width = 64
    [run]
    steps = 300
    output_dir = "runs/svac"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import torch

from swansphere.errors import ConfigError
from swansphere.plugins.svac.config import SVACLossConfig, SVACModelConfig
from swansphere.training.common import (
    OptimizerConfig,
    RunConfig,
    build_optimizer,
    clip_gradients,
    learning_rate,
    require_cpu,
    set_learning_rate,
    step_generator,
    task_named,
)
from swansphere.training.distributed import Distributed
from swansphere.training.tasks import TrainingTask
from swansphere.training.trainer import Trainer

VALIDATION_STREAM = 99
"""Generator stream of the validation loss (fixed: the same negatives at every validation)."""


@attrs.frozen(kw_only=True)
class SVACDataConfig:
    """Scenes to train and validate on.

    Attributes:
        source: "synthetic" (procedural scenes rendered here) or "directory" (folders of
            ``swansphere data simulate`` with video).
        train_scenes / validation_scenes: scenes per split (directories: at most that many).
        clip_seconds: clip length; directory scenes are cut to it (shorter ones are skipped).
        max_sources, moving_probability, diffuse_probability, seed: synthetic scene
            statistics (validation adds the codec trainer's seed offset).
        render_width: width the panoramas are drawn at before resizing to the model's size.
        cache_dir: keep rendered FOA pools here (shared with codec training).
        train_dir / validation_dir: the simulated folders for ``source = "directory"``.
    """

    source: str = attrs.field(default="synthetic",
                              validator=attrs.validators.in_(("synthetic", "directory")))
    train_scenes: int = attrs.field(default=256, validator=attrs.validators.ge(2))
    validation_scenes: int = attrs.field(default=64, validator=attrs.validators.ge(2))
    clip_seconds: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    max_sources: int = 2
    moving_probability: float = 0.5
    diffuse_probability: float = 0.3
    seed: int = 0
    render_width: int = attrs.field(default=256, validator=attrs.validators.ge(2))
    cache_dir: str | None = None
    train_dir: str | None = None
    validation_dir: str | None = None


@attrs.frozen(kw_only=True)
class SVACEvaluationConfig:
    """Held-out figures at validation: ``rotations`` candidates (K) per discrimination."""

    rotations: int = attrs.field(default=8, validator=attrs.validators.ge(2))
    batch_size: int = attrs.field(default=32, validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True)
class SVACTrainConfig:
    """A whole SVAC training run, one TOML file (``task = "svac"``)."""

    task: str = attrs.field(default="svac", validator=task_named("svac"))
    model: SVACModelConfig = attrs.field(factory=SVACModelConfig)
    loss: SVACLossConfig = attrs.field(factory=SVACLossConfig)
    data: SVACDataConfig = attrs.field(factory=SVACDataConfig)
    evaluation: SVACEvaluationConfig = attrs.field(factory=SVACEvaluationConfig)
    optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig)
    run: RunConfig = attrs.field(factory=RunConfig)


# ------------------------------------------------------------------------------------ data


@attrs.frozen(kw_only=True, eq=False)
class ScenePool:
    """Scenes of one split: ``foa`` ``(S, 4, n)``, ``frames`` ``(S, T, 3, H, W)`` in [0, 1]
    at the model's ERP size, and the frame ``times`` ``(T,)`` shared by all scenes."""

    foa: torch.Tensor
    frames: torch.Tensor
    times: torch.Tensor

    def __len__(self) -> int:
        return self.foa.shape[0]


def _stack_scenes(model: Any, clips: list[tuple[torch.Tensor, Any, Any]]) -> ScenePool:
    """FOA clips and their decoded frames -> a pool, frames resized by the video conditioner."""
    prepared = model.video.prepare([(frames, times) for _, frames, times in clips])
    return ScenePool(foa=torch.stack([foa for foa, _, _ in clips]), frames=prepared.frames,
                     times=prepared.times[0])


def synthetic_pool(data: SVACDataConfig, model: Any, *, validation: bool,
                   progress: bool = True) -> ScenePool:
    """Procedural scenes: cached FOA from the codec trainer's pool, panoramas drawn here."""
    from swansphere.data.panorama import PanoramaRenderer
    from swansphere.data.synthetic import SyntheticFOADataset
    from swansphere.training.codec import VALIDATION_SEED_OFFSET, CodecDataConfig, render_pool

    sample_rate = model.config.audio.sample_rate
    scenes = dict(train_scenes=data.train_scenes, validation_scenes=data.validation_scenes,
                  clip_seconds=data.clip_seconds, max_sources=data.max_sources,
                  moving_probability=data.moving_probability,
                  diffuse_probability=data.diffuse_probability, seed=data.seed,
                  cache_dir=data.cache_dir)
    foa = render_pool(CodecDataConfig(**scenes), sample_rate, validation=validation,
                      progress=progress)
    dataset = SyntheticFOADataset(
        sample_rate=sample_rate, clip_seconds=data.clip_seconds, size=foa.shape[0],
        seed=data.seed + (VALIDATION_SEED_OFFSET if validation else 0),
        max_sources=data.max_sources, moving_probability=data.moving_probability,
        diffuse_probability=data.diffuse_probability)
    renderer = PanoramaRenderer(width=data.render_width, height=data.render_width // 2,
                                fps=model.config.video.frame_rate)
    clips = [(foa[i], *renderer.render(dataset.scene(i))) for i in range(foa.shape[0])]
    return _stack_scenes(model, clips)


def directory_pool(folder: str | Path, data: SVACDataConfig, model: Any, *, limit: int,
                   progress: bool = True) -> ScenePool:
    """Scenes simulated into ``folder`` (FOA WAV + panorama video), cut to ``clip_seconds``.

    A scene that is unreadable, has no video, another sample rate or is shorter than a clip
    is skipped, logged and counted (:class:`~swansphere.data.quality.SkipCounter`).
    """
    from tqdm.auto import tqdm

    from swansphere.data.quality import SkipCounter
    from swansphere.data.simulate import read_index
    from swansphere.errors import SwanSphereError

    counter = SkipCounter("svac")
    clips = []
    for line in tqdm(read_index(Path(folder))[:limit], desc=f"read {folder}",
                     disable=None if progress else True):
        try:
            clips.append(_read_scene(Path(folder) / line["key"], line["files"], data,
                                     model.config.audio.sample_rate))
        except (SwanSphereError, OSError) as error:
            counter.skip_error(line["key"], error)
    if len(clips) < 2:
        raise ConfigError(f"{folder} has {len(clips)} usable scenes; SVAC needs at least 2 "
                          f"({counter.summary()})")
    if len({clip[1].shape[0] for clip in clips}) > 1:
        raise ConfigError(f"scenes in {folder} have different frame counts within "
                          f"{data.clip_seconds} s; simulate them at one fps")
    return _stack_scenes(model, clips)


def _read_scene(scene: Path, files: dict[str, str], data: SVACDataConfig,
                rate: int) -> tuple[torch.Tensor, Any, Any]:
    """One simulated scene cut to a clip, or a BadSampleError saying why it cannot be used."""
    from swansphere.data.quality import MISSING, TOO_SHORT, BadSampleError
    from swansphere.spatial import read_foa, read_panorama_video

    if "video" not in files:
        raise BadSampleError(MISSING, "no panorama video")
    foa, sample_rate = read_foa(scene / files["foa"])
    if sample_rate != rate:
        raise BadSampleError("sample_rate", f"{sample_rate} Hz, the model needs {rate} Hz")
    frames, times, _ = read_panorama_video(scene / files["video"])
    samples = round(data.clip_seconds * rate)
    keep = times < data.clip_seconds - 1e-9
    if foa.shape[-1] < samples or not keep.any():
        raise BadSampleError(TOO_SHORT, f"{foa.shape[-1] / rate:.2f} s, clips are "
                             f"{data.clip_seconds} s")
    return foa[:, :samples], frames[keep], times[keep]


def scene_pool(data: SVACDataConfig, model: Any, *, validation: bool,
               progress: bool = True) -> ScenePool:
    """The pool of one split, from the configured source."""
    if data.source == "synthetic":
        return synthetic_pool(data, model, validation=validation, progress=progress)
    folder = data.validation_dir if validation else data.train_dir
    if folder is None:
        which = "validation_dir" if validation else "train_dir"
        raise ConfigError(f"data.source = \"directory\" needs data.{which}")
    limit = data.validation_scenes if validation else data.train_scenes
    return directory_pool(folder, data, model, limit=limit, progress=progress)


# ------------------------------------------------------------------------------------ trainer


class _ShardedEmbeddings:
    """Stands in for the model inside ``SVACModel.loss``: every embedding of a batch is
    computed by each rank for its slice only and gathered back, so the loss (its random draws,
    its in-batch negatives) sees the whole global batch on every rank."""

    def __init__(self, model: Any, dist: Distributed) -> None:
        self._model = model
        self.embed_video = dist.sharded(model.embed_video)
        self.embed_audio = dist.sharded(model.embed_audio)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class SVACTrainer(Trainer):
    """Trains an :class:`~swansphere.plugins.svac.model.SVACModel`; see the module doc.

    Under torchrun (``distributed``, default :func:`~swansphere.training.distributed.current`)
    every rank draws the global batch, embeds its slice of it and all-gathers the embeddings
    (:class:`_ShardedEmbeddings`): the in-batch negatives are those of the whole global batch,
    and a step equals the single-process step.
    """

    def __init__(self, config: SVACTrainConfig, *, registry: Any = None,
                 progress: bool = True, distributed: Distributed | None = None) -> None:
        from swansphere.plugins.svac.model import SVACModel

        require_cpu(config.run, "SVAC")
        super().__init__(config, registry=registry, progress=progress, distributed=distributed)
        self.model = SVACModel(config.model)
        self.optimizer = build_optimizer(self.model.parameters(), config.optimizer)
        self.train_loss = self.dist.wrap(self.model, self._sharded_loss)
        self._pools: dict[bool, ScenePool] = {}

    def _sharded_loss(self, *args: Any) -> tuple[torch.Tensor, dict[str, float]]:
        if not self.dist.is_distributed:
            return self.model.loss(*args)
        return type(self.model).loss(_ShardedEmbeddings(self.model, self.dist), *args)

    def pool(self, validation: bool = False) -> ScenePool:
        if validation not in self._pools:
            pool = scene_pool(self.config.data, self.model, validation=validation,
                              progress=self.progress)
            if not validation and len(pool) < self.config.run.batch_size:
                raise ConfigError(f"run.batch_size {self.config.run.batch_size} exceeds the "
                                  f"{len(pool)} training scenes; a batch needs distinct scenes")
            self._pools[validation] = pool
        return self._pools[validation]

    def train_step(self, step: int) -> dict[str, float]:
        run = self.config.run
        self.model.train()
        pool = self.pool()
        generator = step_generator(run.seed, step)
        index = torch.randperm(len(pool), generator=generator)[:run.batch_size]
        lr = learning_rate(step, run.steps, self.config.optimizer)
        set_learning_rate(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = self.train_loss(pool.foa[index], pool.frames[index], pool.times,
                                        self.config.loss, generator)
        loss.backward()
        grad_norm = clip_gradients(self.model.parameters(), self.config.optimizer.grad_clip)
        self.optimizer.step()
        return {"loss": float(loss.detach()), **metrics, "grad_norm": grad_norm, "lr": lr}

    def validate(self, done: int | None = None) -> dict[str, float]:
        """Validation loss (fixed negatives, no augmentation) and the held-out figures."""
        from swansphere.plugins.svac.evaluation import evaluate_svac

        pool, evaluation = self.pool(validation=True), self.config.evaluation
        self.model.eval()
        fixed = attrs.evolve(self.config.loss, augment_yaw=False)
        count = min(len(pool), evaluation.batch_size)
        with torch.no_grad():
            loss, _ = self.model.loss(pool.foa[:count], pool.frames[:count], pool.times, fixed,
                                      step_generator(self.config.run.seed, 0, VALIDATION_STREAM))
        figures = evaluate_svac(self.model, pool.foa, pool.frames, pool.times,
                                rotations=evaluation.rotations,
                                batch_size=evaluation.batch_size)
        return {"val_loss": float(loss), **figures}

    # ---------------------------------------------------------------- checkpoints

    export_name = "svac"

    def write_model(self, directory: Path) -> None:
        self.model.save_pretrained(directory)

    def restore(self, checkpoint: str | Path) -> int:
        """Load weights, optimizer and RNG from a checkpoint; returns the completed steps."""
        from swansphere.codecs.weights import load_weights
        from swansphere.plugins.svac.model import WEIGHTS_FILE
        from swansphere.training.checkpoint import load_checkpoint, resolve_checkpoint

        path = resolve_checkpoint(checkpoint)
        load_weights(self.model, path / WEIGHTS_FILE)
        return int(load_checkpoint(path, self.optimizer)["step"])

    def export(self) -> Path:
        """The trained model in ``<output_dir>/svac`` plus its ``video_conditioner.toml``."""
        from swansphere.plugins.svac.model import write_conditioner_table

        directory = super().export()
        write_conditioner_table(directory)
        return directory

    def run(self, resume: str | Path | None = None) -> dict[str, Any]:
        """Train to ``run.steps`` (from a checkpoint when ``resume``), export, summarise."""
        from swansphere.training.loop import train_and_export

        return train_and_export(self, task="svac", resume=resume, export_key="svac_dir",
                                description="train svac")


TASK = TrainingTask(name="svac", config_class=SVACTrainConfig, run=SVACTrainer.train,
                    description="align the panoramic video encoder with FOA audio (SVAC)")
