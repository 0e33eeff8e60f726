"""Configs of the ODPO optimizer, its rewards and the text-audio judge (attrs only, no torch)."""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

from swansphere.conditioning.config import TextTransformerConfig
from swansphere.config import RewardSpec
from swansphere.errors import ConfigError
from swansphere.nn.configs import FOAAudioEncoderConfig

SPATIAL, SEMANTIC, FIDELITY, IDENTITY = "spatial", "semantic", "fidelity", "identity"


def _at_least(minimum: int):
    def check(_instance: Any, attribute: attrs.Attribute, value: int) -> None:
        if value < minimum:
            raise ConfigError(f"{attribute.name} must be >= {minimum}, got {value}")

    return check


# ------------------------------------------------------------------------------------ rewards


@attrs.frozen(kw_only=True)
class SpatialRewardConfig:
    """``spatial``: minus the paper's Δangular between the clip's direction and the target,
    in units of π (so in [-1, 0]; a clip without a direction scores -1).

    Attributes:
        target: where the target direction comes from: "auto" (the input's direction, else
            its reference FOA's direction, else the one position its prompt states),
            "direction", "reference" or "prompt".
    """

    target: str = attrs.field(default="auto", validator=v.in_(
        ("auto", "direction", "reference", "prompt")))


@attrs.frozen(kw_only=True)
class SemanticRewardConfig:
    """``semantic``: cosine similarity of the clip and its prompt or video in a learned joint
    space (in [-1, 1]).

    Attributes:
        text_model: directory of a trained text-audio model (:mod:`.text_audio`; ``swansphere
            train`` with ``task = "odpo"`` trains one when none is given) for prompts.
        svac_model: directory of a trained SVAC model (``task = "svac"``) for video inputs.
        source: "auto" (video when the input has video and ``svac_model`` is set, else the
            prompt), "text" or "video".
    """

    text_model: str | None = None
    svac_model: str | None = None
    source: str = attrs.field(default="auto", validator=v.in_(("auto", "text", "video")))


@attrs.frozen(kw_only=True)
class FidelityRewardConfig:
    """``fidelity``: minus the distance between the clip and the reference FOA in a frozen
    audio embedding: half the chord between the two unit-normalised clip embeddings (the mean
    over the embedding's blocks), so in [-1, 0].

    Attributes:
        embedding: "aisfx" (the frozen sound-effects CNN of
            :mod:`swansphere.metrics.embedding`, needs ``pip install --no-deps
            aisfx==0.1.2``) or "log-mel" (mean and spread of the same 96-band log-mel front end:
            no learned weights, the fallback where aisfx is not installed).
        channel: AmbiX channel embedded (0 = W, the omnidirectional signal).
    """

    embedding: str = attrs.field(default="aisfx", validator=v.in_(("aisfx", "log-mel")))
    channel: int = attrs.field(default=0, validator=[v.ge(0), v.le(3)])


@attrs.frozen(kw_only=True)
class IdentityRewardConfig:
    """``identity``: how clearly the clip is each sound class its prompt names, in a frozen
    audio embedding: the cosine to the named class's centroid minus the highest cosine to a
    class not named (in [-2, 2]; above 0 when the named class is the nearest), averaged over
    the named classes. The centroids are those of the sound vocabulary's *training* clips, so
    held-out clips stay unseen by the reward.

    Attributes:
        embedding: "aisfx" or "log-mel", as for ``fidelity``.
        channel: AmbiX channel embedded (0 = W).
        sets: sound sets whose clips give the centroids (``None``: every installed set).
        permissive_only: only clips a shipped model may learn from.
        seconds: length each training clip is rendered to before it is embedded.
    """

    embedding: str = attrs.field(default="aisfx", validator=v.in_(("aisfx", "log-mel")))
    channel: int = attrs.field(default=0, validator=[v.ge(0), v.le(3)])
    sets: tuple[str, ...] | None = None
    permissive_only: bool = True
    seconds: float = attrs.field(default=4.0, validator=v.gt(0))


