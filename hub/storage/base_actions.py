"""The storage contract for actions ("You said, we did"): what stores changed, logged on a kiosk or at HQ.

Part of :class:`hub.storage.base.Storage`; both backends implement it in :mod:`hub.storage.sql.actions`.
An action is keyed on its id (the device's UUIDv7, or a UUID the hub made), so a device's resend is a
duplicate. A deleted action keeps its row with ``deleted_at`` set: it is never listed or pushed again,
and a late resend of it is still a duplicate rather than bringing it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from edge_agent.protocol import Ack, Action, Rejection


@dataclass(frozen=True)
class ActionRecord:
    """One stored action. Timestamps are ISO UTC text, as everywhere in the hub's storage."""

    id: str
    location_id: str
    text: str
    texts: dict[str, str] | None
    reason: str | None
    started_on: date
    ended_on: date | None
    logged_by: str
    device_id: str | None
    """The kiosk that sent it; None for an action logged through the API."""
    created_at: str
    updated_at: str
    deleted_at: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "location_id": self.location_id, "text": self.text, "texts": self.texts,
            "reason": self.reason, "started_on": self.started_on.isoformat(),
            "ended_on": None if self.ended_on is None else self.ended_on.isoformat(), "logged_by": self.logged_by,
            "device_id": self.device_id, "created_at": self.created_at, "updated_at": self.updated_at,
        }  # fmt: skip

    def in_place_on(self, day: date) -> bool:
        """Started on or before ``day`` and not ended before it."""
        return self.started_on <= day and (self.ended_on is None or self.ended_on >= day)


@dataclass(frozen=True)
class ActionChanges:
    """A partial update: only the fields named in ``given`` change (None clears texts, reason or ended_on)."""

    given: frozenset[str]
    text: str | None = None
    texts: dict[str, str] | None = None
    reason: str | None = None
    started_on: date | None = None
    ended_on: date | None = None


@dataclass(frozen=True)
class IncomingActions:
    """An action batch whose envelope and topic are valid; bad actions are already split off."""

    device_id: str
    location_id: str
    batch_id: str
    actions: list[Action]
    rejected: list[Rejection] = field(default_factory=list)


class ActionStorage(Protocol):
    def ingest_actions(self, batches: list[IncomingActions], received_at: datetime) -> list[Ack]:
        """Store the batches' actions keyed on id in ONE transaction; one ack per batch, in order.

        An id already stored (deleted ones too) is a duplicate. The caller publishes the acks only
        after this returns, that is after the commit.
        """
        ...

    def create_action(self, record: ActionRecord) -> bool:
        """Store a new action (from the API); False if its id is taken."""
        ...

    def action(self, action_id: str) -> ActionRecord | None:
        """The action, or None if there is none or it was deleted."""
        ...

    def list_actions(self, location_ids: list[str] | None = None) -> list[ActionRecord]:
        """Actions not deleted, of these locations (None: all), newest start first."""
        ...

    def update_action(self, action_id: str, changes: ActionChanges, now: datetime) -> ActionRecord | None:
        """Apply ``changes``; None if there is no such (undeleted) action."""
        ...

    def delete_action(self, action_id: str, now: datetime) -> bool:
        """Mark it deleted; False if there was no such (undeleted) action."""
        ...
