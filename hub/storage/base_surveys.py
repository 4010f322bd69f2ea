"""The storage contract for versioned surveys, their assignments and what each device was sent.

Part of :class:`hub.storage.base.Storage`; kept in its own module so the survey
feature reads as one piece. SQLite implements it in
:mod:`hub.storage.sql.surveys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from edge_agent.survey import Survey

TargetKind = Literal["location", "region"]


@dataclass(frozen=True)
class SurveyVersion:
    """One stored version; ``body`` is the Survey JSON with ``version`` set to it."""

    survey_id: str
    version: int
    body: str
    created_at: str
    created_by: str | None


@dataclass(frozen=True)
class Assignment:
    target_kind: TargetKind
    target: str
    survey_id: str
    assigned_at: str


@dataclass(frozen=True)
class DeviceTarget:
    """A known device with what decides its effective survey: its location and that location's region."""

    device_id: str
    location_id: str
    region: str | None


@dataclass(frozen=True)
class PublishedConfig:
    """What the hub last published to a device's retained config topic (``survey_id`` None: withdrawn)."""

    device_id: str
    survey_id: str | None
    version: int | None
    published_at: str
    actions_key: str | None = None
    """A digest of the location's actions in that config (None: sent before actions were pushed)."""


class SurveyStorage(Protocol):
    def add_survey_version(
        self, survey_id: str, survey: Survey, created_by: str | None, now: datetime
    ) -> SurveyVersion:
        """Store ``survey`` as the next version of ``survey_id`` (1 for a new one), atomically."""
        ...

    def survey_versions(self, survey_id: str) -> list[SurveyVersion]:
        """Every version of one survey, oldest first; empty if unknown."""
        ...

    def latest_surveys(self) -> dict[str, SurveyVersion]:
        """The newest version of every survey, by survey id."""
        ...

    def replace_assignments(
        self, survey_id: str, locations: list[str], regions: list[str], now: datetime
    ) -> list[Assignment]:
        """Make these targets (and only these) use ``survey_id``; a target of another survey moves here."""
        ...

    def assignments(self) -> list[Assignment]: ...

    def config_targets(self) -> list[DeviceTarget]: ...

    def published_configs(self) -> dict[str, PublishedConfig]: ...

    def record_published(
        self, device_id: str, survey_id: str | None, version: int | None, now: datetime, actions_key: str | None = None
    ) -> None: ...
