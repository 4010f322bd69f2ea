"""Digest subscriptions: validated input, who may manage which, and the schedule view of a stored one.

Admin tokens manage every subscription; an analyst token limited to a region manages those whose
target lies in its region (a location there, or the region or one below it). An unlimited analyst
token may not: subscriptions send data out of the hub.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.services.alert_rules import check_webhook_url, redact_url
from hub.services.analytics_errors import NotFound, OutOfScope
from hub.services.digest import DigestTarget
from hub.services.digest_schedule import WEEKDAY_NAMES, DigestSubscription
from hub.services.errors import InputError
from hub.services.regions import within
from hub.storage.base import Storage, TokenInfo
from hub.storage.base_digests import SubscriptionRecord, SubscriptionSpec

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


class SubscriptionInput(BaseModel):
    """``POST /api/v1/digest/subscriptions``."""

    model_config = ConfigDict(extra="forbid")

    location: str | None = Field(default=None, description="one location's digest (or give region)")
    region: str | None = Field(default=None, description="a region's digest, its whole subtree")
    channel: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=2000, description="an e-mail address, or a webhook URL")
    weekday: int | str = Field(description="0 (Monday) .. 6 (Sunday), or mon .. sun")
    hour: int = Field(ge=0, le=23, description="local hour 0..23")
    timezone: str | None = Field(default=None, description="IANA zone; default the location's, required for a region")
    enabled: bool = True


def _weekday(value: int | str) -> int:
    if isinstance(value, int):
        if 0 <= value <= 6:
            return value
    elif value.strip().lower()[:3] in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(value.strip().lower()[:3])
    raise InputError(f"weekday: must be 0 (Monday) to 6 (Sunday) or mon..sun, got {value!r}")


def may_manage(token: TokenInfo) -> None:
    if token.role != "admin" and not token.region:
        raise OutOfScope("digest subscriptions need an admin token or a region-limited token")


def covers(token: TokenInfo, storage: Storage, spec: SubscriptionSpec) -> bool:
    """Whether ``token`` may see and manage a subscription to ``spec``'s target."""
    if token.role == "admin":
        return True
    if not token.region:
        return False
    if spec.target_kind == "region":
        return within(spec.target, token.region)
    record = storage.location(spec.target)
    return record is not None and within(record.region, token.region)


def new_spec(storage: Storage, payload: SubscriptionInput) -> SubscriptionSpec:
    """A checked spec; InputError (422) names the field, NotFound an unknown location."""
    if (payload.location is None) == (payload.region is None):
        raise InputError("give exactly one of 'location' and 'region'")
    try:
        if payload.location is not None:
            target = DigestTarget("location", payload.location)
        else:
            target = DigestTarget("region", (payload.region or "").strip("/"))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    zone = payload.timezone
    if target.kind == "location":
        record = storage.location(target.id)
        if record is None:
            raise NotFound(f"location: no location {target.id!r}")
        zone = zone or record.timezone
    elif zone is None:
        raise InputError("timezone: required for a region's digest (its locations may be in several zones)")
    address = payload.address.strip()
    if payload.channel == "email" and not _EMAIL.match(address):
        raise InputError(f"address: {address!r} is not an e-mail address")
    if payload.channel == "webhook":
        try:
            check_webhook_url(address)
        except InputError as exc:
            raise InputError(f"address: {str(exc).removeprefix('webhook_url: ')}") from None
    spec = SubscriptionSpec(target.kind, target.id, payload.channel, address, _weekday(payload.weekday),
                            payload.hour, zone, payload.enabled)  # fmt: skip
    try:
        schedule(SubscriptionRecord(0, spec, datetime.now(UTC)))
    except ValueError as exc:  # the zone (the rest is checked above)
        raise InputError(str(exc)) from None
    return spec


def schedule(record: SubscriptionRecord) -> DigestSubscription:
    """The pure schedule view :func:`hub.services.digest_schedule.due` works on."""
    s = record.spec
    return DigestSubscription(
        record.subscription_id, DigestTarget(s.target_kind, s.target), s.channel, s.address, s.weekday, s.hour,
        s.timezone, record.created_at, record.last_sent_at, s.enabled,
    )  # fmt: skip


def subscription_dict(record: SubscriptionRecord, token: TokenInfo) -> dict[str, object]:
    """A webhook URL's path is often its secret: only admin tokens see it whole."""
    s = record.spec
    address = s.address if s.channel == "email" or token.role == "admin" else redact_url(s.address)

    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    return {
        "subscription_id": record.subscription_id, s.target_kind: s.target, "target_kind": s.target_kind,
        "target": s.target, "channel": s.channel, "address": address, "weekday": s.weekday,
        "weekday_name": WEEKDAY_NAMES[s.weekday], "hour": s.hour, "timezone": s.timezone, "enabled": s.enabled,
        "created_at": stamp(record.created_at), "created_by_token": record.created_by_token,
        "last_sent_slot": stamp(record.last_sent_at), "last_delivered_at": stamp(record.last_delivered_at),
        "last_error": record.last_error,
    }  # fmt: skip
