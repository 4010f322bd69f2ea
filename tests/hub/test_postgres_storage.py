"""What only PostgreSQL has: several workers on one database, aborted transactions retried, leadership.

Each test uses a fresh database in the session's private cluster (tests/pg_fixtures.py),
and real connections: a second session holding row locks, two storages as two hub workers.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from edge_agent.protocol import Event
from hub.storage.base import IncomingBatch, ScoreQuery
from hub.storage.postgres import PostgresStorage
from hub.storage.postgres.leader import PgAdvisoryLeader
from hub.storage.sql.schema import STEPS, render
from tests.hub.backends import raw

RECEIVED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def tap(seq: int, value: int, hour: int = 0) -> Event:
    return Event(
        id=str(uuid.uuid4()), seq=seq, ts=NOON + timedelta(hours=hour), tz="Europe/Helsinki", clock_ok=True,
        question_id="q1", scale=4, value=value, source="touch",
    )  # fmt: skip


@pytest.fixture
def workers(pg_url: str) -> Iterator[tuple[PostgresStorage, PostgresStorage]]:
    one, two = PostgresStorage(pg_url), PostgresStorage(pg_url)
    try:
        yield one, two
    finally:
        one.close()
        two.close()


def test_two_workers_ingesting_overlapping_rows_count_every_event_exactly_once(
    workers: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """Both workers get every batch (a device's resend reaching the other worker), in different orders."""
    rng = random.Random(7)
    batches: list[IncomingBatch] = []
    for device in range(6):
        for n in range(8):
            location = f"loc-{device % 3}"  # two devices per location: their rollup rows overlap
            events = [tap(n * 20 + i, rng.randrange(4), hour=rng.randrange(3)) for i in range(20)]
            batches.append(IncomingBatch(f"dev-{device}", location, f"b-{device}-{n}", events))
    errors: list[BaseException] = []
    inserted = Counter[str]()

    def work(storage: PostgresStorage, seed: int) -> None:
        order = list(batches)
        random.Random(seed).shuffle(order)
        try:
            for start in range(0, len(order), 4):  # several devices and locations per transaction
                result = storage.ingest(order[start : start + 4], [], [], RECEIVED)
                for ack in result.acks:
                    assert not ack.rejected
                inserted[str(seed)] += result.inserted
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w, seed)) for seed, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    total = sum(len(b.events) for b in batches)
    assert sum(inserted.values()) == total  # each event inserted by exactly one of the two
    one = workers[0]
    assert one.counts()["events"] == total
    counted = sum(sum(r.counts) for r in one.score_counts(ScoreQuery(NOON.date(), NOON.date(), group_by="all")))
    assert counted == total
    by_hour = raw(one, "SELECT SUM(count) FROM rollup_hour")[0][0]
    assert by_hour == total
    received = raw(one, "SELECT SUM(events_received) FROM devices")[0][0]
    assert received == total


def _wait_for_a_lock_wait(url: str, timeout_s: float = 10.0) -> None:
    with psycopg.connect(url, autocommit=True) as watcher:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the ingest never waited for the lock")


def test_an_ingest_aborted_as_a_deadlock_is_retried_and_counted_once(pg_url: str) -> None:
    storage = PostgresStorage(pg_url)
    try:
        storage.ingest([IncomingBatch("dev-1", "loc-1", "b-0", [tap(1, 3)])], [], [], RECEIVED)
        second = [tap(2, 3), tap(3, 0)]
        results = []
        with psycopg.connect(pg_url) as other:  # another session: a transaction holding the rollup rows
            other.execute("UPDATE rollup_day SET count = count WHERE location_id = 'loc-1'")
            ingest = threading.Thread(
                target=lambda: results.append(
                    storage.ingest([IncomingBatch("dev-1", "loc-1", "b-1", second)], [], [], RECEIVED)
                )
            )
            ingest.start()  # updates dev-1's row, then waits for the rollup rows
            _wait_for_a_lock_wait(pg_url)
            with pytest.raises(psycopg.errors.QueryCanceled):  # waits for dev-1: a deadlock, the ingest is aborted
                other.execute("SET statement_timeout = '5s'")
                other.execute("UPDATE devices SET backlog = 7 WHERE device_id = 'dev-1'")
                other.commit()  # the deadlock detector aborted the ingest instead: this update went through
                raise psycopg.errors.QueryCanceled("the update went through")
        ingest.join(30)
        assert storage.retries >= 1
        assert results and results[0].inserted == 2 and results[0].acks[0].accepted == [e.id for e in second]
        assert storage.counts()["events"] == 3
        assert raw(storage, "SELECT value, count FROM rollup_day ORDER BY value") == [(0, 1), (3, 2)]
        assert raw(storage, "SELECT events_received, backlog FROM devices") == [(3, 7)]
    finally:
        storage.close()


