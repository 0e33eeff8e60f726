"""Two-process launches for the distributed tests.

``torchrun --standalone`` lets the launcher's rendezvous store bind port 0, so the OS picks a
free port and the launcher holds it from then on; the workers join through that store
(``TORCHELASTIC_USE_AGENT_STORE``). Probing for a free port and passing its number on
instead leaves a gap in which another process can take it (that race flaked once under load).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from swansphere.training.distributed import LAUNCH_VARIABLES


def torchrun(script: Path, *arguments: str, processes: int = 2,
             timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``script arguments`` in ``processes`` processes on this machine (gloo, CPU)."""
    environment = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARIABLES}
    environment["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
         str(processes), str(script), *arguments],
        env=environment, capture_output=True, text=True, timeout=timeout, check=False)
