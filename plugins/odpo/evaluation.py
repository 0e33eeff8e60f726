"""ODPO's rewards that read the sound vocabulary: the ``identity`` reward.

It identifies a generated clip as the content evaluation does
(:mod:`swansphere.evaluation.content`), against centroids of the vocabulary's training clips
(:func:`swansphere.training.pipeline.vocabulary_split`), so it sits in the slice's evaluation
module, which may import the data, training and evaluation layers that the model-side rewards
of :mod:`.rewards` stay below (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .config import IDENTITY, FidelityRewardConfig, IdentityRewardConfig
from .rewards import FidelityReward, RewardInputError, RewardInputs, check_batch


class IdentityReward:
    """How clearly each clip is the sound classes its prompt names (see
    :class:`~swansphere.plugins.odpo.config.IdentityRewardConfig`): the content evaluation's
    nearest-centroid identification made a graded score, on the training clips' centroids."""

    name = IDENTITY

    def __init__(self, config: IdentityRewardConfig | None = None) -> None:
        from swansphere.evaluation.content import References
        from swansphere.metrics.embedding import SAMPLE_RATE
        from swansphere.training.pipeline import vocabulary_split

        self.config = config = config or IdentityRewardConfig()
        # the fidelity reward's clip embedding (one unit vector of W per clip), reused
        self.embedder = FidelityReward(FidelityRewardConfig(
            embedding=config.embedding, channel=config.channel))
        training = vocabulary_split(config.sets, config.permissive_only, False)
        self.centroids = References.build(training, embedding=self.embedder.embedding,
                                          sample_rate=SAMPLE_RATE,
                                          seconds=config.seconds).centroids

    def __call__(self, audio: torch.Tensor, sample_rate: int,
                 inputs: RewardInputs) -> torch.Tensor:
        audio = check_batch(audio, inputs).detach().cpu()
        labels = self.centroids.labels
        for index, named in enumerate(inputs.classes):
            if not named:
                raise RewardInputError(f"the identity reward needs the classes each prompt "
                                       f"names; clip {index} has none")
            unknown = sorted(set(named) - set(labels))
            if unknown:
                raise RewardInputError(f"the identity reward has no training clips of "
                                       f"{', '.join(unknown[:5])}")
        embedded = torch.cat([self.embedder.embed(clip, sample_rate) for clip in audio])
        similarity = embedded.to(torch.float64) @ self.centroids.centroids.T
        scores = torch.empty(len(inputs))
        for index, named in enumerate(inputs.classes):
            scores[index] = named_margin(similarity[index], [labels.index(n) for n in named])
        return scores


def named_margin(similarity: torch.Tensor, named: Sequence[int]) -> float:
    """Mean over the named classes of their similarity minus the best other class's."""
    others = torch.ones_like(similarity, dtype=torch.bool)
    others[list(named)] = False
    best_other = similarity[others].max() if others.any() else similarity.new_tensor(-1.0)
    return float((similarity[list(named)] - best_other).mean())
