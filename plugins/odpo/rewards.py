"""The reward plugins of ODPO and their weighted total.

Every reward follows :class:`swansphere.protocols.Reward`: ``reward(audio, sample_rate,
inputs)`` scores a batch of generated AmbiX clips ``(B, 4, n)`` against :class:`RewardInputs`
(what each clip was asked to be) and returns ``(B,)`` float32, higher is better. The built-in
ones keep about a unit range so that the paper's weights (0.4 / 0.4 / 0.2) mean what they say:

* ``spatial`` (:class:`SpatialReward`): ``-Δangular / π``;
* ``semantic`` (:class:`SemanticReward`): the cosine of clip and prompt (or video);
* ``fidelity`` (:class:`FidelityReward`): minus half the chord between clip and reference in a
  frozen audio embedding;
* ``identity`` (:class:`~swansphere.plugins.odpo.evaluation.IdentityReward`): the margin by
  which the named sound classes are the clip's nearest, among the centroids of the
  vocabulary's training clips in that embedding (it reads the sound sets, so it sits in the
  slice's evaluation module, above the data layer).

The target direction of a prompt and the frozen audio embedding live in
:mod:`swansphere.evaluation` (``prompt_direction``, ``AisfxEmbedding``); they are imported when
a reward that needs them runs, so this module stays below the evaluation layer at import time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import torch
import torch.nn.functional as F

from swansphere.errors import ConfigError, SwanSphereError
from swansphere.spatial import encode, validate_foa

from .config import (
    FIDELITY,
    SEMANTIC,
    SPATIAL,
    FidelityRewardConfig,
    SemanticRewardConfig,
    SpatialRewardConfig,
    WeightedReward,
)


class RewardInputError(SwanSphereError, ValueError):
    """A reward lacks what it compares a clip with (a target direction, a reference, …)."""


FIELDS = ("text", "directions", "reference", "video", "classes")
"""The fields of :class:`RewardInputs`, one entry per clip each."""


@attrs.frozen(kw_only=True, eq=False)
class RewardInputs:
    """What each generated clip of a batch was asked to be; every field has one entry per clip.

    Attributes:
        text: the prompt (or None).
        directions: the target (azimuth, elevation) in degrees (or None).
        reference: a ground-truth AmbiX clip ``(4, m)`` at the generated audio's rate (or None).
        video: the panoramic video the clip goes with, ``(frames (T, H, W, 3), times (T,))``
            (or None).
        classes: the sound classes the prompt names (vocabulary class names), or None; all
            None when not given.

    Entries may be shared objects (:meth:`repeat` repeats references, not data), which lets
    rewards embed a shared reference or video once.
    """

    text: tuple[str | None, ...]
    directions: tuple[tuple[float, float] | None, ...]
    reference: tuple[torch.Tensor | None, ...]
    video: tuple[Any, ...]
    classes: tuple[tuple[str, ...] | None, ...] = attrs.field(
        default=attrs.Factory(lambda self: (None,) * len(self.text), takes_self=True))

    def __attrs_post_init__(self) -> None:
        sizes = {len(getattr(self, field)) for field in FIELDS}
        if len(sizes) != 1:
            raise RewardInputError(f"reward inputs need one entry per clip in every field, got "
                                   f"lengths {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.text)

    @classmethod
    def one(cls, *, text: str | None = None, direction: tuple[float, float] | None = None,
            reference: torch.Tensor | None = None, video: Any = None,
            classes: tuple[str, ...] | None = None) -> RewardInputs:
        """The inputs of a single clip."""
        return cls(text=(text,), directions=(direction,), reference=(reference,),
                   video=(video,), classes=(classes,))

    @classmethod
    def concat(cls, parts: Sequence[RewardInputs]) -> RewardInputs:
        return cls(**{field: sum((getattr(part, field) for part in parts), ())
                      for field in FIELDS})

    def repeat(self, count: int) -> RewardInputs:
        """Each entry ``count`` times in a row (the K candidates of each input)."""
        return RewardInputs(**{field: tuple(entry for entry in getattr(self, field)
                                            for _ in range(count))
                               for field in FIELDS})


def check_batch(audio: torch.Tensor, inputs: RewardInputs) -> torch.Tensor:
    audio = validate_foa(audio, ndim=3, name="generated audio")
    if audio.shape[0] != len(inputs):
        raise RewardInputError(f"{audio.shape[0]} clips but reward inputs for {len(inputs)}")
    return audio


def _shared(values: Sequence[Any], compute: Callable[[Any], Any]) -> list[Any]:
    """``compute`` once per distinct object of ``values`` (by identity), in order."""
    done: dict[int, Any] = {}
    return [done[id(value)] if id(value) in done else done.setdefault(id(value), compute(value))
            for value in values]


# ------------------------------------------------------------------------------------ spatial


class SpatialReward:
    """``-Δangular / π`` between each clip's whole-clip direction and its target (see
    :class:`~swansphere.plugins.odpo.config.SpatialRewardConfig`)."""

    name = SPATIAL

    def __init__(self, config: SpatialRewardConfig | None = None) -> None:
        self.config = config or SpatialRewardConfig()

    def __call__(self, audio: torch.Tensor, sample_rate: int,
                 inputs: RewardInputs) -> torch.Tensor:
        audio = check_batch(audio, inputs)
        targets = [self.target(inputs, i) for i in range(len(inputs))]
        errors = torch.tensor([_angular_error(target, clip.detach().cpu())
                               for target, clip in zip(targets, audio, strict=True)])
        return (-errors / math.pi).to(torch.float32)

    def target(self, inputs: RewardInputs, index: int) -> torch.Tensor:
        """The AmbiX clip whose direction is item ``index``'s target: its reference, or a
        plane wave from its target direction."""
        sources = {"direction": self._direction, "reference": self._reference,
                   "prompt": self._prompt}
        order = (list(sources) if self.config.target == "auto" else [self.config.target])
        for source in order:
            found = sources[source](inputs, index)
            if found is not None:
                return found
        raise RewardInputError(
            f"the spatial reward has no target for clip {index} (looked at: "
            f"{', '.join(order)}); give a direction, a reference clip or a prompt that states "
            "one position")

    @staticmethod
    def _direction(inputs: RewardInputs, index: int) -> torch.Tensor | None:
        direction = inputs.directions[index]
        return None if direction is None else _plane_wave(*direction)

    @staticmethod
    def _reference(inputs: RewardInputs, index: int) -> torch.Tensor | None:
        reference = inputs.reference[index]
        return None if reference is None else reference.detach().cpu()

    @staticmethod
    def _prompt(inputs: RewardInputs, index: int) -> torch.Tensor | None:
        from swansphere.spatial.words import prompt_direction

        text = inputs.text[index]
        found = None if text is None else prompt_direction(text)
        return None if found is None else _plane_wave(*found)


def _plane_wave(azimuth: float, elevation: float) -> torch.Tensor:
    return encode(torch.ones(1, dtype=torch.float64), azimuth, elevation)


def _angular_error(target: torch.Tensor, clip: torch.Tensor) -> float:
    """The paper's Δangular (radians); π for a clip without a direction (the policy of
    docs/evaluation.md: silence ranks below any direction). A target without a direction
    (a silent reference clip) is an error: there is nothing to score against."""
    from swansphere.metrics.direction import worst_case_direction_errors

    error = float(worst_case_direction_errors(target, clip)["angular"])
    if math.isnan(error):
        raise RewardInputError("the spatial reward's reference clip is silent or has no "
                               "directional component, so it gives no target direction")
    return error


# ------------------------------------------------------------------------------------ semantic


class SemanticReward:
    """Cosine similarity of each clip with its prompt (text-audio model) or its video (SVAC)
    in a learned joint space (see
    :class:`~swansphere.plugins.odpo.config.SemanticRewardConfig`); 0 for a clip with neither.
    """

    name = SEMANTIC

    def __init__(self, config: SemanticRewardConfig | None = None) -> None:
        self.config = config = config or SemanticRewardConfig()
        if config.text_model is None and config.svac_model is None:
            raise ConfigError("the semantic reward needs text_model (a text-audio model "
                              "directory) or svac_model (an SVAC model directory)")
        self.text_model = self.svac_model = None
        if config.text_model is not None:
            from .text_audio import load_text_audio

            self.text_model = load_text_audio(config.text_model)
        if config.svac_model is not None:
            from swansphere.plugins.svac.model import load_svac

            self.svac_model = load_svac(config.svac_model).requires_grad_(False)

    def __call__(self, audio: torch.Tensor, sample_rate: int,
                 inputs: RewardInputs) -> torch.Tensor:
        audio = check_batch(audio, inputs).detach()
        scores = torch.zeros(len(inputs))
        by_video = [i for i in range(len(inputs)) if self._source(inputs, i) == "video"]
        by_text = [i for i in range(len(inputs)) if self._source(inputs, i) == "text"]
        with torch.no_grad():
            if by_text:
                model = self.text_model
                texts = [inputs.text[i] for i in by_text]
                clips = audio[by_text].to(model.text_head.weight)
                scores[by_text] = model.similarity(texts, clips, sample_rate).cpu()
            for i in by_video:
                scores[i] = self._video_similarity(audio[i], sample_rate, inputs.video[i])
        return scores

    def _source(self, inputs: RewardInputs, index: int) -> str | None:
        has_video, has_text = inputs.video[index] is not None, inputs.text[index] is not None
        wanted = self.config.source
        if wanted == "auto":
            wanted = "video" if has_video and self.svac_model is not None else "text"
        if wanted == "video":
            if not has_video:
                return None
            if self.svac_model is None:
                raise ConfigError("semantic reward: source = \"video\" needs svac_model")
            return "video"
        if not has_text:
            return None
        if self.text_model is None:
            raise ConfigError("semantic reward: scoring a prompt needs text_model (or set "
                              "source = \"video\" with svac_model)")
        return "text"

    def _video_similarity(self, clip: torch.Tensor, sample_rate: int, video: Any) -> float:
        """SVAC's aligned temporal cosine of one clip and its panorama video."""
        import torchaudio.functional

        from swansphere.nn.contrastive import sequence_similarity

        model = self.svac_model
        prepared = model.video.prepare([video])
        features = model.video(prepared).tokens
        times = prepared.times[0]
        rate = model.config.audio.sample_rate
        clip = clip.to(features)
        if sample_rate != rate:
            clip = torchaudio.functional.resample(clip, int(sample_rate), rate)
        audio = model.embed_audio(clip.unsqueeze(0), times.to(features.device))
        mask = prepared.mask.to(features.device)
        return float(sequence_similarity(features, audio, mask, mask)[0, 0])


