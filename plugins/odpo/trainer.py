"""ODPO post-training (``task = "odpo"``): multi-objective online DPO of a trained pipeline.

The run starts from a saved pipeline (the stage-2 model, ``pipeline = "runs/stage2/pipeline"``)
and trains its backbone with the ``odpo`` preference optimizer
(:mod:`swansphere.plugins.odpo`): each step takes ``run.batch_size`` prompts, samples K
candidates per prompt from the current model, scores them with the weighted rewards, and
updates on the flow-matching DPO loss against the starting model, frozen.

Prompts are simulated scenes on a seed of their own, disjoint from the scenes the pipeline
trained on, of the synthesised sources or (``prompts.source = "vocabulary"``) of the sound
vocabulary's clips: each gives its ground-truth caption (:mod:`swansphere.data.captions`
words: "A bell rings on the left.", or a natural caption of the vocabulary's classes), its
target direction (the source's mean direction, single-source scenes), its FOA (the reference of
the fidelity reward) and, with ``prompts.video``, its panorama video.

The semantic reward needs a learned judge. Given none (``text_model``), the run first trains
the small text-audio contrastive model of :mod:`swansphere.plugins.odpo.text_audio` on other
simulated scenes and their captions (``[judge]``) and keeps it in ``<output_dir>/text-audio``
(a resumed run reuses it). Checkpoints, resume and the metrics log are the shared ones of
:mod:`swansphere.training.loop`; the frozen reference is always the starting pipeline. The
improved pipeline goes to ``<output_dir>/pipeline``. Under torchrun each rank samples and scores
its shard of the step's prompts; gradients are averaged by DDP
(:mod:`swansphere.training.distributed`).

Example (``swansphere train odpo.toml``)::

    task = "odpo"
    pipeline = "runs/stage2/pipeline"
    [odpo]
    type = "odpo"
    candidates = 8
    beta = 1000.0
    [[rewards]]
    weight = 0.4
    reward = {type = "spatial"}
    [[rewards]]
    weight = 0.4
    reward = {type = "semantic"}
    [[rewards]]
    weight = 0.2
    reward = {type = "fidelity"}
    [run]
    steps = 200
    batch_size = 4
    output_dir = "runs/odpo"
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from swansphere.config import PreferenceOptimizerSpec, RewardSpec
from swansphere.errors import ConfigError
from swansphere.plugins.odpo.config import (
    FIDELITY,
    SEMANTIC,
    SPATIAL,
    FidelityRewardConfig,
    ODPOConfig,
    SemanticRewardConfig,
    SpatialRewardConfig,
    TextAudioConfig,
    WeightedReward,
)
from swansphere.training.common import (
    OptimizerConfig,
    RunConfig,
    build_optimizer,
    caption_style_field,
    learning_rate,
    probability_field,
    set_learning_rate,
    step_generator,
    task_named,
)
from swansphere.training.distributed import Distributed
from swansphere.training.tasks import TrainingTask
from swansphere.training.trainer import Trainer

VALIDATION_SEED_OFFSET = 1_000_003
JUDGE_SEED_OFFSET = 3_000_017
JUDGE_DIR = "text-audio"
JUDGE_METRICS = "judge_metrics.json"
HELD_OUT_SEED = 9_000_001
"""Scene seed of the held-out evaluation prompts (``benchmarks/odpo_eval.py``)."""


def paper_rewards() -> tuple[WeightedReward, ...]:
    """R = 0.4·spatial + 0.4·semantic + 0.2·fidelity, as in the paper."""
    return (WeightedReward(weight=0.4, reward=RewardSpec(type=SPATIAL,
                                                         config=SpatialRewardConfig())),
            WeightedReward(weight=0.4, reward=RewardSpec(type=SEMANTIC,
                                                         config=SemanticRewardConfig())),
            WeightedReward(weight=0.2, reward=RewardSpec(type=FIDELITY,
                                                         config=FidelityRewardConfig())))


@attrs.frozen(kw_only=True)
class ODPOPromptsConfig:
    """Simulated scenes whose captions are the prompts.

    Attributes:
        source: ``"synthetic"`` (the synthesised sources, template captions) or
            ``"vocabulary"``: the installed sound sets' clips of the vocabulary's classes,
            training prompts from each class's training clips and validation prompts from its
            held-out clips (as a pipeline's ``data.source = "vocabulary"``): what a model
            trained on the vocabulary is asked for.
        sets, permissive_only, room_probability, sustained_probability, captions: with
            ``vocabulary``, as the pipeline's data config has them (natural captions: the
            training family for training prompts, the held-out family for validation).
        train_prompts / validation_prompts: scenes per split (validation: a disjoint seed).
        clip_seconds: length of each scene, and of each generated candidate.
        max_sources, moving_probability, diffuse_probability: scene statistics (one static,
            dry source by default: one direction per prompt).
        seed: scene seed, apart from the pipeline trainer's (0 and 2 000 003).
        video: also render each scene's panorama (for pipelines with a video conditioner).
        render_width: panorama width (the video conditioner resizes it).
    """

    source: str = attrs.field(default="synthetic",
                              validator=attrs.validators.in_(("synthetic", "vocabulary")))
    sets: tuple[str, ...] | None = None
    permissive_only: bool = True
    room_probability: float = probability_field()
    sustained_probability: float = probability_field()
    captions: str = caption_style_field()
    train_prompts: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    validation_prompts: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    clip_seconds: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    max_sources: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    moving_probability: float = 0.0
    diffuse_probability: float = 0.0
    seed: int = 5_000_011
    video: bool = False
    render_width: int = attrs.field(default=128, validator=attrs.validators.ge(2))

    def __attrs_post_init__(self) -> None:
        vocabulary_only = {"captions": self.captions != "templates",
                           "room_probability": self.room_probability > 0,
                           "sustained_probability": self.sustained_probability > 0}
        used = [name for name, chosen in vocabulary_only.items() if chosen]
        if self.source == "synthetic" and used:
            raise ConfigError(f"prompts.{used[0]} needs prompts.source = \"vocabulary\" "
                              f"(it shapes scenes of the vocabulary's clips)")

    def vocabulary(self, validation: bool) -> tuple | None:
        """The vocabulary key of :func:`swansphere.training.pipeline.split_dataset`."""
        if self.source == "synthetic":
            return None
        return (self.sets, self.permissive_only, self.room_probability,
                self.sustained_probability, self.captions, validation)


@attrs.frozen(kw_only=True)
class JudgeConfig:
    """Training of the text-audio judge (when the semantic reward has no ``text_model``).

    Attributes:
        model: its architecture.
        scenes / validation_scenes: simulated scenes it trains and is measured on.
        clip_seconds, max_sources, moving_probability: their statistics.
        steps, batch_size, learning_rate: the optimisation (AdamW).
        rotation_negatives: turned copies of each clip as hard negatives of its caption.
    """

    model: TextAudioConfig = attrs.field(factory=TextAudioConfig)
    scenes: int = attrs.field(default=512, validator=attrs.validators.ge(2))
    validation_scenes: int = attrs.field(default=64, validator=attrs.validators.ge(2))
    clip_seconds: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    max_sources: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    moving_probability: float = 0.3
    steps: int = attrs.field(default=400, validator=attrs.validators.ge(1))
    batch_size: int = attrs.field(default=32, validator=attrs.validators.ge(2))
    learning_rate: float = attrs.field(default=1e-3, validator=attrs.validators.gt(0))
    rotation_negatives: int = attrs.field(default=1, validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class ODPOTrainConfig:
    """A whole ODPO run, one TOML file (``task = "odpo"``); ``pipeline`` is the directory
    of the model to improve (or a shipped model name)."""

    task: str = attrs.field(default="odpo", validator=task_named("odpo"))
    pipeline: str
    prompts: ODPOPromptsConfig = attrs.field(factory=ODPOPromptsConfig)
    rewards: tuple[WeightedReward, ...] = attrs.field(factory=paper_rewards)
    odpo: PreferenceOptimizerSpec = attrs.field(
        factory=lambda: PreferenceOptimizerSpec(type="odpo", config=ODPOConfig()))
    judge: JudgeConfig = attrs.field(factory=JudgeConfig)
    optimizer: OptimizerConfig = attrs.field(
        factory=lambda: OptimizerConfig(learning_rate=1e-5, warmup_steps=10))
    run: RunConfig = attrs.field(factory=lambda: RunConfig(steps=200, batch_size=4,
                                                           output_dir="runs/odpo"))


# ------------------------------------------------------------------------------------ prompts


def scene_prompts(prompts: ODPOPromptsConfig, sample_rate: int, *, count: int, seed: int,
                  fps: float | None = None, validation: bool = False) -> list[Any]:
    """``count`` simulated scenes as :class:`~swansphere.plugins.odpo.optimizer.
    PreferenceInput` s: caption, target direction (single-source scenes), reference FOA at
    ``sample_rate`` and, when ``fps`` is given, the panorama video. ``validation`` draws
    vocabulary prompts from the held-out clips and captions."""
    from swansphere.data.panorama import PanoramaRenderer
    from swansphere.plugins.odpo.optimizer import PreferenceInput
    from swansphere.training.pipeline import split_dataset

    dataset = split_dataset(sample_rate, prompts.clip_seconds, seed, 1, prompts.max_sources,
                            prompts.moving_probability, prompts.diffuse_probability,
                            prompts.vocabulary(validation))
    renderer = None if fps is None else PanoramaRenderer(
        width=prompts.render_width, height=prompts.render_width // 2, fps=fps)
    inputs = []
    for index in range(count):
        item = dataset[index]
        video = None if renderer is None else renderer.render(dataset.scene(index))
        inputs.append(PreferenceInput(text=item["caption"], video=video,
                                      duration=prompts.clip_seconds,
                                      direction=source_direction(item["sources"]),
                                      reference=item["foa"],
                                      classes=tuple(source["label"]
                                                    for source in item["sources"])))
    return inputs


def source_direction(sources: list[dict[str, Any]]) -> tuple[float, float] | None:
    """Mean (azimuth, elevation) in degrees of a scene's only source; None for several."""
    from swansphere.data.scenes import unit_vectors, vector_directions

    if len(sources) != 1:
        return None
    track = sources[0]
    vectors = unit_vectors(np.asarray(track["azimuth"], dtype=np.float64),
                           np.asarray(track["elevation"], dtype=np.float64))
    azimuth, elevation = vector_directions(vectors.mean(axis=0))
    return float(azimuth), float(elevation)


