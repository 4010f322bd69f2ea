"""The store's open alerts on the device, and the manager's acks and comments on them, offline first.

The hub pushes the location's open alerts with the config (``edge_agent/config_push.py``); they replace
the ``alerts`` table as a whole. A note the manager makes on the kiosk is durable in ``alert_notes``
before the kiosk says so, and stays ``pending`` until the hub's ack names it (``edge_agent/alert_note_sync.py``),
exactly like an action. Until the hub's next push reflects it, :func:`open_alerts` overlays pending acks,
so the manager sees "acknowledged" at once, offline too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import msgspec

from edge_agent import clock
from edge_agent.protocol import AlertNote, Invalid, PushedAlert, convert, describe_error, format_ts
from edge_agent.sync_state import PENDING, REJECTED, SYNCED

if TYPE_CHECKING:
    from edge_agent.store import DeviceStore

_ENCODER = msgspec.json.Encoder()
_ALERT = msgspec.json.Decoder(PushedAlert)
_NOTE_COLUMNS = "id, alert_id, kind, text, author, created_at"


def create_tables(db: sqlite3.Connection) -> None:
    """Migration 4 of the device store."""
    db.execute("CREATE TABLE alerts (alert_id INTEGER PRIMARY KEY, fired_at TEXT NOT NULL, body TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE alert_notes (
            id TEXT PRIMARY KEY,
            alert_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            text TEXT,
            author TEXT NOT NULL,
            created_at TEXT NOT NULL,
            sync_state INTEGER NOT NULL DEFAULT 0,
            synced_at TEXT,
            sync_error TEXT
        )"""
    )
    db.execute("CREATE INDEX alert_notes_pending ON alert_notes(created_at) WHERE sync_state = 0")


@dataclass(frozen=True)
class KioskAlert:
    """A pushed alert as the manager sees it: with their own acks and comments not yet at the hub."""

    alert: PushedAlert
    acknowledged: bool
    acknowledged_by: str | None
    pending_comments: list[str]

    @property
    def good_news(self) -> bool:
        return self.alert.kind == "praise"


def replace_hub_alerts(store: DeviceStore, alerts: Sequence[PushedAlert]) -> bool:
    """Make the store's alerts the hub's list; True if anything changed."""
    wanted = {a.alert_id: (format_ts(a.fired_at), _ENCODER.encode(a).decode()) for a in alerts}
    with store.write() as conn:
        have = {int(r[0]): (str(r[1]), str(r[2])) for r in conn.execute("SELECT alert_id, fired_at, body FROM alerts")}
        if have == wanted:
            return False
        conn.execute("DELETE FROM alerts")
        conn.executemany(
            "INSERT INTO alerts (alert_id, fired_at, body) VALUES (?, ?, ?)", [(k, *v) for k, v in wanted.items()]
        )
    return True


def open_alerts(db: sqlite3.Connection) -> list[KioskAlert]:
    """The location's open alerts, newest first, with the pending notes made here overlaid."""
    pending: dict[int, list[tuple[str, str | None, str]]] = {}
    for alert_id, kind, text, author in db.execute(
        f"SELECT alert_id, kind, text, author FROM alert_notes WHERE sync_state = {PENDING} ORDER BY created_at"
    ):
        pending.setdefault(int(alert_id), []).append((str(kind), text, str(author)))
    out = []
    for (body,) in db.execute("SELECT body FROM alerts ORDER BY fired_at DESC, alert_id DESC"):
        alert = _ALERT.decode(body)
        mine = pending.get(alert.alert_id, [])
        ack_by = alert.acknowledged_by or next((who for kind, _t, who in mine if kind == "ack"), None)
        acked = alert.acknowledged_at is not None or any(kind == "ack" for kind, _t, _w in mine)
        comments = [str(t) for kind, t, _w in mine if kind == "comment"]
        out.append(KioskAlert(alert, acked, ack_by, comments))
    return out


def note_alert(
    store: DeviceStore,
    alert_id: int,
    kind: Literal["ack", "comment"],
    *,
    author: str,
    text: str | None = None,
    now: datetime | None = None,
) -> AlertNote:
    """Store an ack or comment made here, pending until the hub acks it; ValueError names a bad field."""
    now = (now or clock.now()).astimezone(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    try:
        note = convert(
            {"id": clock.uuid7(int(now.timestamp() * 1000)), "alert_id": alert_id, "kind": kind, "text": text,
             "author": author, "created_at": now},
            AlertNote,
        )  # fmt: skip
    except Invalid as exc:
        raise ValueError(f"note not stored: {describe_error(exc)}") from None
    with store.write() as conn:
        conn.execute(
            f"INSERT INTO alert_notes ({_NOTE_COLUMNS}, sync_state) VALUES (?, ?, ?, ?, ?, ?, {PENDING})",
            (note.id, note.alert_id, note.kind, note.text, note.author, format_ts(note.created_at)),
        )
    return note


def pending_notes(store: DeviceStore, limit: int = 100) -> list[AlertNote]:
    rows = store.db.execute(
        f"SELECT {_NOTE_COLUMNS} FROM alert_notes WHERE sync_state = {PENDING} ORDER BY created_at, rowid LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        AlertNote(id=str(r[0]), alert_id=int(r[1]), kind=r[2], text=r[3], author=str(r[4]),
                  created_at=datetime.fromisoformat(str(r[5])))
        for r in rows
    ]  # fmt: skip


def mark_notes_synced(store: DeviceStore, ids: Iterable[str], now: datetime | None = None) -> int:
    stamp = format_ts(now or datetime.now(UTC))
    with store.write() as conn:
        return sum(
            conn.execute(
                f"UPDATE alert_notes SET sync_state = {SYNCED}, synced_at = ? WHERE sync_state = {PENDING} AND id = ?",
                (stamp, note_id),
            ).rowcount
            for note_id in ids
        )


def mark_notes_rejected(store: DeviceStore, rejections: Iterable[tuple[str, str]]) -> int:
    """The hub refused these for good (e.g. the alert is not this store's): kept with the reason, never resent."""
    with store.write() as conn:
        return sum(
            conn.execute(
                f"UPDATE alert_notes SET sync_state = {REJECTED}, sync_error = ? "
                f"WHERE sync_state = {PENDING} AND id = ?",
                (error[:500], note_id),
            ).rowcount
            for note_id, error in rejections
        )
