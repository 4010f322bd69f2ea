"""The hub's ingest shortcuts give exactly what the plain code gives: local days, timestamps, inserts, acks."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.protocol import format_ts
from hub.ingest import receive_window
from hub.localtime import local_day_hour
from hub.storage.sqlite import SqliteStorage
from hub.storage.sqlite_ingest import _INSERT_EVENT, _insert_events, _local_day_hour

ZONES = ["Europe/Helsinki", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/St_Johns", "UTC", "Africa/Casablanca", "Antarctica/Troll"]  # fmt: skip


@pytest.mark.parametrize("name", ZONES)
def test_cached_local_day_and_hour_match_the_zone_around_every_transition(name: str) -> None:
    tz = ZoneInfo(name)
    rng = random.Random(name)
    instants = [
        datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(3 * 365 * 86_400)) for _ in range(500)
    ]
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    t = start
    while t < end:  # every minute of every hour whose offset differs from the hour before
        nxt = t + timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            instants += [t + timedelta(minutes=m, seconds=s) for m in range(0, 121) for s in (0, 59)]
        t = nxt
    for ts in instants:
        assert _local_day_hour(ts, format_ts(ts), name, tz) == local_day_hour(ts, tz), ts


def test_format_ts_keeps_strftime_output_for_every_year() -> None:
    rng = random.Random(1)
    for _ in range(20_000):
        value = datetime(1, 1, 2, tzinfo=UTC) + timedelta(microseconds=rng.randrange(315_537_000_000_000_000))
        value = value.astimezone(timezone(timedelta(minutes=rng.randrange(-720, 721))))
        utc = value.astimezone(UTC)
        assert format_ts(value) == utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _row(i: int, device: str = "dev-1") -> tuple[object, ...]:
    return (f"0190a5e4-7c1d-7abc-8def-{i:012x}", device, "loc-1", 1000 + i, "2026-11-22T10:00:00.000Z",
            "2026-11-22", 12, "Europe/Helsinki", 1, "default", 4, i % 4, "queue" if i % 3 else None, "touch",
            i % 7 == 0, None if i % 2 else 3, "boot", i, "b-1", "2026-11-22T10:00:01.000Z")  # fmt: skip


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250])
def test_multi_row_insert_stores_what_executemany_stores(tmp_path: Path, count: int) -> None:
    rows = [_row(i) for i in range(count)]
    stored = []
    for name, insert in (
        ("many", lambda c: c.executemany(_INSERT_EVENT, rows)),
        ("multi", lambda c: _insert_events(c, rows)),
    ):
        storage = SqliteStorage(tmp_path / f"{name}-{count}.sqlite")
        with storage._write() as conn:
            insert(conn)
        stored.append(storage._writer.execute("SELECT * FROM events ORDER BY pk").fetchall())
        storage.close()
    assert stored[0] == stored[1]
    assert len(stored[0]) == count


def test_multi_row_insert_fails_whole_on_a_reused_seq(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "hub.sqlite")
    with storage._write() as conn:
        _insert_events(conn, [_row(1)])
    with pytest.raises(sqlite3.IntegrityError), storage._write() as conn:
        _insert_events(conn, [_row(2), (*_row(3)[:3], 1001, *_row(3)[4:])])  # row 3 reuses row 1's seq
    assert storage._writer.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    storage.close()


def test_receive_window_spans_several_groups_and_fits_mqtt() -> None:
    assert receive_window(200) == 800
    assert receive_window(1) == 100
    assert receive_window(10_000) == 40_000
    assert receive_window(20_000) == 65_535
