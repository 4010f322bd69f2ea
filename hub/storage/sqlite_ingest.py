"""One ingest transaction on SQLite: events, rollups, devices and dead letters together.

Idempotency is decided here: an event id already stored is a duplicate (acked
again, counted once); a new id reusing a (device, seq) already taken is
rejected with its reason. Rollups (answers by day and hour, follow-up reasons
by polarity) are incremented only for newly inserted, non-misuse events, in
the same transaction, so they can never drift from the events table.
"""

from __future__ import annotations

import operator
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain, compress
from zoneinfo import ZoneInfo

from edge_agent.protocol import Ack, Event, Rejection, format_ts, topic
from edge_agent.scores import polarity
from hub.localtime import zone
from hub.quarantine import Screen
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.sqlite_rows import (
    BATCH_COLUMNS,
    CLOCK_OK,
    E_DAY,
    E_HOUR,
    E_ID,
    E_MISUSE,
    E_QUESTION,
    E_REASON,
    E_SCALE,
    E_SEQ,
    E_VALUE,
    EVENT_COLUMNS,
    ID,
    TS,
    BatchRows,
    Columns,
    batch_rows,
    columns,
)

_ROWS_PER_INSERT = 100
_INSERTS: dict[tuple[int, bool], str] = {}
DayKey = tuple[str, str, str, int, int]  # (location, question, day, scale, value)
HourKey = tuple[str, str, str, int, int, int]  # (location, question, day, hour, scale, value)
ReasonKey = tuple[str, str, str, str, str]  # (location, question, day, polarity, reason)


def _insert_sql(rows: int, if_new: bool = False) -> str:
    """A multi-row INSERT binding the batch's constants once (?1..?4) and each row's values after them.

    ``if_new``: a row whose id is stored already is skipped (and not counted in the statement's rowcount).
    """
    sql = _INSERTS.get((rows, if_new))
    if sql is None:
        row = f"({','.join(f'?{i + 1}' for i in range(len(BATCH_COLUMNS)))},{','.join('?' * len(EVENT_COLUMNS))})"
        names = ", ".join((*BATCH_COLUMNS, *EVENT_COLUMNS))
        sql = f"INSERT INTO events ({names}) VALUES {','.join([row] * rows)}"
        sql = _INSERTS[(rows, if_new)] = sql + (" ON CONFLICT (id) DO NOTHING" if if_new else "")
    return sql


def _insert_events(conn: sqlite3.Connection, batch: BatchRows, if_new: bool = False) -> int:
    """Insert the batch's events with one multi-row INSERT per 100 rows; return how many were inserted.

    executemany steps SQLite once per row, releasing and retaking the GIL each time (while paho's network
    thread is reading the next messages, each retake waits for it), and binds the batch's constants again
    for every row.
    """
    values = batch.values()
    inserted = 0
    for start in range(0, len(values), _ROWS_PER_INSERT):
        chunk = values[start : start + _ROWS_PER_INSERT]
        sql = _insert_sql(len(chunk), if_new)
        inserted += conn.execute(sql, [*batch.constants(), *chain.from_iterable(chunk)]).rowcount
    return inserted


def _insert_new(conn: sqlite3.Connection, rows: BatchRows) -> bool:
    """Insert rows that should all be new, and say so; if one was not (a stored id or seq), insert none.

    The unique index on id checks every id anyway: asking it, rather than looking the ids up first, saves
    a lookup per event in the usual case, a batch that nobody sent before.
    """
    conn.execute("SAVEPOINT batch")
    try:
        inserted = _insert_events(conn, rows, if_new=True)
    except sqlite3.IntegrityError:  # a stored (device, seq) under a new id
        inserted = -1
    if inserted != len(rows):
        conn.execute("ROLLBACK TO batch")
    conn.execute("RELEASE batch")
    return inserted == len(rows)


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        found.update(r[0] for r in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk))
    return found


def _location_zones(conn: sqlite3.Connection, batches: list[IncomingBatch], now: str) -> dict[str, str]:
    """Each location's registered zone; a location seen first here takes its events' zone."""
    wanted = sorted({b.location_id for b in batches})
    marks = ",".join("?" * len(wanted))
    zones = dict(conn.execute(f"SELECT location_id, timezone FROM locations WHERE location_id IN ({marks})", wanted))
    for b in batches:
        if b.location_id not in zones and b.events:
            tz = next((e.tz for e in b.events if zone(e.tz) is not None), "UTC")
            conn.execute(
                "INSERT INTO locations (location_id, timezone, timezone_source, created_at) VALUES (?, ?, 'events', ?)",
                (b.location_id, tz, now),
            )
            zones[b.location_id] = tz
    return zones


