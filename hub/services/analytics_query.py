"""The parts every analytics query shares: a local-day range and which locations, within the caller's scope."""

from __future__ import annotations

from datetime import date

from hub.services.analytics_errors import InvalidQuery, NotFound
from hub.services.analytics_fields import check_region
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage
from hub.storage.base_analytics import Selection

MAX_RANGE_DAYS = 3660


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidQuery("'to' must not be before 'from'")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidQuery(f"a range may span at most {MAX_RANGE_DAYS} days")


def check_region_level(level: int | None, grouped_by_region: bool) -> None:
    if level is None:
        return
    if not grouped_by_region:
        raise InvalidQuery("region_level applies to group_by=region only")
    if level < 1:
        raise InvalidQuery("region_level must be 1 or more (1 = the top level, e.g. 'nordics')")


def select(storage: Storage, scope: Scope, location: str | None, region: str | None) -> Selection:
    """The locations a query covers, narrowed to the scope: 404 for an unknown location, 403 outside the scope."""
    if region is not None:
        try:
            check_region(region)
        except ValueError as exc:
            raise InvalidQuery(f"region: {exc}") from None
    narrowed = scope.narrow(region)
    if location is not None:
        record = storage.location(location)
        if record is None:
            raise NotFound(f"unknown location {location!r}")
        scope.check(record)
    return Selection(region=narrowed, location_id=location)
