"""SQLite implementation of the hub's :class:`~hub.storage.base.Storage`.

One writer connection (the ingest worker's) and one read connection per API
thread. WAL lets readers see committed data without ever blocking ingest.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from edge_agent.migrate import enable_wal, migrate
from edge_agent.protocol import format_ts
from hub.storage.base import (
    DeadLetter,
    IncomingBatch,
    IngestResult,
    Role,
    StatusUpdate,
    TokenInfo,
)
from hub.storage.sqlite_alert_reads import SqliteAlertReads  # what the alert evaluator reads
from hub.storage.sqlite_alerts import SqliteAlerts
from hub.storage.sqlite_analytics import SqliteAnalytics  # scores, locations, reasons, export
from hub.storage.sqlite_ingest import ingest_transaction
from hub.storage.sqlite_quarantine import SqliteQuarantine  # reading the quarantine (untrusted timestamps)
from hub.storage.sqlite_registry import SqliteRegistryMixin
from hub.storage.sqlite_schema import MIGRATIONS
from hub.storage.sqlite_sessions import SqliteSessions
from hub.storage.sqlite_surveys import SqliteSurveys

BUSY_TIMEOUT_MS = 15_000
TOKEN_PREFIX = "tp_"


def hash_token(secret: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe, fast lookup key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # FULL: an ack tells the device it may forget the events, so a commit must survive
    # a power cut, not only a crash. Group commit amortises the fsync over many batches.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class SqliteStorage(
    SqliteSessions,
    SqliteSurveys,
    SqliteAlerts,
    SqliteAlertReads,
    SqliteRegistryMixin,
    SqliteAnalytics,
    SqliteQuarantine,
):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = _connect(self.path)
        enable_wal(self._writer)
        migrate(self._writer, MIGRATIONS, "hub")
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    # --- connections --------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            self._readers.append(conn)
        return cast(sqlite3.Connection, conn)

    def close(self) -> None:
        for conn in [self._writer, *self._readers]:
            conn.close()

    def _write(self) -> _WriteTxn:
        return _WriteTxn(self._writer, self._write_lock)

    # --- ingest -------------------------------------------------------------

    def ingest(
        self,
        batches: list[IncomingBatch],
        statuses: list[StatusUpdate],
        dead_letters: list[DeadLetter],
        received_at: datetime,
    ) -> IngestResult:
        with self._write() as conn:
            return ingest_transaction(conn, batches, statuses, dead_letters, received_at)

    # --- queries ------------------------------------------------------------

    def _dicts(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, object]]:
        cur = self._reader().execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def devices(self) -> list[dict[str, object]]:
        rows = self._dicts(
            "SELECT device_id, location_id, online, version, backlog, last_sync, clock_ok, held, first_seen, "
            "last_seen, status_at, last_batch_id, last_batch_at, events_received FROM devices ORDER BY device_id"
        )
        for row in rows:
            for flag in ("online", "clock_ok"):
                if row[flag] is not None:
                    row[flag] = bool(row[flag])
        return rows

    def dead_letter_list(self, limit: int) -> list[dict[str, object]]:
        rows = self._dicts(
            "SELECT pk AS id, received_at, topic, reason, payload FROM dead_letters ORDER BY pk DESC LIMIT ?",
            (limit,),
        )
        for row in rows:
            raw = cast(bytes, row.pop("payload"))
            row["payload_bytes"] = len(raw)
            row["payload_preview"] = raw[:200].decode("utf-8", errors="replace")
        return rows

    def counts(self) -> dict[str, int]:
        conn = self._reader()
        out = {}
        for table in ("events", "dead_letters", "devices", "locations"):
            out[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        out["devices_online"] = int(conn.execute("SELECT COUNT(*) FROM devices WHERE online = 1").fetchone()[0])
        return out

    # --- tokens -------------------------------------------------------------

    def create_token(self, name: str, role: Role, region: str | None) -> tuple[TokenInfo, str]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = format_ts(datetime.now(UTC))
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO tokens (name, role, region, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, role, region, hash_token(secret), created),
            )
        return TokenInfo(int(cur.lastrowid or 0), name, role, region, created), secret

    def verify_token(self, secret: str) -> TokenInfo | None:
        row = (
            self._reader()
            .execute(
                "SELECT token_id, name, role, region, created_at FROM tokens "
                "WHERE token_hash = ? AND revoked_at IS NULL",
                (hash_token(secret),),
            )
            .fetchone()
        )
        return None if row is None else TokenInfo(row[0], row[1], row[2], row[3], row[4])

    def list_tokens(self) -> list[TokenInfo]:
        rows = self._reader().execute(
            "SELECT token_id, name, role, region, created_at, revoked_at FROM tokens ORDER BY token_id"
        )
        return [TokenInfo(*r) for r in rows]

    def revoke_token(self, token_id: int) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (format_ts(datetime.now(UTC)), token_id),
            )
        return cur.rowcount == 1


class _WriteTxn:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on the writer connection, one thread at a time."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self.conn = conn
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
            elif self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            self.lock.release()
