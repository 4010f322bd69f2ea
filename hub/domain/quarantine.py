"""Quarantine: events whose timestamp the hub cannot trust are kept and shown, never counted.

A tap counted on a wrong local day is silently wrong; a tap held apart is
visibly pending a decision. Devices re-date what they can (edge_agent/redate.py);
the hub quarantines an event, inside the ingest transaction (:mod:`hub.storage.sql.screen`), when

- ``clock_ok`` is false: the device never trusted its clock for this tap and
  could not re-date it (it was recorded in an earlier boot);
- its ``ts`` is more than :data:`FUTURE_TOLERANCE` after the hub received it;
- its ``ts`` is before :data:`EARLIEST_PLAUSIBLE` (2025-01-01), or before the
  device was provisioned (``touchpoint-hub device add``), less the tolerance.
  A device the hub heard from before it was registered (``--registry open``)
  existed then: its floor is that first contact instead.

``devices.first_seen`` alone is deliberately not a floor: a device offline since
installation sends days of genuine history on first contact.

A quarantined event is acked as accepted (the hub has it; the device may
forget it), is a duplicate if it comes again, and never reaches ``events`` or
the rollups. ``GET /api/v1/quarantine`` (admin) lists them with their cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from edge_agent.clock import EARLIEST_PLAUSIBLE
from edge_agent.protocol import Event, format_ts

Cause = Literal["clock_not_ok", "future", "before_floor", "before_provisioning"]
CAUSES: tuple[Cause, ...] = ("clock_not_ok", "future", "before_floor", "before_provisioning")
FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class Verdict:
    cause: Cause
    detail: str


def verdict(event: Event, received_at: datetime, provisioned_at: datetime | None = None) -> Verdict | None:
    """Why ``event``'s timestamp cannot be trusted, or None when it can be counted on its day."""
    if not event.clock_ok:
        return Verdict("clock_not_ok", "the device did not trust its clock and could not re-date the tap")
    if event.ts > received_at + FUTURE_TOLERANCE:
        ahead = event.ts - received_at
        return Verdict("future", f"ts {format_ts(event.ts)} is {_span(ahead)} after the hub received it")
    if event.ts < EARLIEST_PLAUSIBLE:
        return Verdict("before_floor", f"ts {format_ts(event.ts)} is before {EARLIEST_PLAUSIBLE.date()}")
    if provisioned_at is not None and event.ts < provisioned_at - FUTURE_TOLERANCE:
        return Verdict(
            "before_provisioning",
            f"ts {format_ts(event.ts)} is before the device was provisioned ({format_ts(provisioned_at)})",
        )
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds // 60} min"
