"""The README's first promise: the demo runs the whole system and its curl line returns scores."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_a_curl_line_that_returns_scores(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/lib/demo.py"), "--duration", "12", "--port", "0",
         "--history-days", "2", "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )  # fmt: skip
    assert demo.stdout is not None
    seen: list[str] = []
    curl_line = None
    for line in demo.stdout:
        seen.append(line)
        if "try:" in line:
            curl_line = line.split("try:", 1)[1].strip()
            break
    assert curl_line, "the demo printed no curl line:\n" + "".join(seen)
    assert curl_line.startswith("curl ")
    result = subprocess.run(shlex.split(curl_line), capture_output=True, text=True, timeout=10, check=True)
    rows = json.loads(result.stdout)["rows"]
    assert len(rows) == 3, result.stdout
    assert all(row["n"] > 0 and row["happy_index"] is not None for row in rows)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, "".join(seen) + rest
    output = "".join(seen) + rest
    synced = re.search(r"history synced: (\d+) of (\d+) taps", output)
    assert synced and synced.group(1) == synced.group(2), output
    assert "counted at the hub" in rest and "stopped everything" in rest
