"""Local calendar days: a location's day is its own, from its IANA time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from edge_agent.protocol import load_zone as zone

__all__ = ["local_day_hour", "zone"]


def local_day_hour(ts: datetime, tz: ZoneInfo) -> tuple[str, int]:
    """The local calendar day (YYYY-MM-DD) and hour (0-23) of an aware timestamp."""
    local = ts.astimezone(tz)
    return local.date().isoformat(), local.hour
