"""The alert inbox pages: list episodes, open one, and acknowledge, assign or comment on it.

Writes are plain HTML form posts (the pages run no script). They carry the session cookie, which is
``SameSite=Strict``, and a post whose ``Origin`` is another site is refused, as for the login form.
Each change goes through the same service as ``POST /api/v1/alerts/{id}/...``, authored by the
viewer's token name, then redirects to the episode (post/redirect/get).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.api.deps import StorageDep
from hub.dashboard import inbox_views
from hub.dashboard.auth import MAX_FORM_BYTES, Viewer, ViewerDep, current_viewer, read_form, same_origin
from hub.dashboard.inbox_views import Episode, InboxFilters, assignee_name, comment_text
from hub.dashboard.render import page
from hub.services.alert_inbox import MAX_COMMENT_CHARS, add_note, visible_alert
from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_locations import list_locations
from hub.services.errors import InputError
from hub.storage.base import Storage
from hub.storage.base_inbox import NoteKind

log = logging.getLogger("touchpoint.hub.dashboard")
router = APIRouter(include_in_schema=False)
TextParam = Annotated[str | None, Query(max_length=200)]
# A comment of MAX_COMMENT_CHARS characters, each up to 4 UTF-8 bytes sent as %XX, plus the other fields.
MAX_NOTE_FORM_BYTES = MAX_COMMENT_CHARS * 12 + MAX_FORM_BYTES
ACTIONS: dict[str, NoteKind] = {"ack": "ack", "assign": "assign", "comments": "comment"}


def _alert_id(text: str) -> int | None:
    """An episode id from the path; anything else is simply not found (a page, not a JSON 422)."""
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


def _not_found(viewer: Viewer, text: str) -> Response:
    context = {"viewer": viewer, "nav": "alerts", "what": text, "what_kind": "alert"}
    return page("notfound.html", context, status.HTTP_404_NOT_FOUND)


def _filters(
    storage: Storage, viewer: Viewer, show: str | None, assignee: str | None, location: str | None
) -> InboxFilters:
    return inbox_views.parse_filters(show, assignee, location, list_locations(storage, viewer.scope))


def _episode_page(
    viewer: Viewer, row: Episode, filters: InboxFilters, note: str | None = None, code: int = 200
) -> Response:
    context = {"viewer": viewer, "nav": "alerts", "e": row, "filters": filters, "note": note}
    return page("alert.html", context, code)


@router.get("/alerts")
def inbox(
    storage: StorageDep, viewer: ViewerDep, show: TextParam = None, assignee: TextParam = None,
    location: TextParam = None,
) -> Response:  # fmt: skip
    view = inbox_views.inbox_view(storage, viewer.scope, show, assignee, location)
    return page("alerts.html", {"viewer": viewer, "nav": "alerts", "view": view})


@router.get("/alerts/{alert_id}")
def alert_page(
    alert_id: str, storage: StorageDep, viewer: ViewerDep, show: TextParam = None, assignee: TextParam = None,
    location: TextParam = None,
) -> Response:  # fmt: skip
    number = _alert_id(alert_id)
    try:
        row = inbox_views.episode(storage, viewer.scope, number) if number else None
    except AnalyticsError:  # out of the viewer's region looks exactly like unknown
        row = None
    if row is None:
        return _not_found(viewer, alert_id)
    return _episode_page(viewer, row, _filters(storage, viewer, show, assignee, location))


def require_poster(request: Request, storage: StorageDep) -> Viewer:
    """The logged-in viewer of a form post; same-site posts only. Without a session: log in, then the episode."""
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site form post refused")
    viewer = current_viewer(request, storage)
    if viewer is None:
        target = quote(f"/alerts/{request.path_params.get('alert_id', '')}", safe="")
        raise HTTPException(status.HTTP_303_SEE_OTHER, "login required", headers={"Location": f"/login?next={target}"})
    return viewer


PosterDep = Annotated[Viewer, Depends(require_poster)]


def _apply(storage: Storage, viewer: Viewer, alert_id: str, action: str, form: dict[str, str]) -> Response:
    number, kind = _alert_id(alert_id), ACTIONS.get(action)
    filters = _filters(storage, viewer, form.get("f_show"), form.get("f_assignee"), form.get("f_location"))
    try:
        alert = visible_alert(storage, viewer.scope, number) if number and kind else None
    except AnalyticsError:
        alert = None
    if alert is None or kind is None:
        return _not_found(viewer, alert_id)
    try:
        text = comment_text(form) if kind == "comment" else assignee_name(form) if kind == "assign" else None
    except InputError as exc:
        row = inbox_views.episode(storage, viewer.scope, alert.alert_id)
        return _episode_page(viewer, row, filters, str(exc), status.HTTP_422_UNPROCESSABLE_ENTITY)
    add_note(storage, alert, kind, viewer.token.name, text, datetime.now(UTC))
    log.info("dashboard: alert %d %s by token %d", alert.alert_id, kind, viewer.token.token_id)
    back = urlencode(filters.query())
    return RedirectResponse(f"/alerts/{alert.alert_id}?{back}#alert-{alert.alert_id}", status.HTTP_303_SEE_OTHER)


@router.post("/alerts/{alert_id}/{action}")
async def change(alert_id: str, action: str, request: Request, storage: StorageDep, viewer: PosterDep) -> Response:
    """``ack``, ``assign`` (field ``assignee``; empty unassigns) or ``comments`` (field ``text``)."""
    form = await read_form(request, MAX_NOTE_FORM_BYTES)
    return await run_in_threadpool(_apply, storage, viewer, alert_id, action, form)
