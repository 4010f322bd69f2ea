"""The dashboard pages: fleet overview, one location, devices. Read-only, server-rendered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from hub.api.deps import StorageDep
from hub.dashboard import inbox_views, views
from hub.dashboard.auth import ViewerDep
from hub.dashboard.numbers import today_utc
from hub.dashboard.period import parse_period
from hub.dashboard.render import SECURITY_HEADERS, STATIC, page

router = APIRouter(include_in_schema=False)
DateParam = Annotated[str | None, Query(alias="from", max_length=10)]
ToParam = Annotated[str | None, Query(alias="to", max_length=10)]
TextParam = Annotated[str | None, Query(max_length=200)]


@router.get("/")
def fleet(
    storage: StorageDep, viewer: ViewerDep, start: DateParam = None, end: ToParam = None,
    region: TextParam = None, question: TextParam = None,
) -> Response:  # fmt: skip
    period, note = parse_period(start, end, today_utc())
    view = views.fleet_view(storage, viewer.scope, period, region, question)
    return page("fleet.html", {"viewer": viewer, "nav": "fleet", "view": view, "note": note})


@router.get("/locations/{location_id}")
def location(
    location_id: str, storage: StorageDep, viewer: ViewerDep, start: DateParam = None, end: ToParam = None,
    question: TextParam = None,
) -> Response:  # fmt: skip
    found = views.find_location(storage, viewer.scope, location_id)
    if found is None:  # out of scope looks exactly like unknown
        return page("notfound.html", {"viewer": viewer, "nav": "fleet", "what": location_id}, 404)
    period, note = parse_period(start, end, today_utc())
    view = views.location_view(storage, viewer.scope, found, period, question)
    kinds = inbox_views.rule_kinds(storage)  # praise episodes get a "good news" pill
    return page("location.html", {"viewer": viewer, "nav": "fleet", "view": view, "note": note, "rule_kinds": kinds})


@router.get("/devices")
def devices(storage: StorageDep, viewer: ViewerDep) -> Response:
    rows, locations = views.device_rows(storage, viewer.scope)
    return page("devices.html", {"viewer": viewer, "nav": "devices", "devices": rows, "locations": locations})


@router.get("/dashboard/static/dashboard.css")
def stylesheet() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return FileResponse(STATIC / "dashboard.css", media_type="text/css", headers=headers)
