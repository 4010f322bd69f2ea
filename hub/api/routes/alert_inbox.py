"""``/api/v1/alerts/{id}``: one alert episode with its thread; acknowledge, assign and comment on it.

Any token may work the inbox, an analyst token limited to a region only on that region's alerts (403
for others). The author of a note is the token's name.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.api.deps import ScopeDep, StorageDep, TokenDep, service_errors
from hub.api.routes.alerts import alert_dict
from hub.services.alert_inbox import MAX_ASSIGNEE_CHARS, MAX_COMMENT_CHARS, AlertThread, add_note, thread, visible_alert
from hub.storage.base import Storage
from hub.storage.base_inbox import AlertNote

router = APIRouter(prefix="/api/v1", tags=["alerts"])
log = logging.getLogger("touchpoint.hub.alerts")
AlertId = Annotated[int, Path(ge=1, lt=2**63, description="the alert episode's id")]


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(
        max_length=MAX_ASSIGNEE_CHARS, description="a name or e-mail address; null or empty: unassign"
    )

    @field_validator("assignee")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return (value or "").strip() or None


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS, description="the comment")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def note_dict(note: AlertNote) -> dict[str, object]:
    return {
        "note_id": note.note_id, "kind": note.kind, "author": note.author, "text": note.text,
        "created_at": note.created_at.isoformat().replace("+00:00", "Z"), "source": note.source,
    }  # fmt: skip


def thread_dict(storage: Storage, t: AlertThread) -> dict[str, object]:
    rules = {r.rule_id: r for r in storage.alert_rules()}
    delivery = storage.alert_deliveries([t.alert.alert_id]).get(t.alert.alert_id)
    out = alert_dict(t.alert, rules, delivery, t.inbox)
    out["notes"] = [note_dict(n) for n in t.notes]
    out["comments"] = [note_dict(n) for n in t.notes if n.kind == "comment"]
    return out


@router.get("/alerts/{alert_id}", summary="One alert episode with its inbox state, comments and notes")
def get_alert(alert_id: AlertId, storage: StorageDep, scope: ScopeDep) -> dict[str, object]:
    with service_errors():
        return thread_dict(storage, thread(storage, visible_alert(storage, scope, alert_id)))


@router.post("/alerts/{alert_id}/ack", summary="Acknowledge an alert episode (the first acknowledgement stands)")
def acknowledge(alert_id: AlertId, storage: StorageDep, scope: ScopeDep, token: TokenDep) -> dict[str, object]:
    with service_errors():
        alert = visible_alert(storage, scope, alert_id)
        add_note(storage, alert, "ack", token.name, None, datetime.now(UTC))
        log.info("alert %d acknowledged by token %d", alert_id, token.token_id)
        return thread_dict(storage, thread(storage, alert))


@router.post("/alerts/{alert_id}/assign", summary="Assign an alert episode to a name or e-mail (null: unassign)")
def assign(
    alert_id: AlertId, payload: Assignment, storage: StorageDep, scope: ScopeDep, token: TokenDep
) -> dict[str, object]:
    with service_errors():
        alert = visible_alert(storage, scope, alert_id)
        add_note(storage, alert, "assign", token.name, payload.assignee, datetime.now(UTC))
        log.info("alert %d assigned by token %d", alert_id, token.token_id)
        return thread_dict(storage, thread(storage, alert))


@router.post("/alerts/{alert_id}/comments", status_code=201, summary="Comment on an alert episode")
def comment(
    alert_id: AlertId, payload: Comment, storage: StorageDep, scope: ScopeDep, token: TokenDep
) -> dict[str, object]:
    with service_errors():
        alert = visible_alert(storage, scope, alert_id)
        add_note(storage, alert, "comment", token.name, payload.text, datetime.now(UTC))
        log.info("alert %d commented on by token %d", alert_id, token.token_id)
        return thread_dict(storage, thread(storage, alert))