# ------------------------------------------------------------------------------------ judge


def judge_scenes(judge: JudgeConfig, sample_rate: int, *, seed: int,
                 count: int) -> tuple[torch.Tensor, list[str]]:
    """FOA ``(count, 4, n)`` and ground-truth captions of simulated scenes for the judge."""
    from swansphere.data.synthetic import SyntheticFOADataset

    dataset = SyntheticFOADataset(sample_rate=sample_rate, clip_seconds=judge.clip_seconds,
                                  size=count, seed=seed, max_sources=judge.max_sources,
                                  moving_probability=judge.moving_probability)
    items = [dataset[index] for index in range(count)]
    return torch.stack([item["foa"] for item in items]), [item["caption"] for item in items]


def train_text_audio(judge: JudgeConfig, *, seed: int, progress: bool = True
                     ) -> tuple[Any, dict[str, float]]:
    """Train the text-audio judge on simulated scenes; returns it (eval mode) and its
    held-out figures (:func:`judge_figures`)."""
    from tqdm.auto import tqdm

    from swansphere.plugins.odpo.text_audio import TextAudioModel

    torch.manual_seed(seed)
    model = TextAudioModel(judge.model)
    rate = model.sample_rate
    foa, captions = judge_scenes(judge, rate, seed=seed, count=judge.scenes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=judge.learning_rate)
    batch = min(judge.batch_size, len(captions))
    model.train()
    for step in tqdm(range(judge.steps), desc="train text-audio judge",
                     disable=None if progress else True):
        generator = step_generator(seed, step)
        index = torch.randperm(len(captions), generator=generator)[:batch]
        loss, _ = model.loss(foa[index], [captions[i] for i in index.tolist()], generator,
                             rotation_negatives=judge.rotation_negatives)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval().requires_grad_(False)
    held_foa, held_captions = judge_scenes(judge, rate, seed=seed + VALIDATION_SEED_OFFSET,
                                           count=judge.validation_scenes)
    return model, judge_figures(model, held_foa, held_captions)


