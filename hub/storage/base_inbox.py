"""The storage contract for the alert inbox: acknowledging, assigning and commenting on alert episodes.

Part of :class:`hub.storage.base.Storage`; both backends share :mod:`hub.storage.sql.inbox`.
Every change is a note (``ack``, ``assign``, ``comment``) with an id made where it was written
(the API's, or a kiosk's UUIDv7 for notes sent over MQTT), stored once: a note sent again is a
duplicate and changes nothing. An ``ack`` sets the episode's acknowledgement if it has none yet
(the first one stands); an ``assign`` sets its assignee (``text``; none unassigns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from hub.storage.base_alerts import AlertEvent

NoteKind = Literal["ack", "assign", "comment"]
NoteSource = Literal["api", "device"]
InboxFilter = Literal["open", "acknowledged"]
NoteOutcome = Literal["accepted", "duplicate", "no_alert", "wrong_location"]


@dataclass(frozen=True)
class AlertNote:
    note_id: str
    alert_id: int
    kind: NoteKind
    author: str
    text: str | None
    created_at: datetime
    source: NoteSource = "api"


@dataclass(frozen=True)
class InboxState:
    """An episode's inbox fields; an episode without a row here is open and unassigned."""

    acknowledged_at: str | None = None
    acknowledged_by: str | None = None
    assignee: str | None = None
    assigned_at: str | None = None
    assigned_by: str | None = None


class InboxStorage(Protocol):
    def alert(self, alert_id: int) -> AlertEvent | None:
        """One episode, firing or resolved."""
        ...

    def add_alert_notes(
        self, notes: list[AlertNote], received_at: datetime, location_id: str | None = None
    ) -> list[NoteOutcome]:
        """Store and apply each note once, in one transaction; one outcome per note, in order.

        With ``location_id`` (a device's), a note on another location's episode is ``wrong_location``.
        """
        ...

    def alert_inbox(self, alert_ids: list[int]) -> dict[int, InboxState]:
        """The inbox fields of each of ``alert_ids`` that has any."""
        ...

    def alert_notes(self, alert_ids: list[int]) -> dict[int, list[AlertNote]]:
        """Each episode's notes, oldest first."""
        ...

    def open_location_alerts(self, since: datetime) -> list[AlertEvent]:
        """Episodes a store should see: firing ones, and unacknowledged ones fired at or after ``since``."""
        ...
