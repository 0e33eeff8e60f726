"""The pipeline tests reuse the backbone tests' hand-built references."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backbone"))
