"""The open alerts each location's kiosks get with their pushed config, for the manager view.

A store sees its firing episodes, and those fired in the last :data:`RECENT_DAYS` days that nobody
has acknowledged yet, newest first, at most :data:`MAX_PUSHED_ALERTS`, each with its latest
comments. :func:`fingerprint` tells config push when a location's list changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from edge_agent.config_push import MAX_PUSHED_ALERTS
from edge_agent.protocol import AlertComment, PushedAlert, encode
from hub.storage.base import Storage
from hub.storage.base_inbox import InboxState

RECENT_DAYS = 7
COMMENTS = 3


def _moment(stamp: str | None) -> datetime | None:
    return None if stamp is None else datetime.fromisoformat(stamp)


def pushed_alerts(storage: Storage, now: datetime) -> dict[str, list[PushedAlert]]:
    """Location id -> its open alerts as the device receives them."""
    events = storage.open_location_alerts(now - timedelta(days=RECENT_DAYS))
    by_location: dict[str, list[PushedAlert]] = {}
    if not events:
        return by_location
    rules = {r.rule_id: r for r in storage.alert_rules()}
    per_location: dict[str, int] = {}
    kept = []
    for e in events:  # newest first: keep each location's newest MAX_PUSHED_ALERTS
        if e.key.location_id is not None and per_location.get(e.key.location_id, 0) < MAX_PUSHED_ALERTS:
            per_location[e.key.location_id] = per_location.get(e.key.location_id, 0) + 1
            kept.append(e)
    ids = [e.alert_id for e in kept]
    inboxes, notes = storage.alert_inbox(ids), storage.alert_notes(ids)
    for e in kept:
        rule = rules.get(e.key.rule_id)
        inbox = inboxes.get(e.alert_id, InboxState())
        comments = [n for n in notes.get(e.alert_id, []) if n.kind == "comment"][-COMMENTS:]
        assert e.key.location_id is not None
        by_location.setdefault(e.key.location_id, []).append(
            PushedAlert(
                alert_id=e.alert_id, location_id=e.key.location_id,
                rule_name=rule.spec.name if rule else "(deleted rule)", kind=rule.spec.kind if rule else "",
                message=e.message, state=e.state, fired_at=datetime.fromisoformat(e.fired_at),
                acknowledged_at=_moment(inbox.acknowledged_at), acknowledged_by=inbox.acknowledged_by,
                assignee=inbox.assignee,
                comments=[AlertComment(author=n.author, text=n.text or "", created_at=n.created_at) for n in comments],
            )
        )  # fmt: skip
    return by_location


def fingerprint(alerts: Sequence[PushedAlert]) -> str:
    return hashlib.sha256(b"\n".join(encode(a) for a in alerts)).hexdigest()[:16]
