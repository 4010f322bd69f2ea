"""The storage contract for digest subscriptions: who gets which weekly digest, when, and which slot went out.

Part of :class:`hub.storage.base.Storage`; both backends share :mod:`hub.storage.sql.digests`.
``last_sent_at`` is the latest scheduled slot claimed for sending. A worker claims a slot with
:meth:`DigestStorage.claim_digest_slot`, a conditional update that only one worker can win, before it
sends, and gives the claim back if the send fails, so the slot is tried again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

SubscriptionTargetKind = Literal["location", "region"]
SubscriptionChannel = Literal["email", "webhook"]


@dataclass(frozen=True)
class SubscriptionSpec:
    """What an admin defines, already validated (hub/services/digest_subscriptions.py)."""

    target_kind: SubscriptionTargetKind
    target: str
    channel: SubscriptionChannel
    address: str
    weekday: int
    hour: int
    timezone: str
    enabled: bool = True


@dataclass(frozen=True)
class SubscriptionRecord:
    subscription_id: int
    spec: SubscriptionSpec
    created_at: datetime
    created_by_token: int | None = None
    last_sent_at: datetime | None = None
    last_delivered_at: datetime | None = None
    last_error: str | None = None


class DigestStorage(Protocol):
    def create_subscription(
        self, spec: SubscriptionSpec, now: datetime, token_id: int | None
    ) -> SubscriptionRecord: ...

    def digest_subscriptions(self) -> list[SubscriptionRecord]:
        """Every subscription, in id order."""
        ...

    def digest_subscription(self, subscription_id: int) -> SubscriptionRecord | None: ...

    def delete_subscription(self, subscription_id: int) -> bool: ...

    def claim_digest_slot(self, subscription_id: int, previous: datetime | None, slot: datetime) -> bool:
        """Set ``last_sent_at`` to ``slot`` if it is still ``previous``; True for the one caller that did."""
        ...

    def finish_digest_slot(
        self, subscription_id: int, slot: datetime, previous: datetime | None, at: datetime, error: str | None
    ) -> None:
        """After the send of a claimed ``slot``: delivered at ``at``, or (``error``) the claim given back."""
        ...
