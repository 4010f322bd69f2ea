"""What one ingest transaction does on either backend, apart from inserting the events themselves.

Idempotency is decided per event: an event id already stored is a duplicate
(acked again, counted once); a new id reusing a (device, seq) already taken is
rejected with its reason. Rollups (answers by day and hour, follow-up reasons
by polarity) are incremented only for newly inserted, non-misuse events, in the
same transaction, so they can never drift from the events table.

Rows that several hub workers may update at once (devices, locations, rollups)
are written in one fixed order, sorted by key, so two workers' transactions
wait for each other instead of deadlocking.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, groupby
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.protocol import Ack, Event, Rejection, format_ts, topic
from edge_agent.scores import polarity
from hub.localtime import zone
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.sql.db import Conn, rows_in
from hub.storage.sql.rows import (
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
    Row,
)
from hub.storage.sql.schema import MONTH_VALUE_COLUMNS
from hub.storage.sql.screen import Screen

DayKey = tuple[str, str, str, int, int]  # (location, question, day, scale, value)
MonthKey = tuple[str, str, str, int, int]  # (location, question, month 'YYYY-MM', scale, value)
HourKey = tuple[str, str, str, int, int, int]  # (location, question, day, hour, scale, value)
ReasonKey = tuple[str, str, str, str, str]  # (location, question, day, polarity, reason)


@dataclass(frozen=True)
class Rollup:
    """A rollup table: the columns of its keys (as :class:`IngestRun` counts them), then its counts.

    ``counts`` is ``count`` alone, or one column per answer value (the monthly rollup, :func:`by_value`).
    """

    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # its primary key, the conflict target
    counts: tuple[str, ...] = ("count",)

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.columns, *self.counts)

    @property
    def add(self) -> str:
        """The clause that adds a row's counts to the stored row of the same key."""
        keys = ", ".join(self.key)
        added = ", ".join(f"{c} = {self.table}.{c} + excluded.{c}" for c in self.counts)
        return f"ON CONFLICT ({keys}) DO UPDATE SET {added}"

    @property
    def sql(self) -> str:
        """One row's upsert, for executemany."""
        marks = ",".join("?" * len(self.names))
        return f"INSERT INTO {self.table} ({', '.join(self.names)}) VALUES ({marks}) {self.add}"


DAY = Rollup("rollup_day", ("location_id", "question_id", "day", "scale", "value"),
             ("location_id", "day", "question_id", "scale", "value"))  # fmt: skip
HOUR = Rollup("rollup_hour", ("location_id", "question_id", "day", "hour", "scale", "value"),
              ("location_id", "day", "hour", "question_id", "scale", "value"))  # fmt: skip
MONTH = Rollup("rollup_month", ("location_id", "question_id", "month", "scale"),
               ("location_id", "month", "question_id", "scale"), MONTH_VALUE_COLUMNS)  # fmt: skip
REASON = Rollup("rollup_reason", ("location_id", "question_id", "day", "polarity", "reason"),
                ("location_id", "day", "question_id", "polarity", "reason"))  # fmt: skip
ROLLUP_DAY, ROLLUP_HOUR, ROLLUP_MONTH, ROLLUP_REASON = DAY.sql, HOUR.sql, MONTH.sql, REASON.sql
DEVICE_BATCH = """INSERT INTO devices (device_id, location_id, first_seen, last_seen, last_batch_id, last_batch_at,
                                   events_received)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
                 location_id = excluded.location_id, last_batch_id = excluded.last_batch_id,
                 last_batch_at = excluded.last_batch_at,
                 events_received = devices.events_received + excluded.events_received"""
DEVICE_STATUS = """INSERT INTO devices (device_id, location_id, first_seen, last_seen, online, version, backlog,
                                last_sync, clock_ok, held, status_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id) DO UPDATE SET location_id = excluded.location_id,
             last_seen = excluded.last_seen, online = excluded.online,
             version = coalesce(excluded.version, devices.version),
             backlog = coalesce(excluded.backlog, devices.backlog),
             last_sync = coalesce(excluded.last_sync, devices.last_sync),
             clock_ok = coalesce(excluded.clock_ok, devices.clock_ok),
             held = coalesce(excluded.held, devices.held), status_at = excluded.status_at"""


