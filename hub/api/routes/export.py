"""``/api/v1/events``: the raw events of a local-day range, as cursor-paginated JSON or a streamed CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from edge_agent.protocol import ID_PATTERN
from hub.api.deps import ScopeDep, StorageDep, service_errors
from hub.services.analytics_export import DEFAULT_LIMIT, MAX_LIMIT, csv_chunks, csv_filename, event_page, event_query

router = APIRouter(prefix="/api/v1", tags=["export"])


@router.get("/events", summary="Raw events by local day: JSON pages (cursor) or one streamed CSV", response_model=None)
def events(
    storage: StorageDep,
    scope: ScopeDep,
    start: Annotated[date, Query(alias="from", description="first local day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last local day (inclusive), YYYY-MM-DD")],
    location: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this location")] = None,
    region: Annotated[str | None, Query(max_length=200, description="only this region subtree")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json (paginated) or csv (streamed)")] = "json",
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_LIMIT, description=f"json: rows per page (default {DEFAULT_LIMIT})")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="json: the previous page's next_cursor")] = None,
) -> StreamingResponse | dict[str, object]:
    """Events with id, device, location, seq, ts (UTC), local day and hour, question, scale, value, reason,
    source, misuse and survey version. Misuse-flagged events are included (flagged), unlike in scores.

    JSON: follow ``next_cursor`` until it is null; every event comes exactly once, in pk order, even while
    devices sync. CSV: ordered by local day, location, then arrival; cells that a spreadsheet would run as
    a formula start with ``'``.
    """
    with service_errors():
        query = event_query(storage, scope, start, end, location, region)
        if format == "json":
            return event_page(storage, query, cursor, limit or DEFAULT_LIMIT)
    if limit is not None or cursor is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "limit and cursor apply to format=json only")
    headers = {"Content-Disposition": f'attachment; filename="{csv_filename(query)}"'}
    return StreamingResponse(csv_chunks(storage, query), media_type="text/csv; charset=utf-8", headers=headers)
