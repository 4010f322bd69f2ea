"""The device registry, shared by both backends.

One row per broker account (each provisioned device, plus the hub's own
ingest user) with the Mosquitto hash of its password, never the password.
Revoked rows stay, so a revoked id is never silently reused and the hub can
say why it refuses that device's messages.
"""

from __future__ import annotations

from hub.domain.accounts import BrokerAccount
from hub.storage.sql.db import SqlHost

_COLUMNS = "username, role, password_hash, created_at, location_id, rotated_at, revoked_at"


def _account(row: tuple[object, ...]) -> BrokerAccount:
    username, role, password_hash, created_at, location_id, rotated_at, revoked_at = row
    return BrokerAccount(
        username=str(username),
        role="hub" if role == "hub" else "device",
        password_hash=str(password_hash),
        created_at=str(created_at),
        location_id=None if location_id is None else str(location_id),
        rotated_at=None if rotated_at is None else str(rotated_at),
        revoked_at=None if revoked_at is None else str(revoked_at),
    )


class SqlRegistry(SqlHost):
    def add_account(self, account: BrokerAccount) -> None:
        """Insert a new account; ValueError if the username exists (active or revoked)."""
        with self._write() as conn:
            added = conn.execute(
                f"INSERT INTO broker_accounts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (username) DO NOTHING RETURNING username",
                (
                    account.username, account.role, account.password_hash, account.created_at,
                    account.location_id, account.rotated_at, account.revoked_at,
                ),
            ).fetchone()  # fmt: skip
        if added is None:
            raise ValueError(f"broker account {account.username!r} already exists")

    def accounts(self) -> list[BrokerAccount]:
        rows = self._reader().execute(f"SELECT {_COLUMNS} FROM broker_accounts ORDER BY role, username")
        return [_account(r) for r in rows]

    def account(self, username: str) -> BrokerAccount | None:
        row = self._reader().execute(f"SELECT {_COLUMNS} FROM broker_accounts WHERE username = ?", (username,))
        found = row.fetchone()
        return None if found is None else _account(found)

    def set_account_password(self, username: str, password_hash: str, at: str) -> bool:
        """Replace an active account's password hash; False if there is no such active account."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE broker_accounts SET password_hash = ?, rotated_at = ? "
                "WHERE username = ? AND revoked_at IS NULL",
                (password_hash, at, username),
            )
            return bool(cur.rowcount == 1)

    def revoke_account(self, username: str, at: str) -> bool:
        """Mark an account revoked; False if it does not exist or is already revoked."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE broker_accounts SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL", (at, username)
            )
            return bool(cur.rowcount == 1)

    def registry_setting(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM registry_settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_registry_setting(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO registry_settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def location_timezone(self, location_id: str) -> str | None:
        row = self._reader().execute("SELECT timezone FROM locations WHERE location_id = ?", (location_id,))
        found = row.fetchone()
        return None if found is None else str(found[0])