def by_key(counts: Counter[Any]) -> list[Row]:
    """Counts per key as rollup rows (the key, then ``count``), sorted by key."""
    return [(*key, n) for key, n in sorted(counts.items())]


def by_value(counts: Counter[MonthKey]) -> list[Row]:
    """Counts per (location, question, month, scale, value) as monthly rollup rows: the key, then a count
    per answer value (``v0`` .. ``v10``), sorted by key."""
    pivoted: dict[tuple[str, str, str, int], list[int]] = {}
    width = len(MONTH_VALUE_COLUMNS)
    for (location, question, month, scale, value), n in counts.items():
        key = (location, question, month, scale)
        row = pivoted.get(key)
        if row is None:
            row = pivoted[key] = [0] * width
        row[value] += n
    return [(*key, *pivoted[key]) for key in sorted(pivoted)]


def existing_ids(conn: Conn, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are stored in events already."""
    return {row[0] for row in rows_in(conn, "SELECT id FROM events WHERE id IN ({marks})", ids)}


def plain(cols: Columns, taken: set[str], held: Screen, device_id: str) -> bool:
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


def sort_out(
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


@dataclass
class IngestRun:
    """One ingest call's state: what is taken, what to count, the devices touched, the acks so far."""

    batches: list[IncomingBatch]
    statuses: list[StatusUpdate]
    received_at: datetime
    letters: list[DeadLetter]
    now: str = ""
    zones: dict[str, str] = field(default_factory=dict)
    held: Screen | None = None
    taken: set[str] = field(default_factory=set)
    days: Counter[DayKey] = field(default_factory=Counter)
    hours: Counter[HourKey] = field(default_factory=Counter)
    months: Counter[MonthKey] = field(default_factory=Counter)
    reasons: Counter[ReasonKey] = field(default_factory=Counter)
    devices: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # device -> (location, batch, events)
    acks: list[Ack] = field(default_factory=list)
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def begin(self, conn: Conn) -> Screen:
        """Zones of the batches' locations (new ones registered) and the quarantine screen."""
        self.now = format_ts(self.received_at)
        self.zones = self._location_zones(conn) if self.batches else {}
        self.held = Screen.load(conn, self.batches, self.received_at)  # untrusted timestamps: apart, never counted
        self.taken = set(self.held.known)  # ids stored before (found when needed), held, or earlier in this call
        return self.held

    def zone_of(self, b: IncomingBatch) -> ZoneInfo:
        tz = zone(self.zones.get(b.location_id, "UTC")) or zone("UTC")
        assert tz is not None
        return tz

    def _location_zones(self, conn: Conn) -> dict[str, str]:
        """Each location's registered zone; a location seen first here takes its events' zone."""
        wanted = sorted({b.location_id for b in self.batches})
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT location_id, timezone FROM locations WHERE location_id IN ({marks})"
        zones = {str(r[0]): str(r[1]) for r in conn.execute(sql, wanted).fetchall()}
        for location_id in wanted:
            if location_id in zones:
                continue
            events = [e for b in self.batches if b.location_id == location_id for e in b.events]
            if events:
                tz = next((e.tz for e in events if zone(e.tz) is not None), "UTC")
                conn.execute(
                    "INSERT INTO locations (location_id, timezone, timezone_source, created_at) "
                    "VALUES (?, ?, 'events', ?) ON CONFLICT (location_id) DO NOTHING",
                    (location_id, tz, self.now),
                )
                zones[location_id] = tz
        return zones

    def refuse(self, b: IncomingBatch, rows: BatchRows, values: Row) -> Rejection:
        """A new event id reusing a stored (device, seq): rejected, and a dead letter says which."""
        event_id = str(values[E_ID])
        error = f"seq {values[E_SEQ]} of device {b.device_id} was already used by another event id"
        self.taken.discard(event_id)  # never stored, so a later copy is not a duplicate
        events_topic = topic(b.location_id, b.device_id, "events")
        row = dict(zip((*BATCH_COLUMNS, *EVENT_COLUMNS), (*rows.constants(), *values), strict=True))
        self.letters.append(DeadLetter(events_topic, f"event {event_id}: {error}", repr(row).encode()))
        return Rejection(id=event_id, error=error)

    def done(
        self, b: IncomingBatch, good: BatchRows, dupes: list[str], accepted: list[str], refused: list[Rejection]
    ) -> None:
        """The batch's stored rows are in: count them, note the device, and ack."""
        self.taken.update(good.ids)
        accepted.extend(good.ids)
        self._count(good)
        _, _, before = self.devices.get(b.device_id, ("", "", 0))
        self.devices[b.device_id] = (b.location_id, b.batch_id, before + len(good))
        refused = [*b.rejected, *refused]
        self.inserted += len(good)
        self.duplicates += len(dupes)
        self.rejected += len(refused)
        self.acks.append(Ack(batch_id=b.batch_id, accepted=accepted, duplicates=dupes, rejected=refused))

    def _count(self, rows: BatchRows) -> None:
        """Add the batch's counted events (misuse is stored, never counted) to the rollups, counted in C."""
        c = rows.cols
        counted = list(map(operator.not_, c[E_MISUSE]))
        by_hour = Counter(
            compress(zip(c[E_QUESTION], c[E_DAY], c[E_HOUR], c[E_SCALE], c[E_VALUE], strict=True), counted)
        )
        loc, hours, days, months = rows.location_id, self.hours, self.days, self.months
        for (question, day, hour, scale, value), n in by_hour.items():
            hours[(loc, question, day, hour, scale, value)] += n
            days[(loc, question, day, scale, value)] += n
            months[(loc, question, day[:7], scale, value)] += n
        given = compress(zip(c[E_QUESTION], c[E_DAY], c[E_SCALE], c[E_VALUE], c[E_REASON], strict=True), counted)
        for question, day, scale, value, reason in given:
            if reason and reason.strip():  # the follow-up reason, if the shopper gave one
                self.reasons[(loc, question, day, polarity(value, scale), reason)] += 1

    def finish(self, conn: Conn) -> IngestResult:
        """Devices, rollups, dead letters and quarantine, each in sorted key order; the caller commits."""
        self._write_devices(conn)
        self._write_rollups(conn)
        now = self.now
        conn.executemany(
            "INSERT INTO dead_letters (received_at, topic, reason, payload) VALUES (?, ?, ?, ?)",
            [(now, d.topic, d.reason, d.payload) for d in self.letters],
        )
        assert self.held is not None
        quarantined = self.held.flush(conn)
        return IngestResult(
            self.acks, self.inserted, self.duplicates, self.rejected, len(self.letters), quarantined=quarantined
        )

    def rollup_rows(self) -> list[tuple[Rollup, list[Row]]]:
        """Each rollup table's rows to add, sorted by key: every worker takes the rows' locks in one order."""
        return [(DAY, by_key(self.days)), (HOUR, by_key(self.hours)), (MONTH, by_value(self.months)),
                (REASON, by_key(self.reasons))]  # fmt: skip

    def _write_rollups(self, conn: Conn) -> None:
        for rollup, rows in self.rollup_rows():
            conn.executemany(rollup.sql, rows)

    def _write_devices(self, conn: Conn) -> None:
        """One pass over the devices in id order: its batches' totals, then its statuses in arrival order."""
        now = self.now
        statuses: dict[str, list[StatusUpdate]] = {}
        for update in self.statuses:
            statuses.setdefault(update.status.device_id, []).append(update)
        steps: list[tuple[str, tuple[object, ...]]] = []
        for device_id in sorted(self.devices.keys() | statuses.keys()):
            if device_id in self.devices:
                location_id, batch_id, n = self.devices[device_id]
                steps.append((DEVICE_BATCH, (device_id, location_id, now, now, batch_id, now, n)))
            for update in statuses.get(device_id, []):
                s = update.status
                clock = None if s.clock_ok is None else int(s.clock_ok)
                row = (s.device_id, s.location_id, now, now, int(s.online), s.version, s.backlog, s.last_sync, clock,
                       s.held, now)  # fmt: skip
                steps.append((DEVICE_STATUS, row))
        for sql, group in groupby(steps, key=itemgetter(0)):
            conn.executemany(sql, [params for _, params in group])
