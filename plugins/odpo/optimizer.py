"""The ``odpo`` preference optimizer: online rounds of sample -> score -> pair -> DPO update.

::

    odpo = swansphere.create("preference_optimizer", {"type": "odpo", "candidates": 8})
    odpo.attach(pipeline, RewardMix.from_config(weighted_rewards), torch_optimizer)
    for step in range(steps):
        metrics = odpo.step(PreferenceBatch(inputs=prompts_of_this_step, seed=step))

Each :meth:`ODPO.step` samples K candidates per input from the current policy (the pipeline's
own streaming generation, one seed per candidate, an input's K candidates as one batch of
takes with their latents), scores them with the weighted rewards, forms preference pairs, and
takes ``updates_per_round`` optimizer steps on the flow-matching DPO loss against a frozen
copy of the backbone taken at :meth:`ODPO.attach` (:mod:`.loss`). Only the backbone trains;
the conditioners and the codec stay as they are.

Distributed training: give :meth:`ODPO.attach` ``wrap`` (e.g. ``lambda m:
DistributedDataParallel(m)``) and ``reduce_metrics`` (an all-reduce mean), and give each rank
its own shard of inputs and its own batch seed. The DPO loss is one forward (winners and losers
together) and one backward per update, and a rank with no preference pair still runs both
(at zero weight), so gradient all-reduces never wait on a rank that has nothing to learn.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from swansphere.errors import SwanSphereError

from .config import ODPOConfig
from .loss import PairScorer, flow_dpo_loss, preference_pairs, velocity_divergence
from .rewards import RewardInputs, RewardMix

_SEED_SPAN = 2**62


class NotAttachedError(SwanSphereError, RuntimeError):
    """The optimizer was used before :meth:`ODPO.attach` gave it a pipeline."""


@attrs.frozen(kw_only=True, eq=False)
class PreferenceInput:
    """One thing to generate and what its rewards compare it with.

    Attributes:
        text: the prompt (or None).
        video: panoramic video as :meth:`swansphere.Pipeline.stream` takes it, in memory
            (``(frames (T, H, W, 3), times (T,))``), or None.
        duration: seconds to generate.
        direction: target (azimuth, elevation) in degrees, for the spatial reward.
        reference: a ground-truth AmbiX clip ``(4, n)`` at the pipeline's rate (spatial and
            fidelity rewards).
        classes: the vocabulary's sound classes the prompt names (identity reward).
    """

    text: str | None = None
    video: Any = None
    duration: float = attrs.field(validator=attrs.validators.gt(0.0))
    direction: tuple[float, float] | None = None
    reference: torch.Tensor | None = None
    classes: tuple[str, ...] | None = None

    def reward_inputs(self) -> RewardInputs:
        return RewardInputs.one(text=self.text, direction=self.direction,
                                reference=self.reference, video=self.video,
                                classes=self.classes)


@attrs.frozen(kw_only=True, eq=False)
class PreferenceBatch:
    """The inputs of one online round and the seed of all its randomness."""

    inputs: tuple[PreferenceInput, ...] = attrs.field(converter=tuple)
    seed: int = 0
    offset: int = 0
    """Index of ``inputs[0]`` in the whole round (a rank's shard under DDP), so that every
    input draws the candidate seeds it would draw in a single process."""


@attrs.frozen(kw_only=True, eq=False)
class Candidates:
    """The K clips sampled for each of N inputs, their rewards and preference pairs.

    ``latents[i]`` ``(K, frames, dim)`` (backbone space) and ``audio[i]`` ``(K, 4, n)`` per
    input (inputs may differ in duration); ``scores`` name -> ``(N, K)``; ``total`` ``(N, K)``;
    ``pairs[i]``: (winner, loser) candidate indices of input ``i``. ``primed[i]``: the takes
    of input ``i`` (:class:`swansphere.Takes`) where they continued an audio prompt (exemplar
    prompts), whose prompt and reference the loss hears too; else None.
    """

    latents: tuple[torch.Tensor, ...]
    audio: tuple[torch.Tensor, ...]
    scores: dict[str, torch.Tensor]
    total: torch.Tensor
    pairs: tuple[tuple[tuple[int, int], ...], ...]
    primed: tuple[Any, ...] = ()

    def metrics(self) -> dict[str, float]:
        """Rewards of this round: mean, best and worst per input (averaged), every reward's
        mean, the number of pairs and their mean reward gap (``win_margin``)."""
        total = self.total
        metrics = {"reward_mean": float(total.mean()),
                   "reward_best": float(total.max(1).values.mean()),
                   "reward_worst": float(total.min(1).values.mean())}
        metrics |= {f"{name}_mean": float(values.mean()) for name, values in self.scores.items()}
        gaps = [float(total[i, win] - total[i, lose]) for i, pairs in enumerate(self.pairs)
                for win, lose in pairs]
        metrics["pairs"] = float(len(gaps))
        metrics["win_margin"] = sum(gaps) / len(gaps) if gaps else 0.0
        return metrics


class ODPO:
    """Multi-objective online DPO (see the module doc and
    :class:`~swansphere.plugins.odpo.config.ODPOConfig`)."""

    def __init__(self, config: ODPOConfig | None = None) -> None:
        self.config = config or ODPOConfig()
        self.pipeline: Any = None

    # ------------------------------------------------------------------ setup

    def attach(self, pipeline: Any, rewards: RewardMix,
               optimizer: torch.optim.Optimizer | None = None, *,
               grad_clip: float = 1.0,
               wrap: Callable[[nn.Module], nn.Module] | None = None,
               reduce_metrics: Callable[[dict[str, float]], dict[str, float]] | None = None,
               reference: nn.Module | None = None) -> ODPO:
        """Bind the pipeline whose backbone trains (the policy), the rewards and the torch
        optimizer over the backbone's parameters (None: sample and evaluate only). The frozen
        reference is ``reference`` or a copy of the backbone as it is now (attach before
        loading a resumed checkpoint)."""
        config = self.config
        self.pipeline, self.rewards, self.optimizer = pipeline, rewards, optimizer
        self.grad_clip = grad_clip
        self.reduce_metrics = reduce_metrics or (lambda metrics: metrics)
        if reference is None:
            reference = copy.deepcopy(pipeline.backbone)
        self.reference = reference.eval().requires_grad_(False)
        scorer = dict(condition_dropout=config.condition_dropout,
                      patch_keep_ratio=config.patch_keep_ratio, noise_draws=config.noise_draws)
        self.scorer = PairScorer(pipeline.backbone, **scorer)
        self.policy = wrap(self.scorer) if wrap is not None else self.scorer
        self.reference_scorer = PairScorer(self.reference, **scorer)
        return self

    def _require_pipeline(self) -> Any:
        if self.pipeline is None:
            raise NotAttachedError("call attach(pipeline, rewards, optimizer) before using "
                                   "the odpo optimizer")
        return self.pipeline

    # ------------------------------------------------------------------ one round

    def step(self, batch: PreferenceBatch) -> dict[str, float]:
        """One online round: sample, score, pair, then ``updates_per_round`` updates."""
        seeds = torch.randint(_SEED_SPAN, (1 + self.config.updates_per_round,),
                              generator=torch.Generator().manual_seed(batch.seed))
        candidates = self.sample(batch.inputs, int(seeds[0]), offset=batch.offset)
        metrics = candidates.metrics()
        for seed in seeds[1:]:  # later updates overwrite: the logged DPO terms are the last
            metrics |= self.update(batch.inputs, candidates, int(seed))
        return self.reduce_metrics(metrics)

    def sample(self, inputs: Sequence[PreferenceInput], seed: int, *,
               offset: int = 0) -> Candidates:
        """K candidates per input from the current policy, scored and paired; input ``i``
        draws its candidates' seeds as the ``offset + i``-th input of round ``seed``."""
        pipeline, config = self._require_pipeline(), self.config
        pipeline.backbone.eval()
        seeds = torch.randint(_SEED_SPAN, (offset + len(inputs), config.candidates),
                              generator=torch.Generator().manual_seed(seed))[offset:]
        latents, audio, scores, totals, pairs, primed = [], [], [], [], [], []
        for item, item_seeds in zip(inputs, seeds.tolist(), strict=True):
            takes = pipeline.generate_takes(item.text, item.video, item.duration, item_seeds)
            latents.append(takes.latents)
            audio.append(takes.audio)
            primed.append(None if takes.prompt is None else takes)
            score = self.rewards.score(audio[-1], pipeline.sample_rate,
                                       item.reward_inputs().repeat(config.candidates))
            total = self.rewards.total(score, normalize=config.normalize,
                                       group=config.candidates)
            scores.append(score)
            totals.append(total)
            pairs.append(tuple(preference_pairs(total, mode=config.pairs, margin=config.margin,
                                                max_pairs=config.max_pairs)))
        return Candidates(latents=tuple(latents), audio=tuple(audio),
                          scores={name: torch.stack([s[name] for s in scores])
                                  for name in self.rewards.names},
                          total=torch.stack(totals), pairs=tuple(pairs), primed=tuple(primed))

    def update(self, inputs: Sequence[PreferenceInput], candidates: Candidates,
               seed: int) -> dict[str, float]:
        """One optimizer step on the DPO loss of every pair of ``candidates``.

        A round without pairs (all candidates tied) still runs the forward and backward, on a
        candidate paired with itself at zero weight, and its DPO terms (log 2, no accuracy)
        are what gets logged. Alone, such a round does not step the optimizer; wrapped for
        DDP, it steps on the gradient the other ranks averaged in, as every rank must.
        """
        pipeline = self._require_pipeline()
        if self.optimizer is None:
            raise NotAttachedError("attach(..., optimizer=...) a torch optimizer over the "
                                   "backbone's parameters before updating")
        chosen = [(i, win, lose) for i, pairs in enumerate(candidates.pairs)
                  for win, lose in pairs]
        weight = 1.0 if chosen else 0.0
        if not chosen:  # still one forward/backward: DDP ranks must all reduce gradients
            chosen = [(0, 0, 0)]
        backbone = pipeline.backbone
        winners, options_w = heard_clips(backbone, candidates, [(i, w) for i, w, _ in chosen])
        losers, options_l = heard_clips(backbone, candidates, [(i, lose) for i, _, lose in chosen])
        lengths = torch.tensor([clip.shape[0] for clip in winners])
        if bool((lengths == lengths[0]).all()):
            lengths = None
        conditions = pair_conditions(pipeline, [inputs[i] for i, _, _ in chosen])
        winners = pad_sequence(winners, batch_first=True)
        losers = pad_sequence(losers, batch_first=True)
        options = (options_w, options_l)
        pipeline.backbone.train()
        policy_w, policy_l = self.policy(winners, losers, conditions, seed, lengths, options)
        with torch.no_grad():
            reference_w, reference_l = self.reference_scorer(winners, losers, conditions, seed,
                                                             lengths, options)
        terms = flow_dpo_loss(policy_w, policy_l, reference_w, reference_l, self.config.beta)
        loss = weight * (terms.loss.mean() + self.config.sft_weight * policy_w.mean())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _clip(pipeline.backbone.parameters(), self.grad_clip)
        if weight or self.policy is not self.scorer:
            self.optimizer.step()
        pipeline.backbone.eval()
        return {**terms.metrics(), "loss": float(loss.detach()), "grad_norm": grad_norm}

    def reference_divergence(self, latents: torch.Tensor, conditions: Any, seed: int) -> float:
        """The policy's velocity gap to the frozen reference on clips ``latents``
        (:func:`~.loss.velocity_divergence`), the reference-KL proxy."""
        pipeline = self._require_pipeline()
        pipeline.backbone.eval()
        return velocity_divergence(pipeline.backbone, self.reference, latents, conditions,
                                   torch.Generator().manual_seed(seed))


def heard_clips(backbone: Any, candidates: Candidates, chosen: Sequence[tuple[int, int]]
                ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """Candidates ``(input, take)`` as the backbone heard them, and the keyword arguments of
    its loss that say so: a take that continued an audio prompt is scored after the prompt
    (``given_patches``: history, never a target) and, where the backbone follows a reference,
    with the reference the take followed (``reference``, ``reference_valid``; none for takes
    without a prompt). A take is judged by what its stream was given, not as if it had
    started from nothing."""
    clips, given, references, valid = [], [], [], []
    frames = getattr(backbone, "reference_frames", 0)
    for index, take in chosen:
        clip = candidates.latents[index][take]
        takes = candidates.primed[index] if candidates.primed else None
        prompt = None if takes is None else takes.prompt[take].to(clip)
        clips.append(clip if prompt is None else torch.cat([prompt, clip]))
        given.append(0 if prompt is None else prompt.shape[0] // backbone.patch_frames)
        if frames:
            follows = takes is not None and takes.reference is not None
            references.append(takes.reference[take].to(clip) if follows
                              else clip.new_zeros(frames, clip.shape[-1]))
            valid.append(follows and bool(takes.reference_valid[take]))
    options: dict[str, torch.Tensor] = {}
    if any(given):
        options["given_patches"] = torch.tensor(given)
    if any(valid):
        options["reference"] = torch.stack(references)
        options["reference_valid"] = torch.tensor(valid)
    return clips, options


def pair_conditions(pipeline: Any, items: Sequence[PreferenceInput]) -> Any:
    """The backbone's conditions for a batch of inputs (frozen conditioners, no gradient)."""
    with torch.no_grad():
        return pipeline.conditioning([item.text for item in items],
                                     [item.video for item in items])


def _clip(parameters: Any, max_norm: float) -> float:
    with_grad = [p for p in parameters if p.grad is not None]
    if not with_grad:
        return 0.0
    norm = torch.nn.utils.clip_grad_norm_(with_grad, max_norm if max_norm > 0 else math.inf)
    return float(norm)