def test_migrations_run_once_when_workers_start_together_and_again_on_reopening(pg_url: str) -> None:
    opened: list[PostgresStorage] = []
    threads = [threading.Thread(target=lambda: opened.append(PostgresStorage(pg_url))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(opened) == 3
    for s in opened:
        s.close()
    again = PostgresStorage(pg_url)
    try:
        versions = raw(again, "SELECT version FROM schema_version ORDER BY version")
        assert versions == [(step.version,) for step in STEPS]
    finally:
        again.close()


def test_one_leader_at_a_time_and_a_lost_session_loses_the_lock(pg_url: str) -> None:
    first, second = PgAdvisoryLeader(pg_url, "alerts"), PgAdvisoryLeader(pg_url, "alerts")
    other = PgAdvisoryLeader(pg_url, "webhooks")
    try:
        assert first.try_acquire() is True
        assert first.try_acquire() is True  # idempotent
        assert second.try_acquire() is False
        assert second.holds() is False
        assert other.try_acquire() is True  # another name, another lock
        assert first.holds() is True
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the leader's session dies
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
                "AND classid::bigint = %s AND objid::bigint = %s",
                ((first.key >> 32) & 0xFFFFFFFF, first.key & 0xFFFFFFFF),
            ).fetchall()
            assert killed == [(True,)]
        deadline = time.monotonic() + 5
        while first.holds() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.holds() is False
        assert second.try_acquire() is True
        second.release()
        assert second.holds() is False
        assert first.try_acquire() is True
    finally:
        for leader in (first, second, other):
            leader.release()


def test_the_monthly_rollup_rebuilt_by_step_11_is_analyzed_for_the_planner(pg_url: str) -> None:
    """A database at step 10 (a rollup_month row per answer value) opened by this release: its rows get a
    column per value, and the rebuilt table has planner statistics at once (not a one-row guess)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at TEXT NOT NULL)"
        )
        for step in STEPS[:10]:
            for sql in step.statements:
                conn.execute(render(sql, "postgresql").encode())
            conn.execute("INSERT INTO schema_version VALUES (%s, %s, 'then')", (step.version, step.description))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO rollup_month (location_id, question_id, month, scale, value, count) "
                "VALUES (%s, 'q1', %s, 4, %s, %s)",
                [(f"loc-{n:03d}", f"2026-{m:02d}", v, n + v) for n in range(200) for m in (1, 2) for v in (0, 3)],
            )
    storage = PostgresStorage(pg_url)
    try:
        assert raw(storage, "SELECT count(*), sum(v0), sum(v3), sum(v1 + v2) FROM rollup_month") == [
            (400, sum(range(200)) * 2, sum(n + 3 for n in range(200)) * 2, 0)
        ]
        analyzed = raw(
            storage, "SELECT c.reltuples, s.last_analyze IS NOT NULL FROM pg_class AS c "
            "JOIN pg_stat_user_tables AS s ON s.relid = c.oid WHERE c.relname = 'rollup_month'"
        )  # fmt: skip
        assert analyzed == [(400.0, True)]
    finally:
        storage.close()


def test_the_hubs_sessions_plan_serially_and_keep_their_keepalives(pg_url: str) -> None:
    storage = PostgresStorage(pg_url)
    try:
        assert raw(storage, "SHOW max_parallel_workers_per_gather") == [("0",)]
        assert raw(storage, "SHOW tcp_keepalives_idle") == [("5",)]
    finally:
        storage.close()
