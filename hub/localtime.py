"""Local calendar days: a location's day is its own, from its IANA time zone."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo | None:
    """The zone called ``name``, or None when it is not a known IANA zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_day_hour(ts: datetime, tz: ZoneInfo) -> tuple[str, int]:
    """The local calendar day (YYYY-MM-DD) and hour (0-23) of an aware timestamp."""
    local = ts.astimezone(tz)
    return local.date().isoformat(), local.hour
