"""``db copy`` as a library: every schema table is covered, a running hub's new rows come over on the next run
without double counting, and the verification finds what differs. Real SQLite files, real PostgreSQL."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.cli_db_report import print_verification
from hub.cli_progress import ProgressBar
from hub.storage import copy as copy_module
from hub.storage.copy import ROLLUP_TABLES, Copier, plans
from hub.storage.copy_tables import KINDS, Kind, UnknownTable, kind_of, schema_tables
from hub.storage.copy_verify import verify
from hub.storage.postgres import PostgresStorage
from hub.storage.sql.schema import STEPS
from hub.storage.sqlite import SqliteStorage
from tests.hub.copy_data import DEMO_LOCATIONS, build_demo_hub, fill_history, ingest_store, make_device

DAYS = 7


class Quiet:
    """A progress listener that keeps what it was told."""

    def __init__(self) -> None:
        self.written: dict[str, int] = {}

    def table_started(self, table: str, done: int, total: int) -> None:
        assert 0 <= done <= total, (table, done, total)

    def rows_done(self, table: str, done: int, total: int) -> None:
        assert 0 <= done <= total, (table, done, total)

    def table_finished(self, table: str, written: int) -> None:
        self.written[table] = written


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A demo-like hub database, built once; tests copy the file. Also the device directory."""
    work = tmp_path_factory.mktemp("demo")
    build_demo_hub(work / "hub.sqlite", work / "devices", days=DAYS)
    return work / "hub.sqlite", work / "devices"


@pytest.fixture
def source(demo_db: tuple[Path, Path], tmp_path: Path) -> Iterator[SqliteStorage]:
    shutil.copy(demo_db[0], tmp_path / "hub.sqlite")
    s = SqliteStorage(tmp_path / "hub.sqlite")
    yield s
    s.close()


@pytest.fixture
def target(pg_url: str) -> Iterator[PostgresStorage]:
    t = PostgresStorage(pg_url, pool_size=2)
    yield t
    t.close()


def rows(storage: SqliteStorage | PostgresStorage, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in storage._reader().execute(sql).fetchall()]


def recount(storage: SqliteStorage | PostgresStorage) -> list[tuple[object, ...]]:
    """The daily rollup computed again from the events, for comparison with the stored one."""
    keys = "location_id, question_id, local_day, scale, value"
    return sorted(rows(storage, f"SELECT {keys}, count(*) FROM events WHERE misuse = 0 GROUP BY {keys}"))


def test_every_table_of_the_schema_has_a_copy_kind_and_nothing_else_does(tmp_path: Path) -> None:
    tables = schema_tables()
    assert "events" in tables and "login_failures" in tables and "schema_version" not in tables
    assert set(tables) == set(KINDS), "hub/storage/copy_tables.py KINDS must list exactly the schema's tables"
    assert {t for t in tables if KINDS[t] is Kind.ROLLUP} == ROLLUP_TABLES
    created = sum(s.count("CREATE TABLE") - s.count("DROP TABLE") for step in STEPS for s in step.statements)
    assert len(tables) == created
    migrated = SqliteStorage(tmp_path / "hub.sqlite")  # the tables a migrated database really has
    try:
        found = rows(migrated, "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_version'")
    finally:
        migrated.close()
    assert sorted(tables) == sorted(str(name) for (name,) in found)


def test_a_table_the_copier_does_not_know_stops_the_copy_before_anything_is_written(
    source: SqliteStorage, target: PostgresStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnknownTable, match=r"widgets.*copy_tables\.py"):
        kind_of("widgets")
    source._write().__enter__().execute("CREATE TABLE widgets (id INTEGER PRIMARY KEY)")
    source._write().__exit__(None, None, None)
    monkeypatch.setattr(copy_module, "schema_tables", lambda: [*schema_tables(), "widgets"])
    with pytest.raises(UnknownTable, match="'widgets'"):
        Copier(source, target, Quiet()).run()
    assert rows(target, "SELECT count(*) FROM events") == [(0,)]


def test_the_copy_matches_keeps_ids_and_bodies_and_moves_the_sequences(
    source: SqliteStorage, target: PostgresStorage
) -> None:
    progress = Quiet()
    Copier(source, target, progress, chunk_rows=700).run()
    result = verify(source, target, plans(source, target))
    assert result.ok, result.differences
    assert all(c.source == c.target and c.source > 0 for c in result.counts), result.counts
    assert progress.written["events"] == rows(source, "SELECT count(*) FROM events")[0][0]
    for table, key in (("webhook_deliveries", "delivery_id"), ("alert_events", "alert_id"), ("tokens", "token_id")):
        sql = f"SELECT * FROM {table} ORDER BY {key}"
        assert rows(target, sql) == rows(source, sql), table
    body = rows(target, "SELECT body FROM webhook_deliveries ORDER BY delivery_id")[0][0]
    assert "négatif ✓" in json.loads(str(body))["text"]
    assert rows(target, "SELECT payload FROM dead_letters") == rows(source, "SELECT payload FROM dead_letters")
    assert recount(target) == recount(source) == sorted(rows(target, "SELECT * FROM rollup_day"))
    # New rows in the target get ids past the copied ones.
    _, _ = target.create_token("after the move", "admin", None)
    (top,) = rows(source, "SELECT max(token_id) FROM tokens")[0]
    assert rows(target, "SELECT max(token_id) FROM tokens") == [(int(str(top)) + 1,)]
    with target._write() as conn:
        new_pk = conn.execute("INSERT INTO dead_letters (received_at, topic, reason, payload) "
                              "VALUES ('t', 't', 'r', ?) RETURNING pk", (b"x",)).fetchone()[0]  # fmt: skip
    assert new_pk == rows(source, "SELECT max(pk) FROM dead_letters")[0][0] + 1  # type: ignore[operator]


