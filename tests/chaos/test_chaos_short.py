"""``scripts/chaos --short`` in CI: real agents, Mosquitto and hub under random faults, compared exactly.

It runs the chaos tool's Python entry (what ``scripts/chaos`` execs once the venv is set up) with a
fresh seed each time, and prints the seed and the whole table, so a failure can be replayed with
``scripts/chaos --short --seed N``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.broker import find_mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(330)
def test_chaos_short_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts" / "lib"), str(ROOT)])}
    env.pop("TOUCHPOINT_CLOCK_OK", None)  # each device's clock is the chaos tool's business
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "--short", "--workdir", str(tmp_path / "chaos")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    print(run.stdout[-6000:], run.stderr[-3000:])
    assert run.returncode == 0, f"scripts/chaos --short failed:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    table = dict(re.findall(r"^(\S[^\n]*?)\s{2,}(\S[^\n]*)$", run.stdout, re.M))
    assert table["lost"] == "0" and table["double-counted"] == "0" and table["rollup mismatches"] == "0"
    assert table["counted on a wrong local day"] == "0" and table["quarantine mismatches"] == "0"
    faults = re.findall(
        r"^  (kill -9 \w+|broker \w+.*?|partition: .*?|replayed.*?|clock: .*?)\s{2,}(\d+)", run.stdout, re.M
    )
    assert len(faults) >= 12 and all(int(n) >= 1 for _, n in faults), f"a fault kind never happened: {faults}"