# ------------------------------------------------------------------------------------ fidelity


class LogMelStatistics:
    """Fallback "embedding" without learned weights: per-band mean and standard deviation of
    the aisfx 96-band log-mel front end, as one vector."""

    def __init__(self) -> None:
        from swansphere.metrics.embedding import LogMelFrontEnd

        self.front_end = LogMelFrontEnd()

    def embed(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        import torchaudio.functional

        from swansphere.metrics.embedding import SAMPLE_RATE

        signal = audio.to(torch.float32)
        if sample_rate != SAMPLE_RATE:
            signal = torchaudio.functional.resample(signal, int(sample_rate), SAMPLE_RATE)
        spectrogram = self.front_end(signal)
        return torch.cat([spectrogram.mean(0), spectrogram.std(0, correction=0)]).unsqueeze(0)


class FidelityReward:
    """Minus half the chord between the unit-normalised embeddings of each clip and its
    reference (see :class:`~swansphere.plugins.odpo.config.FidelityRewardConfig`)."""

    name = FIDELITY

    def __init__(self, config: FidelityRewardConfig | None = None) -> None:
        self.config = config = config or FidelityRewardConfig()
        if config.embedding == "aisfx":
            from swansphere.metrics.embedding import AisfxEmbedding

            self.embedding = AisfxEmbedding.load()
        else:
            self.embedding = LogMelStatistics()

    def __call__(self, audio: torch.Tensor, sample_rate: int,
                 inputs: RewardInputs) -> torch.Tensor:
        audio = check_batch(audio, inputs).detach().cpu()
        missing = [i for i, reference in enumerate(inputs.reference) if reference is None]
        if missing:
            raise RewardInputError(f"the fidelity reward needs a reference clip for every "
                                   f"generated one; clips {missing[:5]} have none")
        references = _shared(inputs.reference, lambda clip: self.embed(clip, sample_rate))
        generated = torch.cat([self.embed(clip, sample_rate) for clip in audio])
        chord = (generated - torch.cat(references)).norm(dim=-1)
        return (-chord / 2).to(torch.float32)

    def embed(self, clip: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """One unit vector ``(1, d)`` per clip: the mean over the embedding's blocks."""
        channel = validate_foa(clip.detach().cpu(), ndim=2, name="audio")[self.config.channel]
        blocks = self.embedding.embed(channel, sample_rate)
        return F.normalize(blocks.mean(0, keepdim=True), dim=-1)


# ------------------------------------------------------------------------------------ total


class RewardMix:
    """The weighted total ``R = Σ weight · reward`` of several rewards.

    Build it from ``[{weight = 0.4, reward = {type = "spatial"}}, ...]`` tables with
    :meth:`from_config`, or from ``(weight, reward)`` pairs of reward objects.
    """

    def __init__(self, rewards: Sequence[tuple[float, Any]]) -> None:
        if not rewards:
            raise ConfigError("give at least one reward")
        names: list[str] = []
        for _, reward in rewards:
            base = getattr(reward, "name", type(reward).__name__)
            names.append(base if base not in names else f"{base}_{len(names)}")
        self.names = tuple(names)
        self.weights = dict(zip(names, (float(w) for w, _ in rewards), strict=True))
        self.rewards = dict(zip(names, (r for _, r in rewards), strict=True))

    @classmethod
    def from_config(cls, weighted: Sequence[WeightedReward | Mapping[str, Any]], *,
                    registry: Any = None) -> RewardMix:
        from swansphere.config import structure
        from swansphere.registry import default_registry

        registry = registry or default_registry()
        items = [entry if isinstance(entry, WeightedReward)
                 else structure(entry, WeightedReward, registry=registry) for entry in weighted]
        return cls([(item.weight, registry.create("reward", item.reward)) for item in items])

    def score(self, audio: torch.Tensor, sample_rate: int,
              inputs: RewardInputs) -> dict[str, torch.Tensor]:
        """Every reward of every clip: name -> ``(B,)``."""
        return {name: torch.as_tensor(reward(audio, sample_rate, inputs),
                                      dtype=torch.float32).reshape(-1).cpu()
                for name, reward in self.rewards.items()}

    def total(self, scores: Mapping[str, torch.Tensor], *, normalize: str = "none",
              group: int | None = None) -> torch.Tensor:
        """``Σ weight · reward``; ``normalize="group"`` first standardises each reward within
        consecutive groups of ``group`` clips (the K candidates of one input)."""
        total = torch.zeros_like(next(iter(scores.values())))
        for name in self.names:
            values = scores[name]
            if normalize == "group":
                values = standardize_groups(values, group or values.numel())
            total = total + self.weights[name] * values
        return total


def standardize_groups(values: torch.Tensor, group: int) -> torch.Tensor:
    """Zero mean and unit standard deviation within each run of ``group`` values (a group
    whose values are all equal becomes zeros)."""
    rows = values.reshape(-1, group)
    centred = rows - rows.mean(1, keepdim=True)
    spread = rows.std(1, correction=0, keepdim=True)
    return torch.where(spread > 1e-8, centred / spread.clamp(min=1e-8),
                       torch.zeros_like(centred)).reshape(-1)
