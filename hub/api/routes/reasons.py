"""``/api/v1/reasons``: the follow-up reasons shoppers gave, by polarity, per location, region or overall."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from edge_agent.protocol import ID_PATTERN
from edge_agent.scores import Polarity
from hub.api.deps import ScopeDep, StorageDep, service_errors
from hub.services.analytics_reasons import ReasonRequest, reason_rows
from hub.storage.base_analytics import ReasonGroupBy

router = APIRouter(prefix="/api/v1", tags=["reasons"])


@router.get("/reasons", summary="Follow-up reasons with their count and share, by polarity")
def reasons(
    storage: StorageDep,
    scope: ScopeDep,
    start: Annotated[date, Query(alias="from", description="first local day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last local day (inclusive), YYYY-MM-DD")],
    group_by: Annotated[ReasonGroupBy, Query(description="location, region (see region_level) or all")] = "location",
    location: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this location")] = None,
    region: Annotated[str | None, Query(max_length=200, description="only this region subtree")] = None,
    question: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this question")] = None,
    polarity: Annotated[
        Polarity | None,
        Query(description="negative (bottom two faces, NPS 0-6), neutral, or positive (top two, NPS 9-10)"),
    ] = None,
    region_level: Annotated[int | None, Query(ge=1, le=16, description="group_by=region: path segments kept")] = None,
) -> dict[str, object]:
    """Rows ``{keys, question_id, polarity, reason, n, share}``, most frequent first in each group.

    ``share`` is the % of that group's answers of the same question and polarity that gave a reason.
    """
    request = ReasonRequest(start, end, group_by, location, region, question, polarity, region_level)
    with service_errors():
        rows = reason_rows(storage, scope, request)
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group_by, "rows": rows}
