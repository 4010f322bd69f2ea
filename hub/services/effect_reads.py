"""Reads an action's before/after weeks through the storage contract, for :func:`hub.services.effect.effect`.

Only :meth:`~hub.storage.base.Storage.score_counts` (by day) and
:meth:`~hub.storage.base_analytics.AnalyticsStorage.reason_counts` (per week) are used, so
any backend that implements the contract serves it. The caller (the API route) checks the
token's region scope and names the locations whose own actions overlap the window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from edge_agent.protocol import load_zone
from hub.services.analytics_errors import InvalidQuery, NotFound
from hub.services.effect import DEFAULT_WEEKS, EffectInput, LocationWeeks, WeekCounts
from hub.storage.base import ScoreQuery, Storage
from hub.storage.base_analytics import LocationRecord, ReasonQuery, Selection

MAX_WEEKS = 26


@dataclass(frozen=True)
class EffectRequest:
    location_id: str
    started_on: date
    """The action's first local day."""
    reason: str | None = None
    weeks: int = DEFAULT_WEEKS
    peers: tuple[str, ...] | None = None
    """Chosen peers; None: every location in the store's region (or, without a region, every one without)."""
    exclude: tuple[str, ...] = ()
    """Locations with an action overlapping the window: never peers."""
    question_id: str | None = None
    """None: the question the store answered most in the window."""


@dataclass(frozen=True)
class Window:
    """The 7-day blocks: ``before`` ends the day before the start; ``after`` holds complete blocks only."""

    before: list[tuple[date, date]]
    after: list[tuple[date, date]]


def window(started_on: date, weeks: int, today: date) -> Window:
    """Blocks of an action that started on ``started_on``, as seen on the local day ``today`` (not complete)."""
    before = [
        (started_on - timedelta(days=7 * (weeks - i)), started_on - timedelta(days=7 * (weeks - i) - 6))
        for i in range(weeks)
    ]
    after = []
    for i in range(weeks):
        first = started_on + timedelta(days=7 * i)
        last = first + timedelta(days=6)
        if last >= today:
            break
        after.append((first, last))
    return Window(before, after)


def _peers(storage: Storage, store: LocationRecord, req: EffectRequest) -> list[str]:
    if req.peers is not None:
        for peer in req.peers:
            if storage.location(peer) is None:
                raise NotFound(f"peers: no location {peer!r}")
        chosen = list(req.peers)
    elif store.region:
        chosen = [r.location_id for r in storage.location_records(store.region)]
    else:
        chosen = [r.location_id for r in storage.location_records() if not r.region]
    return [p for p in dict.fromkeys(chosen) if p != store.location_id and p not in req.exclude]


def _main_question(storage: Storage, location_id: str, start: date, end: date) -> tuple[str, int]:
    rows = storage.score_counts(ScoreQuery(start, end, group_by="location", location_id=location_id))
    if not rows:
        raise InvalidQuery(f"location {location_id!r} has no answers between {start} and {end}")
    best = max(rows, key=lambda r: (sum(r.counts), r.question_id))
    return best.question_id, best.scale


def _daily(storage: Storage, location_id: str, start: date, end: date, question: str) -> dict[date, list[int]]:
    rows = storage.score_counts(ScoreQuery(start, end, group_by="day", location_id=location_id, question_id=question))
    return {date.fromisoformat(str(r.keys["day"])): r.counts for r in rows}


def _block(days: dict[date, list[int]], first: date, last: date, scale: int) -> tuple[int, ...]:
    total = [0] * scale
    day = first
    while day <= last:
        for v, c in enumerate(days.get(day, ())):
            total[v] += c
        day += timedelta(days=1)
    return tuple(total)


def _reasons(
    storage: Storage, blocks: list[tuple[date, date]], reason: str, question: str, locations: set[str]
) -> list[dict[str, int]]:
    """Per block: answers naming ``reason`` per location (one query per block over all locations asked)."""
    out = []
    for first, last in blocks:
        rows = storage.reason_counts(ReasonQuery(first, last, Selection(), "location", question_id=question))
        found: dict[str, int] = defaultdict(int)
        for row in rows:
            location = str(row.keys["location_id"])
            if row.reason == reason and location in locations:
                found[location] += row.n
        out.append(found)
    return out


def local_today(store: LocationRecord, now: datetime) -> date:
    return now.astimezone(load_zone(store.timezone)).date()


def effect_input(storage: Storage, req: EffectRequest, now: datetime) -> EffectInput:
    """Weekly counts of the store and its peers around the action's start, as of ``now``."""
    if not 2 <= req.weeks <= MAX_WEEKS:
        raise InvalidQuery(f"weeks: expected 2..{MAX_WEEKS} (got {req.weeks})")
    store = storage.location(req.location_id)
    if store is None:
        raise NotFound(f"location_id: no location {req.location_id!r}")
    blocks = window(req.started_on, req.weeks, local_today(store, now))
    every = blocks.before + blocks.after
    first, last = every[0][0], every[-1][1]
    question, scale = (
        _main_question(storage, store.location_id, first, last) if req.question_id is None else (req.question_id, 0)
    )
    ids = [store.location_id, *_peers(storage, store, req)]
    days = {loc: _daily(storage, loc, first, last, question) for loc in ids}
    if scale == 0:
        scales = {len(c) for per_day in days.values() for c in per_day.values()}
        if len(scales) > 1:
            raise InvalidQuery(f"question_id: {question!r} is answered on different scales {sorted(scales)}")
        if not scales:
            raise InvalidQuery(f"question_id: no answers to {question!r} in the window")
        scale = scales.pop()
    reasons = _reasons(storage, every, req.reason, question, set(ids)) if req.reason else [{} for _ in every]
    weeks = {
        loc: [WeekCounts(_block(days[loc], a, b, scale), reasons[i].get(loc, 0)) for i, (a, b) in enumerate(every)]
        for loc in ids
    }
    cut = len(blocks.before)
    located = [LocationWeeks(loc, tuple(weeks[loc][:cut]), tuple(weeks[loc][cut:])) for loc in ids]
    peers = tuple(p for p in located[1:] if any(w.n for w in (*p.before, *p.after)))
    return EffectInput(located[0], peers, scale, req.reason, req.weeks)
