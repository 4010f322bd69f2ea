"""``/api/v1/scores``: n, scores and 95% CIs per location, region, day, hour or weekday x hour, from the rollups."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from edge_agent.protocol import ID_PATTERN
from hub.api.deps import ScopeDep, StorageDep, service_errors
from hub.api.responses import FastJSONResponse
from hub.services.analytics_scores import ScoreRequest, score_report
from hub.storage.base import GroupBy

router = APIRouter(prefix="/api/v1", tags=["scores"])

GROUP_BY_HELP = (
    "location; region (path cut to region_level segments, '(none)' for locations without one); "
    "day or hour (0-23), both per location; weekday_hour (weekday 0=Monday and local hour, over the selected "
    "locations: the heat map); all"
)


@router.get(
    "/scores",
    summary="Scores grouped by location, region, local day, local hour, weekday x hour or all",
    response_class=FastJSONResponse,
)
def scores(
    storage: StorageDep,
    scope: ScopeDep,
    start: Annotated[date, Query(alias="from", description="first local day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last local day (inclusive), YYYY-MM-DD")],
    group_by: Annotated[GroupBy, Query(description=GROUP_BY_HELP)] = "location",
    location: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this location")] = None,
    region: Annotated[
        str | None, Query(max_length=200, description="only this region subtree, e.g. nordics or nordics/helsinki")
    ] = None,
    question: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this question")] = None,
    region_level: Annotated[
        int | None, Query(ge=1, le=16, description="group_by=region: keep this many path segments (default all)")
    ] = None,
    compare: Annotated[
        Literal["previous_period"] | None,
        Query(description="add previous, delta and significant (95%) against the equally long period before"),
    ] = None,
) -> FastJSONResponse:
    """Each row: its keys, ``question_id``, ``scale`` and the shared score module's fields.

    Days are each location's own local calendar days. Misuse-flagged answers are excluded.
    An analyst token limited to a region sees only that region's locations.
    """
    # The body is plain JSON types already: serialised as it is, in Rust, without FastAPI's generic encoder
    # walking every value of a thousand-row report (it cost more than the query).
    request = ScoreRequest(start, end, group_by, location, region, question, region_level, compare is not None)
    with service_errors():
        return FastJSONResponse(score_report(storage, scope, request))
