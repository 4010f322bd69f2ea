"""Quarantine: events whose timestamp the hub cannot trust are kept and shown, never counted.

A tap counted on a wrong local day is silently wrong; a tap held apart is
visibly pending a decision. Devices re-date what they can (edge_agent/redate.py);
the hub quarantines an event, inside the ingest transaction, when

- ``clock_ok`` is false: the device never trusted its clock for this tap and
  could not re-date it (it was recorded in an earlier boot);
- its ``ts`` is more than :data:`FUTURE_TOLERANCE` after the hub received it;
- its ``ts`` is before :data:`EARLIEST_PLAUSIBLE` (2025-01-01), or before the
  device was provisioned (``touchpoint-hub device add``), less the tolerance.
  A device the hub heard from before it was registered (``--registry open``)
  existed then: its floor is that first contact instead.

``devices.first_seen`` alone is deliberately not a floor: a device offline since
installation sends days of genuine history on first contact.

A quarantined event is acked as accepted (the hub has it; the device may
forget it), is a duplicate if it comes again, and never reaches ``events`` or
the rollups. ``GET /api/v1/quarantine`` (admin) lists them with their cause.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from edge_agent.clock import EARLIEST_PLAUSIBLE
from edge_agent.protocol import Event, format_ts
from hub.localtime import local_day_hour
from hub.storage.base import IncomingBatch

Cause = Literal["clock_not_ok", "future", "before_floor", "before_provisioning"]
CAUSES: tuple[Cause, ...] = ("clock_not_ok", "future", "before_floor", "before_provisioning")
FUTURE_TOLERANCE = timedelta(minutes=10)

_COLUMNS = (
    "id, device_id, location_id, seq, ts, claimed_day, claimed_hour, tz, clock_ok, question_id, scale, value, "
    "reason, source, misuse, survey_version, boot_id, mono_ms, batch_id, received_at, cause, detail"
)
_INSERT = f"INSERT INTO quarantine ({_COLUMNS}) VALUES ({','.join('?' * 22)}) ON CONFLICT (id) DO NOTHING"


@dataclass(frozen=True)
class Verdict:
    cause: Cause
    detail: str


def verdict(event: Event, received_at: datetime, provisioned_at: datetime | None = None) -> Verdict | None:
    """Why ``event``'s timestamp cannot be trusted, or None when it can be counted on its day."""
    if not event.clock_ok:
        return Verdict("clock_not_ok", "the device did not trust its clock and could not re-date the tap")
    if event.ts > received_at + FUTURE_TOLERANCE:
        ahead = event.ts - received_at
        return Verdict("future", f"ts {format_ts(event.ts)} is {_span(ahead)} after the hub received it")
    if event.ts < EARLIEST_PLAUSIBLE:
        return Verdict("before_floor", f"ts {format_ts(event.ts)} is before {EARLIEST_PLAUSIBLE.date()}")
    if provisioned_at is not None and event.ts < provisioned_at - FUTURE_TOLERANCE:
        return Verdict(
            "before_provisioning",
            f"ts {format_ts(event.ts)} is before the device was provisioned ({format_ts(provisioned_at)})",
        )
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds // 60} min"


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None


@dataclass
class Screen:
    """One ingest transaction's quarantine: what is already held, provisioning times, rows to add."""

    received_at: datetime
    known: set[str] = field(default_factory=set)  # ids already in quarantine: duplicates if they come again
    provisioned: dict[str, datetime] = field(default_factory=dict)
    rows: list[tuple[object, ...]] = field(default_factory=list)

    @classmethod
    def load(cls, conn: sqlite3.Connection, batches: list[IncomingBatch], received_at: datetime) -> Screen:
        screen = cls(received_at)
        if not batches:
            return screen
        if conn.execute("SELECT max(pk) FROM quarantine").fetchone()[0] is not None:  # O(1); usually empty
            ids = [e.id for b in batches for e in b.events]
            for chunk in _chunks(ids):
                sql = f"SELECT id FROM quarantine WHERE id IN ({','.join('?' * len(chunk))})"
                screen.known.update(r[0] for r in conn.execute(sql, chunk))
        devices = sorted({b.device_id for b in batches})
        for chunk in _chunks(devices):
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT a.username, a.created_at, d.first_seen FROM broker_accounts AS a "
                "LEFT JOIN devices AS d ON d.device_id = a.username "
                f"WHERE a.role = 'device' AND a.username IN ({marks})"
            )
            for username, created, first_seen in conn.execute(sql, chunk):
                stamps = [t for t in (_parse(str(created)), _parse(str(first_seen or ""))) if t is not None]
                if stamps:
                    screen.provisioned[str(username)] = min(stamps)
        return screen

    def trusted_span(self, device_id: str) -> tuple[datetime, datetime]:
        """(earliest, latest) ``ts`` that ``verdict`` trusts for this device's events with ``clock_ok``.

        Lets ingest clear a whole batch with one min() and max() instead of a verdict per event.
        """
        floor = EARLIEST_PLAUSIBLE
        provisioned = self.provisioned.get(device_id)
        if provisioned is not None:
            floor = max(floor, provisioned - FUTURE_TOLERANCE)
        return floor, self.received_at + FUTURE_TOLERANCE

    def divert(self, batch: IncomingBatch, event: Event, zone: ZoneInfo, received: str) -> bool:
        """Queue ``event`` for quarantine and return True if its timestamp cannot be trusted."""
        found = verdict(event, self.received_at, self.provisioned.get(batch.device_id))
        if found is None:
            return False
        try:
            day, hour = local_day_hour(event.ts, zone)
        except OverflowError:  # year 1 or 9999 shifted out of the calendar: show the UTC day
            day, hour = event.ts.date().isoformat(), event.ts.hour
        self.rows.append(
            (
                event.id, batch.device_id, batch.location_id, event.seq, format_ts(event.ts), day, hour, event.tz,
                int(event.clock_ok), event.question_id, event.scale, event.value, event.reason, event.source,
                int(event.misuse), event.survey_version, event.boot_id, event.mono_ms, batch.batch_id, received,
                found.cause, found.detail,
            )
        )  # fmt: skip
        return True

    def flush(self, conn: sqlite3.Connection) -> int:
        """Insert the queued rows (inside the caller's ingest transaction); return how many."""
        conn.executemany(_INSERT, self.rows)
        return len(self.rows)
