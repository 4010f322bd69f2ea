"""Actions ("You said, we did") in the device store: logged on the kiosk, or pushed by HQ.

An action logged on the device is durable here before the manager is told so, and stays
``pending`` until the hub's ack names it (exactly once, like a tap; see ``edge_agent/action_sync.py``).
Actions HQ logged arrive with the pushed config (``edge_agent/config_push.py``) and are stored as
already synced. The kiosk's idle screen shows :func:`latest_actions`, so it works offline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import msgspec

from edge_agent import clock
from edge_agent.protocol import Action, Invalid, convert, describe_error, format_ts
from edge_agent.sync_state import PENDING, REJECTED, SYNCED

if TYPE_CHECKING:
    from edge_agent.store import DeviceStore

_COLUMNS = "id, location_id, text, texts, reason, started_on, ended_on, logged_by, created_at"
_TEXTS = msgspec.json.Encoder()
_TEXTS_DECODER = msgspec.json.Decoder(dict[str, str])


def create_table(db: sqlite3.Connection) -> None:
    """Migration 3 of the device store."""
    db.execute(
        """CREATE TABLE actions (
            id TEXT PRIMARY KEY,
            location_id TEXT NOT NULL,
            text TEXT NOT NULL,
            texts TEXT,
            reason TEXT,
            started_on TEXT NOT NULL,
            ended_on TEXT,
            logged_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            origin TEXT NOT NULL,
            sync_state INTEGER NOT NULL DEFAULT 0,
            synced_at TEXT,
            sync_error TEXT
        )"""
    )
    db.execute("CREATE INDEX actions_pending ON actions(created_at) WHERE sync_state = 0")


def _row(action: Action) -> tuple[object, ...]:
    return (
        action.id, action.location_id, action.text, _TEXTS.encode(action.texts).decode() if action.texts else None,
        action.reason, action.started_on.isoformat(), action.ended_on.isoformat() if action.ended_on else None,
        action.logged_by, format_ts(action.created_at),
    )  # fmt: skip


def _action(row: Sequence[object]) -> Action:
    texts = _TEXTS_DECODER.decode(str(row[3])) if row[3] else None
    return Action(
        id=str(row[0]), location_id=str(row[1]), text=str(row[2]), texts=texts,
        reason=None if row[4] is None else str(row[4]), started_on=date.fromisoformat(str(row[5])),
        ended_on=None if row[6] is None else date.fromisoformat(str(row[6])), logged_by=str(row[7]),
        created_at=datetime.fromisoformat(str(row[8])),
    )  # fmt: skip


def log_action(
    store: DeviceStore,
    text: str,
    *,
    location_id: str,
    logged_by: str,
    reason: str | None = None,
    texts: dict[str, str] | None = None,
    started_on: date | None = None,
    ended_on: date | None = None,
    now: datetime | None = None,
) -> Action:
    """Store an action logged on this device, pending until the hub acks it; ValueError names a bad field.

    ``started_on`` defaults to the store's local today.
    """
    now = (now or clock.now()).astimezone(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as stored: milliseconds
    try:
        action = convert(
            {
                "id": clock.uuid7(int(now.timestamp() * 1000)), "location_id": location_id, "text": text,
                "texts": texts or None, "reason": reason,
                "started_on": (started_on or now.astimezone(store.tz).date()).isoformat(),
                "ended_on": ended_on.isoformat() if ended_on else None, "logged_by": logged_by, "created_at": now,
            },
            Action,
        )  # fmt: skip
    except Invalid as exc:
        raise ValueError(f"action not logged: {describe_error(exc)}") from None
    try:
        with store.write() as conn:
            conn.execute(
                f"INSERT INTO actions ({_COLUMNS}, origin, sync_state) VALUES (?,?,?,?,?,?,?,?,?,'device',{PENDING})",
                _row(action),
            )
    except sqlite3.Error as exc:
        from edge_agent.store import StoreError

        raise StoreError(f"action not stored in {store.path}: {exc}") from exc
    return action


def pending_actions(store: DeviceStore, limit: int = 100) -> list[Action]:
    """Actions logged here that the hub has not acked yet, oldest first."""
    rows = store.db.execute(
        f"SELECT {_COLUMNS} FROM actions WHERE sync_state = {PENDING} ORDER BY created_at, rowid LIMIT ?", (limit,)
    ).fetchall()
    return [_action(r) for r in rows]


def mark_actions_synced(store: DeviceStore, ids: Iterable[str], now: datetime | None = None) -> int:
    """The hub committed these (accepted or duplicates); returns how many changed state."""
    stamp = format_ts(now or datetime.now(UTC))
    with store.write() as conn:
        return sum(
            conn.execute(
                f"UPDATE actions SET sync_state = {SYNCED}, synced_at = ? WHERE sync_state = {PENDING} AND id = ?",
                (stamp, action_id),
            ).rowcount
            for action_id in ids
        )


def mark_actions_rejected(store: DeviceStore, rejections: Iterable[tuple[str, str]]) -> int:
    """The hub refused these for good: kept with its reason, never resent, never deleted."""
    with store.write() as conn:
        return sum(
            conn.execute(
                f"UPDATE actions SET sync_state = {REJECTED}, sync_error = ? WHERE sync_state = {PENDING} AND id = ?",
                (error[:500], action_id),
            ).rowcount
            for action_id, error in rejections
        )


def action_counts(store: DeviceStore) -> dict[int, int]:
    """How many actions are in each sync state (PENDING, SYNCED, REJECTED)."""
    return {int(k): int(n) for k, n in store.db.execute("SELECT sync_state, COUNT(*) FROM actions GROUP BY 1")}


def latest_actions(store: DeviceStore, n: int, today: date | None = None) -> list[Action]:
    """Up to ``n`` actions in place on the store's local ``today`` (started, not ended), newest first."""
    day = (today or datetime.now(store.tz).date()).isoformat()
    rows = store.db.execute(
        f"""SELECT {_COLUMNS} FROM actions
            WHERE sync_state != {REJECTED} AND started_on <= ? AND (ended_on IS NULL OR ended_on >= ?)
            ORDER BY started_on DESC, created_at DESC, rowid DESC LIMIT ?""",
        (day, day, n),
    ).fetchall()
    return [_action(r) for r in rows]


