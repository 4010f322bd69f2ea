"""Surveys, assignments and pushed device configs, shared by both backends.

Versions are numbered inside a serial write transaction (one writer at a time on
every backend), so two admins saving at once get versions n+1 and n+2, never the
same number twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import msgspec

from edge_agent.protocol import format_ts
from edge_agent.survey import Survey
from hub.storage.base_surveys import Assignment, DeviceTarget, PublishedConfig, SurveyVersion, TargetKind
from hub.storage.sql.db import SqlHost

_VERSION_COLUMNS = "survey_id, version, body, created_at, created_by"


def _version(row: tuple[object, ...]) -> SurveyVersion:
    return SurveyVersion(str(row[0]), int(cast(int, row[1])), str(row[2]), str(row[3]), cast(str | None, row[4]))


class SqlSurveys(SqlHost):
    def add_survey_version(
        self, survey_id: str, survey: Survey, created_by: str | None, now: datetime
    ) -> SurveyVersion:
        created = format_ts(now)
        with self._write() as conn:
            row = conn.execute("SELECT MAX(version) FROM surveys WHERE survey_id = ?", (survey_id,)).fetchone()
            version = int(row[0] or 0) + 1
            body = msgspec.structs.replace(survey, version=version).to_json()
            conn.execute(
                f"INSERT INTO surveys ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (survey_id, version, body, created, created_by),
            )
        return SurveyVersion(survey_id, version, body, created, created_by)

    def survey_versions(self, survey_id: str) -> list[SurveyVersion]:
        rows = self._reader().execute(
            f"SELECT {_VERSION_COLUMNS} FROM surveys WHERE survey_id = ? ORDER BY version", (survey_id,)
        )
        return [_version(r) for r in rows]

    def latest_surveys(self) -> dict[str, SurveyVersion]:
        rows = self._reader().execute(
            f"SELECT {_VERSION_COLUMNS} FROM surveys s WHERE version = "
            "(SELECT MAX(version) FROM surveys WHERE survey_id = s.survey_id) ORDER BY survey_id"
        )
        return {str(r[0]): _version(r) for r in rows}

    def replace_assignments(
        self, survey_id: str, locations: list[str], regions: list[str], now: datetime
    ) -> list[Assignment]:
        stamp = format_ts(now)
        targets: list[tuple[TargetKind, str]] = [("location", t) for t in locations] + [("region", t) for t in regions]
        with self._write() as conn:
            conn.execute("DELETE FROM survey_assignments WHERE survey_id = ?", (survey_id,))
            conn.executemany(
                "INSERT INTO survey_assignments (target_kind, target, survey_id, assigned_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (target_kind, target) DO UPDATE SET survey_id = excluded.survey_id, "
                "assigned_at = excluded.assigned_at",
                [(kind, target, survey_id, stamp) for kind, target in targets],
            )
        return [Assignment(kind, target, survey_id, stamp) for kind, target in targets]

    def assignments(self) -> list[Assignment]:
        rows = self._reader().execute(
            "SELECT target_kind, target, survey_id, assigned_at FROM survey_assignments ORDER BY target_kind, target"
        )
        return [Assignment(cast(TargetKind, r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def config_targets(self) -> list[DeviceTarget]:
        rows = self._reader().execute(
            "SELECT d.device_id, d.location_id, l.region FROM devices d "
            "LEFT JOIN locations l ON l.location_id = d.location_id ORDER BY d.device_id"
        )
        return [DeviceTarget(str(r[0]), str(r[1]), r[2]) for r in rows]

    def published_configs(self) -> dict[str, PublishedConfig]:
        rows = self._reader().execute(
            "SELECT device_id, survey_id, version, published_at, actions_key FROM device_configs"
        )
        return {str(r[0]): PublishedConfig(str(r[0]), r[1], r[2], str(r[3]), r[4]) for r in rows}

    def record_published(
        self, device_id: str, survey_id: str | None, version: int | None, now: datetime, actions_key: str | None = None
    ) -> None:
        with self._write(serial=False) as conn:
            conn.execute(
                "INSERT INTO device_configs (device_id, survey_id, version, published_at, actions_key) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET survey_id = excluded.survey_id, "
                "version = excluded.version, published_at = excluded.published_at, actions_key = excluded.actions_key",
                (device_id, survey_id, version, format_ts(now), actions_key),
            )
