"""``scripts/chaos --short`` in CI: real agents, Mosquitto and hub under random faults, compared exactly.

It runs the chaos tool's Python entry (what ``scripts/chaos`` execs once the venv is set up) with a
fresh seed each time, and prints the seed and the whole table, so a failure can be replayed with
``scripts/chaos --short --seed N``. A second, shorter run puts two hub workers on a shared subscription
over PostgreSQL (``--db postgresql --workers 2``), one of them killed now and then.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from pgcluster import PgMissing, find_pg_bin

from hub.broker import find_mosquitto

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run_chaos(args: list[str], workdir: Path, timeout: float) -> tuple[str, dict[str, str]]:
    """Run ``python -m chaos ARGS``; assert it passed; its output and its table as {row: value}."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/test (it installs it) or apt-get install mosquitto")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts" / "lib"), str(ROOT)])}
    env.pop("TOUCHPOINT_CLOCK_OK", None)  # each device's clock is the chaos tool's business
    run = subprocess.run(
        [sys.executable, "-m", "chaos", *args, "--workdir", str(workdir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    print(run.stdout[-6000:], run.stderr[-3000:])
    assert run.returncode == 0, f"scripts/chaos {' '.join(args)} failed:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    table = dict(re.findall(r"^(\S[^\n]*?)\s{2,}(\S[^\n]*)$", run.stdout, re.M))
    assert table["lost"] == "0" and table["double-counted"] == "0" and table["rollup mismatches"] == "0"
    assert table["counted on a wrong local day"] == "0" and table["quarantine mismatches"] == "0"
    return run.stdout, table


def fault_counts(stdout: str) -> list[tuple[str, str]]:
    return re.findall(r"^  (kill -9 \w+|broker \w+.*?|partition: .*?|replayed.*?|clock: .*?)\s{2,}(\d+)", stdout, re.M)


@pytest.mark.timeout(330)
def test_chaos_short_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    stdout, _ = run_chaos(["--short"], tmp_path / "chaos", timeout=300)
    faults = fault_counts(stdout)
    assert len(faults) >= 12 and all(int(n) >= 1 for _, n in faults), f"a fault kind never happened: {faults}"


@pytest.mark.timeout(200)
def test_chaos_two_hub_workers_on_postgresql_lose_nothing_and_count_nothing_twice() -> None:
    try:
        find_pg_bin()
    except PgMissing as exc:
        pytest.fail(f"{exc} (scripts/test installs it when run as root)")
    # Not under pytest's tmp_path: the PostgreSQL data directory lives in the work dir (see tests/pg_fixtures.py).
    scratch = Path(tempfile.mkdtemp(prefix="tp-chaos-pg-"))
    args = ["--short", "--db", "postgresql", "--workers", "2", "--duration", "45"]
    stdout, table = run_chaos(args, scratch / "chaos", timeout=180)
    shutil.rmtree(scratch, ignore_errors=True)  # kept for a look when the run failed
    assert "2 hub workers on postgresql" in stdout
    assert table["hub workers whose API disagrees with the first"] == "0"
    faults = dict(fault_counts(stdout))
    assert int(faults["kill -9 hub"]) >= 1 and int(faults["replayed + reordered batches"]) >= 1, faults
    assert re.search(r"kill -9 hub-[12] after", stdout), "a worker of the two was killed"
