"""Where the dashboard's numbers come from: the very service functions and storage calls the API uses.

A page therefore cannot show a number that differs from the API's JSON for the
same range and scope; this module only adapts arguments and picks fields.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.dashboard.period import Period
from hub.services.analytics_reasons import ReasonRequest, reason_rows
from hub.services.analytics_scope import Scope
from hub.services.analytics_scores import ScoreRequest, score_rows
from hub.storage.base import GroupBy, Storage
from hub.storage.base_alerts import AlertEvent, AlertQuery

Row = dict[str, object]
TOP_REASONS = 5


def scores(
    storage: Storage,
    scope: Scope,
    period: Period,
    group_by: GroupBy,
    *,
    location: str | None = None,
    region: str | None = None,
    question: str | None = None,
    compare: bool = False,
) -> list[Row]:
    """The rows of ``GET /api/v1/scores`` with the same arguments (``compare=previous_period`` if asked)."""
    request = ScoreRequest(period.start, period.end, group_by, location, region, question, None, compare)
    return score_rows(storage, scope, request)


def negative_reasons(storage: Storage, scope: Scope, period: Period, location: str, question: str) -> list[Row]:
    """The most frequent reasons after negative answers: ``GET /api/v1/reasons?polarity=negative``."""
    request = ReasonRequest(period.start, period.end, "location", location, None, question, "negative")
    return reason_rows(storage, scope, request)[:TOP_REASONS]


def recent_alerts(storage: Storage, scope: Scope, location: str, limit: int = 8) -> list[AlertEvent]:
    """Newest alert episodes of a location, as ``GET /api/v1/alerts?location=`` reads them."""
    return storage.alert_history(AlertQuery(location_id=location, region=scope.region, limit=limit))


def today_utc() -> date:
    return datetime.now(UTC).date()
