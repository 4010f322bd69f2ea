"""The hub's ingest shortcuts give exactly what the plain code gives: local days, timestamps, rows, inserts."""

from __future__ import annotations

import random
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge_agent.clock import EARLIEST_PLAUSIBLE
from edge_agent.protocol import Event, convert, format_ts
from hub.domain.quarantine import FUTURE_TOLERANCE, verdict
from hub.ingest import receive_window
from hub.localtime import local_day_hour
from hub.storage.sql.rows import BATCH_COLUMNS, EVENT_COLUMNS, BatchRows, batch_rows, columns, day_hours, ts_texts
from hub.storage.sql.screen import Screen
from hub.storage.sqlite import SqliteStorage
from hub.storage.sqlite.ingest import _insert_events

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
    rng.shuffle(instants)  # batches mix hours: ordered or not, each event gets its own day and hour
    for start in range(0, len(instants), 100):
        batch = instants[start : start + 100]
        assert day_hours(batch, [format_ts(ts) for ts in batch], tz) == [local_day_hour(ts, tz) for ts in batch]


def test_batch_timestamps_render_as_format_ts() -> None:
    rng = random.Random(2)
    stamps = [datetime(1000, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(283_000_000_000_000_000))
              for _ in range(20_000)]  # fmt: skip
    stamps += [s.replace(microsecond=0) for s in stamps[:500]] + [s.replace(microsecond=1000) for s in stamps[:500]]
    assert ts_texts(stamps) == [format_ts(s) for s in stamps]
    assert ts_texts([]) == []


def _event(rng: random.Random, i: int, ts: datetime) -> Event:
    scale = rng.choice([4, 5, 11])
    return convert(
        {"id": str(uuid.UUID(int=rng.getrandbits(128))), "seq": i, "ts": ts, "tz": rng.choice(ZONES),
         "clock_ok": True, "question_id": rng.choice(["q1", "q2"]), "scale": scale, "value": rng.randrange(scale),
         "reason": rng.choice([None, "queue", " "]), "source": "touch", "misuse": rng.random() < 0.1,
         "survey_version": rng.choice([None, 3]), "boot_id": rng.choice([None, "b"]), "mono_ms": rng.choice([None, i]),
         "redated": rng.random() < 0.1},
        Event,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["Europe/Helsinki", "Asia/Kathmandu", "Australia/Lord_Howe"])
def test_rows_from_columns_are_the_rows_built_event_by_event(name: str) -> None:
    rng = random.Random(name)
    tz = ZoneInfo(name)
    start = datetime(2026, 3, 28, tzinfo=UTC)
    events = [_event(rng, i, start + timedelta(seconds=rng.randrange(4 * 86_400))) for i in range(300)]
    plain = [
        (e.id, e.seq, format_ts(e.ts), *local_day_hour(e.ts, tz), e.tz, int(e.clock_ok), e.question_id, e.scale,
         e.value, e.reason, e.source, int(e.misuse), e.survey_version, e.boot_id, e.mono_ms)
        for e in events
    ]  # fmt: skip
    rows = batch_rows("dev", "loc", "b-1", columns(events), tz, "now")
    assert rows.values() == plain
    assert rows.constants() == ("dev", "loc", "b-1", "now")
    assert len(batch_rows("dev", "loc", "b-1", columns([]), tz, "now")) == 0


def test_the_trusted_span_is_what_verdict_trusts() -> None:
    received = datetime(2026, 6, 1, 12, tzinfo=UTC)
    rng = random.Random(3)
    for provisioned in (None, datetime(2026, 5, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)):
        screen = Screen(received, provisioned={} if provisioned is None else {"dev": provisioned})
        earliest, latest = screen.trusted_span("dev")
        edges = [earliest, latest, EARLIEST_PLAUSIBLE, received + FUTURE_TOLERANCE]
        stamps = [e + timedelta(microseconds=d) for e in edges for d in (-1000, -1, 0, 1, 1000)]
        stamps += [received + timedelta(seconds=rng.randrange(-900 * 86_400, 86_400)) for _ in range(2000)]
        for ts in stamps:
            event = _event(rng, 1, ts)
            assert (earliest <= event.ts <= latest) == (verdict(event, received, provisioned) is None), (
                ts,
                provisioned,
            )


def test_format_ts_keeps_strftime_output_for_every_year() -> None:
    rng = random.Random(1)
    for _ in range(20_000):
        value = datetime(1, 1, 2, tzinfo=UTC) + timedelta(microseconds=rng.randrange(315_537_000_000_000_000))
        value = value.astimezone(timezone(timedelta(minutes=rng.randrange(-720, 721))))
        utc = value.astimezone(UTC)
        assert format_ts(value) == utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _values(i: int, seq: int | None = None) -> tuple[object, ...]:
    return (f"0190a5e4-7c1d-7abc-8def-{i:012x}", 1000 + i if seq is None else seq, "2026-11-22T10:00:00.000Z",
            "2026-11-22", 12, "Europe/Helsinki", 1, "default", 4, i % 4, "queue" if i % 3 else None, "touch",
            i % 7 == 0, None if i % 2 else 3, "boot", i)  # fmt: skip


def _batch(values: list[tuple[object, ...]]) -> BatchRows:
    cols = tuple(zip(*values, strict=True)) if values else tuple(() for _ in EVENT_COLUMNS)
    return BatchRows("dev-1", "loc-1", "b-1", "2026-11-22T10:00:01.000Z", cols)


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250])
def test_multi_row_insert_stores_what_executemany_stores(tmp_path: Path, count: int) -> None:
    batch = _batch([_values(i) for i in range(count)])
    plain = f"INSERT INTO events ({', '.join((*BATCH_COLUMNS, *EVENT_COLUMNS))}) VALUES ({','.join('?' * 20)})"
    stored = []
    for name, insert in (
        ("many", lambda c: c.executemany(plain, [(*batch.constants(), *v) for v in batch.values()])),
        ("multi", lambda c: _insert_events(c, batch)),
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
        _insert_events(conn, _batch([_values(1)]))
    with pytest.raises(sqlite3.IntegrityError), storage._write() as conn:
        _insert_events(conn, _batch([_values(2), _values(3, seq=1001)]))  # the second reuses the first's seq
    assert storage._writer.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    storage.close()


def test_keeping_some_events_keeps_their_columns_aligned() -> None:
    batch = _batch([_values(i) for i in range(5)])
    kept = batch.only([True, False, True, False, False])
    assert kept.values() == [batch.values()[0], batch.values()[2]]
    assert kept.constants() == batch.constants()


def test_receive_window_spans_several_groups_and_fits_mqtt() -> None:
    assert receive_window(200) == 800
    assert receive_window(1) == 100
    assert receive_window(10_000) == 40_000
    assert receive_window(20_000) == 65_535
