"""Built-in reward plugins for preference optimisation (ODPO), registered through the
``swansphere.plugins`` entry point like any plugin.

Each reward scores generated AmbiX clips against what they were asked to be
(:class:`swansphere.plugins.odpo.rewards.RewardInputs`), ``(batch,)``, higher is better:
``spatial`` (direction), ``semantic`` (prompt or video, in a learned joint space) and
``fidelity`` (closeness to a reference in a frozen audio embedding). Weights are set where
rewards are combined (:class:`~swansphere.plugins.odpo.rewards.RewardMix`; the paper uses
0.4 / 0.4 / 0.2). Torch loads inside the factories.
"""

from __future__ import annotations

from typing import Any

from swansphere import Component, hookimpl
from swansphere.plugins.odpo.config import (
    FIDELITY,
    SEMANTIC,
    SPATIAL,
    FidelityRewardConfig,
    SemanticRewardConfig,
    SpatialRewardConfig,
)


def _spatial(config: SpatialRewardConfig) -> Any:
    from swansphere.plugins.odpo.rewards import SpatialReward

    return SpatialReward(config)


def _semantic(config: SemanticRewardConfig) -> Any:
    from swansphere.plugins.odpo.rewards import SemanticReward

    return SemanticReward(config)


def _fidelity(config: FidelityRewardConfig) -> Any:
    from swansphere.plugins.odpo.rewards import FidelityReward

    return FidelityReward(config)


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
    ]