def test_a_running_hub_s_new_and_changed_rows_come_over_on_the_next_run_counted_once(
    source: SqliteStorage, target: PostgresStorage, tmp_path: Path
) -> None:
    Copier(source, target, Quiet()).run()
    before = rows(target, "SELECT sum(count) FROM rollup_day")[0][0]

    # Meanwhile the SQLite hub goes on: two more days of taps from its first two kiosks, on days that
    # already have counts (the first kiosk's land in quarantine: they predate its broker account), an
    # alert resolved, a token revoked, a session gone, another failed login.
    now = datetime.now(UTC)
    with source._write() as conn:
        top_seq = int(conn.execute("SELECT max(seq) FROM events").fetchone()[0])
    new = 0
    for i, loc in enumerate(DEMO_LOCATIONS[:2]):
        device = make_device(tmp_path / "more", i, loc, "mqtt://127.0.0.1:1883", "5", "rtc")
        fill_history(device, 2, seed=10 + i, now=now)
        store = device.open_store()
        with store.write() as conn:  # the same kiosk sending on: sequence numbers past the ones it sent
            conn.execute("UPDATE events SET seq = seq + ?", (top_seq,))
        store.close()
        new += ingest_store(source, device, now)
    (firing,) = [a for a in source.firing_alerts()]
    source.resolve_alert(firing.alert_id, now)
    source.revoke_token(1)
    source.delete_session("f" * 64)
    source.record_login_failure("198.51.100.7", now, now - timedelta(hours=1))

    stale = verify(source, target, plans(source, target))
    assert not stale.ok and stale.newer_in_source["events"] > 0
    out = io.StringIO()
    assert print_verification(stale, "hub.sqlite", "pg", out) == 1
    assert "DIFFERENCES" in out.getvalue() and "rows newer): if the SQLite hub is still running" in out.getvalue()

    progress = Quiet()
    Copier(source, target, progress).run()
    result = verify(source, target, plans(source, target))
    assert result.ok, result.differences
    assert progress.written["events"] == new > 0 and progress.written["quarantine"] > 0
    assert rows(target, "SELECT sum(count) FROM rollup_day")[0][0] == before + new  # type: ignore[operator]
    assert recount(target) == recount(source) == sorted(rows(target, "SELECT * FROM rollup_day"))
    assert rows(target, "SELECT count(*), count(DISTINCT id) FROM events") == [
        (rows(source, "SELECT count(*) FROM events")[0][0],) * 2
    ]
    assert rows(target, f"SELECT state FROM alert_events WHERE alert_id = {firing.alert_id}") == [("resolved",)]
    assert rows(target, "SELECT count(*) FROM sessions") == [(0,)]
    assert rows(target, "SELECT revoked_at IS NOT NULL FROM tokens WHERE token_id = 1") == [(True,)]
    assert rows(target, "SELECT count(*) FROM login_failures") == [(2,)]


def test_the_verification_names_a_changed_body_and_a_wrong_rollup(
    source: SqliteStorage, target: PostgresStorage
) -> None:
    Copier(source, target, Quiet()).run()
    with target._write() as conn:
        conn.execute("UPDATE webhook_deliveries SET body = body || ' ' WHERE delivery_id = 1")
        conn.execute("UPDATE rollup_day SET count = count + 1 WHERE day = (SELECT min(day) FROM rollup_day)")
    result = verify(source, target, plans(source, target))
    text = "\n".join(result.differences)
    assert "webhook_deliveries 1: column body differs" in text, text
    assert "rollup_day" in text and "rollup_hour" not in text, text
    out = io.StringIO()
    assert print_verification(result, "hub.sqlite", "pg", out) == 1


def test_the_progress_bar_draws_in_place_on_a_terminal_and_plain_lines_elsewhere() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [100.0]
    tty, plain = Tty(), io.StringIO()
    for stream in (tty, plain):
        bar = ProgressBar(stream, clock=lambda: now[0])
        now[0] = 100.0
        bar.table_started("events", 0, 10_000)
        now[0] = 102.0
        bar.rows_done("events", 5000, 10_000)
        now[0] = 106.0
        bar.rows_done("events", 6000, 10_000)
        bar.table_finished("events", 10_000)
    assert "\r" in tty.getvalue() and "5000/10000 rows  2,500 rows/s  ETA 2 s" in tty.getvalue(), tty.getvalue()
    lines = plain.getvalue().splitlines()
    assert "\r" not in plain.getvalue() and len(lines) == 3, lines  # start, one after 5 s, finish
    assert "6000/10000 rows  1,000 rows/s  60%  ETA 4 s" in lines[1], lines
    assert "done: 10000 rows written" in lines[2], lines
