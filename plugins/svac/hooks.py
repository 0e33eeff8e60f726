"""SVAC's contribution, registered through the ``swansphere.plugins`` entry point like any
plugin's: the ``svac`` training task, which aligns the ``panorama-video`` conditioner with
FOA audio (imported only when a config names it)."""

from __future__ import annotations

from swansphere import Extension, hookimpl


@hookimpl
def swansphere_register_training_tasks() -> list[Extension]:
    return [Extension(name="svac", kind="training_task",
                      target="swansphere.plugins.svac.trainer:TASK",
                      description="align the panoramic video encoder with FOA audio (SVAC)")]
