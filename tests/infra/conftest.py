"""Tests of the shared test infrastructure; ``scripts/lib`` is on the path as the scripts have it."""

from __future__ import annotations

import sys
from pathlib import Path

LIB = str(Path(__file__).resolve().parents[2] / "scripts" / "lib")
if LIB not in sys.path:
    sys.path.insert(0, LIB)
