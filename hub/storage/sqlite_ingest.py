"""One ingest transaction on SQLite: events, rollups, devices and dead letters together.

Idempotency is decided here: an event id already stored is a duplicate (acked
again, counted once); a new id reusing a (device, seq) already taken is
rejected with its reason. Rollups (answers by day and hour, follow-up reasons
by polarity) are incremented only for newly inserted, non-misuse events, in
the same transaction, so they can never drift from the events table.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain, filterfalse
from operator import itemgetter
from zoneinfo import ZoneInfo

from edge_agent.protocol import Ack, Event, Rejection, format_ts, topic
from edge_agent.scores import polarity
from hub.localtime import zone
from hub.quarantine import Screen
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.sqlite_rows import CLOCK_OK, EVENT_COLUMNS, ID, TS, Columns, Row, columns, event_rows

_INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({','.join('?' * 20)})"
# Row fields by position in EVENT_COLUMNS: id, misuse, reason, and the rollup keys without the location.
_ID, _MISUSE, _REASON = itemgetter(0), itemgetter(14), itemgetter(12)
_DAY_KEY, _HOUR_KEY = itemgetter(9, 5, 10, 11), itemgetter(9, 5, 6, 10, 11)
_ROW_MARKS = f"({','.join('?' * (EVENT_COLUMNS.count(',') + 1))})"
_ROWS_PER_INSERT = 100
_INSERTS: dict[int, str] = {}


def _insert_events(conn: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """``executemany(_INSERT_EVENT, rows)`` as one multi-row INSERT per 100 rows, with the same outcome.

    executemany steps SQLite once per row, releasing and retaking the GIL each time; while paho's network
    thread is reading the next messages, each retake waits for it.
    """
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        sql = _INSERTS.get(len(chunk))
        if sql is None:
            sql = _INSERTS[len(chunk)] = (
                f"INSERT INTO events ({EVENT_COLUMNS}) VALUES {','.join([_ROW_MARKS] * len(chunk))}"
            )
        conn.execute(sql, list(chain.from_iterable(chunk)))


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing_ids(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
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


def _sort_out(
    b: IncomingBatch, taken: set[str], held: Screen, tz: ZoneInfo, now: str
) -> tuple[Columns, list[str], list[str]]:
    """(columns of the events to insert, duplicate ids, ids accepted into quarantine) of one batch.

    Usually every event is new and its timestamp trusted: that is checked for the whole batch in C.
    Otherwise each event is sorted out in turn. Ids taken here are added to ``taken``.
    """
    cols = columns(b.events)
    ids = cols[ID]
    earliest, latest = held.trusted_span(b.device_id)
    if (
        taken.isdisjoint(ids)
        and len(set(ids)) == len(ids)
        and all(cols[CLOCK_OK])
        and (not ids or (earliest <= min(cols[TS]) and max(cols[TS]) <= latest))
    ):
        taken.update(ids)
        return cols, [], []
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
    return columns(fresh), dupes, accepted


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
    existing = _existing_ids(conn, [e.id for b in batches for e in b.events])
    held = Screen.load(conn, batches, received_at)  # untrusted timestamps: stored apart, never counted
    taken = existing | held.known  # stored before (events or quarantine), or earlier in this transaction
    day_counts: Counter[tuple[str, str, str, int, int]] = Counter()
    hour_counts: Counter[tuple[str, str, str, int, int, int]] = Counter()
    reason_counts: Counter[tuple[str, str, str, str, str]] = Counter()  # (location, question, day, polarity, reason)
    acks: list[Ack] = []
    letters = list(dead_letters)
    inserted = duplicates = rejected = 0
    for b in batches:
        tz = zone(zones.get(b.location_id, "UTC")) or zone("UTC")
        assert tz is not None
        cols, dupes, accepted = _sort_out(b, taken, held, tz, now)
        rows = event_rows(b.device_id, b.location_id, b.batch_id, cols, tz, now)
        refused = list(b.rejected)
        try:
            conn.execute("SAVEPOINT batch")
            _insert_events(conn, rows)
            conn.execute("RELEASE batch")
            good = rows
        except sqlite3.IntegrityError:
            # Rare: a new id reusing a (device, seq) already stored. Find which, row by row.
            conn.execute("ROLLBACK TO batch")
            conn.execute("RELEASE batch")
            good = []
            for row in rows:
                try:
                    conn.execute(_INSERT_EVENT, row)
                    good.append(row)
                except sqlite3.IntegrityError:
                    error = f"seq {row[3]} of device {b.device_id} was already used by another event id"
                    refused.append(Rejection(id=str(row[0]), error=error))
                    taken.discard(str(row[0]))  # never stored, so a later copy is not a duplicate
                    events_topic = topic(b.location_id, b.device_id, "events")
                    letters.append(DeadLetter(events_topic, f"event {row[0]}: {error}", repr(row).encode()))
        accepted.extend(map(_ID, good))
        counted = list(filterfalse(_MISUSE, good))  # misuse answers are stored but never counted
        for key, n in Counter(map(_DAY_KEY, counted)).items():  # counted per batch in C, then per location
            day_counts[(b.location_id, *key)] += n
        for key, n in Counter(map(_HOUR_KEY, counted)).items():
            hour_counts[(b.location_id, *key)] += n
        for row in filter(_REASON, counted):  # the follow-up reason, if the shopper gave one
            if str(row[12]).strip():
                mood = polarity(int(row[11]), int(row[10]))
                reason_counts[(b.location_id, str(row[9]), str(row[5]), mood, str(row[12]))] += 1
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
