"""One set-based read of the rollups across the fleet, written once for both backends.

A score or reason query becomes ONE statement: a ``UNION ALL`` of parts, each part one rollup table
joined to the selected ``locations`` and filtered to some local days (or months), grouped in SQL;
the outer query sums the parts. A part may count with the sign -1: a partial month is read as the
whole month from ``rollup_month`` minus the days of it outside the range, when those are fewer than
the days inside (a year ending yesterday reads its last month whole, minus the days still to come).
The monthly rollup is kept in the same transaction as the daily one, so the difference is exact;
the outer ``HAVING`` drops answers that count zero, as a plain read of the days would never list them.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from edge_agent.protocol import SCALES
from hub.storage.sql.schema import MONTH_VALUE_COLUMNS

MONTH_TABLE = "rollup_month"  # one row per location x month x question x scale, a column per answer value


@dataclass(frozen=True)
class DayFilter:
    """Which local days (or months) one part reads, and how it counts.

    ``keys`` are row keys fixed by the choice (the weekday); ``table`` replaces the query's own rollup
    (the monthly one); ``sign`` -1 subtracts the part (days of a month read whole that are outside the range).
    """

    sql: str
    params: tuple[str, ...]
    keys: tuple[int, ...] = ()
    table: str | None = None
    sign: int = 1


def _days(first: date, last: date, sign: int = 1) -> DayFilter:
    return DayFilter("r.day BETWEEN ? AND ?", (first.isoformat(), last.isoformat()), sign=sign)


def _months(first: date, last: date) -> DayFilter:
    return DayFilter("r.month BETWEEN ? AND ?", (first.isoformat()[:7], last.isoformat()[:7]), table=MONTH_TABLE)


def _month_bounds(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=monthrange(day.year, day.month)[1])


def _partial_month(start: date, end: date) -> list[DayFilter]:
    """``start``..``end`` inside one month: its days, or the whole month minus the days around them.

    A month read whole costs about as much as one day (one row per answer); the cheaper plan is chosen
    by the number of days each reads.
    """
    first, last = _month_bounds(start)
    inside = (end - start).days + 1
    outside = (start - first).days + (last - end).days
    if outside + 1 >= inside:
        return [_days(start, end)]
    parts = [_months(first, first)]
    if start > first:
        parts.append(_days(first, start - timedelta(days=1), sign=-1))
    if end < last:
        parts.append(_days(end + timedelta(days=1), last, sign=-1))
    return parts


def month_filters(start: date, end: date) -> list[DayFilter]:
    """The range as whole local months from ``rollup_month`` plus the edge months, each read the cheaper way.

    A year of a location is then 12 rows per answer plus a few edge days, instead of 365 days.
    """
    if start > end:
        return [_days(start, end)]  # an empty range: one part that finds nothing
    if (start.year, start.month) == (end.year, end.month):
        return _partial_month(start, end)
    head_first, head_last = _month_bounds(start)
    tail_first, tail_last = _month_bounds(end)
    filters: list[DayFilter] = []
    whole_first = head_first if start == head_first else head_last + timedelta(days=1)
    whole_last = tail_last if end == tail_last else tail_first - timedelta(days=1)
    if start != head_first:
        filters += _partial_month(start, head_last)
    if whole_first <= whole_last:
        filters.append(_months(whole_first, whole_last))
    if end != tail_last:
        filters += _partial_month(tail_first, end)
    return _merge_months(filters)


def _merge_months(filters: list[DayFilter]) -> list[DayFilter]:
    """Adjacent month parts as one ``BETWEEN`` (an edge month read whole next to the whole months)."""
    months = sorted(f.params for f in filters if f.table == MONTH_TABLE)
    merged: list[list[str]] = []
    for low, high in months:
        if merged and _next_month(merged[-1][1]) == low:
            merged[-1][1] = high
        else:
            merged.append([low, high])
    others = [f for f in filters if f.table != MONTH_TABLE]
    return [DayFilter("r.month BETWEEN ? AND ?", (low, high), table=MONTH_TABLE) for low, high in merged] + others


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def day_filters(start: date, end: date, by_weekday: bool) -> list[DayFilter]:
    """The whole range, or one filter per weekday (0 = Monday) listing its days.

    Per weekday, because ``day IN (...)`` seeks the primary key, while computing a weekday
    from every row with strftime() costs more than the whole query otherwise.
    """
    if not by_weekday:
        return [_days(start, end)]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    filters = []
    for weekday in range(7):
        chosen = tuple(d.isoformat() for d in days if d.weekday() == weekday)
        if chosen:
            filters.append(DayFilter(f"r.day IN ({','.join('?' * len(chosen))})", chosen, (weekday,)))
    return filters


@dataclass(frozen=True)
class RollupRead:
    """What to read: a rollup table, the row keys (SQL expressions on ``locations AS l`` / the rollup ``r``),
    the counted columns, the locations (WHERE terms on ``l``) and extra column filters."""

    table: str
    key_exprs: Sequence[str]
    columns: Sequence[str]
    selection_sql: str
    selection_params: Sequence[object]
    extra: Mapping[str, object]


def _part_sql(read: RollupRead, days: DayFilter, grouped: Sequence[str], selected: str) -> str:
    """One part: the selected locations joined to the rollup on its key prefix ``(location_id, day)``."""
    terms = "".join(f" AND r.{column} = ?" for column in read.extra)
    group = f" GROUP BY {', '.join(grouped)}" if grouped else ""
    return (
        f"SELECT {selected} FROM locations AS l "
        f"JOIN {days.table or read.table} AS r ON r.location_id = l.location_id "
        f"WHERE {read.selection_sql} AND {days.sql}{terms}{group}"
    )


def rollup_sql(read: RollupRead, filters: Sequence[DayFilter]) -> tuple[str, list[object]]:
    """The one statement: rows of (keys from the filter, keys, columns, count), counts above zero.

    Each part joins ``locations`` to the rollup on the rollup's key prefix ``(location_id, day)``, so
    every location's days are one index range, and groups its own rows: the outer sort sees a few
    rows per location and answer, not every day's.
    """
    width = len(filters[0].keys) + len(read.key_exprs) + len(read.columns)
    names = [f"c{i}" for i in range(width)]
    parts: list[str] = []
    params: list[object] = []
    for days in filters:
        fixed = [str(int(k)) for k in days.keys]  # weekday numbers: integers, inlined
        grouped = [*read.key_exprs, *(f"r.{c}" for c in read.columns)]
        selected = ", ".join(f"{expr} AS {name}" for expr, name in zip([*fixed, *grouped], names, strict=True))
        total = "SUM(r.count)" if days.sign == 1 else "-SUM(r.count)"
        parts.append(_part_sql(read, days, grouped, f"{selected}, {total} AS n"))
        params += [*read.selection_params, *days.params, *read.extra.values()]
    if len(parts) == 1 and filters[0].sign == 1:
        return parts[0], params
    columns = ", ".join(names)
    union = " UNION ALL ".join(parts)
    return f"SELECT {columns}, SUM(n) FROM ({union}) AS parts GROUP BY {columns} HAVING SUM(n) > 0", params


# The (question, scale) pairs ever answered, from the partial index rollup_month_pairs (schema step 11):
# one seek per question (skipping through the index) and one per scale it might have, never a scan. Each
# seek is a min() over an index range, which both planners read as one index probe; PostgreSQL turns an
# EXISTS into a semi-join over the whole index, and a LIMIT 1 into a sequential scan when one question has it all.
_SCALE_ROWS = " UNION ALL ".join(f"SELECT {int(scale)} AS scale" for scale in SCALES)
ANSWER_PAIRS_SQL = f"""WITH RECURSIVE q(id) AS (
  SELECT min(m.question_id) FROM rollup_month AS m WHERE m.scale > 0
  UNION ALL
  SELECT (SELECT min(m.question_id) FROM rollup_month AS m WHERE m.question_id > q.id AND m.scale > 0)
  FROM q WHERE q.id IS NOT NULL
)
SELECT q.id, s.scale FROM q CROSS JOIN ({_SCALE_ROWS}) AS s
WHERE q.id IS NOT NULL AND s.scale = (
  SELECT min(m.scale) FROM rollup_month AS m WHERE m.question_id = q.id AND m.scale >= s.scale AND m.scale > 0
)
ORDER BY q.id, s.scale"""


def _value_sum(days: DayFilter, value: int) -> str:
    """The answers of one value: the monthly rollup's own column for it, else the rows of that value."""
    if days.table == MONTH_TABLE:
        return f"SUM(r.{MONTH_VALUE_COLUMNS[value]})"
    return f"SUM(CASE WHEN r.value = {value} THEN r.count ELSE 0 END)"


