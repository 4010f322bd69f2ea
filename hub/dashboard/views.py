"""Page models: the numbers each page shows, gathered for one viewer within their region scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from hub.dashboard import numbers
from hub.dashboard.insights import ActionRow, Forecast, action_rows, forecast_for
from hub.dashboard.numbers import Row
from hub.dashboard.period import Period
from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_locations import get_location, list_locations, visible_devices
from hub.services.analytics_scope import Scope
from hub.services.regions import prefixes
from hub.storage.base import Storage
from hub.storage.base_alerts import AlertEvent
from hub.storage.base_analytics import LocationRecord

DEFAULT_QUESTION = "default"


@dataclass(frozen=True)
class LeaderRow:
    location: LocationRecord
    current: Row | None  # an API scores row with compare=previous_period, None without answers

    @property
    def location_id(self) -> str:
        return self.location.location_id

    def _compared(self, key: str) -> object:
        part = None if self.current is None else self.current.get(key)
        return part.get("happy_index") if isinstance(part, dict) else None

    @property
    def delta(self) -> float | None:
        value = self._compared("delta")
        return value if isinstance(value, float | int) else None

    @property
    def significant(self) -> bool | None:
        value = self._compared("significant")
        return value if isinstance(value, bool) else None

    @property
    def previous(self) -> Row | None:
        before = None if self.current is None else self.current.get("previous")
        return cast(Row, before) if isinstance(before, dict) and before.get("n") else None


@dataclass(frozen=True)
class FleetView:
    period: Period
    question: str
    questions: list[str]
    region: str | None
    regions: list[str]
    rows: list[LeaderRow]
    total: Row | None
    devices_online: int
    devices_total: int


@dataclass(frozen=True)
class LocationView:
    location: LocationRecord
    period: Period
    question: str
    questions: list[str]
    summary: LeaderRow
    days: dict[str, Row]
    heat: dict[tuple[int, int], Row]
    devices: list[Row]
    reasons: list[Row]
    alerts: list[AlertEvent]
    actions: list[ActionRow]
    forecast: Forecast

    @property
    def markers(self) -> list[tuple[object, str]]:
        """(started_on, text) of the actions, for the trend chart."""
        return [(r.action.started_on, r.action.text) for r in self.actions]


def with_last_contact(devices: list[Row]) -> list[Row]:
    """Last contact is the later of the last batch and the last status message."""
    for d in devices:
        stamps = [str(d[k]) for k in ("last_seen", "status_at") if d.get(k)]
        d["last_contact"] = max(stamps) if stamps else None
    return devices


def region_options(locations: list[LocationRecord]) -> list[str]:
    """Every region and parent region of the visible locations, for the filter menu."""
    return sorted({p for loc in locations for p in prefixes(loc.region)})


def pick_question(rows: list[Row], wanted: str | None) -> tuple[str, list[str]]:
    """The requested question if answered, else ``default``, else the most answered one."""
    totals: dict[str, int] = {}
    for row in rows:
        q = str(row["question_id"])
        totals[q] = totals.get(q, 0) + cast(int, row["n"])
    questions = sorted(totals)
    if wanted and wanted in totals:
        return wanted, questions
    if DEFAULT_QUESTION in totals or not totals:
        return DEFAULT_QUESTION, questions
    return max(totals, key=lambda q: totals[q]), questions


def _sort_key(row: LeaderRow) -> tuple[int, float, str]:
    """Best first; small samples after reliable scores (a lucky 18 answers should not top the board)."""
    value = None if row.current is None else row.current.get("happy_index")
    if not isinstance(value, float | int) or row.current is None:
        return (2, 0.0, row.location_id)
    return (1 if row.current.get("small_sample") else 0, -float(value), row.location_id)


def fleet_view(storage: Storage, scope: Scope, period: Period, region: str | None, question: str | None) -> FleetView:
    visible = list_locations(storage, scope)
    regions = region_options(visible)
    region = region if region in regions else None  # unknown or out of scope: the whole scope
    narrowed = Scope(region) if region else scope  # region is inside the scope: it came from the visible ones
    shown = list_locations(storage, narrowed)
    current = numbers.scores(storage, scope, period, "location", region=region, compare=True)
    question, questions = pick_question(current, question)
    by_location = {r["location_id"]: r for r in current if r["question_id"] == question}
    total = numbers.scores(storage, scope, period, "all", region=region, question=question)
    devices = visible_devices(storage, narrowed)
    return FleetView(
        period=period,
        question=question,
        questions=questions,
        region=region,
        regions=regions,
        rows=sorted((LeaderRow(loc, by_location.get(loc.location_id)) for loc in shown), key=_sort_key),
        total=total[0] if total else None,
        devices_online=sum(1 for d in devices if d["online"] is True),
        devices_total=len(devices),
    )


def find_location(storage: Storage, scope: Scope, location_id: str) -> LocationRecord | None:
    """The location if this viewer may see it; out of scope looks the same as unknown."""
    try:
        return get_location(storage, scope, location_id)
    except AnalyticsError:
        return None


def location_view(
    storage: Storage, scope: Scope, location: LocationRecord, period: Period, question: str | None
) -> LocationView:
    loc_id = location.location_id
    current = numbers.scores(storage, scope, period, "location", location=loc_id, compare=True)
    question, questions = pick_question(current, question)
    summary = next((r for r in current if r["question_id"] == question), None)
    days = numbers.scores(storage, scope, period, "day", location=loc_id, question=question)
    heat = numbers.scores(storage, scope, period, "weekday_hour", location=loc_id, question=question)
    devices = [d for d in storage.devices() if d["location_id"] == loc_id]
    now = datetime.now(UTC)
    return LocationView(
        location=location,
        period=period,
        question=question,
        questions=questions,
        summary=LeaderRow(location, summary),
        days={str(r["day"]): r for r in days},
        heat={(cast(int, r["weekday"]), cast(int, r["hour"])): r for r in heat},
        devices=with_last_contact(devices),
        reasons=numbers.negative_reasons(storage, scope, period, loc_id, question),
        alerts=numbers.recent_alerts(storage, scope, loc_id),
        actions=action_rows(storage, loc_id, now),
        forecast=forecast_for(storage, scope, loc_id, now),
    )


def device_rows(storage: Storage, scope: Scope) -> tuple[list[Row], dict[str, LocationRecord]]:
    """Devices within the scope, as ``GET /api/v1/devices`` lists them, and their locations by id."""
    locations = {loc.location_id: loc for loc in list_locations(storage, scope)}
    return with_last_contact(visible_devices(storage, scope)), locations
