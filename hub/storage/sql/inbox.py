"""The alert inbox (acks, assignments, comments) in SQL shared by both backends.

A note is inserted with ``ON CONFLICT (note_id) DO NOTHING``: a kiosk's note that
arrives twice (a resend before the hub's ack reached it) is stored and applied once.
Applying it updates the episode's ``alert_inbox`` row in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from edge_agent.protocol import format_ts
from hub.storage.base_alerts import AlertEvent
from hub.storage.base_inbox import AlertNote, InboxState, NoteKind, NoteOutcome, NoteSource
from hub.storage.sql.alerts import _EVENT_COLUMNS, _event
from hub.storage.sql.db import Conn, SqlHost, rows_in

_NOTE_COLUMNS = "note_id, alert_id, kind, author, text, created_at, source"
_E_COLUMNS = ", ".join("e." + c.strip() for c in _EVENT_COLUMNS.split(","))


def _note(row: tuple[Any, ...]) -> AlertNote:
    return AlertNote(
        str(row[0]), int(row[1]), cast(NoteKind, row[2]), str(row[3]), row[4], datetime.fromisoformat(str(row[5])),
        cast(NoteSource, row[6]),
    )  # fmt: skip


def _apply(conn: Conn, note: AlertNote) -> None:
    stamp = format_ts(note.created_at)
    conn.execute("INSERT INTO alert_inbox (alert_id) VALUES (?) ON CONFLICT (alert_id) DO NOTHING", (note.alert_id,))
    if note.kind == "ack":
        conn.execute(
            "UPDATE alert_inbox SET acknowledged_at = ?, acknowledged_by = ? "
            "WHERE alert_id = ? AND acknowledged_at IS NULL",
            (stamp, note.author, note.alert_id),
        )
    elif note.kind == "assign":
        conn.execute(
            "UPDATE alert_inbox SET assignee = ?, assigned_at = ?, assigned_by = ? WHERE alert_id = ?",
            (note.text or None, stamp, note.author, note.alert_id),
        )


class SqlInbox(SqlHost):
    def alert(self, alert_id: int) -> AlertEvent | None:
        row = (
            self._reader()
            .execute(f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE alert_id = ?", (alert_id,))
            .fetchone()
        )
        return None if row is None else _event(row)

    def add_alert_notes(
        self, notes: list[AlertNote], received_at: datetime, location_id: str | None = None
    ) -> list[NoteOutcome]:
        outcomes: list[NoteOutcome] = []
        with self._write(serial=True) as conn:
            for note in notes:
                found = conn.execute(
                    "SELECT location_id FROM alert_events WHERE alert_id = ?", (note.alert_id,)
                ).fetchone()
                if found is None:
                    outcomes.append("no_alert")
                    continue
                if location_id is not None and found[0] != location_id:
                    outcomes.append("wrong_location")
                    continue
                row = conn.execute(
                    f"INSERT INTO alert_notes ({_NOTE_COLUMNS}, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (note_id) DO NOTHING RETURNING note_pk",
                    (note.note_id, note.alert_id, note.kind, note.author, note.text, format_ts(note.created_at),
                     note.source, format_ts(received_at)),
                ).fetchone()  # fmt: skip
                if row is None:
                    outcomes.append("duplicate")
                    continue
                _apply(conn, note)
                outcomes.append("accepted")
        return outcomes

    def alert_inbox(self, alert_ids: list[int]) -> dict[int, InboxState]:
        sql = (
            "SELECT alert_id, acknowledged_at, acknowledged_by, assignee, assigned_at, assigned_by "
            "FROM alert_inbox WHERE alert_id IN ({marks})"
        )
        return {int(r[0]): InboxState(r[1], r[2], r[3], r[4], r[5]) for r in rows_in(self._reader(), sql, alert_ids)}

    def alert_notes(self, alert_ids: list[int]) -> dict[int, list[AlertNote]]:
        out: dict[int, list[AlertNote]] = {}
        sql = f"SELECT {_NOTE_COLUMNS} FROM alert_notes WHERE alert_id IN ({{marks}}) ORDER BY note_pk"
        for r in rows_in(self._reader(), sql, alert_ids):
            note = _note(r)
            out.setdefault(note.alert_id, []).append(note)
        return out

    def open_location_alerts(self, since: datetime) -> list[AlertEvent]:
        rows = self._reader().execute(
            f"SELECT {_E_COLUMNS} FROM alert_events e LEFT JOIN alert_inbox i ON i.alert_id = e.alert_id "
            "WHERE e.location_id IS NOT NULL "
            "AND (e.state = 'firing' OR (i.acknowledged_at IS NULL AND e.fired_at >= ?)) "
            "ORDER BY e.alert_id DESC",
            (format_ts(since),),
        )
        return [_event(r) for r in rows.fetchall()]
