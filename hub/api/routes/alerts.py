"""``/api/v1/alerts``: alert rules (admin) and the alert history (any token, within its region).

Rules hold webhook URLs, which often carry a secret in their path, so only
admin tokens see rules; the history shows each alert's delivery state but
never the URL.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from edge_agent.protocol import ID_PATTERN
from hub.api.deps import AdminDep, ScopeDep, StorageDep
from hub.services.alert_rules import (
    FALSE_ALARMS_PER_WEEK,
    PARAMS,
    SIMULATED_LEVELS,
    RuleInput,
    RulePatch,
    new_spec,
    patched_spec,
    redact_url,
)
from hub.services.errors import InputError
from hub.storage.base_alerts import AlertEvent, AlertQuery, AlertRule, AlertState, DeliveryState
from hub.storage.base_inbox import InboxFilter, InboxState

router = APIRouter(prefix="/api/v1", tags=["alerts"])
log = logging.getLogger("touchpoint.hub.alerts")
RuleId = Annotated[int, Path(ge=1, lt=2**63, description="the rule's id")]  # SQLite INTEGER: a larger one is a 500


def _rule_dict(rule: AlertRule) -> dict[str, object]:
    s = rule.spec
    return {
        "rule_id": rule.rule_id, "name": s.name, "kind": s.kind, "scope_kind": s.scope_kind, "scope": s.scope,
        "params": s.params, "webhook_url": s.webhook_url, "enabled": s.enabled, "created_at": rule.created_at,
    }  # fmt: skip


def alert_dict(
    a: AlertEvent, rules: dict[int, AlertRule], delivery: DeliveryState | None, inbox: InboxState | None = None
) -> dict[str, object]:
    rule = rules.get(a.key.rule_id)
    inbox = inbox or InboxState()
    return {
        "alert_id": a.alert_id,
        "rule_id": a.key.rule_id,
        "rule_name": None if rule is None else rule.spec.name,
        "kind": None if rule is None else rule.spec.kind,
        "location_id": a.key.location_id,
        "device_id": a.key.device_id,
        "state": a.state,
        "fired_at": a.fired_at,
        "resolved_at": a.resolved_at,
        "message": a.message,
        "details": a.details,
        "webhook": None if delivery is None else asdict(delivery),
        # the alert inbox (hub/api/routes/alert_inbox.py)
        "inbox": "acknowledged" if inbox.acknowledged_at else "open",
        "acknowledged_at": inbox.acknowledged_at,
        "acknowledged_by": inbox.acknowledged_by,
        "assignee": inbox.assignee,
    }


def _moment(value: str | None, name: str, end: bool) -> datetime | None:
    """A date (the whole UTC day) or an ISO datetime (naive means UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end else time.min, UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_ENTITY, f"'{name}' must be YYYY-MM-DD or an ISO 8601 time, got {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- rules (admin) ---------------------------------------------------------------------


@router.get("/alerts/rules", summary="Alert rules, and the parameters (with defaults) of each kind (admin)")
def list_rules(storage: StorageDep, _admin: AdminDep) -> dict[str, object]:
    """``kinds``: each kind's default parameters. ``false_alarms_per_week``: with those defaults, false alarm
    episodes per location-week on steady simulated stores, by answers per open hour (``alerts simulate``)."""
    defaults = {kind: model().model_dump(mode="json") for kind, model in PARAMS.items()}
    measured = {
        kind: {f"{level:g}": rate for level, rate in zip(SIMULATED_LEVELS, rates, strict=True)}
        for kind, rates in FALSE_ALARMS_PER_WEEK.items()
    }
    rows = [_rule_dict(r) for r in storage.alert_rules()]
    return {"rows": rows, "kinds": defaults, "false_alarms_per_week": measured}


@router.post("/alerts/rules", status_code=status.HTTP_201_CREATED, summary="Create an alert rule (admin)")
def create_rule(payload: RuleInput, storage: StorageDep, admin: AdminDep) -> dict[str, object]:
    """Scope: ``all``, a ``region`` path (its whole subtree) or one ``location``. Params not given take defaults."""
    try:
        spec = new_spec(payload)
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    rule = storage.create_rule(spec, datetime.now(UTC))
    hook = redact_url(spec.webhook_url) if spec.webhook_url else "none"
    log.info(
        "alert rule %d (%s, %s) created by token %d; webhook %s",
        rule.rule_id,
        spec.name,
        spec.kind,
        admin.token_id,
        hook,
    )
    return _rule_dict(rule)


@router.get("/alerts/rules/{rule_id}", summary="One alert rule (admin)")
def get_rule(rule_id: RuleId, storage: StorageDep, _admin: AdminDep) -> dict[str, object]:
    rule = storage.alert_rule(rule_id)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule {rule_id}")
    return _rule_dict(rule)


@router.patch("/alerts/rules/{rule_id}", summary="Change an alert rule (admin)")
def patch_rule(rule_id: RuleId, payload: RulePatch, storage: StorageDep, admin: AdminDep) -> dict[str, object]:
    """Only the given fields change; ``params`` merge into the current ones. Firing alerts re-evaluate."""
    current = storage.alert_rule(rule_id)
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule {rule_id}")
    try:
        spec = patched_spec(current.spec, payload)
    except InputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    rule = storage.update_rule(rule_id, spec)
    if rule is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule {rule_id}")
    log.info("alert rule %d changed by token %d: %s", rule_id, admin.token_id, sorted(payload.model_fields_set))
    return _rule_dict(rule)


@router.delete("/alerts/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a rule (admin)")
def delete_rule(rule_id: RuleId, storage: StorageDep, admin: AdminDep) -> Response:
    """Its firing alerts are resolved; the alert history stays."""
    if not storage.delete_rule(rule_id, datetime.now(UTC)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert rule {rule_id}")
    log.info("alert rule %d deleted by token %d", rule_id, admin.token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- history (any token, region-scoped) ------------------------------------------------


@router.get("/alerts", summary="Alert history, newest first: firing and resolved episodes")
def history(
    storage: StorageDep,
    scope: ScopeDep,
    location: Annotated[str | None, Query(pattern=ID_PATTERN, description="only this location")] = None,
    state: Annotated[AlertState | None, Query(description="firing or resolved")] = None,
    rule_id: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD or ISO time: active at or after")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD or ISO time: fired at or before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    inbox: Annotated[InboxFilter | None, Query(description="open (not acknowledged) or acknowledged")] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=200, description="assigned to")] = None,
) -> dict[str, object]:
    """An analyst token limited to a region sees only alerts of locations in that region (403 for others)."""
    first, last = _moment(start, "from", end=False), _moment(end, "to", end=True)
    if first and last and last < first:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "'to' must not be before 'from'")
    region = scope.region
    if location and region is not None:
        record = storage.location(location)
        if record is None or not scope.covers(record.region):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"location {location!r} is outside this token's region {region!r}"
            )
    query = AlertQuery(location, state, first, last, region, rule_id, limit, inbox, assignee)
    alerts = storage.alert_history(query)
    rules = {r.rule_id: r for r in storage.alert_rules()}
    ids = [a.alert_id for a in alerts]
    deliveries, inboxes = storage.alert_deliveries(ids), storage.alert_inbox(ids)
    rows = [alert_dict(a, rules, deliveries.get(a.alert_id), inboxes.get(a.alert_id)) for a in alerts]
    return {"rows": rows, "region": region}
