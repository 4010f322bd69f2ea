"""Dashboard login sessions on SQLite, mixed into :class:`~hub.storage.sqlite.SqliteStorage`.

Only a SHA-256 of each session id is stored, so a copy of the database cannot be
replayed as a login. A session is valid only while its token is unrevoked, so
revoking a token also logs out every browser that used it.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from edge_agent.protocol import format_ts
from hub.storage.base import TokenInfo


class SqliteSessions:
    """Needs the host class's ``_reader()`` and ``_write()`` connections."""

    if TYPE_CHECKING:

        def _reader(self) -> sqlite3.Connection: ...

        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def create_session(self, session_hash: str, token_id: int, created_at: datetime, expires_at: datetime) -> None:
        """Store a new session and drop expired ones in the same write (the table never grows unbounded)."""
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (format_ts(created_at),))
            conn.execute(
                "INSERT INTO sessions (session_hash, token_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (session_hash, token_id, format_ts(created_at), format_ts(expires_at)),
            )

    def session_token(self, session_hash: str, now: datetime) -> tuple[TokenInfo, str] | None:
        """The token behind an unexpired session and the session's expiry; None if expired or revoked."""
        row = (
            self._reader()
            .execute(
                "SELECT t.token_id, t.name, t.role, t.region, t.created_at, s.expires_at "
                "FROM sessions s JOIN tokens t ON t.token_id = s.token_id "
                "WHERE s.session_hash = ? AND s.expires_at > ? AND t.revoked_at IS NULL",
                (session_hash, format_ts(now)),
            )
            .fetchone()
        )
        if row is None:
            return None
        return TokenInfo(row[0], row[1], row[2], row[3], row[4]), str(row[5])

    def delete_session(self, session_hash: str) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM sessions WHERE session_hash = ?", (session_hash,))
        return cur.rowcount == 1
