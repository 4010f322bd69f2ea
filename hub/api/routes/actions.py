"""``/api/v1/actions`` ("You said, we did"), an action's effect, and ``/api/v1/forecast`` (the week ahead).

Any token reads within its region. Logging, editing and deleting need an admin token (any location)
or a region-limited token (inside its region): see :mod:`hub.services.actions`. A change is pushed
to the location's kiosks with their config.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response, status

from hub.api.deps import ScopeDep, StorageDep, TokenDep, service_errors
from hub.services import actions as service
from hub.services.action_insights import MAX_FORECAST_DAYS, effect_of, week_ahead
from hub.services.analytics_errors import InvalidQuery
from hub.services.analytics_scope import Scope
from hub.services.effect import DEFAULT_WEEKS
from hub.services.effect_reads import MAX_WEEKS

router = APIRouter(prefix="/api/v1", tags=["actions"])
log = logging.getLogger("touchpoint.hub.actions")
ActionId = Annotated[str, Path(min_length=1, max_length=64, description="the action's id (a UUID)")]
Fields = Annotated[
    dict[str, Any],
    Body(
        description='{"location_id", "text", "reason", "started_on", "ended_on"} and optionally "texts" '
        '(per language, e.g. {"fi": "..."}); PATCH takes any of them but location_id',
        examples=[
            {
                "location_id": "store-1",
                "text": "We opened a second till at lunch.",
                "reason": "queue",
                "started_on": "2026-11-22",
                "ended_on": None,
            }
        ],
    ),
]


def _push(request: Request, location_id: str) -> None:
    """Send the location's kiosks their new list now (the leader's resync would, within a minute)."""
    hq = getattr(request.app.state, "hq", None)
    if hq is not None and hq.config_push is not None:
        hq.config_push.request_all(f"actions changed at {location_id}")


@router.post("/actions", status_code=status.HTTP_201_CREATED, summary="Log an action a store took")
def create(fields: Fields, request: Request, storage: StorageDep, token: TokenDep) -> dict[str, object]:
    """Returns the stored action with its ``id``; ``logged_by`` is the token's name."""
    with service_errors():
        record = service.create_action(storage, token, service.ActionInput(fields), datetime.now(UTC))
    log.info("action %s at %s logged by token %d", record.id, record.location_id, token.token_id)
    _push(request, record.location_id)
    return record.as_dict()


@router.get("/actions", summary="Actions, newest start first (within the token's region)")
def list_actions(
    storage: StorageDep,
    scope: ScopeDep,
    location: Annotated[str | None, Query(description="one location id; none: every location in scope")] = None,
) -> dict[str, object]:
    with service_errors():
        rows = service.list_for(storage, scope, location)
    return {"rows": [r.as_dict() for r in rows]}


@router.get("/actions/{action_id}", summary="One action")
def get_action(action_id: ActionId, storage: StorageDep, scope: ScopeDep) -> dict[str, object]:
    with service_errors():
        action, _ = service.readable(storage, scope, action_id)
    return action.as_dict()


@router.patch("/actions/{action_id}", summary="Change an action (e.g. set ended_on)")
def patch_action(
    action_id: ActionId, fields: Fields, request: Request, storage: StorageDep, token: TokenDep
) -> dict[str, object]:
    """Only the given fields change; null clears ``reason``, ``texts`` or ``ended_on``."""
    with service_errors():
        record = service.update_action(storage, token, action_id, service.ActionInput(fields), datetime.now(UTC))
    log.info("action %s changed by token %d: %s", action_id, token.token_id, sorted(fields))
    _push(request, record.location_id)
    return record.as_dict()


@router.delete("/actions/{action_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an action")
def delete_action(action_id: ActionId, request: Request, storage: StorageDep, token: TokenDep) -> Response:
    """It disappears from lists and kiosks; a kiosk that sends it again does not bring it back."""
    with service_errors():
        action, _ = service.readable(storage, Scope.of(token), action_id)
        service.delete_action(storage, token, action_id, datetime.now(UTC))
    log.info("action %s deleted by token %d", action_id, token.token_id)
    _push(request, action.location_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/actions/{action_id}/effect", summary="Did it work? Difference-in-differences against peer stores")
def action_effect(
    action_id: ActionId,
    storage: StorageDep,
    scope: ScopeDep,
    weeks: Annotated[int, Query(ge=2, le=MAX_WEEKS, description="weeks before and after")] = DEFAULT_WEEKS,
    peers: Annotated[str | None, Query(description="comma-separated location ids; default: same region")] = None,
) -> dict[str, object]:
    """``verdict``: improved, no detectable change, worse, or too early to tell. ``primary``: the action's
    reason's share of answers (or % negative without a reason); ``happy_index``; each with its 95% CI; ``n``
    on each side. Peers with an action of their own overlapping the window are left out."""
    chosen = None
    if peers is not None:
        chosen = tuple(p.strip() for p in peers.split(",") if p.strip())
    with service_errors():
        if chosen == ():
            raise InvalidQuery("peers: give at least one location id, or leave it out for the same region")
        return effect_of(storage, scope, action_id, datetime.now(UTC), weeks, chosen)


@router.get("/forecast", summary="The coming days: answers, Happy Index and % negative per local day and hour")
def forecast(
    storage: StorageDep,
    scope: ScopeDep,
    location: Annotated[str, Query(description="the location id")],
    days: Annotated[int, Query(ge=1, le=MAX_FORECAST_DAYS, description="local days from today")] = 7,
) -> dict[str, object]:
    """Seasonal baseline: the same weekday and hour of the last 8 weeks, newer weeks weighing more; answers
    with negative-binomial 80% and 95% intervals. ``days`` sums each local day; ``hours`` is per hour."""
    with service_errors():
        return week_ahead(storage, scope, location, datetime.now(UTC), days).as_dict()
