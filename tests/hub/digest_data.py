"""A small hub database for the digest tests: stores far from UTC, answers at known local times, through ingest.

Auckland is UTC+13 in November. ``AS_OF`` is Monday 00:30 there but still
Sunday in UTC, so the last complete local week is 16..22 November in
Auckland, while a UTC calendar would still say 9..15 November. Taps placed
around local midnight fall on the side of the week their local day says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from edge_agent.protocol import Event
from hub.app import create_app
from hub.core.config import HubSettings
from hub.storage.base import IncomingBatch
from hub.storage.base_analytics import LocationSpec
from hub.storage.sqlite import SqliteStorage

AUCKLAND = "Pacific/Auckland"
NEW_YORK = "America/New_York"
AS_OF = datetime(2026, 11, 22, 11, 30, tzinfo=UTC)  # Mon 23 Nov 00:30 in Auckland; Sun 22 Nov 06:30 in New York
WEEK = (date(2026, 11, 16), date(2026, 11, 22))
PREVIOUS = (date(2026, 11, 9), date(2026, 11, 15))


@dataclass(frozen=True)
class Tap:
    location: str
    local: datetime  # naive wall time at the location
    value: int
    reason: str | None = None


ZONES = {"akl-1": AUCKLAND, "akl-2": AUCKLAND, "nyc-1": NEW_YORK}


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm)


def taps() -> list[Tap]:
    mon, wed, sun = WEEK[0], WEEK[0] + timedelta(days=2), WEEK[1]
    out = [
        # The week before: mostly unhappy.
        *[Tap("akl-1", at(PREVIOUS[0] + timedelta(days=1), 12), v) for v in [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4],
        # Sunday 23:30 of the week before, local: Sunday 10:30 UTC. Counts in the week before.
        Tap("akl-1", at(PREVIOUS[1], 23, 30), 0),
        # Monday 00:30 local opens the week, though in UTC it is still Sunday 15 November.
        *[Tap("akl-1", at(mon, 0, 30), 3) for _ in range(5)],
        *[Tap("akl-1", at(wed, 13), v) for v in [3] * 10 + [2] * 5],
        *[Tap("akl-1", at(wed, 14), 0, r) for r in ("queue", "queue", "queue", "staff", None)],
        Tap("akl-1", at(wed, 14, 30), 1, "queue"),
        # Sunday 23:30 local closes the week (Sunday 10:30 UTC).
        *[Tap("akl-1", at(sun, 23, 30), v) for v in (3, 3, 2, 0)],
        # Monday 23 November 00:10 local, before AS_OF: the next week, never in this digest.
        *[Tap("akl-1", at(sun + timedelta(days=1), 0, 10), 0) for _ in range(2)],
        # A second Auckland store, and one in New York whose Sunday is not over at AS_OF.
        *[Tap("akl-2", at(wed, 10), v) for v in (3, 3, 3, 1)],
        *[Tap("akl-2", at(PREVIOUS[0] + timedelta(days=3), 10), v) for v in (3, 1)],
        *[Tap("nyc-1", at(wed, 10), v) for v in (0, 0, 3)],
    ]
    return out


def expected_counts(location: str, first: date, last: date) -> list[int]:
    """Counts per face (4-face scale) of the taps whose local day is within first..last, from the list alone."""
    counted = Counter(t.value for t in taps() if t.location == location and first <= t.local.date() <= last)
    return [counted[v] for v in range(4)]


def fill(db: Path) -> SqliteStorage:
    """Register the stores, then ingest every tap as its device would send it, received a minute later."""
    storage = SqliteStorage(db)
    now = AS_OF - timedelta(days=30)
    storage.register_location(LocationSpec("akl-1", "Auckland Queen St", AUCKLAND, "apac/nz"), now)
    storage.register_location(LocationSpec("akl-2", "Auckland Ponsonby", AUCKLAND, "apac/nz"), now)
    storage.register_location(LocationSpec("nyc-1", "New York 5th", NEW_YORK, "americas/us"), now)
    for seq, tap in enumerate(taps(), 1):
        zone = ZONES[tap.location]
        ts = tap.local.replace(tzinfo=ZoneInfo(zone))
        event = Event(id=f"0190a5e4-7c1d-7abc-8def-{seq:012x}", seq=seq, ts=ts, tz=zone, clock_ok=True,
                      question_id="default", scale=4, value=tap.value, reason=tap.reason, source="touch")  # fmt: skip
        storage.ingest([IncomingBatch(f"dev-{tap.location}", tap.location, f"b-{seq}", [event])], [], [],
                       ts + timedelta(minutes=1))  # fmt: skip
    return storage


def api_get(db: Path, path: str, **params: str) -> Any:
    """``GET /api/v1/...`` from the hub's own app on the same database, with an admin token."""
    maker = SqliteStorage(db)
    _, secret = maker.create_token("digest test", "admin", None)
    maker.close()
    with TestClient(create_app(HubSettings(db=db), with_ingest=False)) as client:
        response = client.get(path, params=params, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.text
    return response.json()
