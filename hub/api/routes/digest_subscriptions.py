"""``/api/v1/digest/subscriptions``: scheduled weekly digests (admin; region-limited tokens within their region).

The hub's leader sends each due digest once (hub/services/digest_scheduler.py);
``touchpoint-hub digest send --now`` sends one at once without a subscription.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from hub.api.deps import StorageDep, TokenDep, service_errors
from hub.services.alert_rules import redact_url
from hub.services.digest_subscriptions import SubscriptionInput, covers, may_manage, new_spec, subscription_dict
from hub.services.errors import InputError

router = APIRouter(prefix="/api/v1", tags=["digest"])
log = logging.getLogger("touchpoint.hub.digest")
SubscriptionId = Annotated[int, Path(ge=1, lt=2**63, description="the subscription's id")]


@router.get("/digest/subscriptions", summary="Digest subscriptions (admin; region-limited tokens: their region's)")
def list_subscriptions(storage: StorageDep, token: TokenDep) -> dict[str, object]:
    with service_errors():
        may_manage(token)
    rows = [subscription_dict(r, token) for r in storage.digest_subscriptions() if covers(token, storage, r.spec)]
    return {"rows": rows}


@router.post("/digest/subscriptions", status_code=status.HTTP_201_CREATED, summary="Subscribe to a weekly digest")
def create_subscription(payload: SubscriptionInput, storage: StorageDep, token: TokenDep) -> dict[str, object]:
    """A location's (``location``) or a region's (``region``) digest by ``email`` or ``webhook``, each week on
    ``weekday`` at local ``hour`` in ``timezone`` (default: the location's). The first one goes out at the first
    such slot after now."""
    with service_errors():
        may_manage(token)
        try:
            spec = new_spec(storage, payload)
        except InputError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
        if not covers(token, storage, spec):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"{spec.target_kind} {spec.target!r} is outside this token's region"
            )
    record = storage.create_subscription(spec, datetime.now(UTC), token.token_id)
    where = spec.address if spec.channel == "email" else redact_url(spec.address)
    log.info(
        "digest subscription %d (%s %s, %s %s) created by token %d",
        record.subscription_id, spec.target_kind, spec.target, spec.channel, where, token.token_id,
    )  # fmt: skip
    return subscription_dict(record, token)


@router.delete("/digest/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_subscription(subscription_id: SubscriptionId, storage: StorageDep, token: TokenDep) -> Response:
    with service_errors():
        may_manage(token)
    record = storage.digest_subscription(subscription_id)
    if record is None or not covers(token, storage, record.spec):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no digest subscription {subscription_id}")
    storage.delete_subscription(subscription_id)
    log.info("digest subscription %d deleted by token %d", subscription_id, token.token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
