"""HQ analytics, shared by both backends.

Rollup queries pick the locations first (from the small ``locations`` table),
then read each one's rows by the rollups' primary-key prefix ``(location_id,
day)``. A month of a 1,000-store fleet therefore reads a month of rows, never
the whole table. Regions come from ``locations.region`` at query time, so a
store moved to another region takes its history along. Exports use the
``(local_day, location_id)`` index of events.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from edge_agent.protocol import format_ts
from edge_agent.scores import Polarity
from hub.storage.base import CountsRow, ScoreQuery
from hub.storage.base_analytics import (
    NO_REGION,
    EventQuery,
    ExportRow,
    LocationChanges,
    LocationRecord,
    LocationSpec,
    ReasonQuery,
    ReasonRow,
    Selection,
    TimezoneSource,
)
from hub.storage.sql.db import SqlHost

# group_by -> (rollup table, key names in the rows, SQL key expressions, keys that come from the location)
_SCORE_GROUPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "location": ("rollup_day", ("location_id",), (), ("location_id",)),
    "region": ("rollup_day", ("region",), (), ("region",)),
    "day": ("rollup_day", ("location_id", "day"), ("r.day",), ("location_id",)),
    "hour": ("rollup_hour", ("location_id", "hour"), ("r.hour",), ("location_id",)),
    "weekday_hour": ("rollup_hour", ("weekday", "hour"), ("r.hour",), ()),  # the weekday comes from DayFilter
    "all": ("rollup_day", (), (), ()),
}
_MONTHLY = frozenset({"location", "region", "all"})  # groupings without a day or hour: whole months can be read
_REASON_KEYS: dict[str, tuple[str, ...]] = {"location": ("location_id",), "region": ("region",), "all": ()}
_LOCATION_COLUMNS = "location_id, name, region, timezone, timezone_source, opening_hours, created_at, updated_at"
_EXPORT_SELECT = (
    "SELECT e.pk, e.id, e.device_id, e.location_id, e.seq, e.ts, e.local_day, e.local_hour, e.question_id, "
    "e.scale, e.value, e.reason, e.source, e.misuse, e.survey_version FROM events AS e"
)


def truncate_region(region: str | None, level: int | None) -> str:
    """The first ``level`` segments of a region path (all of them for None); no region is ``(none)``."""
    if not region:
        return NO_REGION
    return region if level is None else "/".join(region.split("/")[:level])


@dataclass(frozen=True)
class DayFilter:
    """Which local days one query reads; ``keys`` are row keys fixed by that choice (the weekday)."""

    sql: str
    params: tuple[str, ...]
    keys: tuple[object, ...] = ()
    table: str | None = None  # read this rollup instead of the query's own (the monthly one)


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_filters(start: date, end: date) -> list[DayFilter]:
    """The range as whole local months from ``rollup_month`` plus the days before and after them.

    A year of a location is then 12 rows per answer instead of 365; a range without a whole
    month is the one daily filter.
    """
    first = start if start.day == 1 else _month_after(start)  # the first whole month's first day
    after = _month_after(end) if _month_after(end) - timedelta(days=1) == end else end.replace(day=1)
    if first >= after:  # after: the day after the last whole month
        return day_filters(start, end, by_weekday=False)
    last = after - timedelta(days=1)
    filters = []
    if start < first:
        filters.append(DayFilter("r.day BETWEEN ? AND ?", (start.isoformat(), (first - timedelta(days=1)).isoformat())))
    months = (first.isoformat()[:7], last.isoformat()[:7])
    filters.append(DayFilter("r.month BETWEEN ? AND ?", months, table="rollup_month"))
    if last < end:
        filters.append(DayFilter("r.day BETWEEN ? AND ?", (after.isoformat(), end.isoformat())))
    return filters


def day_filters(start: date, end: date, by_weekday: bool) -> list[DayFilter]:
    """The whole range, or one filter per weekday (0 = Monday) listing its days.

    Per weekday, because ``day IN (...)`` seeks the primary key, while computing a weekday
    from every row with strftime() costs more than the whole query otherwise.
    """
    if not by_weekday:
        return [DayFilter("r.day BETWEEN ? AND ?", (start.isoformat(), end.isoformat()))]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    filters = []
    for weekday in range(7):
        chosen = tuple(d.isoformat() for d in days if d.weekday() == weekday)
        if chosen:
            filters.append(DayFilter(f"r.day IN ({','.join('?' * len(chosen))})", chosen, (weekday,)))
    return filters


def _sort_key(key: tuple[object, ...]) -> tuple[str, ...]:
    """Row keys mix text and integers (day, hour); zero-padded text sorts them the same way."""
    return tuple(f"{k:08d}" if isinstance(k, int) else str(k) for k in key)


def _selection_sql(selection: Selection) -> tuple[str, list[object]]:
    """WHERE terms on ``locations AS l``; substr, not LIKE/GLOB, so no character in a path is a wildcard."""
    clauses: list[str] = []
    params: list[object] = []
    if selection.region is not None:
        clauses.append("(l.region = ? OR substr(l.region, 1, ?) = ?)")
        params += [selection.region, len(selection.region) + 1, selection.region + "/"]
    if selection.location_id is not None:
        clauses.append("l.location_id = ?")
        params.append(selection.location_id)
    return " AND ".join(clauses) or "TRUE", params


def _record(row: tuple[object, ...]) -> LocationRecord:
    hours = json.loads(str(row[5])) if row[5] else None
    return LocationRecord(
        location_id=str(row[0]),
        name=cast(str | None, row[1]),
        region=cast(str | None, row[2]),
        timezone=str(row[3]),
        timezone_source=cast(TimezoneSource, row[4]),
        opening_hours=hours,
        created_at=str(row[6]),
        updated_at=cast(str | None, row[7]),
    )


def _event_where(query: EventQuery) -> tuple[str, list[object]]:
    """WHERE terms on ``events AS e`` for the (local_day, location_id) index.

    With a location or region, the days are listed (``IN``) so that SQLite seeks each (day, location)
    exactly, pk order included, instead of reading every location's entries of those days.
    """
    selection = query.selection
    if selection.location_id is None and selection.region is None:
        return "e.local_day BETWEEN ? AND ?", [query.start.isoformat(), query.end.isoformat()]
    days = [(query.start + timedelta(days=i)).isoformat() for i in range((query.end - query.start).days + 1)]
    clauses = [f"e.local_day IN ({','.join('?' * len(days))})"]
    params: list[object] = list(days)
    if selection.location_id is not None:
        clauses.append("e.location_id = ?")
        params.append(selection.location_id)
    if selection.region is not None:
        where, region_params = _selection_sql(Selection(region=selection.region))
        clauses.append(f"e.location_id IN (SELECT l.location_id FROM locations AS l WHERE {where})")
        params += region_params
    return " AND ".join(clauses), params


@dataclass(frozen=True)
class _Grouped:
    """Which locations, and which row keys each contributes: its id, or its region cut to ``region_level``."""

    selection: Selection
    from_location: tuple[str, ...]
    region_level: int | None


class SqlAnalytics(SqlHost):
    # --- rollups: scores and reasons, read location by location -------------

    def _per_location(
        self,
        table: str,
        group: list[str],
        query: _Grouped,
        filters: list[DayFilter],
        extra: Mapping[str, object],
    ) -> Iterator[tuple[tuple[object, ...], list[Any]]]:
        """(row key prefix, rows) per selected location and day filter, grouped in SQL by ``group``.

        The prefix holds the keys that come from the location (``query.from_location``) and the day filter.
        One query per location: each seeks the rollup's key prefix (location_id, day) and sorts only that
        location's rows, in memory. One query over the fleet would sort every row at once and spill to
        disk: about twice the CPU for a year of hourly rollups (measured on SQLite).
        """
        terms = "".join(f" AND r.{column} = ?" for column in extra)
        reader = self._reader()
        for location_id, region in self._selected(query.selection):
            own = {"location_id": location_id, "region": truncate_region(region, query.region_level)}
            prefix = tuple(own[name] for name in query.from_location)
            for days in filters:
                sql = (
                    f"SELECT {', '.join(group)}, SUM(r.count) FROM {days.table or table} AS r "
                    f"WHERE r.location_id = ? AND {days.sql}{terms} GROUP BY {', '.join(group)}"
                )
                found = reader.execute(sql, [location_id, *days.params, *extra.values()]).fetchall()
                yield (*prefix, *days.keys), found

    def _selected(self, selection: Selection) -> list[tuple[str, str | None]]:
        """(location_id, region) of the selected locations."""
        where, params = _selection_sql(selection)
        sql = f"SELECT l.location_id, l.region FROM locations AS l WHERE {where} ORDER BY l.location_id"
        return [(str(r[0]), r[1]) for r in self._reader().execute(sql, params)]

    def score_counts(self, query: ScoreQuery) -> list[CountsRow]:
        """Counts per group x question x scale, merged over the selected locations."""
        table, names, exprs, from_location = _SCORE_GROUPS[query.group_by]
        grouped = _Grouped(Selection(query.region, query.location_id), from_location, query.region_level)
        if query.group_by in _MONTHLY:
            filters = month_filters(query.start, query.end)
        else:
            filters = day_filters(query.start, query.end, query.group_by == "weekday_hour")
        extra = {} if query.question_id is None else {"question_id": query.question_id}
        rows: dict[tuple[object, ...], CountsRow] = {}
        for prefix, found in self._per_location(
            table, [*exprs, "r.question_id", "r.scale", "r.value"], grouped, filters, extra
        ):
            for *keys, question, scale, value, n in found:
                key = (*prefix, *keys, question, scale)
                row = rows.get(key)
                if row is None:
                    row = CountsRow(dict(zip(names, key[:-2], strict=True)), question, scale, [0] * scale)
                    rows[key] = row
                row.counts[value] += n
        return [rows[k] for k in sorted(rows, key=_sort_key)]

    # --- locations ----------------------------------------------------------

    def location_records(self, region: str | None = None) -> list[LocationRecord]:
        where, params = _selection_sql(Selection(region=region))
        sql = f"SELECT {_LOCATION_COLUMNS} FROM locations AS l WHERE {where} ORDER BY location_id"
        return [_record(row) for row in self._reader().execute(sql, params)]

    def locations(self, region: str | None = None) -> list[dict[str, object]]:
        return [record.as_dict() for record in self.location_records(region)]

    def location(self, location_id: str) -> LocationRecord | None:
        sql = f"SELECT {_LOCATION_COLUMNS} FROM locations WHERE location_id = ?"
        row = self._reader().execute(sql, (location_id,)).fetchone()
        return None if row is None else _record(row)

    def register_location(self, spec: LocationSpec, now: datetime) -> LocationRecord | None:
        stamp = format_ts(now)
        hours = None if spec.opening_hours is None else json.dumps(spec.opening_hours)
        with self._write() as conn:
            found = conn.execute(
                "SELECT timezone_source FROM locations WHERE location_id = ?", (spec.location_id,)
            ).fetchone()
            if found is not None and found[0] == "registered":
                return None
            if found is None:
                conn.execute(
                    f"INSERT INTO locations ({_LOCATION_COLUMNS}) VALUES (?, ?, ?, ?, 'registered', ?, ?, ?)",
                    (spec.location_id, spec.name, spec.region, spec.timezone, hours, stamp, stamp),
                )
            else:  # first seen from events: an admin now takes it over, zone included
                conn.execute(
                    "UPDATE locations SET name = ?, region = ?, timezone = ?, timezone_source = 'registered', "
                    "opening_hours = ?, updated_at = ? WHERE location_id = ?",
                    (spec.name, spec.region, spec.timezone, hours, stamp, spec.location_id),
                )
        return self.location(spec.location_id)

    def update_location(self, location_id: str, changes: LocationChanges, now: datetime) -> LocationRecord | None:
        sets = ["updated_at = ?"]
        params: list[object] = [format_ts(now)]
        for name in ("name", "region", "timezone", "opening_hours"):
            if name in changes.given:
                value = getattr(changes, name)
                sets.append(f"{name} = ?")
                params.append(json.dumps(value) if name == "opening_hours" and value is not None else value)
        if "timezone" in changes.given:
            sets.append("timezone_source = 'registered'")
        with self._write() as conn:
            sql = f"UPDATE locations SET {', '.join(sets)} WHERE location_id = ?"
            changed = conn.execute(sql, [*params, location_id]).rowcount
        return None if changed == 0 else self.location(location_id)

    # --- reasons ------------------------------------------------------------

    def reason_counts(self, query: ReasonQuery) -> list[ReasonRow]:
        names = _REASON_KEYS[query.group_by]
        grouped = _Grouped(query.selection, names, query.region_level)
        filters = day_filters(query.start, query.end, by_weekday=False)
        extra = {k: v for k, v in (("question_id", query.question_id), ("polarity", query.polarity)) if v is not None}
        totals: Counter[tuple[object, ...]] = Counter()
        for prefix, found in self._per_location(
            "rollup_reason", ["r.question_id", "r.polarity", "r.reason"], grouped, filters, extra
        ):
            for question, polarity, reason, n in found:
                totals[(*prefix, question, polarity, reason)] += n
        rows = [
            ReasonRow(dict(zip(names, k[:-3], strict=True)), str(k[-3]), cast(Polarity, k[-2]), str(k[-1]), n)
            for k, n in totals.items()
        ]
        rows.sort(key=lambda r: (tuple(map(str, r.keys.values())), r.question_id, r.polarity, -r.n, r.reason))
        return rows

    # --- events export ------------------------------------------------------

    def event_page(self, query: EventQuery, after_pk: int, limit: int) -> list[tuple[int, ExportRow]]:
        """Pks come from the (local_day, location_id) index alone; only the page's rows are read in full."""
        where, params = _event_where(query)
        hint = self.dialect.index_hint("events_day_location")
        sql = (
            f"{_EXPORT_SELECT} WHERE e.pk IN (SELECT e.pk FROM events AS e{hint} "
            f"WHERE {where} AND e.pk > ? ORDER BY e.pk LIMIT ?) ORDER BY e.pk"
        )
        rows = self._reader().execute(sql, [*params, after_pk, limit]).fetchall()
        return [(int(row[0]), tuple(row[1:])) for row in rows]

    def _export_sql(self, query: EventQuery) -> tuple[str, list[object]]:
        """The statement ``iter_events`` runs: the events of the query in index order, so without a sort."""
        where, params = _event_where(query)
        hint = self.dialect.index_hint("events_day_location")
        return f"{_EXPORT_SELECT}{hint} WHERE {where} ORDER BY e.local_day, e.location_id, e.pk", params
