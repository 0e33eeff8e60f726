"""Built-in preference optimizers, registered through the ``swansphere.plugins`` entry point
like any plugin. Torch loads inside the factory."""

from __future__ import annotations

from typing import Any

from swansphere import Component, hookimpl
from swansphere.plugins.odpo.config import ODPOConfig


def _odpo(config: ODPOConfig) -> Any:
    from swansphere.plugins.odpo.optimizer import ODPO

    return ODPO(config)


@hookimpl
def swansphere_register_preference_optimizers() -> list[Component]:
    return [
        Component(name="odpo", kind="preference_optimizer", factory=_odpo,
                  config_class=ODPOConfig,
                  description="multi-objective online DPO for flow models: K candidates per "
                              "input, weighted rewards, best/worst pairs, frozen reference"),
    ]
