"""One ingest transaction's quarantine screen (the rules are in :mod:`hub.domain.quarantine`), on either backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from edge_agent.clock import EARLIEST_PLAUSIBLE
from edge_agent.protocol import Event, format_ts
from hub.domain.quarantine import FUTURE_TOLERANCE, verdict
from hub.localtime import local_day_hour
from hub.storage.base import IncomingBatch
from hub.storage.sql.db import Conn, rows_in

_COLUMNS = (
    "id, device_id, location_id, seq, ts, claimed_day, claimed_hour, tz, clock_ok, question_id, scale, value, "
    "reason, source, misuse, survey_version, boot_id, mono_ms, batch_id, received_at, cause, detail"
)
_INSERT = f"INSERT INTO quarantine ({_COLUMNS}) VALUES ({','.join('?' * 22)}) ON CONFLICT (id) DO NOTHING"


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
    def load(cls, conn: Conn, batches: list[IncomingBatch], received_at: datetime) -> Screen:
        screen = cls(received_at)
        if not batches:
            return screen
        if conn.execute("SELECT max(pk) FROM quarantine").fetchone()[0] is not None:  # O(1); usually empty
            ids = [e.id for b in batches for e in b.events]
            screen.known.update(r[0] for r in rows_in(conn, "SELECT id FROM quarantine WHERE id IN ({marks})", ids))
        devices = sorted({b.device_id for b in batches})
        accounts = (
            "SELECT a.username, a.created_at, d.first_seen FROM broker_accounts AS a "
            "LEFT JOIN devices AS d ON d.device_id = a.username "
            "WHERE a.role = 'device' AND a.username IN ({marks})"
        )
        for username, created, first_seen in rows_in(conn, accounts, devices):
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

    def flush(self, conn: Conn) -> int:
        """Insert the queued rows (inside the caller's ingest transaction); return how many."""
        conn.executemany(_INSERT, self.rows)
        return len(self.rows)
