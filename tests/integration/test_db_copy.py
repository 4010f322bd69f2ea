"""``touchpoint-hub db copy`` as a user runs it: the demo's database into a real PostgreSQL, served by a real hub.

The database is made the demo's way (tests/hub/copy_data.py: the demo's history code, through the
hub's real ingest). The copy runs as a subprocess; one run is killed with SIGKILL in the middle of
the events table and resumed; a further run must not write a single row.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hub.broker.mosquitto import MosquittoBroker
from hub.storage.copy_tables import schema_tables
from tests.hub.copy_data import build_demo_hub
from tests.support import ENV, Hub, wait_until

pytestmark = pytest.mark.integration
DAYS = 14


@pytest.fixture(scope="module")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo-hub")
    build_demo_hub(work / "hub.sqlite", work / "devices", days=DAYS)
    return work / "hub.sqlite"


@pytest.fixture
def source(demo_sqlite: Path, tmp_path: Path) -> Path:
    shutil.copy(demo_sqlite, tmp_path / "hub.sqlite")
    return tmp_path / "hub.sqlite"


def db_copy(source: Path, url: str, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "db", "copy", "--from", str(source), "--to", url, *more],
        capture_output=True, text=True, env=ENV, timeout=300,
    )  # fmt: skip


def pg(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def sqlite_count(path: Path, table: str) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def rollups_match_their_events(url: str) -> bool:
    """The target's daily rollup is exactly a recount of the events it holds: nothing added twice, nothing lost."""
    keys = "location_id, question_id, local_day, scale, value"
    counted = pg(url, f"SELECT {keys}, count(*) FROM events WHERE misuse = 0 GROUP BY {keys} ORDER BY 1, 2, 3, 4, 5")
    stored = pg(url, "SELECT location_id, question_id, day, scale, value, count FROM rollup_day ORDER BY 1, 2, 3, 4, 5")
    return counted == stored


def row_versions(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row's physical version (ctid, xmin) per table: any write, even of the same values, changes it."""
    tables = [r[0] for r in pg(url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
    return {str(t): pg(url, f"SELECT ctid::text, xmin::text FROM {t} ORDER BY ctid") for t in tables}


def test_the_demo_hub_copied_to_postgresql_verifies_and_the_api_gives_the_same_scores(
    source: Path, pg_url: str, mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    result = db_copy(source, pg_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK: the target matches the source: {len(schema_tables())} tables" in result.stdout, result.stdout
    for location in ("helsinki-central", "new-york-5th", "tokyo-shibuya"):
        assert f"{location} " in result.stdout, result.stdout
    assert "events" in result.stderr and "rows/s" in result.stderr, result.stderr  # the progress, on stderr

    hubs = []
    for name, db in (("sqlite", str(source)), ("postgresql", pg_url)):
        (tmp_path / name).mkdir()
        hub = Hub(tmp_path / name, mosquitto.url, db=db)
        hub.start()
        hubs.append(hub)
    try:
        today = datetime.now(UTC).date()
        span = {"from": (today - timedelta(days=DAYS + 2)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
        for group_by in ("location", "day", "hour", "all"):
            on_sqlite, on_postgres = (h.get("/api/v1/scores", group_by=group_by, **span)["rows"] for h in hubs)
            assert on_sqlite == on_postgres and on_sqlite, group_by
        assert sum(r["n"] for r in hubs[1].get("/api/v1/scores", **span)["rows"]) > DAYS * 3 * 200
        # The copied alert episodes, as both serve them (each hub's evaluator and webhook sender work on after).
        kept = ("alert_id", "rule_id", "rule_name", "location_id", "device_id", "fired_at", "message", "details")
        on_sqlite, on_postgres = (
            sorted([{k: a[k] for k in kept} for a in h.get("/api/v1/alerts", role="admin")["rows"]
                    if a["alert_id"] <= 2], key=str)
            for h in hubs
        )  # fmt: skip
        assert on_sqlite == on_postgres and len(on_sqlite) == 2
        assert hubs[1].get("/healthz")["backend"] == "postgresql"
    finally:
        for hub in hubs:
            hub.stop()


def test_a_copy_killed_mid_table_resumes_without_duplicates_and_a_further_run_writes_nothing(
    source: Path, pg_url: str
) -> None:
    total = sqlite_count(source, "events")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "db", "copy", "--from", str(source), "--to", pg_url, "--chunk-size", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:

        def copying_events() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the copy ended before it could be killed: {proc.communicate()}")
            try:
                return int(str(pg(pg_url, "SELECT count(*) FROM events")[0][0])) > total // 4
            except psycopg.Error:
                return False  # the schema is not there yet

        wait_until(copying_events, 120, "the copy to be a quarter into the events table", interval=0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    copied = int(str(pg(pg_url, "SELECT count(*) FROM events")[0][0]))
    assert total // 4 < copied < total, (copied, total)
    assert rollups_match_their_events(pg_url)  # each chunk's rollups committed with its events, or neither
    assert pg(pg_url, "SELECT count(*) FROM tokens") == [(0,)]  # later tables not reached yet

    time.sleep(0.1)
    resumed = db_copy(source, pg_url)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "OK: the target matches the source" in resumed.stdout, resumed.stdout
    assert f"{copied}/{total} rows" in resumed.stderr, resumed.stderr  # it started where the killed run stopped
    assert f"done: {total - copied} rows written" in resumed.stderr, resumed.stderr
    assert pg(pg_url, "SELECT count(*), count(DISTINCT id), count(DISTINCT (device_id, seq)) FROM events") == [
        (total, total, total)
    ]
    assert rollups_match_their_events(pg_url)

    before = row_versions(pg_url)
    again = db_copy(source, pg_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stderr.count("done: nothing to write") == len(schema_tables()), again.stderr
    assert row_versions(pg_url) == before  # not one row written, not even rewritten with the same values


def test_bad_options_are_refused_with_the_option_named(tmp_path: Path, pg_url: str) -> None:
    missing = db_copy(tmp_path / "nope.sqlite", pg_url)
    assert missing.returncode == 2 and "--from: no such file" in missing.stderr, missing.stderr
    assert not (tmp_path / "nope.sqlite").exists()
    (tmp_path / "hub.sqlite").touch()
    not_a_url = db_copy(tmp_path / "hub.sqlite", str(tmp_path / "other.sqlite"))
    assert not_a_url.returncode == 2 and "--to: expected a postgresql:// URL" in not_a_url.stderr
    chunk = db_copy(tmp_path / "hub.sqlite", pg_url, "--chunk-size", "0")
    assert chunk.returncode == 2 and "--chunk-size" in chunk.stderr
    helped = subprocess.run([sys.executable, "-m", "hub.cli", "db", "copy", "--help"], capture_output=True, text=True)
    assert "touchpoint-hub db copy --from hub.sqlite --to postgresql://" in helped.stdout
