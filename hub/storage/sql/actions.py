"""Actions ("You said, we did"), shared by both backends: ingest from devices, and HQ's create/edit/delete.

Every insert is ``ON CONFLICT (id) DO NOTHING RETURNING id``: the id a device made is the key, so a
resent batch (or the same batch reaching two hub workers) stores each action once, and a deleted
action's row, kept with ``deleted_at``, makes a late resend a duplicate rather than a resurrection.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from edge_agent.protocol import Ack, Action, format_ts
from hub.storage.base_actions import ActionChanges, ActionRecord, IncomingActions
from hub.storage.sql.db import Conn, SqlHost

_COLUMNS = (
    "id, location_id, text, texts, reason, started_on, ended_on, logged_by, device_id, created_at, updated_at, "
    "deleted_at"
)
_INSERT = f"INSERT INTO actions ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING RETURNING id"
_EDITABLE = ("text", "texts", "reason", "started_on", "ended_on")


def _texts(value: dict[str, str] | None) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None


def _row(r: ActionRecord) -> tuple[object, ...]:
    return (
        r.id, r.location_id, r.text, _texts(r.texts), r.reason, r.started_on.isoformat(),
        None if r.ended_on is None else r.ended_on.isoformat(), r.logged_by, r.device_id, r.created_at,
        r.updated_at, r.deleted_at,
    )  # fmt: skip


def _record(row: Any) -> ActionRecord:
    return ActionRecord(
        id=str(row[0]), location_id=str(row[1]), text=str(row[2]), texts=json.loads(row[3]) if row[3] else None,
        reason=row[4], started_on=date.fromisoformat(str(row[5])),
        ended_on=None if row[6] is None else date.fromisoformat(str(row[6])), logged_by=str(row[7]),
        device_id=row[8], created_at=str(row[9]), updated_at=str(row[10]), deleted_at=row[11],
    )  # fmt: skip


def from_device(action: Action, device_id: str, received_at: str) -> ActionRecord:
    """The stored form of an action a kiosk sent: its own id, text and dates; created when it was logged."""
    return ActionRecord(
        id=action.id, location_id=action.location_id, text=action.text, texts=action.texts, reason=action.reason,
        started_on=action.started_on, ended_on=action.ended_on, logged_by=action.logged_by, device_id=device_id,
        created_at=format_ts(action.created_at), updated_at=received_at,
    )  # fmt: skip


def _select(conn: Conn, action_id: str) -> ActionRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM actions WHERE id = ? AND deleted_at IS NULL", (action_id,)).fetchone()
    return None if row is None else _record(row)


class SqlActions(SqlHost):
    def ingest_actions(self, batches: list[IncomingActions], received_at: datetime) -> list[Ack]:
        stamp = format_ts(received_at)
        acks: list[Ack] = []
        with self._write(serial=False) as conn:
            for batch in batches:
                accepted: list[str] = []
                duplicates: list[str] = []
                for action in batch.actions:
                    row = _row(from_device(action, batch.device_id, stamp))
                    inserted = conn.execute(_INSERT, row).fetchone()
                    (accepted if inserted is not None else duplicates).append(action.id)
                acks.append(Ack(batch_id=batch.batch_id, accepted=accepted, duplicates=duplicates,
                                rejected=list(batch.rejected)))  # fmt: skip
        return acks

    def create_action(self, record: ActionRecord) -> bool:
        with self._write(serial=False) as conn:
            return conn.execute(_INSERT, _row(record)).fetchone() is not None

    def action(self, action_id: str) -> ActionRecord | None:
        return _select(self._reader(), action_id)

    def list_actions(self, location_ids: list[str] | None = None) -> list[ActionRecord]:
        where, params = "deleted_at IS NULL", []
        if location_ids is not None:
            if not location_ids:
                return []
            where += f" AND location_id IN ({', '.join('?' * len(location_ids))})"
            params = list(location_ids)
        rows = self._reader().execute(
            f"SELECT {_COLUMNS} FROM actions WHERE {where} ORDER BY started_on DESC, created_at DESC, id DESC", params
        )
        return [_record(r) for r in rows]

    def update_action(self, action_id: str, changes: ActionChanges, now: datetime) -> ActionRecord | None:
        given = [name for name in _EDITABLE if name in changes.given]
        values: list[object] = []
        for name in given:
            value = getattr(changes, name)
            if name == "texts":
                value = _texts(value)
            elif isinstance(value, date):
                value = value.isoformat()
            values.append(value)
        sets = ", ".join([*(f"{name} = ?" for name in given), "updated_at = ?"])
        with self._write() as conn:
            done = conn.execute(
                f"UPDATE actions SET {sets} WHERE id = ? AND deleted_at IS NULL",
                (*values, format_ts(now), action_id),
            ).rowcount
            return _select(conn, action_id) if done else None

    def delete_action(self, action_id: str, now: datetime) -> bool:
        stamp = format_ts(now)
        with self._write() as conn:
            done = conn.execute(
                "UPDATE actions SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                (stamp, stamp, action_id),
            ).rowcount
        return bool(done)
