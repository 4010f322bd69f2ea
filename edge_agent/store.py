"""The device's local SQLite store: every tap is durable here before the shopper is thanked.

Two processes share the file: the kiosk (or panel, or CLI) records taps and
the sync agent reads pending ones and marks them synced when the hub acks.
WAL mode lets them work side by side; writes take the lock up front
(``BEGIN IMMEDIATE``) so neither ever fails half way with SQLITE_BUSY.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import msgspec

from edge_agent import clock
from edge_agent.migrate import enable_wal, migrate
from edge_agent.protocol import SCALES, SOURCES, Event, Invalid, convert, describe_error, format_ts
from edge_agent.store_schema import MIGRATIONS
from edge_agent.sync_state import PENDING, REJECTED, SYNCED

if TYPE_CHECKING:
    from edge_agent.config import DeviceConfig

# A pending tap the agent holds back for a trusted clock; params (boot_id, since_mono_ms). Strictly after:
# a tap exactly as old as the hold is sent, and a hold of 0 s holds nothing, even within one millisecond.
_HELD = "clock_ok = 0 AND boot_id IS ? AND mono_ms > ?"
BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class SyncCounts:
    pending: int
    synced: int
    rejected: int


class StoreError(RuntimeError):
    """The store cannot take a tap (locked, full disk, unreadable): never thank the shopper."""


class DeviceStore:
    """One connection to the device store; callers serialise access (the Recorder holds a lock)."""

    def __init__(
        self,
        path: Path | str,
        timezone: str = "UTC",
        *,
        synchronous: str = "FULL",
        clock_trust: clock.ClockTrust = "ntp",
    ) -> None:
        """``synchronous="NORMAL"`` is only for simulators back-filling history, never for real taps.

        ``clock_trust`` is the device's ``[clock] trust``: it decides the ``clock_ok`` of every tap.
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = Path(path)
        self.tz = ZoneInfo(timezone)
        self.timezone = timezone
        self.clock_trust: clock.ClockTrust = clock_trust
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            enable_wal(self.db)
            # FULL: a committed tap survives a power cut, not just a process crash.
            self.db.execute(f"PRAGMA synchronous = {synchronous}")
            migrate(self.db, MIGRATIONS, "device store")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open device store {self.path}: {exc}") from exc

    @classmethod
    def for_device(cls, config: DeviceConfig) -> DeviceStore:
        """The store of a device, with its time zone and clock trust: how every device process opens it."""
        return cls(config.store.path, config.timezone, clock_trust=config.clock.trust)

    def reopen(self) -> DeviceStore:
        """A second connection to the same store, with the same settings (for another thread)."""
        return DeviceStore(self.path, self.timezone, clock_trust=self.clock_trust)

    def clock_verdict(self) -> clock.ClockVerdict:
        """Whether the wall clock is trusted now, under this device's ``[clock] trust``."""
        return clock.verdict(self.clock_trust)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> DeviceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the lock from its first statement."""
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # --- recording ---------------------------------------------------------

    def record(
        self,
        value: int,
        question_id: str,
        scale: int,
        *,
        source: str = "touch",
        reason: str | None = None,
        misuse: bool = False,
        survey_version: int | None = None,
        hold_s: float = 0.0,
        now: datetime | None = None,
    ) -> Event:
        """Store one tap durably and return it; raise StoreError if it could not be stored.

        ``hold_s`` keeps the event from syncing for a while so a follow-up reason
        can still be attached to it (see :meth:`set_reason`).
        """
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        if not 0 <= value < scale:
            raise ValueError(f"value must be 0..{scale - 1} on a {scale}-point scale, got {value}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        now = (now or clock.now()).astimezone(UTC)  # clock.now(): the device's wall clock, right or wrong
        local = now.astimezone(self.tz)
        try:
            # Validate with the wire model before writing: a stored tap must be one the hub accepts.
            event = convert(
                {
                    "id": clock.uuid7(int(now.timestamp() * 1000)), "seq": 0, "ts": now, "tz": self.timezone,
                    "clock_ok": clock.clock_ok(self.clock_trust, now), "question_id": question_id, "scale": scale,
                    "value": value, "reason": reason, "source": source, "misuse": misuse,
                    "survey_version": survey_version, "boot_id": clock.boot_id(), "mono_ms": clock.monotonic_ms(),
                },
                Event,
            )  # fmt: skip
        except Invalid as exc:
            raise ValueError(f"tap not recorded: {describe_error(exc)}") from None
        hold_until = time.time() + hold_s if hold_s > 0 else None
        try:
            with self.write() as conn:
                cur = conn.execute(
                    """INSERT INTO events (id, ts, local_day, local_hour, tz, clock_ok, question_id, scale,
                       value, reason, source, misuse, survey_version, boot_id, mono_ms, hold_until)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    (
                        event.id, format_ts(now), local.date().isoformat(), local.hour, self.timezone,
                        int(event.clock_ok), question_id, scale, value, reason, source, int(misuse), survey_version,
                        event.boot_id, event.mono_ms, hold_until,
                    ),
                )  # fmt: skip
                seq = int(cur.lastrowid or 0)
                if not misuse:
                    conn.execute(
                        """INSERT INTO daily_counts (day, hour, question_id, scale, value, count)
                           VALUES (?,?,?,?,?,1)
                           ON CONFLICT DO UPDATE SET count = count + 1""",
                        (local.date().isoformat(), local.hour, question_id, scale, value),
                    )
        except sqlite3.Error as exc:
            raise StoreError(f"tap not stored in {self.path}: {exc}") from exc
        return msgspec.structs.replace(event, seq=seq)

    def set_reason(self, event_id: str, reason: str | None) -> bool:
        """Attach a follow-up reason to a tap not yet synced, and release its hold."""
        try:
            with self.write() as conn:
                cur = conn.execute(
                    "UPDATE events SET reason = ?, hold_until = NULL WHERE id = ? AND sync_state = 0",
                    (reason, event_id),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"reason not stored in {self.path}: {exc}") from exc
        return cur.rowcount == 1

    # --- sync --------------------------------------------------------------

    def pending_after(
        self, after_seq: int, limit: int, now: float | None = None, *, hold_unclocked: tuple[str, int] | None = None
    ) -> list[dict[str, object]]:
        """Up to ``limit`` pending events with seq above ``after_seq``, oldest first, as protocol dicts.

        ``hold_unclocked=(boot_id, since_mono_ms)`` keeps back taps of that boot recorded with an
        untrusted clock strictly after ``since_mono_ms``: they can still be re-dated (edge_agent/redate.py).
        """
        now = time.time() if now is None else now
        held = ""
        params: list[object] = [after_seq, now]
        if hold_unclocked is not None:
            held = f" AND NOT ({_HELD})"
            params += list(hold_unclocked)
        rows = self.db.execute(
            f"""SELECT id, seq, ts, tz, clock_ok, question_id, scale, value, reason, source, misuse,
                      survey_version, boot_id, mono_ms, redated
               FROM events WHERE sync_state = 0 AND seq > ? AND (hold_until IS NULL OR hold_until <= ?){held}
               ORDER BY seq LIMIT ?""",
            (*params, limit),
        ).fetchall()
        return [
            {
                "id": r[0], "seq": r[1], "ts": r[2], "tz": r[3], "clock_ok": bool(r[4]),
                "question_id": r[5], "scale": r[6], "value": r[7], "reason": r[8], "source": r[9],
                "misuse": bool(r[10]), "survey_version": r[11], "boot_id": r[12], "mono_ms": r[13],
                **({"redated": True} if r[14] else {}),  # optional on the wire: only when true
            }
            for r in rows
        ]  # fmt: skip

    def held_count(self, hold_unclocked: tuple[str, int]) -> int:
        """How many pending taps ``pending_after(hold_unclocked=...)`` keeps back for a trusted clock."""
        sql = f"SELECT COUNT(*) FROM events WHERE sync_state = 0 AND {_HELD}"
        return int(self.db.execute(sql, hold_unclocked).fetchone()[0])

    def mark_synced(self, ids: Sequence[str], now: datetime | None = None) -> int:
        """Mark events the hub has committed; returns how many changed state."""
        if not ids:
            return 0
        stamp = format_ts(now or datetime.now(UTC))
        with self.write() as conn:
            changed = 0
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                cur = conn.execute(
                    f"UPDATE events SET sync_state = {SYNCED}, synced_at = ?, hold_until = NULL "
                    f"WHERE sync_state = {PENDING} AND id IN ({marks})",
                    (stamp, *chunk),
                )
                changed += cur.rowcount
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('last_sync', ?) ON CONFLICT DO UPDATE SET value = ?",
                (stamp, stamp),
            )
        return changed

    def mark_rejected(self, rejections: Iterable[tuple[str, str]]) -> int:
        """Keep events the hub refused for good, with its reason: visible, never retried, never deleted."""
        with self.write() as conn:
            changed = 0
            for event_id, error in rejections:
                cur = conn.execute(
                    f"UPDATE events SET sync_state = {REJECTED}, sync_error = ? "
                    f"WHERE sync_state = {PENDING} AND id = ?",
                    (error[:500], event_id),
                )
                changed += cur.rowcount
        return changed

    def sync_counts(self) -> SyncCounts:
        rows = dict(self.db.execute("SELECT sync_state, COUNT(*) FROM events GROUP BY sync_state").fetchall())
        return SyncCounts(rows.get(PENDING, 0), rows.get(SYNCED, 0), rows.get(REJECTED, 0))

    def backlog(self) -> int:
        row = self.db.execute(f"SELECT COUNT(*) FROM events WHERE sync_state = {PENDING}").fetchone()
        return int(row[0])

    def last_sync(self) -> str | None:
        return self.meta("last_sync")

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Small shared state between the device's processes (agent status, pushed survey)."""
        with self.write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def prune(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete synced raw events older than the retention; daily counts are kept."""
        cutoff = format_ts((now or datetime.now(UTC)) - timedelta(days=retention_days))
        with self.write() as conn:
            cur = conn.execute(f"DELETE FROM events WHERE sync_state = {SYNCED} AND ts < ?", (cutoff,))
        return cur.rowcount

    # --- local history -----------------------------------------------------

    def day_counts(self, day: str, question_id: str | None = None) -> dict[tuple[str, int], list[int]]:
        """Counted answers of one local day: {(question_id, scale): counts by value}."""
        sql = "SELECT question_id, scale, value, SUM(count) FROM daily_counts WHERE day = ?"
        params: list[object] = [day]
        if question_id is not None:
            sql += " AND question_id = ?"
            params.append(question_id)
        out: dict[tuple[str, int], list[int]] = {}
        for qid, scale, value, count in self.db.execute(sql + " GROUP BY 1, 2, 3", params).fetchall():
            out.setdefault((qid, scale), [0] * scale)[value] = int(count)
        return out

    def range_counts(self, first_day: str, last_day: str) -> dict[tuple[str, int], list[int]]:
        """Counted answers over local days ``first_day..last_day``: {(question_id, scale): counts}."""
        out: dict[tuple[str, int], list[int]] = {}
        rows = self.db.execute(
            "SELECT question_id, scale, value, SUM(count) FROM daily_counts WHERE day BETWEEN ? AND ? GROUP BY 1, 2, 3",
            (first_day, last_day),
        ).fetchall()
        for qid, scale, value, count in rows:
            out.setdefault((qid, scale), [0] * scale)[value] = int(count)
        return out

    def hour_counts(self, day: str, question_id: str) -> dict[int, list[int]]:
        """Counted answers of one question per local hour of ``day``: {hour: counts}."""
        out: dict[int, list[int]] = {}
        rows = self.db.execute(
            "SELECT hour, scale, value, count FROM daily_counts WHERE day = ? AND question_id = ?",
            (day, question_id),
        ).fetchall()
        for hour, scale, value, count in rows:
            out.setdefault(int(hour), [0] * scale)[value] += int(count)
        return out

    def negative_reasons(self, first_day: str, last_day: str, limit: int = 5) -> list[tuple[str, int]]:
        """Most given follow-up reasons behind negative answers (bottom two, or 0-6 on 0-10)."""
        rows = self.db.execute(
            """SELECT reason, COUNT(*) FROM events
               WHERE local_day BETWEEN ? AND ? AND misuse = 0 AND reason IS NOT NULL
                 AND value <= CASE WHEN scale = 11 THEN 6 ELSE 1 END
               GROUP BY reason ORDER BY COUNT(*) DESC, reason LIMIT ?""",
            (first_day, last_day, limit),
        ).fetchall()
        return [(str(r), int(n)) for r, n in rows]

    def today(self) -> str:
        return datetime.now(self.tz).date().isoformat()


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
