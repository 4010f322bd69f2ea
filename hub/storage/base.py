"""The hub's storage contract. Ingest and the API talk only to this interface.

Two backends implement it, sharing their SQL (:mod:`hub.storage.sql`): SQLite
(:mod:`hub.storage.sqlite`, one machine) and PostgreSQL (:mod:`hub.storage.postgres`,
several hub workers); :func:`hub.storage.open_storage` picks one. Implementations must make
:meth:`Storage.ingest` atomic: events, rollups, device rows and dead letters
of one call commit together or not at all, because the hub acks a batch only
after that commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from edge_agent.protocol import Ack, Event, Rejection, Status
from hub.storage.base_actions import ActionStorage  # actions stores took ("You said, we did")
from hub.storage.base_alerts import AlertStorage  # alerts: rules, episodes, webhook deliveries
from hub.storage.base_analytics import AnalyticsStorage  # analytics: locations, reasons, events export
from hub.storage.base_digests import DigestStorage  # digest subscriptions and their claimed slots
from hub.storage.base_inbox import InboxStorage  # the alert inbox: acks, assignments, comments
from hub.storage.base_quarantine import QuarantineStorage  # events with untrusted timestamps, never counted
from hub.storage.base_surveys import SurveyStorage  # surveys, assignments, pushed device configs

GroupBy = Literal["location", "region", "day", "hour", "weekday_hour", "all"]
Role = Literal["admin", "analyst"]


@dataclass(frozen=True)
class IncomingBatch:
    """A batch whose envelope and topic are valid; bad events are already split off."""

    device_id: str
    location_id: str
    batch_id: str
    events: list[Event]
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    reason: str
    payload: bytes


@dataclass(frozen=True)
class StatusUpdate:
    status: Status


@dataclass(frozen=True)
class IngestResult:
    acks: list[Ack]
    inserted: int
    duplicates: int
    rejected: int
    dead_letters: int
    quarantined: int = 0  # accepted, stored in quarantine, never counted (hub/domain/quarantine.py)


@dataclass(frozen=True)
class ScoreQuery:
    start: date
    end: date
    group_by: GroupBy = "location"
    location_id: str | None = None
    question_id: str | None = None
    region: str | None = None  # only this region subtree: 'nordics' takes 'nordics/...' too
    region_level: int | None = None  # group_by=region: keep this many path segments (None: all)


@dataclass(frozen=True)
class CountsRow:
    """Counted answers of one group: the API turns these into scores with the shared score module."""

    keys: dict[str, object]
    question_id: str
    scale: int
    counts: list[int]


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    name: str
    role: Role
    region: str | None
    created_at: str
    revoked_at: str | None = None


class Storage(
    SurveyStorage,
    AlertStorage,
    InboxStorage,
    DigestStorage,
    AnalyticsStorage,
    QuarantineStorage,
    ActionStorage,
    Protocol,
):
    backend: str  # "sqlite" or "postgresql", for /healthz

    def ingest(
        self,
        batches: list[IncomingBatch],
        statuses: list[StatusUpdate],
        dead_letters: list[DeadLetter],
        received_at: datetime,
    ) -> IngestResult: ...

    def score_counts(self, query: ScoreQuery) -> list[CountsRow]: ...

    def devices(self) -> list[dict[str, object]]: ...

    def dead_letter_list(self, limit: int) -> list[dict[str, object]]: ...

    def counts(self) -> dict[str, int]: ...

    def create_token(self, name: str, role: Role, region: str | None) -> tuple[TokenInfo, str]: ...

    def verify_token(self, secret: str) -> TokenInfo | None: ...

    def list_tokens(self) -> list[TokenInfo]: ...

    def revoke_token(self, token_id: int) -> bool: ...

    # dashboard sessions: only a hash of the session id is stored
    def create_session(self, session_hash: str, token_id: int, created_at: datetime, expires_at: datetime) -> None: ...

    def session_token(self, session_hash: str, now: datetime) -> tuple[TokenInfo, str] | None: ...

    def delete_session(self, session_hash: str) -> bool: ...

    # failed dashboard logins, kept in storage so that the rate limit holds across workers
    def login_failures(self, client: str, since: datetime) -> list[str]: ...

    def record_login_failure(self, client: str, at: datetime, forget_before: datetime) -> None: ...

    def close(self) -> None: ...