@torch.no_grad()
def judge_figures(model: Any, foa: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """``retrieval_r1`` (each caption picks its clip among all; chance 1/N) and
    ``direction_accuracy`` (its clip scores above the same clip turned by 90°, 180° and
    270°; chance 1/4 that it beats all three)."""
    from swansphere.spatial import rotate

    text = model.embed_text(captions)
    audio = model.embed_audio(foa)
    similarity = text @ audio.T
    truth = torch.arange(len(captions))
    right = similarity.diagonal()
    turned = torch.stack([(text * model.embed_audio(rotate(foa, yaw=yaw).to(foa.dtype))).sum(-1)
                          for yaw in (90.0, 180.0, 270.0)])
    return {"retrieval_r1": float((similarity.argmax(1) == truth).float().mean()),
            "direction_accuracy": float((right > turned.max(0).values).float().mean()),
            "scenes": float(len(captions))}


def _wants_judge(entry: WeightedReward, video_prompts: bool) -> bool:
    semantic = entry.reward.config
    if entry.reward.type != SEMANTIC or not isinstance(semantic, SemanticRewardConfig):
        return False
    return semantic.text_model is None and (semantic.svac_model is None or not video_prompts)


def needs_judge(entries: list[WeightedReward], video_prompts: bool) -> bool:
    """Does a semantic reward lack the text model it needs to score these prompts?"""
    return any(_wants_judge(entry, video_prompts) for entry in entries)


def with_judge(entries: list[WeightedReward], judge: str | Path,
               video_prompts: bool) -> list[WeightedReward]:
    """The rewards, each semantic one that lacks a text model given ``judge``."""
    out = []
    for entry in entries:
        if _wants_judge(entry, video_prompts):
            config = attrs.evolve(entry.reward.config, text_model=str(judge))
            entry = attrs.evolve(entry, reward=RewardSpec(type=SEMANTIC, config=config))
        out.append(entry)
    return out


# ------------------------------------------------------------------------------------ trainer


class ODPOTrainer(Trainer):
    """Post-trains a saved pipeline's backbone with ODPO; see the module doc."""

    def __init__(self, config: ODPOTrainConfig, *, registry: Any = None, progress: bool = True,
                 distributed: Distributed | None = None) -> None:
        from swansphere.pipeline import Pipeline

        if config.run.batch_size > config.prompts.train_prompts:
            raise ConfigError(f"run.batch_size {config.run.batch_size} exceeds the "
                              f"{config.prompts.train_prompts} training prompts")
        super().__init__(config, registry=registry, progress=progress, distributed=distributed)
        self.pipeline = Pipeline.from_pretrained(config.pipeline, registry=self.registry)
        for module in self.pipeline.modules().values():
            module.to(self.device).eval().requires_grad_(False)
        self.pipeline.backbone.requires_grad_(True)
        # candidates are the backbone's own takes (their latents are what it learns from),
        # whatever the saved model does with prompts of several places or with their places
        # (a held place would hide where the backbone put a sound from the rewards, an
        # anchored stream what it makes)
        self.policy = self.pipeline.replace(sources="joint", place_hold=0.0,
                                             exemplar_anchor=0.0)
        self.optimizer = build_optimizer(self.pipeline.backbone.parameters(), config.optimizer)
        self.odpo = self.registry.create("preference_optimizer", config.odpo)
        self.judge_metrics: dict[str, float] = {}
        self._prompts: dict[bool, list[Any]] = {}
        self._attached = False

    # ---------------------------------------------------------------- setup

    def attach(self) -> None:
        """Build the rewards (training the judge first if needed) and bind the optimizer;
        the frozen reference is the pipeline as loaded, so this runs before any resume."""
        if self._attached:
            return
        from swansphere.plugins.odpo.rewards import RewardMix

        self.rewards = RewardMix([(entry.weight, self.registry.create("reward", entry.reward))
                                  for entry in self.reward_entries()])
        # null embeddings of absent modalities (video, empty captions) get no gradient
        self.odpo.attach(self.policy, self.rewards, self.optimizer,
                         grad_clip=self.config.optimizer.grad_clip,
                         wrap=lambda module: self.dist.wrap(module,
                                                            find_unused_parameters=True))
        self._attached = True

    def reward_entries(self) -> list[WeightedReward]:
        """The configured rewards, a semantic reward without a model pointed at the judge."""
        entries = list(self.config.rewards)
        if needs_judge(entries, self.config.prompts.video):
            entries = with_judge(entries, self.judge_directory(), self.config.prompts.video)
        return entries

    def judge_directory(self) -> Path:
        """``<output_dir>/text-audio``: trained here (rank 0) unless a previous run did."""
        from swansphere.plugins.odpo.text_audio import CONFIG_FILE, WEIGHTS_FILE
        from swansphere.training.checkpoint import write_directory_atomically

        directory = self.output_dir / JUDGE_DIR
        done = (directory / CONFIG_FILE).is_file() and (directory / WEIGHTS_FILE).is_file()
        if self.dist.is_main and not done:
            model, self.judge_metrics = train_text_audio(
                self.config.judge, seed=self.config.run.seed + JUDGE_SEED_OFFSET,
                progress=self.progress)

            def write(temp: Path) -> None:
                model.save_pretrained(temp)
                (temp / JUDGE_METRICS).write_text(json.dumps(self.judge_metrics, indent=1),
                                                  encoding="utf-8")

            write_directory_atomically(directory, write)
        elif (directory / JUDGE_METRICS).is_file():
            self.judge_metrics = json.loads((directory / JUDGE_METRICS).read_text("utf-8"))
        self.dist.barrier()
        return directory

    def prompts(self, validation: bool = False) -> list[Any]:
        if validation not in self._prompts:
            config = self.config.prompts
            fps = None
            if config.video:
                if self.pipeline.video_encoder is None:
                    raise ConfigError("prompts.video = true but the pipeline has no video "
                                      "conditioner")
                fps = self.pipeline.video_encoder.frame_rate
            count = config.validation_prompts if validation else config.train_prompts
            seed = config.seed + (VALIDATION_SEED_OFFSET if validation else 0)
            self._prompts[validation] = scene_prompts(config, self.pipeline.sample_rate,
                                                      count=count, seed=seed, fps=fps,
                                                      validation=validation)
        return self._prompts[validation]

    # ---------------------------------------------------------------- steps

    def train_step(self, step: int) -> dict[str, float]:
        from swansphere.plugins.odpo.optimizer import PreferenceBatch

        self.attach()
        run, prompts = self.config.run, self.prompts()
        generator = step_generator(run.seed, step)
        index = torch.randperm(len(prompts), generator=generator)[:run.batch_size]
        seed = int(torch.randint(2**62, (1,), generator=generator))
        mine = self.dist.shard(len(index))
        lr = learning_rate(step, run.steps, self.config.optimizer)
        set_learning_rate(self.optimizer, lr)
        batch = PreferenceBatch(inputs=[prompts[i] for i in index[mine].tolist()], seed=seed,
                                offset=mine.start)
        return {**self.odpo.step(batch), "lr": lr}

    def validate(self, done: int | None = None) -> dict[str, float]:
        """Rewards of one clip per validation prompt (fixed seeds), its Δangular (rad) and
        the divergence of the policy from the reference on those clips."""
        self.attach()
        prompts = self.prompts(validation=True)
        clips = sample_prompts(self.policy, prompts)
        figures = evaluate_clips(self.policy, self.rewards, prompts, clips,
                                 divergence=self.odpo.reference_divergence)
        return {f"val_{name}": value for name, value in figures.items()}

    # ---------------------------------------------------------------- checkpoints

    export_name = "pipeline"

    def write_model(self, directory: Path) -> None:
        self.pipeline.save_pretrained(directory)

    def restore(self, checkpoint: str | Path) -> int:
        """Policy weights, optimizer and RNG from a checkpoint (the reference stays the
        starting pipeline); returns the completed steps."""
        from swansphere.pipeline import WEIGHTS_FILE
        from swansphere.training.checkpoint import load_checkpoint, resolve_checkpoint

        self.attach()
        path = resolve_checkpoint(checkpoint)
        self.pipeline.load_weights(path / WEIGHTS_FILE)
        return int(load_checkpoint(path, self.optimizer)["step"])

    def run(self, resume: str | Path | None = None) -> dict[str, Any]:
        """Train to ``run.steps`` (from a checkpoint when ``resume``), export, summarise."""
        from swansphere.training.loop import train_and_export

        self.attach()
        summary = train_and_export(self, task="odpo", resume=resume, export_key="odpo_dir",
                                   description="odpo", validate_first=True)
        return {**summary, "judge": self.judge_metrics}


def sample_prompts(pipeline: Any, prompts: list[Any], *, seed: int = 0,
                   samples: int = 1) -> list[Any]:
    """``samples`` clips per prompt as one :class:`swansphere.Takes` each, prompt ``i``
    sample ``j`` from seed ``seed + i·samples + j``."""
    pipeline.backbone.eval()
    return [pipeline.generate_takes(item.text, item.video, item.duration,
                                    range(seed + index * samples,
                                          seed + (index + 1) * samples))
            for index, item in enumerate(prompts)]


def evaluate_clips(pipeline: Any, rewards: Any, prompts: list[Any], clips: list[Any], *,
                   divergence: Any = None, seed: int = 0) -> dict[str, float]:
    """Figures of clips generated by ``pipeline`` for ``prompts`` (one
    :class:`swansphere.Takes` each): mean ``reward`` and per-reward means under ``rewards``,
    ``angular_error`` (the paper's Δangular against the spatial target, rad; π for a clip
    without a direction, the policy of docs/evaluation.md) and, given a preference
    optimizer's ``reference_divergence``, ``reference_kl``: the policy's velocity gap to its
    frozen reference on these clips."""
    from swansphere.metrics.direction import worst_case_direction_errors
    from swansphere.plugins.odpo.optimizer import pair_conditions
    from swansphere.plugins.odpo.rewards import SpatialReward

    totals, scores, errors, divergences = [], [], [], []
    spatial = SpatialReward()
    for index, (item, takes) in enumerate(zip(prompts, clips, strict=True)):
        audio, count = takes.audio, len(takes.seeds)
        inputs = item.reward_inputs().repeat(count)
        score = rewards.score(audio, pipeline.sample_rate, inputs)
        scores.append(score)
        totals.append(rewards.total(score))
        target = spatial.target(inputs, 0)
        errors += worst_case_direction_errors(target, audio.cpu())["angular"].tolist()
        if divergence is not None:
            conditions = pair_conditions(pipeline, [item] * count)
            divergences.append(divergence(takes.latents, conditions, seed + index))
    metrics = {"reward": float(torch.cat(totals).mean()),
               "angular_error": float(np.nanmean(errors)) if errors else math.nan}
    if divergences:
        metrics["reference_kl"] = float(np.mean(divergences))
    for name in rewards.names:
        metrics[name] = float(torch.cat([s[name] for s in scores]).mean())
    return metrics


TASK = TrainingTask(name="odpo", config_class=ODPOTrainConfig, run=ODPOTrainer.train,
                    description="post-train a pipeline with multi-objective online DPO (ODPO)")
