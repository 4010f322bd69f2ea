"""After ``db copy``: does the PostgreSQL target hold what the SQLite source holds?

The source is read inside one read transaction, a snapshot that a running hub's commits do not
change halfway. Compared: every table's row count; every row of the tables that change (tokens,
alert episodes, webhook bodies...); the append-only tables' highest key; and each rollup, per
location and local day (month for the monthly one), by a fingerprint of its rows (how many, the
answers counted, and sums weighted by value, scale, hour or reason length), so a shifted or
miscounted answer shows, without reading millions of rollup rows into memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.storage.copy_tables import Kind, TablePlan
from hub.storage.postgres import PostgresStorage
from hub.storage.sql.schema import MONTH_ANSWERS, MONTH_VALUE_COLUMNS
from hub.storage.sqlite import SqliteStorage

Row = tuple[Any, ...]
Query = Callable[[str], list[Row]]
SHOWN = 10  # differences listed per table; the rest are counted

# Per location and period: a rollup's rows, answers, and answers weighted by the other key columns.
_REASON_SUMS = "count(*), sum(count), sum(count * length(reason)), sum(CASE WHEN polarity = 'negative' THEN count END)"
_WEIGHTED = " + ".join(f"{k} * {v}" for k, v in enumerate(MONTH_VALUE_COLUMNS))  # answers x value
_MONTH_SUMS = f"count(*), sum({MONTH_ANSWERS}), sum({_WEIGHTED}), sum(scale * ({MONTH_ANSWERS}))"
FINGERPRINTS = {
    "rollup_day": ("day", "count(*), sum(count), sum(count * value), sum(count * scale)"),
    "rollup_hour": ("day", "count(*), sum(count), sum(count * value), sum(count * scale), sum(count * hour)"),
    "rollup_month": ("month", _MONTH_SUMS),
    "rollup_reason": ("day", _REASON_SUMS),
}


@dataclass(frozen=True)
class TableCount:
    table: str
    kind: Kind
    source: int
    target: int


@dataclass(frozen=True)
class LocationTotals:
    """A location's daily rollup on each side: how many local days, how many counted answers."""

    location_id: str
    source_days: int
    source_answers: int
    target_days: int
    target_answers: int


@dataclass
class Verification:
    counts: list[TableCount] = field(default_factory=list)
    locations: list[LocationTotals] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    newer_in_source: dict[str, int] = field(default_factory=dict)  # append-only rows above the target's last key

    @property
    def ok(self) -> bool:
        return not self.differences


@contextmanager
def snapshot(source: SqliteStorage) -> Iterator[Query]:
    """Queries on the source inside one read transaction (WAL: the running hub keeps writing meanwhile)."""
    conn: sqlite3.Connection = source._reader()
    conn.execute("BEGIN")
    try:
        yield lambda sql: [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.execute("COMMIT")


def verify(source: SqliteStorage, target: PostgresStorage, tables: list[TablePlan]) -> Verification:
    def theirs(sql: str) -> list[Row]:
        return [tuple(r) for r in target._reader().execute(sql).fetchall()]

    result = Verification()
    with snapshot(source) as mine:
        for plan in tables:
            counts = TableCount(plan.table, plan.kind, _one(mine, plan.table), _one(theirs, plan.table))
            result.counts.append(counts)
            if plan.kind is Kind.APPEND:
                _check_append(plan, mine, theirs, counts, result)
            elif plan.kind is Kind.ROLLUP:
                _check_rollup(plan.table, mine, theirs, result)
            else:
                _check_rows(plan, mine, theirs, result)
        result.locations = _location_totals(mine, theirs)
    return result


def _one(query: Query, table: str) -> int:
    return int(query(f"SELECT count(*) FROM {table}")[0][0])


def _check_append(plan: TablePlan, mine: Query, theirs: Query, counts: TableCount, result: Verification) -> None:
    (key,) = plan.key
    top = theirs(f"SELECT max({key}) FROM {plan.table}")[0][0]
    newer = int(mine(f"SELECT count(*) FROM {plan.table} WHERE {key} > {int(top or 0)}")[0][0])
    if newer:
        result.newer_in_source[plan.table] = newer
    if counts.source != counts.target or newer:
        result.differences.append(
            f"{plan.table}: {counts.source} rows in the source, {counts.target} in the target"
            + (f" ({newer} in the source are newer than the target's last {key} {top})" if newer else "")
        )


def _check_rows(plan: TablePlan, mine: Query, theirs: Query, result: Verification) -> None:
    """Every row compared, column by column: these tables are small, and their bodies must be identical."""
    columns = ", ".join(plan.columns)
    keys = [plan.columns.index(k) for k in plan.key] or list(range(len(plan.columns)))
    ours = _by_key(mine(f"SELECT {columns} FROM {plan.table}"), keys)
    stored = _by_key(theirs(f"SELECT {columns} FROM {plan.table}"), keys)
    problems = []
    for key in sorted(ours.keys() - stored.keys(), key=repr):
        problems.append(f"{plan.table} {_show(key)}: missing in the target")
    for key in sorted(stored.keys() - ours.keys(), key=repr):
        problems.append(f"{plan.table} {_show(key)}: in the target only")
    for key in sorted(ours.keys() & stored.keys(), key=repr):
        if ours[key] != stored[key]:
            changed = [c for c, a, b in zip(plan.columns, ours[key][0], stored[key][0], strict=True) if a != b]
            what = f"column {', '.join(changed)} differs" if changed else "a different number of copies"
            problems.append(f"{plan.table} {_show(key)}: {what}")
    _add(result, plan.table, problems)


def _by_key(rows: list[Row], keys: list[int]) -> dict[Row, list[Row]]:
    grouped: dict[Row, list[Row]] = {}
    for row in rows:
        grouped.setdefault(tuple(row[i] for i in keys), []).append(row)
    return grouped


def _check_rollup(table: str, mine: Query, theirs: Query, result: Verification) -> None:
    period, sums = FINGERPRINTS[table]
    sql = f"SELECT location_id, {period}, {sums} FROM {table} GROUP BY location_id, {period}"
    ours = {(r[0], r[1]): tuple(int(v or 0) for v in r[2:]) for r in mine(sql)}
    stored = {(r[0], r[1]): tuple(int(v or 0) for v in r[2:]) for r in theirs(sql)}
    problems = []
    for key in sorted(ours.keys() | stored.keys()):
        a, b = ours.get(key), stored.get(key)
        if a != b:
            answers = f"{a[1] if a else 0} answers in the source, {b[1] if b else 0} in the target"
            same = " (the same number, counted under other keys)" if a and b and a[1] == b[1] else ""
            problems.append(f"{table} {key[0]} {period} {key[1]}: {answers}{same}")
    _add(result, table, problems)


def _location_totals(mine: Query, theirs: Query) -> list[LocationTotals]:
    sql = "SELECT location_id, count(DISTINCT day), sum(count) FROM rollup_day GROUP BY location_id"
    ours = {r[0]: (int(r[1]), int(r[2])) for r in mine(sql)}
    stored = {r[0]: (int(r[1]), int(r[2])) for r in theirs(sql)}
    return [
        LocationTotals(loc, *ours.get(loc, (0, 0)), *stored.get(loc, (0, 0)))
        for loc in sorted(ours.keys() | stored.keys())
    ]


def _add(result: Verification, table: str, problems: list[str]) -> None:
    result.differences.extend(problems[:SHOWN])
    if len(problems) > SHOWN:
        result.differences.append(f"{table}: ... and {len(problems) - SHOWN} more differences")


def _show(key: Row) -> str:
    return repr(key[0]) if len(key) == 1 else repr(key)
