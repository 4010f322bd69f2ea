"""The storage contract for HQ analytics: registered locations, reasons and the events export.

Part of :class:`hub.storage.base.Storage`. SQLite implements it in
:mod:`hub.storage.sql.analytics`. Filters arrive already validated and
already narrowed to the caller's region scope (the services do that), so an
implementation only has to apply them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from edge_agent.scores import Polarity

OpeningHours = dict[str, list[str]]
"""``{"mon": ["08:00", "21:00"], ...}``; a day that is missing is a closed day."""

TimezoneSource = Literal["registered", "events"]
ReasonGroupBy = Literal["location", "region", "all"]
NO_REGION = "(none)"
"""The group of locations without a region, in ``group_by=region`` rows."""

EXPORT_COLUMNS = (
    "id", "device_id", "location_id", "seq", "ts", "local_day", "local_hour", "question_id", "scale", "value",
    "reason", "source", "misuse", "survey_version",
)  # fmt: skip
ExportRow = tuple[object, ...]
"""One event, valued in :data:`EXPORT_COLUMNS` order (``misuse`` as 0/1)."""


@dataclass(frozen=True)
class LocationRecord:
    location_id: str
    name: str | None
    region: str | None
    timezone: str
    timezone_source: TimezoneSource
    opening_hours: OpeningHours | None
    created_at: str
    updated_at: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class LocationSpec:
    """What an admin registers; every field already validated."""

    location_id: str
    name: str
    timezone: str
    region: str | None = None
    opening_hours: OpeningHours | None = None


@dataclass(frozen=True)
class LocationChanges:
    """A partial update: only the fields named in ``given`` change; None there clears name, region or hours."""

    given: frozenset[str]
    name: str | None = None
    region: str | None = None
    timezone: str | None = None
    opening_hours: OpeningHours | None = None


@dataclass(frozen=True)
class Selection:
    """Which locations a query covers: a region subtree and/or one location (None: no limit)."""

    region: str | None = None
    location_id: str | None = None


@dataclass(frozen=True)
class ReasonQuery:
    start: date
    end: date
    selection: Selection = field(default_factory=Selection)
    group_by: ReasonGroupBy = "location"
    region_level: int | None = None
    question_id: str | None = None
    polarity: Polarity | None = None


@dataclass(frozen=True)
class ReasonRow:
    keys: dict[str, object]
    question_id: str
    polarity: Polarity
    reason: str
    n: int


@dataclass(frozen=True)
class EventQuery:
    """Events by the location's local day, ``start``..``end`` inclusive."""

    start: date
    end: date
    selection: Selection = field(default_factory=Selection)


class AnalyticsStorage(Protocol):
    def locations(self, region: str | None = None) -> list[dict[str, object]]: ...

    def location_records(self, region: str | None = None) -> list[LocationRecord]: ...

    def location(self, location_id: str) -> LocationRecord | None: ...

    def register_location(self, spec: LocationSpec, now: datetime) -> LocationRecord | None:
        """Create it, or claim a location first seen from events; None if it is already registered."""
        ...

    def update_location(self, location_id: str, changes: LocationChanges, now: datetime) -> LocationRecord | None:
        """None if there is no such location. A new time zone makes ``timezone_source`` 'registered'."""
        ...

    def reason_counts(self, query: ReasonQuery) -> list[ReasonRow]: ...

    def event_page(self, query: EventQuery, after_pk: int, limit: int) -> list[tuple[int, ExportRow]]:
        """Up to ``limit`` events with pk > ``after_pk``, by pk: (pk, row) pairs for keyset pagination."""
        ...

    def iter_events(self, query: EventQuery, chunk_size: int) -> Iterator[list[ExportRow]]:
        """Every matching event in chunks, from one snapshot, holding at most one chunk in memory."""
        ...
