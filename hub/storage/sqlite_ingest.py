"""One ingest transaction on SQLite: events, rollups, devices and dead letters together.

Idempotency is decided here: an event id already stored is a duplicate (acked
again, counted once); a new id reusing a (device, seq) already taken is
rejected with its reason. Rollups are incremented only for newly inserted,
non-misuse events, in the same transaction, so they can never drift from
the events table.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime

from edge_agent.protocol import Ack, Rejection, format_ts, topic
from hub.localtime import local_day_hour, zone
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate

_EVENT_COLUMNS = (
    "id, device_id, location_id, seq, ts, local_day, local_hour, tz, clock_ok, question_id, scale, value, "
    "reason, source, misuse, survey_version, boot_id, mono_ms, batch_id, received_at"
)
_INSERT_EVENT = f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({','.join('?' * 20)})"


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
    seen: set[str] = set()
    day_counts: Counter[tuple[str, str, str, int, int]] = Counter()
    hour_counts: Counter[tuple[str, str, str, int, int, int]] = Counter()
    acks: list[Ack] = []
    letters = list(dead_letters)
    inserted = duplicates = rejected = 0
    for b in batches:
        tz = zone(zones.get(b.location_id, "UTC")) or zone("UTC")
        assert tz is not None
        accepted: list[str] = []
        dupes: list[str] = []
        refused = list(b.rejected)
        rows = []
        for e in b.events:
            if e.id in existing or e.id in seen:
                dupes.append(e.id)
                continue
            seen.add(e.id)
            day, hour = local_day_hour(e.ts, tz)
            rows.append(
                (
                    e.id, b.device_id, b.location_id, e.seq, format_ts(e.ts), day, hour, e.tz, int(e.clock_ok),
                    e.question_id, e.scale, e.value, e.reason, e.source, int(e.misuse), e.survey_version,
                    e.boot_id, e.mono_ms, b.batch_id, now,
                )
            )  # fmt: skip
        try:
            conn.execute("SAVEPOINT batch")
            conn.executemany(_INSERT_EVENT, rows)
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
                    seen.discard(str(row[0]))  # never stored, so a later copy is not a duplicate
                    events_topic = topic(b.location_id, b.device_id, "events")
                    letters.append(DeadLetter(events_topic, f"event {row[0]}: {error}", repr(row).encode()))
        for row in good:
            accepted.append(str(row[0]))
            if not row[14]:  # misuse answers are stored but never counted
                day_counts[(b.location_id, str(row[9]), str(row[5]), int(row[10]), int(row[11]))] += 1
                hour_counts[(b.location_id, str(row[9]), str(row[5]), int(row[6]), int(row[10]), int(row[11]))] += 1
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
    for s in statuses:
        _apply_status(conn, s, now)
    conn.executemany(
        "INSERT INTO dead_letters (received_at, topic, reason, payload) VALUES (?, ?, ?, ?)",
        [(now, d.topic, d.reason, d.payload) for d in letters],
    )
    return IngestResult(acks, inserted, duplicates, rejected, len(letters))


def _apply_status(conn: sqlite3.Connection, update: StatusUpdate, now: str) -> None:
    s = update.status
    clock = None if s.clock_ok is None else int(s.clock_ok)
    conn.execute(
        """INSERT INTO devices (device_id, location_id, first_seen, last_seen, online, version, backlog,
                                last_sync, clock_ok, status_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET location_id = excluded.location_id,
             last_seen = excluded.last_seen, online = excluded.online,
             version = coalesce(excluded.version, version), backlog = coalesce(excluded.backlog, backlog),
             last_sync = coalesce(excluded.last_sync, last_sync), clock_ok = coalesce(excluded.clock_ok, clock_ok),
             status_at = excluded.status_at""",
        (s.device_id, s.location_id, now, now, int(s.online), s.version, s.backlog, s.last_sync, clock, now),
    )
