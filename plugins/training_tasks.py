"""Built-in generic training tasks (``task = "..."`` in a ``swansphere train`` config),
registered through the ``swansphere.plugins`` entry point like any plugin's tasks; a feature's
own task comes from its slice (``svac`` from :mod:`swansphere.plugins.svac.hooks`, ``odpo``
from :mod:`swansphere.plugins.odpo.hooks`).

Each target is a :class:`swansphere.training.tasks.TrainingTask`, imported only when a
config names it.
"""

from __future__ import annotations

from swansphere import Extension, hookimpl

_TASKS = (
    ("codec", "swansphere.training.codec:TASK",
     "train a streaming FOA codec (foa-vae) or fit one (foa-parametric) on synthesised or "
     "sound-set scenes"),
    ("pipeline", "swansphere.training.pipeline:TASK",
     "train the generation pipeline: stage 1 pseudo-FOA, stage 2 FOA with text and video"),
)


@hookimpl
def swansphere_register_training_tasks() -> list[Extension]:
    return [Extension(name=name, kind="training_task", target=target, description=description)
            for name, target, description in _TASKS]
