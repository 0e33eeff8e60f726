"""One torch thread per test: on a shared 2-core machine, tiny convolutions run several times
faster without OpenMP threads contending, and results do not depend on the thread count."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
