"""Digest subscriptions in SQL shared by both backends.

Claiming a slot is one conditional ``UPDATE ... WHERE last_sent_at IS NOT DISTINCT FROM ?``: of two
workers that both saw the same previous value, exactly one changes the row (rowcount 1), on SQLite's
single writer and under PostgreSQL's row lock alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from edge_agent.protocol import format_ts
from hub.storage.base_digests import (
    SubscriptionChannel,
    SubscriptionRecord,
    SubscriptionSpec,
    SubscriptionTargetKind,
)
from hub.storage.sql.db import SqlHost

_COLUMNS = (
    "subscription_id, target_kind, target, channel, address, weekday, hour, timezone, enabled, created_at, "
    "created_by_token, last_sent_at, last_delivered_at, last_error"
)


def _moment(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else format_ts(value)


def _record(row: tuple[Any, ...]) -> SubscriptionRecord:
    spec = SubscriptionSpec(
        cast(SubscriptionTargetKind, row[1]), str(row[2]), cast(SubscriptionChannel, row[3]), str(row[4]),
        int(row[5]), int(row[6]), str(row[7]), bool(row[8]),
    )  # fmt: skip
    created = _moment(row[9])
    assert created is not None
    token = None if row[10] is None else int(row[10])
    return SubscriptionRecord(int(row[0]), spec, created, token, _moment(row[11]), _moment(row[12]), row[13])


class SqlDigests(SqlHost):
    def create_subscription(self, spec: SubscriptionSpec, now: datetime, token_id: int | None) -> SubscriptionRecord:
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO digest_subscriptions (target_kind, target, channel, address, weekday, hour, timezone, "
                "enabled, created_at, created_by_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_COLUMNS}",
                (spec.target_kind, spec.target, spec.channel, spec.address, spec.weekday, spec.hour, spec.timezone,
                 int(spec.enabled), format_ts(now), token_id),
            ).fetchone()  # fmt: skip
        return _record(row)

    def digest_subscriptions(self) -> list[SubscriptionRecord]:
        rows = self._reader().execute(f"SELECT {_COLUMNS} FROM digest_subscriptions ORDER BY subscription_id")
        return [_record(r) for r in rows.fetchall()]

    def digest_subscription(self, subscription_id: int) -> SubscriptionRecord | None:
        row = (
            self._reader()
            .execute(f"SELECT {_COLUMNS} FROM digest_subscriptions WHERE subscription_id = ?", (subscription_id,))
            .fetchone()
        )
        return None if row is None else _record(row)

    def delete_subscription(self, subscription_id: int) -> bool:
        with self._write() as conn:
            cur = conn.execute("DELETE FROM digest_subscriptions WHERE subscription_id = ?", (subscription_id,))
            return bool(cur.rowcount == 1)

    def claim_digest_slot(self, subscription_id: int, previous: datetime | None, slot: datetime) -> bool:
        with self._write(serial=False) as conn:
            cur = conn.execute(
                "UPDATE digest_subscriptions SET last_sent_at = ? "
                "WHERE subscription_id = ? AND last_sent_at IS NOT DISTINCT FROM ?",
                (format_ts(slot), subscription_id, _stamp(previous)),
            )
            return bool(cur.rowcount == 1)

    def finish_digest_slot(
        self, subscription_id: int, slot: datetime, previous: datetime | None, at: datetime, error: str | None
    ) -> None:
        with self._write(serial=False) as conn:
            if error is None:
                conn.execute(
                    "UPDATE digest_subscriptions SET last_delivered_at = ?, last_error = NULL "
                    "WHERE subscription_id = ? AND last_sent_at = ?",
                    (format_ts(at), subscription_id, format_ts(slot)),
                )
            else:
                conn.execute(
                    "UPDATE digest_subscriptions SET last_sent_at = ?, last_error = ? "
                    "WHERE subscription_id = ? AND last_sent_at = ?",
                    (_stamp(previous), error[:500], subscription_id, format_ts(slot)),
                )
