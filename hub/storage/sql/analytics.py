"""HQ analytics, shared by both backends.

A score or reason query is one set-based statement across the fleet
(:mod:`hub.storage.sql.rollup_reads`): the selected ``locations`` joined to a
rollup on its primary-key prefix ``(location_id, day)``, whole local months
from ``rollup_month`` where the grouping allows. Regions come from
``locations.region`` at query time, so a store moved to another region takes
its history along. Exports use the ``(local_day, location_id)`` index of events.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
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
from hub.storage.sql.rollup_reads import (
    ANSWER_PAIRS_SQL,
    RollupRead,
    day_filters,
    month_filters,
    pivot_sql,
    rollup_sql,
)

# group_by -> (rollup table, key names in the rows, SQL key expressions; the weekday comes from DayFilter)
_SCORE_GROUPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "location": ("rollup_day", ("location_id",), ("l.location_id",)),
    "region": ("rollup_day", ("region",), ("l.region",)),
    "day": ("rollup_day", ("location_id", "day"), ("l.location_id", "r.day")),
    "hour": ("rollup_hour", ("location_id", "hour"), ("l.location_id", "r.hour")),
    "weekday_hour": ("rollup_hour", ("weekday", "hour"), ("r.hour",)),
    "all": ("rollup_day", (), ()),
}
_MONTHLY = frozenset({"location", "region", "all"})  # groupings without a day or hour: whole months can be read
_REASON_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "location": (("location_id",), ("l.location_id",)),
    "region": (("region",), ("l.region",)),
    "all": ((), ()),
}
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


def _keys(names: tuple[str, ...], found: list[object], region_level: int | None) -> tuple[object, ...]:
    """A result row's keys; a region cut to ``region_level`` segments (rows of sub-regions merge in Python)."""
    return tuple(
        truncate_region(cast(str | None, k), region_level) if name == "region" else k
        for name, k in zip(names, found, strict=True)
    )


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


def _merge_counts(
    names: tuple[str, ...],
    region_level: int | None,
    counted: Iterable[tuple[Sequence[object], tuple[object, object], Mapping[Any, object]]],
) -> list[CountsRow]:
    """CountsRows from (keys, (question, scale), {value: count}), merged per key, question and scale, sorted.

    Rows of sub-regions cut to ``region_level`` merge here; counts of zero (NULL: a part that found
    nothing) add nothing, and a group that counts nothing is left out.
    """
    by_region = "region" in names
    rows: dict[tuple[object, ...], CountsRow] = {}
    for found, (question, scale), counts in counted:
        keys = _keys(names, list(found), region_level) if by_region else tuple(found)
        key = (*keys, question, scale)
        row = rows.get(key)
        if row is None:
            row = CountsRow(
                dict(zip(names, keys, strict=True)), str(question), int(cast(int, scale)), [0] * int(cast(int, scale))
            )
            rows[key] = row
        for value, n in counts.items():
            if n and int(cast(int, value)) < row.scale:
                row.counts[int(cast(int, value))] += int(cast(int, n))
    return [rows[k] for k in sorted(rows, key=_sort_key) if any(rows[k].counts)]


def _pivoted_rows(
    names: tuple[str, ...], pairs: list[tuple[str, int]], found_rows: Iterable[Sequence[Any]]
) -> list[CountsRow]:
    """CountsRows straight from pivoted rows that the statement already grouped by key and pair (not by region).

    The fleet's year is 1,000 stores x every answered pair: built without :func:`_merge_counts`' per-value
    dictionary, which cost a quarter of the request.
    """
    key_count = len(names)
    rows: dict[tuple[object, ...], CountsRow] = {}
    for found in found_rows:
        keys = tuple(found[:key_count])
        question, scale = pairs[found[key_count]]
        counts = [int(n or 0) for n in found[key_count + 1 : key_count + 1 + scale]]
        key = (*keys, question, scale)
        row = rows.get(key)
        if row is None:
            rows[key] = CountsRow(dict(zip(names, keys, strict=True)), question, scale, counts)
        else:  # not expected (the statement groups by key and pair), but never lose a count
            row.counts[:] = [a + b for a, b in zip(row.counts, counts, strict=True)]
    return [rows[k] for k in sorted(rows, key=_sort_key) if any(rows[k].counts)]


class SqlAnalytics(SqlHost):
    # --- rollups: scores and reasons, one set-based statement across the fleet -----

    def score_counts(self, query: ScoreQuery) -> list[CountsRow]:
        """Counts per group x question x scale, merged over the selected locations.

        Groupings over whole months (location, region, all) pivot the answer values into columns, one
        part per answered (question, scale) pair (:func:`pivot_sql`): a fleet's year is then read in key
        order without sorting every answer row. Day and hour groupings read few rows per part and keep
        the plain grouped read, which PostgreSQL plans better for their lists of days.
        """
        table, names, exprs = _SCORE_GROUPS[query.group_by]
        where, params = _selection_sql(Selection(query.region, query.location_id))
        if query.group_by not in _MONTHLY:
            filters = day_filters(query.start, query.end, query.group_by == "weekday_hour")
            extra = {} if query.question_id is None else {"question_id": query.question_id}
            read = RollupRead(table, exprs, ("question_id", "scale", "value"), where, params, extra)
            sql, sql_params = rollup_sql(read, filters)
            counted = (
                (found[:-4], (found[-4], found[-3]), {found[-2]: found[-1]})
                for found in self._reader().execute(sql, sql_params)
            )
            return _merge_counts(names, query.region_level, counted)
        pairs = [(str(q), int(s)) for q, s in self._reader().execute(ANSWER_PAIRS_SQL)]
        if query.question_id is not None:
            pairs = [pair for pair in pairs if pair[0] == query.question_id]
        if not pairs:
            return []
        read = RollupRead(table, exprs, (), where, params, {})
        sql, sql_params = pivot_sql(read, month_filters(query.start, query.end), pairs)
        key_count = len(names)
        cursor = self._reader().execute(sql, sql_params)
        if "region" not in names:
            return _pivoted_rows(names, pairs, cursor)
        pivoted = (
            (found[:key_count], pairs[found[key_count]], dict(enumerate(found[key_count + 1 :]))) for found in cursor
        )
        return _merge_counts(names, query.region_level, pivoted)

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
        names, exprs = _REASON_KEYS[query.group_by]
        filters = day_filters(query.start, query.end, by_weekday=False)
        extra = {k: v for k, v in (("question_id", query.question_id), ("polarity", query.polarity)) if v is not None}
        where, params = _selection_sql(query.selection)
        read = RollupRead("rollup_reason", exprs, ("question_id", "polarity", "reason"), where, params, extra)
        sql, sql_params = rollup_sql(read, filters)
        totals: Counter[tuple[object, ...]] = Counter()
        for *found, question, polarity, reason, n in self._reader().execute(sql, sql_params):
            totals[(*_keys(names, found, query.region_level), question, polarity, reason)] += int(n)
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
