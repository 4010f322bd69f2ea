"""Realistic shoppers for the demo, the fleet simulator and benchmarks.

Stores open 8-21 local time, are busiest at lunch and again after work (the
pattern lives in :mod:`hub.services.traffic`, shared with ``touchpoint-hub alerts
simulate``), and each has its own mood; one can have a bad hour (a queue at 17:00, say).
Taps go through the real recording API into each device's own store.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from edge_agent.store import DeviceStore
from hub.services.traffic import OPEN_HOURS, REASON_SHARE, REASONS, hour_weight


@dataclass(frozen=True)
class SimLocation:
    location_id: str
    timezone: str
    mood: tuple[float, float, float, float]  # probability of each smiley, most negative first
    bad_hour: int | None = None
    taps_per_day: int = 300
    # (hour, days ago): a queue at that local hour every day until the store acted on it that many days ago
    # ("You said, we did"); the demo logs the action and the hub measures its effect against the other stores.
    fixed_queue: tuple[int, int] | None = None


BAD_HOUR_MOOD = (0.45, 0.25, 0.2, 0.1)  # 70% negative: the usual queue at a store's bad hour
QUEUE_OUT_THE_DOOR = (0.7, 0.2, 0.07, 0.03)  # 90% negative: worse than any usual hour, a till down

DEMO_LOCATIONS = [
    SimLocation("helsinki-central", "Europe/Helsinki", (0.05, 0.10, 0.35, 0.50), fixed_queue=(12, 28)),
    SimLocation("new-york-5th", "America/New_York", (0.08, 0.12, 0.40, 0.40), bad_hour=17),
    SimLocation("tokyo-shibuya", "Asia/Tokyo", (0.03, 0.07, 0.30, 0.60)),
    SimLocation("sydney-pitt", "Australia/Sydney", (0.06, 0.14, 0.40, 0.40)),
]


def answer(
    loc: SimLocation, hour: int, rng: random.Random, mood: tuple[float, ...] | None = None
) -> tuple[int, str | None]:
    """A smiley value (0 = most negative) and, for some negative answers, a reason.

    ``mood`` replaces the store's own for this answer: a queue, whose negatives name the queue.
    """
    queue = mood is not None or hour == loc.bad_hour
    weights = mood or (BAD_HOUR_MOOD if hour == loc.bad_hour else loc.mood)
    value = rng.choices(range(4), weights=weights)[0]
    reason = None
    if value <= 1 and rng.random() < REASON_SHARE:
        reason = "queue" if queue else rng.choice(REASONS)
    return value, reason


def backfill(store: DeviceStore, loc: SimLocation, days: int, rng: random.Random, now: datetime) -> int:
    """Record ``days`` of history ending yesterday (local), through the real recording API."""
    tz = ZoneInfo(loc.timezone)
    today = now.astimezone(tz).date()
    total_weight = sum(hour_weight(h) for h in range(24))
    count = 0
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        for hour in OPEN_HOURS:
            expected = loc.taps_per_day * hour_weight(hour) / total_weight
            for _ in range(_poisson(expected, rng)):
                local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=tz)
                queue = loc.fixed_queue is not None and hour == loc.fixed_queue[0] and back > loc.fixed_queue[1]
                value, reason = answer(loc, hour, rng, BAD_HOUR_MOOD if queue else None)
                store.record(value, "default", 4, source="sim", reason=reason, now=local.astimezone(UTC))
                count += 1
    return count


def live_tap(store: DeviceStore, loc: SimLocation, rng: random.Random, mood: tuple[float, ...] | None = None) -> int:
    """One shopper now, in the store's mood for this local hour, or in ``mood`` (the demo's queue)."""
    hour = datetime.now(ZoneInfo(loc.timezone)).hour
    value, reason = answer(loc, hour, rng, mood)
    store.record(value, "default", 4, source="sim", reason=reason)
    return value


def _poisson(mean: float, rng: random.Random) -> int:
    # Knuth's method: fine for the small means of one store-hour.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
