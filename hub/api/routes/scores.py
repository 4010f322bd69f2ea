"""``/api/v1/scores``: n, scores and 95% CIs per location, day or hour, from the rollups."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from edge_agent.protocol import ID_PATTERN
from edge_agent.scores import score
from hub.api.deps import StorageDep, TokenDep
from hub.storage.base import GroupBy, ScoreQuery

router = APIRouter(prefix="/api/v1", tags=["scores"])
MAX_RANGE_DAYS = 3660


@router.get("/scores", summary="Scores grouped by location, local day or local hour of day")
def scores(
    storage: StorageDep,
    _token: TokenDep,
    start: Annotated[date, Query(alias="from", description="first local day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last local day (inclusive), YYYY-MM-DD")],
    group_by: Annotated[
        GroupBy, Query(description="location, day (per location), hour (0-23, per location) or all")
    ] = "location",
    location: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this location")] = None,
    question: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this question")] = None,
) -> dict[str, object]:
    """Each row: its keys, ``question_id``, ``scale`` and the shared score module's fields.

    Days are each location's own local calendar days. Misuse-flagged answers are excluded.
    """
    if end < start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "'to' must not be before 'from'")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"a range may span at most {MAX_RANGE_DAYS} days")
    query = ScoreQuery(start=start, end=end, group_by=group_by, location_id=location, question_id=question)
    rows = [
        {**row.keys, "question_id": row.question_id, **score(row.counts, row.scale).as_dict()}
        for row in storage.score_counts(query)
    ]
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by, "rows": rows}