def _plain(cols: Columns, taken: set[str], held: Screen, device_id: str) -> bool:
    """True when none of the batch's ids came earlier in this transaction or is in quarantine, and every
    timestamp is trusted: the usual batch, checked as a whole in C."""
    ids = cols[ID]
    if not ids:
        return True
    earliest, latest = held.trusted_span(device_id)
    return (
        taken.isdisjoint(ids)
        and len(set(ids)) == len(ids)
        and all(cols[CLOCK_OK])
        and earliest <= min(cols[TS])
        and max(cols[TS]) <= latest
    )


def _sort_out(
    b: IncomingBatch, taken: set[str], held: Screen, tz: ZoneInfo, now: str
) -> tuple[list[Event], list[str], list[str]]:
    """Event by event: (events to insert, duplicate ids, ids accepted into quarantine). Adds to ``taken``."""
    fresh: list[Event] = []
    dupes: list[str] = []
    accepted: list[str] = []
    for e in b.events:
        if e.id in taken:
            dupes.append(e.id)
            continue
        taken.add(e.id)
        if held.divert(b, e, tz, now):  # kept in quarantine and acked, but never counted on a guessed day
            accepted.append(e.id)
            continue
        fresh.append(e)
    return fresh, dupes, accepted


def _store(
    conn: sqlite3.Connection, b: IncomingBatch, rows: BatchRows, taken: set[str], letters: list[DeadLetter]
) -> tuple[BatchRows, list[Rejection]]:
    """Insert the batch's rows; return those stored and the rejections of events that reused a stored seq."""
    try:
        conn.execute("SAVEPOINT batch")
        _insert_events(conn, rows)
        conn.execute("RELEASE batch")
        return rows, []
    except sqlite3.IntegrityError:
        # Rare: a new id reusing a (device, seq) already stored. Find which, row by row.
        conn.execute("ROLLBACK TO batch")
        conn.execute("RELEASE batch")
    refused: list[Rejection] = []
    keep: list[bool] = []
    for values in rows.values():
        try:
            conn.execute(_insert_sql(1), (*rows.constants(), *values))
            keep.append(True)
        except sqlite3.IntegrityError:
            keep.append(False)
            event_id = str(values[E_ID])
            error = f"seq {values[E_SEQ]} of device {b.device_id} was already used by another event id"
            refused.append(Rejection(id=event_id, error=error))
            taken.discard(event_id)  # never stored, so a later copy is not a duplicate
            events_topic = topic(b.location_id, b.device_id, "events")
            row = dict(zip((*BATCH_COLUMNS, *EVENT_COLUMNS), (*rows.constants(), *values), strict=True))
            letters.append(DeadLetter(events_topic, f"event {event_id}: {error}", repr(row).encode()))
    return rows.only(keep), refused


def _count(rows: BatchRows, days: Counter[DayKey], hours: Counter[HourKey], reasons: Counter[ReasonKey]) -> None:
    """Add the batch's counted events (misuse is stored, never counted) to the rollups, counted in C."""
    c = rows.cols
    counted = list(map(operator.not_, c[E_MISUSE]))
    by_hour = Counter(compress(zip(c[E_QUESTION], c[E_DAY], c[E_HOUR], c[E_SCALE], c[E_VALUE], strict=True), counted))
    loc = rows.location_id
    for (question, day, hour, scale, value), n in by_hour.items():
        hours[(loc, question, day, hour, scale, value)] += n
        days[(loc, question, day, scale, value)] += n
    given = compress(zip(c[E_QUESTION], c[E_DAY], c[E_SCALE], c[E_VALUE], c[E_REASON], strict=True), counted)
    for question, day, scale, value, reason in given:
        if reason and reason.strip():  # the follow-up reason, if the shopper gave one
            reasons[(loc, question, day, polarity(value, scale), reason)] += 1


