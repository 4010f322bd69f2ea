"""Alert rules, episodes and webhook deliveries, shared by both backends.

An episode and its webhook delivery are inserted in one transaction, after
checking inside it that the same (rule, location, device) is not already
firing; a partial unique index on firing episodes makes that hold even across
workers: several evaluators can never fire one episode twice. Deliveries are a
durable queue with leases, claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from edge_agent.protocol import format_ts
from hub.storage.base_alerts import (
    AlertEvent,
    AlertKey,
    AlertQuery,
    AlertRule,
    AlertState,
    Delivery,
    DeliveryState,
    NewAlert,
    RuleSpec,
    ScopeKind,
)
from hub.storage.sql.db import SqlHost, rows_in

_RULE_COLUMNS = "rule_id, created_at, name, kind, scope_kind, scope, params, webhook_url, enabled"
_EVENT_COLUMNS = "alert_id, rule_id, location_id, device_id, state, fired_at, resolved_at, message, details"


def _rule(row: tuple[Any, ...]) -> AlertRule:
    spec = RuleSpec(
        name=row[2], kind=row[3], scope_kind=cast(ScopeKind, row[4]), scope=row[5], params=json.loads(row[6]),
        webhook_url=row[7], enabled=bool(row[8]),
    )  # fmt: skip
    return AlertRule(int(row[0]), str(row[1]), spec)


def _event(row: tuple[Any, ...]) -> AlertEvent:
    key = AlertKey(int(row[1]), row[2], row[3])
    details = json.loads(row[8]) if row[8] else {}
    return AlertEvent(int(row[0]), key, cast(AlertState, row[4]), str(row[5]), row[6], str(row[7]), details)


def _region_clause(column: str, region: str) -> tuple[str, list[object]]:
    """``column`` equals the region or lies below it; no LIKE, since ids may contain '_'."""
    return f"({column} = ? OR substr({column}, 1, ?) = ?)", [region, len(region) + 1, region + "/"]


class SqlAlerts(SqlHost):
    # --- rules --------------------------------------------------------------

    def create_rule(self, spec: RuleSpec, now: datetime) -> AlertRule:
        created = format_ts(now)
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO alert_rules (name, kind, scope_kind, scope, params, webhook_url, enabled, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING rule_id",
                (spec.name, spec.kind, spec.scope_kind, spec.scope, json.dumps(spec.params), spec.webhook_url,
                 int(spec.enabled), created),
            ).fetchone()  # fmt: skip
        return AlertRule(int(row[0]), created, spec)

    def alert_rules(self) -> list[AlertRule]:
        return [_rule(r) for r in self._reader().execute(f"SELECT {_RULE_COLUMNS} FROM alert_rules ORDER BY rule_id")]

    def alert_rule(self, rule_id: int) -> AlertRule | None:
        row = (
            self._reader().execute(f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE rule_id = ?", (rule_id,)).fetchone()
        )
        return None if row is None else _rule(row)

    def update_rule(self, rule_id: int, spec: RuleSpec) -> AlertRule | None:
        with self._write() as conn:
            conn.execute(
                "UPDATE alert_rules SET name = ?, kind = ?, scope_kind = ?, scope = ?, params = ?, webhook_url = ?, "
                "enabled = ? WHERE rule_id = ?",
                (spec.name, spec.kind, spec.scope_kind, spec.scope, json.dumps(spec.params), spec.webhook_url,
                 int(spec.enabled), rule_id),
            )  # fmt: skip
            row = conn.execute(f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE rule_id = ?", (rule_id,)).fetchone()
        return None if row is None else _rule(row)

    def delete_rule(self, rule_id: int, now: datetime) -> bool:
        with self._write() as conn:
            deleted = conn.execute("DELETE FROM alert_rules WHERE rule_id = ?", (rule_id,)).rowcount
            conn.execute(
                "UPDATE alert_events SET state = 'resolved', resolved_at = ? WHERE rule_id = ? AND state = 'firing'",
                (format_ts(now), rule_id),
            )
        return bool(deleted == 1)

    # --- episodes -----------------------------------------------------------

    def firing_alerts(self) -> list[AlertEvent]:
        rows = self._reader().execute(f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE state = 'firing'")
        return [_event(r) for r in rows]

    def fire_alert(
        self, alert: NewAlert, now: datetime, webhook_url: str | None, render: Callable[[AlertEvent], str]
    ) -> AlertEvent | None:
        key, stamp = alert.key, format_ts(now)
        with self._write() as conn:
            already = conn.execute(
                "SELECT 1 FROM alert_events WHERE rule_id = ? AND location_id IS NOT DISTINCT FROM ? "
                "AND device_id IS NOT DISTINCT FROM ? "
                "AND state = 'firing'",
                (key.rule_id, key.location_id, key.device_id),
            ).fetchone()
            if already:
                return None
            row = conn.execute(
                "INSERT INTO alert_events (rule_id, location_id, device_id, state, fired_at, message, details) "
                "VALUES (?, ?, ?, 'firing', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING alert_id",
                (key.rule_id, key.location_id, key.device_id, stamp, alert.message, json.dumps(alert.details)),
            ).fetchone()
            if row is None:  # another worker fired it meanwhile (the unique index on firing episodes)
                return None
            event = AlertEvent(int(row[0]), key, "firing", stamp, None, alert.message, alert.details)
            if webhook_url:
                conn.execute(
                    "INSERT INTO webhook_deliveries (alert_id, url, body, status, next_attempt_at) "
                    "VALUES (?, ?, ?, 'pending', ?)",
                    (event.alert_id, webhook_url, render(event), stamp),
                )
        return event

    def resolve_alert(self, alert_id: int, now: datetime) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE alert_events SET state = 'resolved', resolved_at = ? WHERE alert_id = ? AND state = 'firing'",
                (format_ts(now), alert_id),
            )
            return bool(cur.rowcount == 1)

    def alert_history(self, query: AlertQuery) -> list[AlertEvent]:
        where: list[str] = []
        params: list[object] = []
        if query.location_id:
            where.append("e.location_id = ?")
            params.append(query.location_id)
        if query.state:
            where.append("e.state = ?")
            params.append(query.state)
        if query.rule_id is not None:
            where.append("e.rule_id = ?")
            params.append(query.rule_id)
        if query.start is not None:  # an episode overlapping [start, end] counts
            where.append("(e.resolved_at IS NULL OR e.resolved_at >= ?)")
            params.append(format_ts(query.start))
        if query.end is not None:
            where.append("e.fired_at <= ?")
            params.append(format_ts(query.end))
        if query.region:
            clause, region_params = _region_clause("l.region", query.region)
            where.append(clause)
            params += region_params
        if query.inbox is not None:  # the alert inbox (hub/storage/sql/inbox.py)
            where.append(f"i.acknowledged_at IS {'NULL' if query.inbox == 'open' else 'NOT NULL'}")
        if query.assignee is not None:
            where.append("i.assignee = ?")
            params.append(query.assignee)
        sql = (
            f"SELECT {', '.join('e.' + c.strip() for c in _EVENT_COLUMNS.split(','))} FROM alert_events e "
            "LEFT JOIN locations l ON l.location_id = e.location_id "
            "LEFT JOIN alert_inbox i ON i.alert_id = e.alert_id"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY e.alert_id DESC LIMIT ?"
        )
        return [_event(r) for r in self._reader().execute(sql, (*params, query.limit))]

    # --- webhook deliveries -------------------------------------------------

    def claim_deliveries(self, now: datetime, lease_s: float, limit: int) -> list[Delivery]:
        stamp = format_ts(now)
        lease_until = format_ts(now + timedelta(seconds=lease_s))
        due = "status = 'pending' AND next_attempt_at <= ?"
        # Look first on the read connection: an idle poll must not take the write lock from ingest.
        if self._reader().execute(f"SELECT 1 FROM webhook_deliveries WHERE {due} LIMIT 1", (stamp,)).fetchone() is None:
            return []
        with self._write(serial=False) as conn:
            rows = conn.execute(
                f"SELECT delivery_id, alert_id, url, body, attempts FROM webhook_deliveries WHERE {due} "
                f"ORDER BY next_attempt_at LIMIT ?{self.dialect.skip_locked}",
                (stamp, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ? WHERE delivery_id = ?",
                [(lease_until, r[0]) for r in rows],
            )
        return [Delivery(int(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4]) + 1) for r in rows]

    def finish_delivery(self, delivery_id: int, now: datetime, error: str | None, retry_at: datetime | None) -> None:
        with self._write(serial=False) as conn:
            if error is None:
                conn.execute(
                    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, last_error = NULL "
                    "WHERE delivery_id = ?",
                    (format_ts(now), delivery_id),
                )
            elif retry_at is not None:
                conn.execute(
                    "UPDATE webhook_deliveries SET next_attempt_at = ?, last_error = ? WHERE delivery_id = ?",
                    (format_ts(retry_at), error[:500], delivery_id),
                )
            else:
                conn.execute(
                    "UPDATE webhook_deliveries SET status = 'failed', last_error = ? WHERE delivery_id = ?",
                    (error[:500], delivery_id),
                )

    def alert_deliveries(self, alert_ids: list[int]) -> dict[int, DeliveryState]:
        sql = (
            "SELECT alert_id, status, attempts, last_error, delivered_at FROM webhook_deliveries "
            "WHERE alert_id IN ({marks})"
        )
        return {
            int(r[0]): DeliveryState(str(r[1]), int(r[2]), r[3], r[4]) for r in rows_in(self._reader(), sql, alert_ids)
        }

    def ops_counts(self) -> dict[str, int]:
        conn = self._reader()

        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0] or 0)

        out = {
            "devices": one("SELECT COUNT(*) FROM devices"),
            "devices_online": one("SELECT COUNT(*) FROM devices WHERE online = 1"),
            # Dead letters are never deleted, so the highest rowid is their total, read in O(1).
            "dead_letters": one("SELECT MAX(pk) FROM dead_letters"),
            "alerts_firing": one("SELECT COUNT(*) FROM alert_events WHERE state = 'firing'"),
            "alert_rules_enabled": one("SELECT COUNT(*) FROM alert_rules WHERE enabled = 1"),
        }
        for status in ("pending", "delivered", "failed"):
            out[f"deliveries_{status}"] = 0
        for status, n in conn.execute("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status"):
            out[f"deliveries_{status}"] = int(n)
        return out
