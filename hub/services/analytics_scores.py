"""``GET /api/v1/scores``: scores grouped by location, region, day, hour, weekday x hour or all, within scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from edge_agent.scores import score
from hub.services.analytics_compare import compared_rows, previous_period
from hub.services.analytics_query import check_range, check_region_level, select
from hub.services.analytics_scope import Scope
from hub.storage.base import CountsRow, GroupBy, ScoreQuery, Storage
from hub.storage.base_analytics import Selection


@dataclass(frozen=True)
class ScoreRequest:
    start: date
    end: date
    group_by: GroupBy = "location"
    location: str | None = None
    region: str | None = None
    question: str | None = None
    region_level: int | None = None
    compare: bool = False


def _counts(storage: Storage, req: ScoreRequest, selection: Selection, start: date, end: date) -> list[CountsRow]:
    query = ScoreQuery(
        start, end, req.group_by, selection.location_id, req.question, selection.region, req.region_level
    )
    return storage.score_counts(query)


def score_rows(storage: Storage, scope: Scope, req: ScoreRequest) -> list[dict[str, object]]:
    """Each row: its keys, ``question_id`` and the score module's fields (plus the comparison if asked)."""
    check_range(req.start, req.end)
    check_region_level(req.region_level, req.group_by == "region")
    selection = select(storage, scope, req.location, req.region)
    current = _counts(storage, req, selection, req.start, req.end)
    if req.compare:
        before = _counts(storage, req, selection, *previous_period(req.start, req.end))
        return compared_rows(current, before, (req.end - req.start).days + 1)
    return [{**row.keys, "question_id": row.question_id, **score(row.counts, row.scale).as_dict()} for row in current]


def score_report(storage: Storage, scope: Scope, req: ScoreRequest) -> dict[str, object]:
    """The response body: the period, the grouping and the rows."""
    rows = score_rows(storage, scope, req)
    out: dict[str, object] = {"from": req.start.isoformat(), "to": req.end.isoformat(), "group_by": req.group_by}
    if req.group_by == "region":
        out["region_level"] = req.region_level
    if req.compare:
        start, end = previous_period(req.start, req.end)
        out["previous"] = {"from": start.isoformat(), "to": end.isoformat()}
    out["rows"] = rows
    return out
