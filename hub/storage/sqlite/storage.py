"""SQLite implementation of the hub's :class:`~hub.storage.base.Storage`.

One writer connection (the ingest worker's) and one read connection per API
thread. WAL lets readers see committed data without ever blocking ingest. The
SQL itself is shared with PostgreSQL (:mod:`hub.storage.sql`); this module holds
only the connections, the event inserts and the export cursor.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import cast

from edge_agent.migrate import enable_wal, migrate
from hub.storage.base import DeadLetter, IncomingBatch, IngestResult, StatusUpdate
from hub.storage.base_analytics import EventQuery, ExportRow
from hub.storage.sql.db import SQLITE
from hub.storage.sql.storage import SqlStorage
from hub.storage.sqlite.ingest import ingest_transaction
from hub.storage.sqlite.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 15_000
_EXPORT_TIMEOUT_S = 15.0


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # FULL: an ack tells the device it may forget the events, so a commit must survive
    # a power cut, not only a crash. Group commit amortises the fsync over many batches.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class SqliteStorage(SqlStorage):
    dialect = SQLITE
    backend = "sqlite"

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

    def _write(self, serial: bool = True) -> _WriteTxn:
        """Every write is serial on SQLite: one writer connection, one transaction at a time."""
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

    # --- events export --------------------------------------------------------

    def iter_events(self, query: EventQuery, chunk_size: int) -> Iterator[list[ExportRow]]:
        """One statement on a connection of its own, in index order (no sort), read ``chunk_size`` rows at a time.

        Its own connection, because the chunks are read from whichever thread serves the response.
        """
        sql, params = self._export_sql(query)
        conn = sqlite3.connect(str(self.path), timeout=_EXPORT_TIMEOUT_S, check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = 1")
            cursor = conn.execute(sql, params)
            while chunk := cursor.fetchmany(chunk_size):
                yield [tuple(row[1:]) for row in chunk]
        finally:
            conn.close()


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
