"""Tokens, dashboard login sessions and the login rate limit, shared by both backends.

Only a SHA-256 of each token secret and session id is stored, so a copy of the
database cannot be replayed as a login. A session is valid only while its token
is unrevoked, so revoking a token also logs out every browser that used it.
Failed logins are rows too, so the rate limit holds across every hub worker.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from edge_agent.protocol import format_ts
from hub.storage.base import Role, TokenInfo
from hub.storage.sql.db import SqlHost

TOKEN_PREFIX = "tp_"


def hash_token(secret: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe, fast lookup key."""
    return hashlib.sha256(secret.encode()).hexdigest()


class SqlTokens(SqlHost):
    def create_token(self, name: str, role: Role, region: str | None) -> tuple[TokenInfo, str]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = format_ts(datetime.now(UTC))
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO tokens (name, role, region, token_hash, created_at) VALUES (?, ?, ?, ?, ?) "
                "RETURNING token_id",
                (name, role, region, hash_token(secret), created),
            ).fetchone()
        return TokenInfo(int(row[0]), name, role, region, created), secret

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
            return bool(cur.rowcount == 1)


class SqlSessions(SqlHost):
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
            return bool(cur.rowcount == 1)

    # --- login rate limit -----------------------------------------------------

    def login_failures(self, client: str, since: datetime) -> list[str]:
        """When ``client`` failed to log in since ``since``, oldest first (ISO timestamps)."""
        rows = self._reader().execute(
            "SELECT failed_at FROM login_failures WHERE client = ? AND failed_at > ? ORDER BY failed_at",
            (client, format_ts(since)),
        )
        return [str(r[0]) for r in rows]

    def record_login_failure(self, client: str, at: datetime, forget_before: datetime) -> None:
        """Add a failed login and drop every one older than ``forget_before`` (the table stays small)."""
        with self._write(serial=False) as conn:
            conn.execute("DELETE FROM login_failures WHERE failed_at <= ?", (format_ts(forget_before),))
            conn.execute("INSERT INTO login_failures (client, failed_at) VALUES (?, ?)", (client, format_ts(at)))
