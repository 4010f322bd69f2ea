"""Digest subscriptions and when each is due: pure, so a scheduler only has to load, call, send and record.

A subscription sends one target's digest to one address on a weekday at a
local hour, in the subscription's own time zone (a location's by default; a
region's subscriber says which). Storage keeps the subscriptions and, per
subscription, when it last went out; the leader worker calls :func:`due`
every few minutes and sends what it returns, then records ``sent_at``.

A slot that passed while the hub was down is sent when it comes back, once:
after a week down, only the latest slot goes out. A new subscription waits for
its first slot after it was created, rather than sending at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from edge_agent.protocol import load_zone
from hub.services.digest import DigestTarget

Channel = Literal["email", "webhook"]
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DigestSubscription:
    subscription_id: int
    target: DigestTarget
    channel: Channel
    address: str
    """An e-mail address, or a webhook URL (a secret: never logged whole)."""
    weekday: int
    """0 = Monday .. 6 = Sunday, in ``timezone``."""
    hour: int
    """Local hour 0..23 in ``timezone``."""
    timezone: str
    created_at: datetime
    last_sent_at: datetime | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday: must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if not 0 <= self.hour <= 23:
            raise ValueError(f"hour: must be 0 to 23, got {self.hour}")
        if load_zone(self.timezone) is None:
            raise ValueError(f"timezone: {self.timezone!r} is not an IANA time zone")
        if self.channel not in ("email", "webhook"):
            raise ValueError(f"channel: must be 'email' or 'webhook', got {self.channel!r}")
        for name in ("created_at", "last_sent_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: must be timezone-aware")

    def schedule_text(self) -> str:
        return f"{WEEKDAY_NAMES[self.weekday]} {self.hour:02d}:00 {self.timezone}"


def latest_slot(subscription: DigestSubscription, now: datetime) -> datetime:
    """The latest scheduled moment at or before ``now``: its weekday and hour on the local wall clock.

    An hour the clocks skip (spring forward) falls at the same offset as the hour
    before the change, so it still happens once that day.
    """
    zone = load_zone(subscription.timezone)
    assert zone is not None  # checked in __post_init__
    today = now.astimezone(zone).date()
    day = today - timedelta(days=(today.weekday() - subscription.weekday) % 7)
    slot = datetime.combine(day, time(subscription.hour), zone).astimezone(UTC)  # UTC: compare instants, not walls
    if slot > now:
        slot = datetime.combine(day - timedelta(weeks=1), time(subscription.hour), zone).astimezone(UTC)
    return slot


def due(subscriptions: Iterable[DigestSubscription], now: datetime) -> list[DigestSubscription]:
    """The enabled subscriptions whose latest slot has passed and was not sent yet, in id order."""
    if now.tzinfo is None:
        raise ValueError("now: must be timezone-aware")
    out = []
    for sub in subscriptions:
        if not sub.enabled:
            continue
        slot = latest_slot(sub, now)
        since = sub.last_sent_at or sub.created_at
        if slot > since:
            out.append(sub)
    return sorted(out, key=lambda s: s.subscription_id)
