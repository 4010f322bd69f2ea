"""The alert inbox: acknowledge, assign and comment on an alert episode, within the caller's region.

Each change is a note (:class:`hub.storage.base_inbox.AlertNote`) with a fresh UUIDv7; storage applies
it (the first acknowledgement stands; the latest assignment wins) and keeps it in the episode's
thread. Kiosk notes arrive the same way over MQTT (:mod:`hub.alert_note_ingest`), with their own ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from edge_agent import clock
from hub.services.analytics_errors import NotFound, OutOfScope
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage
from hub.storage.base_alerts import AlertEvent
from hub.storage.base_inbox import AlertNote, InboxState, NoteKind

MAX_COMMENT_CHARS = 2000
MAX_ASSIGNEE_CHARS = 200


@dataclass(frozen=True)
class AlertThread:
    """An episode with its inbox state and its notes, oldest first."""

    alert: AlertEvent
    inbox: InboxState
    notes: list[AlertNote]


def visible_alert(storage: Storage, scope: Scope, alert_id: int) -> AlertEvent:
    """The episode, if the caller's region covers its location; NotFound / OutOfScope otherwise."""
    alert = storage.alert(alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if scope.region is not None:
        record = storage.location(alert.key.location_id) if alert.key.location_id else None
        if record is None or not scope.covers(record.region):
            raise OutOfScope(f"alert {alert_id} is outside this token's region {scope.region!r}")
    return alert


def add_note(storage: Storage, alert: AlertEvent, kind: NoteKind, author: str, text: str | None, now: datetime) -> None:
    note = AlertNote(clock.uuid7(int(now.timestamp() * 1000)), alert.alert_id, kind, author, text, now, "api")
    outcome = storage.add_alert_notes([note], now)
    if outcome != ["accepted"]:  # the episode was there a moment ago; episodes are never deleted
        raise NotFound(f"alert {alert.alert_id}: note not stored ({outcome[0]})")


def thread(storage: Storage, alert: AlertEvent) -> AlertThread:
    inbox = storage.alert_inbox([alert.alert_id]).get(alert.alert_id, InboxState())
    return AlertThread(alert, inbox, storage.alert_notes([alert.alert_id]).get(alert.alert_id, []))
