"""Codec training (``task = "codec"``): a streaming VAE learns FOA scenes, space included.

Data: a pool of deterministic scenes rendered once (optionally cached): synthesised sources
(:class:`~swansphere.data.synthetic.SyntheticFOADataset`, ``source = "synthetic"``) or the
installed sound sets' labelled clips placed by :class:`~swansphere.data.scenes.SceneSampler`
(``source = "sound-sets"``, permissively licensed clips only unless asked), from which every
step crops random segments and turns the sound field by a random rotation (a rotated FOA
scene is another valid scene, so direction coverage grows for free) with a random gain.
The loss is
``stft · MR-STFT per ACN channel + spatial · intensity-vector term + waveform · relative
squared error per channel + kl · KL``
(:mod:`swansphere.codecs.losses`). Validation reports the losses, per-channel SI-SDR and the
direction error Δangular of full validation clips.

A codec with nothing to train but statistics to fit (``foa-parametric``: a transform codec
whose latents are standardised per dimension) is *fitted* instead: the training pool is
encoded once, ``fit_statistics`` sets the standardisation, validation runs once, and the
codec is exported the same way.

Example config (``swansphere train codec.toml``)::

    task = "codec"
    [codec]
    type = "foa-vae"
    preset = "tiny"
    [run]
    steps = 2000
    output_dir = "runs/codec-tiny"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import torch

from swansphere.config import CodecSpec
from swansphere.errors import ConfigError

from .common import (
    OptimizerConfig,
    RunConfig,
    build_optimizer,
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
from .distributed import SINGLE_PROCESS, Distributed
from .tasks import TrainingTask
from .trainer import Trainer

VALIDATION_SEED_OFFSET = 1_000_003


@attrs.frozen(kw_only=True)
class CodecDataConfig:
    """Training material: FOA scenes of 1–3 static or moving sources.

    Attributes:
        source: ``"synthetic"`` (the ten synthesised classes) or ``"sound-sets"`` (clips of
            the installed sound sets, see ``swansphere data sources``).
        sets: the sound sets to draw from (``None``: every installed set).
        permissive_only: keep only clips a shipped model may learn from.
        room_probability: share of ``sound-sets`` scenes rendered in a simulated room.
        train_scenes / validation_scenes: scenes rendered for training and for validation.
        clip_seconds: length of each rendered scene.
        segment_seconds: length of a training crop (rounded to whole hops).
        max_sources, moving_probability, diffuse_probability: scene statistics.
        seed: scene seed (validation uses a disjoint seed).
        rotate: turn each crop by a random yaw (±180°), pitch and roll (±30°).
        gain_db: random gain in ±gain_db dB per crop.
        cache_dir: keep the rendered pool here as safetensors (rendering is slow on a CPU),
            keyed by everything above and by which clips the sets gave.
        min_classes: with ``sound-sets``, refuse to render when the installed sets give fewer
            labelled classes than this (a recipe written for the full sets would otherwise
            train quietly on what a machine happens to have).
    """

    source: str = attrs.field(default="synthetic",
                              validator=attrs.validators.in_(("synthetic", "sound-sets")))
    sets: tuple[str, ...] | None = None
    permissive_only: bool = True
    room_probability: float = probability_field()
    train_scenes: int = attrs.field(default=64, validator=attrs.validators.ge(1))
    validation_scenes: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    clip_seconds: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    segment_seconds: float = attrs.field(default=0.512, validator=attrs.validators.gt(0))
    max_sources: int = 3
    moving_probability: float = 0.5
    diffuse_probability: float = 0.3
    seed: int = 0
    rotate: bool = True
    gain_db: float = 6.0
    cache_dir: str | None = None
    min_classes: int = attrs.field(default=0, validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class CodecLossConfig:
    """Weights of the loss terms and their resolutions."""

    stft: float = 1.0
    spatial: float = 1.0
    kl: float = 1e-4
    waveform: float = 1.0
    fft_sizes: tuple[int, ...] = (1024, 512, 256, 128, 64)
    spatial_fft_size: int = 512


@attrs.frozen(kw_only=True)
class CodecTrainConfig:
    """A whole codec training run, one TOML file (``task = "codec"``)."""

    task: str = attrs.field(default="codec", validator=task_named("codec"))
    codec: CodecSpec
    data: CodecDataConfig = attrs.field(factory=CodecDataConfig)
    loss: CodecLossConfig = attrs.field(factory=CodecLossConfig)
    optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig)
    run: RunConfig = attrs.field(factory=RunConfig)


# ------------------------------------------------------------------------------------ data


def render_pool(data: CodecDataConfig, sample_rate: int, *, validation: bool = False,
                progress: bool = True) -> torch.Tensor:
    """All scenes of one split as ``(scenes, 4, samples)``, from the cache when present."""
    seed = data.seed + (VALIDATION_SEED_OFFSET if validation else 0)
    size = data.validation_scenes if validation else data.train_scenes
    key = {"sample_rate": sample_rate, "clip_seconds": data.clip_seconds, "size": size,
           "seed": seed, "max_sources": data.max_sources,
           "moving_probability": data.moving_probability,
           "diffuse_probability": data.diffuse_probability}
    clips = None
    if data.source != "synthetic":
        clips = _sound_set_clips(data)
        key.update(source=data.source, sets=data.sets, permissive_only=data.permissive_only,
                   room_probability=data.room_probability, clips=clips_fingerprint(clips))
    cache = scene_cache_path(data.cache_dir, "foa-scenes", key)
    if cache is not None and cache.is_file():
        from swansphere.codecs.weights import load_tensors

        return load_tensors(cache)["foa"]
    render = _scene_renderer(data, clips, sample_rate, seed, size)
    label = "render validation scenes" if validation else "render training scenes"
    from tqdm.auto import tqdm

    pool = torch.stack([render(i) for i in tqdm(range(size), desc=label,
                                                disable=None if progress else True)])
    if cache is not None:
        from swansphere.codecs.weights import save_tensors

        cache.parent.mkdir(parents=True, exist_ok=True)
        save_tensors({"foa": pool}, cache, {"scenes": json.dumps(key)})
    return pool


def _sound_set_clips(data: CodecDataConfig) -> list[Any]:
    """The clips of ``data.sets`` that the scenes draw from, at least ``data.min_classes``
    classes of them."""
    from swansphere.data.sources import catalogue

    clips = catalogue(list(data.sets) if data.sets is not None else None,
                      permissive_only=data.permissive_only)
    if not clips:
        raise ConfigError("data.sets holds no clips (with permissive_only, no permissively "
                          "licensed ones); see 'swansphere data sources'")
    check_class_count(clips, data.min_classes)
    return clips


def _scene_renderer(data: CodecDataConfig, clips: list[Any] | None, sample_rate: int,
                    seed: int, size: int) -> Any:
    """``render(index) -> (4, samples)``: scene ``index`` of the split seeded by ``seed``
    (``clips``: the sound sets' clips, ``None`` for synthetic scenes)."""
    if data.source == "synthetic":
        from swansphere.data.synthetic import SyntheticFOADataset

        dataset = SyntheticFOADataset(
            sample_rate=sample_rate, clip_seconds=data.clip_seconds, size=size, seed=seed,
            max_sources=data.max_sources,            moving_probability=data.moving_probability,
            diffuse_probability=data.diffuse_probability)
        return lambda index: dataset[index]["foa"]
    from swansphere.data.render import render_scene
    from swansphere.data.scenes import SceneSampler

    sampler = SceneSampler(sample_rate=sample_rate, duration=data.clip_seconds,
                           max_sources=data.max_sources,
                           moving_probability=data.moving_probability,
                           diffuse_probability=data.diffuse_probability,
                           room_probability=data.room_probability)
    return lambda index: render_scene(sampler.sample(clips, seed, index))[0]


def training_batch(pool: torch.Tensor, step_seed: int, step: int, *, batch_size: int,
                   segment: int, data: CodecDataConfig) -> torch.Tensor:
    """The crops of one step, a pure function of (seed, step): ``(batch, 4, segment)``."""
    from swansphere.spatial import rotate

    generator = step_generator(step_seed, step)
    scenes, _, length = pool.shape
    if segment > length:
        raise ConfigError(f"data.segment_seconds is longer than data.clip_seconds "
                          f"({segment} > {length} samples)")
    index = torch.randint(scenes, (batch_size,), generator=generator)
    start = torch.randint(length - segment + 1, (batch_size,), generator=generator)
    crops = torch.stack([pool[i, :, s:s + segment] for i, s in zip(index.tolist(),
                                                                   start.tolist(), strict=True)])
    uniform = torch.rand(4, batch_size, generator=generator, dtype=torch.float64)
    if data.rotate:
        crops = rotate(crops, yaw=360.0 * uniform[0] - 180.0, pitch=60.0 * uniform[1] - 30.0,
                       roll=60.0 * uniform[2] - 30.0).to(torch.float32)
    gain = 10.0 ** ((2.0 * uniform[3] - 1.0) * data.gain_db / 20.0)
    return crops * gain.to(torch.float32)[:, None, None]


# ------------------------------------------------------------------------------------ trainer


class CodecTrainer(Trainer):
    """Trains a registered codec that has parameters, or fits one that has statistics to fit
    (``fit_statistics``, no trainable parameters); see the module doc for the recipe.

    The trainable-codec contract (docs/plugins.md): the codec is an ``nn.Module`` following
    :class:`~swansphere.protocols.LatentCodec` (the trainer reads ``sample_rate``,
    ``hop_length``, ``encode`` and ``decode``), optionally with ``posterior(audio) -> (mean,
    logvar)`` (a VAE: KL term, sampled latents) and ``delay`` (samples by which its round
    trip lags). Checkpoints and the exported model hold its ``state_dict`` and the config
    table it was built from, so ``load_codec`` rebuilds it through the registry. Under
    torchrun (``distributed``, default :func:`~swansphere.training.distributed.current`)
    each rank encodes and decodes its slice of every batch; see :meth:`reconstruct`.
    """

    def __init__(self, config: CodecTrainConfig, *, registry: Any = None,
                 progress: bool = True, distributed: Distributed | None = None) -> None:
        super().__init__(config, registry=registry, progress=progress, distributed=distributed)
        self._pools: dict[bool, torch.Tensor] = {}
        self.codec = self.registry.create("codec", config.codec)
        if not isinstance(self.codec, torch.nn.Module):
            raise ConfigError(f"codec {config.codec.type!r} is not a torch module; "
                              "it cannot be trained")
        self.codec.to(self.device)
        self.fits = hasattr(self.codec, "fit_statistics") and not any(
            parameter.requires_grad for parameter in self.codec.parameters())
        if self.fits:
            return
        if not any(parameter.requires_grad for parameter in self.codec.parameters()):
            raise ConfigError(f"codec {config.codec.type!r} has no trainable parameters and "
                              "no statistics to fit")
        self.optimizer = build_optimizer(self.codec.parameters(), config.optimizer)
        self.train_reconstruct = self.dist.wrap(
            self.codec, lambda audio, generator: self.reconstruct(audio, generator, self.dist))
        hop = self.codec.hop_length
        hops = round(config.data.segment_seconds * self.codec.sample_rate / hop)
        self.segment = max(hops, 1) * hop

    def pool(self, validation: bool = False) -> torch.Tensor:
        if validation not in self._pools:
            self._pools[validation] = render_pool(self.config.data, self.codec.sample_rate,
                                                  validation=validation, progress=self.progress)
        return self._pools[validation]

    # ---------------------------------------------------------------- losses

    def reconstruct(self, audio: torch.Tensor, generator: torch.Generator | None,
                    dist: Distributed = SINGLE_PROCESS) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction and KL term of a (global) batch; latents sampled when ``generator``.

        With several ranks each encodes and decodes only its slice (``dist.shard``); the
        posterior and the reconstruction are gathered, so the latents are drawn from the same
        noise and the losses see the same batch as in one process.
        """
        from swansphere.codecs.foa_vae import sample_posterior
        from swansphere.codecs.losses import kl_divergence

        total, share = audio.shape[0], dist.shard(audio.shape[0])
        if hasattr(self.codec, "posterior"):
            mean, logvar = (dist.gather(part, total) for part in self.codec.posterior(audio[share]))
            latents = mean if generator is None else sample_posterior(mean, logvar, generator)
            latents, kl = latents[share], kl_divergence(mean, logvar)
        else:
            latents, kl = self.codec.encode(audio[share]), audio.new_zeros(())
        return dist.gather(self.codec.decode(latents), total), kl

    def losses(self, audio: torch.Tensor, generator: torch.Generator | None,
               reconstruct: Any = None) -> dict[str, Any]:
        """Loss terms for a batch; latents are sampled when ``generator`` is given.

        ``reconstruct`` (default :meth:`reconstruct` in this process alone) turns the batch
        into ``(reconstruction, kl)``; training passes the DDP-wrapped form.
        """
        from swansphere.codecs.losses import (
            multi_resolution_stft_loss,
            relative_waveform_loss,
            spatial_intensity_loss,
        )

        weights = self.config.loss
        reconstruction, kl = (reconstruct or self.reconstruct)(audio, generator)
        reconstruction = reconstruction[..., getattr(self.codec, "delay", 0):]
        target = audio[..., :reconstruction.shape[-1]]
        terms = {"stft": multi_resolution_stft_loss(target, reconstruction, weights.fft_sizes),
                 "spatial": spatial_intensity_loss(target, reconstruction,
                                                   weights.spatial_fft_size),
                 "kl": kl, "waveform": relative_waveform_loss(target, reconstruction)}
        terms["loss"] = sum(getattr(weights, name) * terms[name] for name in
                            ("stft", "spatial", "kl", "waveform"))
        return {"terms": terms, "reconstruction": reconstruction, "target": target}

    def train_step(self, step: int) -> dict[str, float]:
        run = self.config.run
        self.codec.train()
        audio = training_batch(self.pool(), run.seed, step, batch_size=run.batch_size,
                               segment=self.segment, data=self.config.data).to(self.device)
        lr = learning_rate(step, run.steps, self.config.optimizer)
        set_learning_rate(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        terms = self.losses(audio, step_generator(run.seed, step, stream=1),
                            self.train_reconstruct)["terms"]
        terms["loss"].backward()
        grad_norm = clip_gradients(self.codec.parameters(), self.config.optimizer.grad_clip)
        self.optimizer.step()
        return {**{k: float(v.detach()) for k, v in terms.items()}, "grad_norm": grad_norm,
                "lr": lr}

    def validate(self, done: int | None = None) -> dict[str, float]:
        """Losses (posterior mean, no sampling) and reconstruction metrics on validation clips."""
        from swansphere.evaluation.codec_metrics import reconstruction_metrics

        self.codec.eval()
        pool = self.pool(validation=True)
        whole = pool.shape[-1] // self.codec.hop_length * self.codec.hop_length
        with torch.no_grad():
            result = self.losses(pool[..., :whole].to(self.device), None)
        metrics = {f"val_{k}": float(v) for k, v in result["terms"].items()}
        metrics.update(reconstruction_metrics(result["target"].cpu(),
                                              result["reconstruction"].cpu()))
        return metrics

    # ---------------------------------------------------------------- checkpoints

    export_name = "codec"

    def write_model(self, directory: Path) -> None:
        from swansphere.codecs.weights import save_codec

        save_codec(self.codec, directory, spec=self.config.codec)

    def restore(self, checkpoint: str | Path) -> int:
        """Load weights, optimizer and RNG from a checkpoint; returns the completed steps."""
        from swansphere.codecs.weights import load_weights

        from .checkpoint import load_checkpoint, resolve_checkpoint

        path = resolve_checkpoint(checkpoint)
        load_weights(self.codec, path)
        state = load_checkpoint(path, self.optimizer)
        return int(state["step"])

    # ---------------------------------------------------------------- run

    def run(self, resume: str | Path | None = None) -> dict[str, Any]:
        """Train to ``run.steps`` (from a checkpoint when ``resume``), export, summarise."""
        from .loop import train_and_export

        if self.fits:
            if resume is not None:
                raise ConfigError(f"codec {self.config.codec.type!r} is fitted in one pass and "
                                  "has no checkpoints to resume; run without --resume")
            return self.fit()
        return train_and_export(self, task="codec", resume=resume, export_key="codec_dir",
                                description=f"train {self.config.codec.type}",
                                validate_first=True)


    def fit(self) -> dict[str, Any]:
        """Fit the codec's statistics on the whole training pool, validate once, export.

        One pass, no optimizer and no checkpoints (there is nothing to resume); the
        metrics log gets the validation at step 0.
        """
        from swansphere.codecs.weights import atomic_write

        from .loop import MetricsLog

        if not self.dist.is_main:
            return {"task": "codec", "steps": 0, "resumed_from": 0, "fitted": True,
                    "codec_dir": None}
        pool = self.pool()
        with torch.no_grad():
            parameters = torch.cat([self.codec.parameters_of(batch.to(self.device))
                                    for batch in pool.split(self.config.run.batch_size)])
        self.codec.fit_statistics(parameters)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        text = self.config_text()
        atomic_write(self.output_dir / "train.toml",
                     lambda temp: temp.write_text(text, encoding="utf-8"))
        log = MetricsLog(self.output_dir)
        log.begin(0)
        metrics = self.validate(0)
        log.write(0, "validation", metrics)
        return {"task": "codec", "steps": 0, "resumed_from": 0, "fitted": True,
                "fitted_frames": parameters.shape[0] * parameters.shape[1],
                "output_dir": str(self.output_dir), "codec_dir": str(self.export()),
                "validation": metrics}


TASK = TrainingTask(name="codec", config_class=CodecTrainConfig, run=CodecTrainer.train,
                    description="train a streaming FOA codec (foa-vae) or fit one (foa-parametric) "
                                "on synthesised or sound-set scenes")