def replace_hub_actions(store: DeviceStore, actions: Sequence[Action]) -> bool:
    """Make the store's actions the hub's list (from a config push); True if anything changed.

    The list is the hub's truth for every action it has: others it has acked are deleted (withdrawn at
    HQ), listed ones are written as synced (new at HQ, or edited there). Actions logged here that the
    hub has not acked yet are kept: they are on their way to it.
    """
    wanted = {a.id: _row(a) for a in actions}
    with store.write() as conn:
        have = {
            str(r[0]): tuple(r[1:])
            for r in conn.execute(f"SELECT {_COLUMNS}, sync_state FROM actions WHERE sync_state != {REJECTED}")
        }
        gone = [i for i, row in have.items() if i not in wanted and row[-1] == SYNCED]
        for action_id in gone:
            conn.execute("DELETE FROM actions WHERE id = ?", (action_id,))
        changed = [row for i, row in wanted.items() if have.get(i, ())[:-1] != row[1:] or have[i][-1] != SYNCED]
        for row in changed:
            conn.execute(
                f"""INSERT INTO actions ({_COLUMNS}, origin, sync_state, synced_at) VALUES (?,?,?,?,?,?,?,?,?,'hub',
                    {SYNCED}, NULL)
                    ON CONFLICT (id) DO UPDATE SET location_id = excluded.location_id, text = excluded.text,
                    texts = excluded.texts, reason = excluded.reason, started_on = excluded.started_on,
                    ended_on = excluded.ended_on, logged_by = excluded.logged_by, sync_state = {SYNCED},
                    synced_at = COALESCE(actions.synced_at, excluded.synced_at)""",
                row,
            )
    return bool(gone or changed)