def ingest_transaction(
    conn: sqlite3.Connection,
    batches: list[IncomingBatch],
    statuses: list[StatusUpdate],
    dead_letters: list[DeadLetter],
    received_at: datetime,
) -> IngestResult:
    """Run inside an open write transaction; the caller commits, then publishes the acks."""
    now = format_ts(received_at)
    zones = _location_zones(conn, batches, now) if batches else {}
    held = Screen.load(conn, batches, received_at)  # untrusted timestamps: stored apart, never counted
    taken = set(held.known)  # ids stored before (found when needed), in quarantine, or earlier in this transaction
    day_counts: Counter[DayKey] = Counter()
    hour_counts: Counter[HourKey] = Counter()
    reason_counts: Counter[ReasonKey] = Counter()
    acks: list[Ack] = []
    letters = list(dead_letters)
    inserted = duplicates = rejected = 0
    for b in batches:
        tz = zone(zones.get(b.location_id, "UTC")) or zone("UTC")
        assert tz is not None
        cols = columns(b.events)
        dupes: list[str] = []
        accepted: list[str] = []
        refused: list[Rejection] = []
        plain = _plain(cols, taken, held, b.device_id)  # the rows of untrusted timestamps are never built
        good = batch_rows(b.device_id, b.location_id, b.batch_id, cols, tz, now) if plain else None
        if good is not None and _insert_new(conn, good):
            taken.update(good.ids)
        else:  # duplicates, quarantine or a reused seq: event by event, as they come
            taken.update(_existing_ids(conn, cols[ID]))
            fresh, dupes, accepted = _sort_out(b, taken, held, tz, now)
            rows = batch_rows(b.device_id, b.location_id, b.batch_id, columns(fresh), tz, now)
            good, refused = _store(conn, b, rows, taken, letters)
        accepted.extend(good.ids)
        _count(good, day_counts, hour_counts, reason_counts)
        conn.execute(
            """INSERT INTO devices (device_id, location_id, first_seen, last_seen, last_batch_id, last_batch_at,
                                   events_received)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
                 location_id = excluded.location_id, last_batch_id = excluded.last_batch_id,
                 last_batch_at = excluded.last_batch_at,
                 events_received = events_received + excluded.events_received""",
            (b.device_id, b.location_id, now, now, b.batch_id, now, len(good)),
        )
        refused = [*b.rejected, *refused]
        inserted += len(good)
        duplicates += len(dupes)
        rejected += len(refused)
        acks.append(Ack(batch_id=b.batch_id, accepted=accepted, duplicates=dupes, rejected=refused))
    conn.executemany(
        "INSERT INTO rollup_day (location_id, question_id, day, scale, value, count) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT DO UPDATE SET count = count + excluded.count",
        [(*k, n) for k, n in day_counts.items()],
    )
    conn.executemany(
        "INSERT INTO rollup_hour (location_id, question_id, day, hour, scale, value, count) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET count = count + excluded.count",
        [(*k, n) for k, n in hour_counts.items()],
    )
    conn.executemany(
        "INSERT INTO rollup_reason (location_id, question_id, day, polarity, reason, count) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT DO UPDATE SET count = count + excluded.count",
        [(*k, n) for k, n in reason_counts.items()],
    )
    for s in statuses:
        _apply_status(conn, s, now)
    conn.executemany(
        "INSERT INTO dead_letters (received_at, topic, reason, payload) VALUES (?, ?, ?, ?)",
        [(now, d.topic, d.reason, d.payload) for d in letters],
    )
    return IngestResult(acks, inserted, duplicates, rejected, len(letters), quarantined=held.flush(conn))


def _apply_status(conn: sqlite3.Connection, update: StatusUpdate, now: str) -> None:
    s = update.status
    clock = None if s.clock_ok is None else int(s.clock_ok)
    conn.execute(
        """INSERT INTO devices (device_id, location_id, first_seen, last_seen, online, version, backlog,
                                last_sync, clock_ok, held, status_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET location_id = excluded.location_id,
             last_seen = excluded.last_seen, online = excluded.online,
             version = coalesce(excluded.version, version), backlog = coalesce(excluded.backlog, backlog),
             last_sync = coalesce(excluded.last_sync, last_sync), clock_ok = coalesce(excluded.clock_ok, clock_ok),
             held = coalesce(excluded.held, held), status_at = excluded.status_at""",
        (s.device_id, s.location_id, now, now, int(s.online), s.version, s.backlog, s.last_sync, clock, s.held, now),
    )
