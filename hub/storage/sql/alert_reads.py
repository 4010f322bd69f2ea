"""What the alert evaluator reads: locations, device states, and answer counts by window, minute and rollup.

Shared by both backends. Every read takes its time
range from the caller, never from the clock, so a rule can be evaluated at any
moment of the past (``AlertEvaluator.run_once(now)``).
"""

from __future__ import annotations

from datetime import datetime

from edge_agent.protocol import format_ts
from hub.storage.base_alerts import CountRow, DeviceState, LocationInfo, MinuteRow
from hub.storage.sql.db import SqlHost


def _marks(values: list[str]) -> str:
    return ",".join("?" * len(values))


class SqlAlertReads(SqlHost):
    def alert_locations(self) -> list[LocationInfo]:
        rows = self._reader().execute(
            "SELECT l.location_id, l.region, l.timezone, l.opening_hours, "
            "(SELECT COUNT(*) FROM devices d WHERE d.location_id = l.location_id) FROM locations l "
            "ORDER BY l.location_id"
        )
        return [LocationInfo(str(r[0]), r[1], str(r[2]), r[3], int(r[4])) for r in rows]

    def device_states(self) -> list[DeviceState]:
        rows = self._reader().execute(
            "SELECT d.device_id, d.location_id, l.region, d.online, d.status_at FROM devices d "
            "LEFT JOIN locations l ON l.location_id = d.location_id ORDER BY d.device_id"
        )
        return [DeviceState(str(r[0]), str(r[1]), r[2], None if r[3] is None else bool(r[3]), r[4]) for r in rows]

    def _events_where(
        self, location_id: str, days: list[str], start: datetime, end: datetime, question_id: str | None
    ) -> tuple[str, list[object]]:
        # local_day narrows the scan to the window's days through events_day_location; ts does the rest.
        sql = (
            f"FROM events WHERE local_day IN ({_marks(days)}) AND location_id = ? AND ts >= ? AND ts <= ? "
            "AND misuse = 0"
        )
        params: list[object] = [*days, location_id, format_ts(start), format_ts(end)]
        if question_id:
            sql += " AND question_id = ?"
            params.append(question_id)
        return sql, params

    def window_counts(
        self, location_id: str, days: list[str], start: datetime, end: datetime, question_id: str | None
    ) -> list[CountRow]:
        where, params = self._events_where(location_id, days, start, end, question_id)
        rows = self._reader().execute(f"SELECT question_id, scale, value, COUNT(*) {where} GROUP BY 1, 2, 3", params)
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def minute_counts(
        self, location_id: str, days: list[str], start: datetime, end: datetime, question_id: str | None
    ) -> list[MinuteRow]:
        where, params = self._events_where(location_id, days, start, end, question_id)
        # ts is 'YYYY-MM-DDTHH:MM:SS.mmmZ' in UTC: its first 16 characters name the minute.
        rows = self._reader().execute(
            f"SELECT substr(ts, 1, 16), local_day, local_hour, question_id, scale, value, COUNT(*) {where} "
            "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3",
            params,
        )
        return [(str(r[0]), str(r[1]), int(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows]

    def hour_counts(self, location_id: str, days: list[str], hour: int, question_id: str | None) -> list[CountRow]:
        return self._rollup("rollup_hour", location_id, days, question_id, "hour = ?", [hour])

    def day_counts(self, location_id: str, days: list[str], question_id: str | None) -> list[CountRow]:
        return self._rollup("rollup_day", location_id, days, question_id)

    def _rollup(
        self,
        table: str,
        location_id: str,
        days: list[str],
        question_id: str | None,
        extra: str = "TRUE",
        extra_params: list[object] | None = None,
    ) -> list[CountRow]:
        sql = (
            f"SELECT question_id, scale, value, SUM(count) FROM {table} WHERE location_id = ? "
            f"AND day IN ({_marks(days)}) AND {extra}"
        )
        params: list[object] = [location_id, *days, *(extra_params or [])]
        if question_id:
            sql += " AND question_id = ?"
            params.append(question_id)
        rows = self._reader().execute(sql + " GROUP BY 1, 2, 3", params)
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]
