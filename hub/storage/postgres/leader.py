"""Leadership from a PostgreSQL session advisory lock, held on a connection of its own.

The lock lives as long as that session: if the worker dies or its connection
breaks, PostgreSQL releases it and another worker's ``try_acquire`` succeeds.
``holds()`` asks the server (``pg_locks`` for our backend pid), so a leader
whose connection is gone learns it has lost the lock instead of assuming it.
"""

from __future__ import annotations

import hashlib
import threading
from contextlib import suppress
from typing import Any

import psycopg

from hub.storage.postgres.connections import KEEPALIVES

# Notice a dead server or a cut link within seconds, not at TCP's default of minutes; and let the server notice
# us (KEEPALIVES' options), or a cut-off leader's lock outlives it and nobody can lead for two hours.
_CONNECT = {**KEEPALIVES, "connect_timeout": 5, "tcp_user_timeout": 5000}


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"touchpoint-leader:{name}".encode()).digest()[:8], "big", signed=True)


class PgAdvisoryLeader:
    """``pg_try_advisory_lock`` on a dedicated connection; every method is safe to call from any thread."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        """Take the lock if it is free, without waiting; True if we hold it now (also if we held it already)."""
        with self._lock:
            if self._held and self._still_held():
                return True
            self._drop()
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, **_CONNECT)  # type: ignore[arg-type]
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            except psycopg.Error:
                self._drop()
                return False
            self._held = bool(row and row[0])
            if not self._held:
                self._drop()
            return self._held

    def holds(self) -> bool:
        """True while the server still shows our session holding the lock."""
        with self._lock:
            if not self._held:
                return False
            if not self._still_held():
                self._drop()
                return False
            return True

    def release(self) -> None:
        """Give the lock up (closing the session releases it too, even if the unlock cannot be sent)."""
        with self._lock:
            if self._held and self._conn is not None:
                with suppress(psycopg.Error):
                    self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            self._drop()

    def _still_held(self) -> bool:
        conn = self._conn
        if conn is None or conn.closed:
            return False
        high, low = (self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF
        try:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND granted AND objsubid = 1 AND classid::bigint = %s AND objid::bigint = %s)",
                (high, low),
            ).fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0])

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
