"""A hub with eight weeks of answers at five stores, and one store that fixed its queues four weeks ago.

Written through the real storage contract (``register_location`` + ``ingest``), so every backend can be
filled the same way before a real hub process serves it. ``hel-1`` logs "a second till" (reason
``queue``) on :func:`start_day`; from that day its queue complaints almost vanish. ``hel-2`` and
``hel-3`` are unchanged peers; ``hel-4`` has an action of its own in the same weeks (never a peer);
``nyc-1`` is in another region.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edge_agent.protocol import Event
from hub.storage.base import IncomingBatch, Storage
from hub.storage.base_analytics import LocationSpec

HOURS = range(9, 19)
PER_HOUR = 6.0
DAYS = 57


@dataclass(frozen=True)
class Store:
    location_id: str
    region: str
    zone: str = "Europe/Helsinki"


STORES = [
    Store("hel-1", "nordics/finland"),
    Store("hel-2", "nordics/finland"),
    Store("hel-3", "nordics/finland"),
    Store("hel-4", "nordics/finland"),
    Store("nyc-1", "americas/us", "America/New_York"),
]
TREATED = "hel-1"
BEFORE = ([0.15, 0.15, 0.35, 0.35], 0.6)  # face shares (most negative first), share of negatives naming queue
AFTER = ([0.07, 0.08, 0.4, 0.45], 0.1)


def local_today(now: datetime, zone: str = "Europe/Helsinki") -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def start_day(now: datetime) -> date:
    """The treated store's action: four complete weeks ago (its after-window ends the day before yesterday)."""
    return local_today(now) - timedelta(days=29)


def fill(storage: Storage, now: datetime, seed: int = 11, started: date | None = None) -> int:
    """Register the stores and ingest their answers up to yesterday; returns how many answers.

    ``started``: the day the treated store's queues improve (default :func:`start_day`).
    """
    rng = np.random.default_rng(seed)
    started = started or start_day(now)
    total = 0
    for store in STORES:
        storage.register_location(LocationSpec(store.location_id, store.location_id.upper(), store.zone,
                                               store.region), now)  # fmt: skip
        tz = ZoneInfo(store.zone)
        today = local_today(now, store.zone)
        seq = 0
        for back in range(DAYS, 0, -1):
            day = today - timedelta(days=back)
            shares, queue = AFTER if store.location_id == TREATED and day >= started else BEFORE
            events = []
            for hour in HOURS:
                for _ in range(int(rng.poisson(PER_HOUR))):
                    seq += 1
                    value = int(rng.choice(4, p=shares))
                    reason = ("queue" if rng.random() < queue else "staff") if value <= 1 else None
                    ts = datetime.combine(day, time(hour, int(rng.integers(60))), tz)
                    events.append(Event(
                        id=str(uuid.uuid4()), seq=seq, ts=ts, tz=store.zone, clock_ok=True, question_id="default",
                        scale=4, value=value, reason=reason, source="touch", misuse=False,
                    ))  # fmt: skip
            total += len(events)
            batch = IncomingBatch(f"dev-{store.location_id}", store.location_id, str(uuid.uuid4()), events)
            storage.ingest([batch], [], [], datetime.now(UTC))
    return total
