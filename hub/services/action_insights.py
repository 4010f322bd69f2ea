"""An action's effect and a location's week ahead, as the API, the dashboard and the digest show them.

Thin glue over the maths (:mod:`hub.services.effect`, :mod:`hub.services.forecast`) and their reads:
the scope check, the peers to leave out (locations with an action of their own overlapping the
window), and the forecast summed per local day. The daily forecast runs the same seasonal baseline
on daily totals (each day's answers as one "hour"), so its bands come from the days' own spread
rather than from adding up hours that are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from hub.services.actions import overlapping, readable
from hub.services.analytics_errors import InvalidQuery, NotFound
from hub.services.analytics_scope import Scope
from hub.services.effect import DEFAULT_WEEKS, effect
from hub.services.effect_reads import EffectRequest, effect_input, local_today, window
from hub.services.forecast import DEFAULT_DAYS, ForecastSettings, HourForecast, HourlyHistory, forecast
from hub.services.forecast_reads import MAX_HISTORY_DAYS, hourly_history, local_yesterday
from hub.storage.base import Storage
from hub.storage.base_actions import ActionRecord

MAX_FORECAST_DAYS = 14


def _peer_list(storage: Storage, scope: Scope, peers: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if peers is None:
        return None
    for peer in peers:
        record = storage.location(peer)
        if record is not None:
            scope.check(record)
    return peers


def effect_of(
    storage: Storage,
    scope: Scope,
    action_id: str,
    now: datetime,
    weeks: int = DEFAULT_WEEKS,
    peers: tuple[str, ...] | None = None,
) -> dict[str, object]:
    """The action's effect as JSON values: verdict, the DiD with its 95% CI, n on each side, peers used."""
    action, location = readable(storage, scope, action_id)
    del location  # checked against the scope by readable()
    return effect_for(storage, action, now, weeks, _peer_list(storage, scope, peers))


def effect_for(
    storage: Storage,
    action: ActionRecord,
    now: datetime,
    weeks: int = DEFAULT_WEEKS,
    peers: tuple[str, ...] | None = None,
) -> dict[str, object]:
    """As :func:`effect_of`, for an action already read and checked (the dashboard, the digest)."""
    location = storage.location(action.location_id)
    if location is None:
        raise InvalidQuery(f"location {action.location_id!r} is not registered: it has no region or peers")
    if not 2000 <= action.started_on.year <= 2099:  # a kiosk's odd date: no weeks to read around it
        raise InvalidQuery(f"started_on: {action.started_on} is too far from today to measure")
    blocks = window(action.started_on, weeks, local_today(location, now))
    first = blocks.before[0][0]
    last = action.started_on + timedelta(days=7 * weeks - 1)
    others = [a for a in storage.list_actions() if a.location_id != action.location_id]
    exclude = tuple(overlapping(others, first, last, but=action.id))
    request = EffectRequest(action.location_id, action.started_on, action.reason, weeks, peers, exclude)
    result = effect(effect_input(storage, request, now)).as_dict()
    return {"action_id": action.id, "location_id": action.location_id, "reason": action.reason,
            "started_on": action.started_on.isoformat(), **result, "excluded_peers": list(exclude)}  # fmt: skip


@dataclass(frozen=True)
class WeekAhead:
    """Per local day and hour, and per local day (answers summed over the day)."""

    location_id: str
    first: date
    hours: list[HourForecast]
    days: list[HourForecast]
    """``hour`` is 0 and meaningless: each is a whole local day."""

    def as_dict(self) -> dict[str, object]:
        return {
            "location_id": self.location_id,
            "from": self.first.isoformat(),
            "days": [{k: v for k, v in d.as_dict().items() if k != "hour"} for d in self.days],
            "hours": [h.as_dict() for h in self.hours],
        }


def daily(history: HourlyHistory) -> HourlyHistory:
    """The same history with each day's answers summed into one slot (hour 0)."""
    totals: dict[tuple[date, int], list[int]] = {}
    for (day, _hour), counts in history.counts.items():
        slot = totals.setdefault((day, 0), [0] * history.scale)
        for v, c in enumerate(counts):
            slot[v] += c
    return replace(history, counts={k: tuple(v) for k, v in totals.items()})


def week_ahead(storage: Storage, scope: Scope, location_id: str, now: datetime, days: int = DEFAULT_DAYS) -> WeekAhead:
    """The location's forecast for the ``days`` local days from today."""
    if not 1 <= days <= MAX_FORECAST_DAYS:
        raise InvalidQuery(f"days: expected 1..{MAX_FORECAST_DAYS} (got {days})")
    record = storage.location(location_id)
    if record is None:
        raise NotFound(f"location: no location {location_id!r}")
    scope.check(record)
    settings = ForecastSettings()
    last = local_yesterday(storage, location_id, now)
    history = hourly_history(storage, location_id, last, min(MAX_HISTORY_DAYS, 7 * settings.weeks))
    per_day = [f for f in forecast(daily(history), days, settings) if f.hour == 0]
    return WeekAhead(location_id, last + timedelta(days=1), forecast(history, days, settings), per_day)
