"""Built-in conditioners, registered through the ``swansphere.plugins`` entry point like any plugin."""

from __future__ import annotations

from swansphere import Component, hookimpl


@hookimpl
def swansphere_register_conditioners() -> list[Component]:
    return []
