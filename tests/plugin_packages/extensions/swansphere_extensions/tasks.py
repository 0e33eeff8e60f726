"""The plugin's ``count`` training task: counts to ``run.steps`` and writes the count."""

from pathlib import Path

import attrs

from swansphere.training.common import RunConfig, task_named
from swansphere.training.tasks import TrainingTask


@attrs.frozen(kw_only=True)
class CountConfig:
    task: str = attrs.field(default="count", validator=task_named("count"))
    start: int = 0
    run: RunConfig = attrs.field(factory=RunConfig)


def run_count(config: CountConfig, *, resume=None, registry=None, progress=True) -> dict:
    folder = Path(config.run.output_dir) / "count"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "count.txt").write_text(str(config.start + config.run.steps), encoding="utf-8")
    return {"task": "count", "steps": config.run.steps, "resumed_from": 0,
            "count_dir": str(folder)}


TASK = TrainingTask(name="count", config_class=CountConfig, run=run_count,
                    description="counts to run.steps (extensions plugin)")