def pivot_sql(
    read: RollupRead, filters: Sequence[DayFilter], pairs: Sequence[tuple[str, int]]
) -> tuple[str, list[object]]:
    """Answer counts pivoted into columns: rows of (keys from the filter, keys, pair number, v0 .. v{w-1}).

    One part per (question, scale) pair in ``pairs`` and day filter, each filtered to its pair and grouped
    by the keys alone: a rollup's rows for one location come in key order, so each part aggregates as it
    reads, with no sort of every (question, scale, value) row; the outer query sums the few rows the parts
    give. ``v{k}`` counts answer value k (0 past the pair's scale). Rows may count zero, and without keys
    (the whole selection) a part that finds nothing sums NULL: read NULL as 0 and drop rows of zeros.
    """
    width = max(scale for _, scale in pairs)
    key_width = len(filters[0].keys) + len(read.key_exprs)
    keys = [f"c{i}" for i in range(key_width)]
    parts: list[str] = []
    params: list[object] = []
    for number, (question, scale) in enumerate(pairs):
        pair = RollupRead(
            read.table, read.key_exprs, (), read.selection_sql, read.selection_params,
            {**read.extra, "question_id": question, "scale": scale},
        )  # fmt: skip
        for days in filters:
            fixed = [str(int(k)) for k in days.keys]  # weekday numbers: integers, inlined
            named = [f"{expr} AS {name}" for expr, name in zip([*fixed, *read.key_exprs], keys, strict=True)]
            sign = "" if days.sign == 1 else "-"
            values = [f"{sign}{_value_sum(days, k)} AS v{k}" if k < scale else f"0 AS v{k}" for k in range(width)]
            selected = ", ".join([*named, f"{number} AS p", *values])
            parts.append(_part_sql(pair, days, read.key_exprs, selected))
            params += [*pair.selection_params, *days.params, *pair.extra.values()]
    grouped = ", ".join([*keys, "p"])
    # BIGINT: PostgreSQL sums bigints as numeric, which psycopg returns as Decimal, slow to add up in Python.
    sums = ", ".join(f"CAST(SUM(v{k}) AS BIGINT)" for k in range(width))
    return f"SELECT {grouped}, {sums} FROM ({' UNION ALL '.join(parts)}) AS parts GROUP BY {grouped}", params
