"""ODPO's contributions, registered through the ``swansphere.plugins`` entry point like any
plugin's: the ``odpo`` preference optimizer, the ``spatial``, ``semantic``, ``fidelity`` and
``identity`` rewards, and the ``odpo`` training task. Only the torch-free configs are imported
here; the models load inside the factories.

Each reward scores generated AmbiX clips against what they were asked to be
(:class:`swansphere.plugins.odpo.rewards.RewardInputs`), ``(batch,)``, higher is better;
weights are set where rewards are combined (:class:`~swansphere.plugins.odpo.rewards.RewardMix`;
the paper uses 0.4 / 0.4 / 0.2).
"""

from __future__ import annotations

from typing import Any

from swansphere import Component, Extension, hookimpl

from .config import (
    FIDELITY,
    IDENTITY,
    SEMANTIC,
    SPATIAL,
    FidelityRewardConfig,
    IdentityRewardConfig,
    ODPOConfig,
    SemanticRewardConfig,
    SpatialRewardConfig,
)


def _odpo(config: ODPOConfig) -> Any:
    from .optimizer import ODPO

    return ODPO(config)


def _spatial(config: SpatialRewardConfig) -> Any:
    from .rewards import SpatialReward

    return SpatialReward(config)


def _semantic(config: SemanticRewardConfig) -> Any:
    from .rewards import SemanticReward

    return SemanticReward(config)


def _fidelity(config: FidelityRewardConfig) -> Any:
    from .rewards import FidelityReward

    return FidelityReward(config)


def _identity(config: IdentityRewardConfig) -> Any:
    from .evaluation import IdentityReward

    return IdentityReward(config)


@hookimpl
def swansphere_register_preference_optimizers() -> list[Component]:
    return [
        Component(name="odpo", kind="preference_optimizer", factory=_odpo,
                  config_class=ODPOConfig,
                  description="multi-objective online DPO for flow models: K candidates per "
                              "input, weighted rewards, best/worst pairs, frozen reference"),
    ]


@hookimpl
def swansphere_register_rewards() -> list[Component]:
    return [
        Component(name=SPATIAL, kind="reward", factory=_spatial, config_class=SpatialRewardConfig,
                  description="-Δangular/π between the clip's direction and the target "
                              "(given direction, reference FOA or the prompt's position)"),
        Component(name=SEMANTIC, kind="reward", factory=_semantic,
                  config_class=SemanticRewardConfig,
                  description="cosine of clip and prompt (text-audio model) or video (SVAC) "
                              "in a learned joint space"),
        Component(name=FIDELITY, kind="reward", factory=_fidelity,
                  config_class=FidelityRewardConfig,
                  description="-distance to the reference clip in a frozen audio embedding "
                              "(aisfx; log-mel statistics as fallback)"),
        Component(name=IDENTITY, kind="reward", factory=_identity,
                  config_class=IdentityRewardConfig,
                  description="margin of the named sound classes over the others, nearest "
                              "training-clip centroids in a frozen audio embedding"),
    ]


@hookimpl
def swansphere_register_training_tasks() -> list[Extension]:
    return [Extension(name="odpo", kind="training_task",
                      target="swansphere.plugins.odpo.trainer:TASK",
                      description="post-train a pipeline with multi-objective online DPO "
                                  "(ODPO)")]
