"""Run several ``swansphere train`` commands in one torchrun launch (one process group).

``python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py '[["train", "a.toml"], ...]'``:
starting torch in three processes costs more than the tiny trainings themselves, so the
distributed tests share one launch. Each command goes through the CLI, which joins the
process group this script opened (:func:`swansphere.training.distributed.launch`).
"""

from __future__ import annotations

import json
import sys

from swansphere.cli import main
from swansphere.training.distributed import launch

if __name__ == "__main__":
    with launch() as dist:
        for argv in json.loads(sys.argv[1]):
            code = main(argv)
            if code:
                sys.exit(f"rank {dist.rank}: {argv} exited with {code}")
