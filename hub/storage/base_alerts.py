"""The storage contract for alert rules, alert episodes and webhook deliveries.

Part of :class:`hub.storage.base.Storage`. SQLite implements it in
:mod:`hub.storage.sql.alerts`. An episode is one ``alert_events`` row: it is
inserted ``firing`` once and later marked ``resolved``; at most one row per
(rule, location, device) is firing at a time, and implementations must check
that inside the same write transaction that inserts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

ScopeKind = Literal["all", "region", "location"]
AlertState = Literal["firing", "resolved"]

CountRow = tuple[str, int, int, int]
"""(question_id, scale, value, n): counted answers, misuse excluded."""

MinuteRow = tuple[str, str, int, str, int, int, int]
"""(minute, local_day, local_hour, question_id, scale, value, n): counted answers of one UTC minute
('YYYY-MM-DDTHH:MM'), with the local day and hour their rollups count them in."""


@dataclass(frozen=True)
class RuleSpec:
    """What an admin defines; ``params`` are already validated for ``kind``."""

    name: str
    kind: str
    scope_kind: ScopeKind
    scope: str | None
    params: dict[str, object]
    webhook_url: str | None
    enabled: bool = True


@dataclass(frozen=True)
class AlertRule:
    rule_id: int
    created_at: str
    spec: RuleSpec


@dataclass(frozen=True)
class AlertKey:
    """What one episode is about: a rule at a location, or at one device for device rules."""

    rule_id: int
    location_id: str | None
    device_id: str | None = None


@dataclass(frozen=True)
class NewAlert:
    key: AlertKey
    message: str
    details: dict[str, object]


@dataclass(frozen=True)
class AlertEvent:
    alert_id: int
    key: AlertKey
    state: AlertState
    fired_at: str
    resolved_at: str | None
    message: str
    details: dict[str, object]


@dataclass(frozen=True)
class AlertQuery:
    location_id: str | None = None
    state: AlertState | None = None
    start: datetime | None = None
    end: datetime | None = None
    region: str | None = None
    rule_id: int | None = None
    limit: int = 100
    inbox: Literal["open", "acknowledged"] | None = None  # the alert inbox: not yet / already acknowledged
    assignee: str | None = None


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    alert_id: int
    url: str
    body: str
    attempts: int


@dataclass(frozen=True)
class DeliveryState:
    status: str
    attempts: int
    last_error: str | None
    delivered_at: str | None


@dataclass(frozen=True)
class LocationInfo:
    location_id: str
    region: str | None
    timezone: str
    opening_hours: str | None
    devices: int


@dataclass(frozen=True)
class DeviceState:
    device_id: str
    location_id: str
    region: str | None
    online: bool | None
    status_at: str | None


class BaselineReads(Protocol):
    """Counts of earlier days from the rollups: what a rule's "usual for this store" is made of.

    The hub reads them from SQLite; ``touchpoint-hub alerts simulate`` from simulated history.
    """

    def hour_counts(self, location_id: str, days: list[str], hour: int, question_id: str | None) -> list[CountRow]:
        """Answers in local ``hour`` of each of ``days``."""
        ...

    def day_counts(self, location_id: str, days: list[str], question_id: str | None) -> list[CountRow]:
        """Answers of each of ``days``, all hours."""
        ...


class AlertStorage(BaselineReads, Protocol):
    # --- rules ---
    def create_rule(self, spec: RuleSpec, now: datetime) -> AlertRule: ...

    def alert_rules(self) -> list[AlertRule]: ...

    def alert_rule(self, rule_id: int) -> AlertRule | None: ...

    def update_rule(self, rule_id: int, spec: RuleSpec) -> AlertRule | None: ...

    def delete_rule(self, rule_id: int, now: datetime) -> bool:
        """Delete a rule and resolve its firing episodes; their history stays."""
        ...

    # --- episodes ---
    def firing_alerts(self) -> list[AlertEvent]: ...

    def fire_alert(
        self, alert: NewAlert, now: datetime, webhook_url: str | None, render: Callable[[AlertEvent], str]
    ) -> AlertEvent | None:
        """Open an episode and queue its webhook delivery in one transaction; None if already firing."""
        ...

    def resolve_alert(self, alert_id: int, now: datetime) -> bool: ...

    def alert_history(self, query: AlertQuery) -> list[AlertEvent]: ...

    # --- webhook deliveries ---
    def claim_deliveries(self, now: datetime, lease_s: float, limit: int) -> list[Delivery]:
        """Due pending deliveries, each leased (hidden) for ``lease_s`` and its attempt counted."""
        ...

    def finish_delivery(self, delivery_id: int, now: datetime, error: str | None, retry_at: datetime | None) -> None:
        """No error: delivered. An error with ``retry_at``: pending until then. Without: failed for good."""
        ...

    def alert_deliveries(self, alert_ids: list[int]) -> dict[int, DeliveryState]:
        """The webhook delivery of each alert that has one (never its URL, which may hold a secret)."""
        ...

    def ops_counts(self) -> dict[str, int]:
        """Cheap gauges for /metrics: devices, devices online, dead letters, firing alerts, deliveries by status."""
        ...

    # --- what the evaluator reads ---
    def alert_locations(self) -> list[LocationInfo]: ...

    def device_states(self) -> list[DeviceState]: ...

    def window_counts(
        self, location_id: str, days: list[str], start: datetime, end: datetime, question_id: str | None
    ) -> list[CountRow]:
        """Answers with ``start <= ts <= end``; ``days`` are the local days the window touches."""
        ...

    def minute_counts(
        self, location_id: str, days: list[str], start: datetime, end: datetime, question_id: str | None
    ) -> list[MinuteRow]:
        """The same answers as :meth:`window_counts`, by UTC minute and oldest first."""
        ...