@attrs.frozen(kw_only=True)
class WeightedReward:
    """One reward of the total ``R = Σ weight · reward``: ``{weight = 0.4, reward = {type =
    "spatial"}}`` in TOML."""

    weight: float = attrs.field(validator=v.ge(0.0))
    reward: RewardSpec


# ------------------------------------------------------------------------------------ optimizer


@attrs.frozen(kw_only=True)
class ODPOConfig:
    """Multi-objective online DPO (the ``odpo`` preference optimizer).

    Attributes:
        candidates: K, clips sampled from the current model per input.
        pairs: "best-worst" (one pair per input: highest against lowest total reward) or
            "margin" (every pair whose rewards differ by at least ``margin``).
        margin: smallest reward gap of a pair (a best-worst pair below it is skipped).
        max_pairs: at most this many pairs per input in "margin" mode, widest gaps first
            (0: all).
        beta: DPO inverse temperature β of ``-log σ(-β/2 · [(L_w - L_w^ref) - (L_l - L_l^ref)])``;
            L is a per-element mean squared velocity error, hence a large β (Diffusion-DPO
            uses 2000-5000 on images).
        normalize: "none" (rewards in their own units, each about unit range) or "group"
            (each reward standardised over an input's K candidates before weighting).
        condition_dropout: keep the backbone's training-time condition dropouts in the DPO
            loss (off: the policy is scored with every condition, as it generates).
        patch_keep_ratio: share of each clip's patches the DPO loss scores (1: all).
        updates_per_round: optimizer steps on the pairs of one sampling round (1 is strictly
            on-policy).
        sft_weight: weight of the winners' own flow-matching loss added to the DPO loss
            (0 is pure DPO; a little keeps the winners' likelihood from sinking).
        noise_draws: draws of flow times and noise per clip in the DPO loss, averaged (one
            per update in Diffusion-DPO; more cost one forward each and quiet the gradient).
    """

    candidates: int = attrs.field(default=8, validator=_at_least(2))
    pairs: str = attrs.field(default="best-worst", validator=v.in_(("best-worst", "margin")))
    margin: float = attrs.field(default=0.0, validator=v.ge(0.0))
    max_pairs: int = attrs.field(default=0, validator=v.ge(0))
    beta: float = attrs.field(default=1000.0, validator=v.gt(0.0))
    normalize: str = attrs.field(default="none", validator=v.in_(("none", "group")))
    condition_dropout: bool = False
    patch_keep_ratio: float = attrs.field(default=1.0, validator=[v.gt(0.0), v.le(1.0)])
    updates_per_round: int = attrs.field(default=1, validator=_at_least(1))
    sft_weight: float = attrs.field(default=0.0, validator=v.ge(0.0))
    noise_draws: int = attrs.field(default=1, validator=_at_least(1))


# ------------------------------------------------------------------------------------ judge


@attrs.frozen(kw_only=True)
class TextAudioConfig:
    """The text-audio contrastive model of the semantic reward.

    Attributes:
        text: the caption encoder (token states, mean-pooled over real tokens).
        audio: the direction-aware FOA encoder of SVAC, mean-pooled over ``steps`` times.
        dim: width of the joint space.
        steps: times across a clip at which the audio encoder pools its features.
        temperature: InfoNCE temperature τ.
    """

    text: TextTransformerConfig = attrs.field(
        factory=lambda: TextTransformerConfig(dim=128, layers=2, heads=4, vocab_size=2048))
    audio: FOAAudioEncoderConfig = attrs.field(
        factory=lambda: FOAAudioEncoderConfig(hop_length=320, channels=(16, 32)))
    dim: int = attrs.field(default=128, validator=_at_least(1))
    steps: int = attrs.field(default=4, validator=_at_least(1))
    temperature: float = attrs.field(default=0.07, validator=v.gt(0.0))
