"""Reads a location's answers per local day and hour through the storage contract, for the forecast.

Uses only :meth:`~hub.storage.base.Storage.score_counts`: ``group_by="day"`` once to find the
days with answers, then ``group_by="hour"`` for each such day, so any backend that implements
the contract serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from edge_agent.protocol import load_zone
from hub.services.analytics_errors import InvalidQuery, NotFound
from hub.services.forecast import HourlyHistory
from hub.storage.base import ScoreQuery, Storage

MAX_HISTORY_DAYS = 371  # a year and a week: the seasonal baseline reads at most a few weeks of it


def local_yesterday(storage: Storage, location_id: str, now: datetime) -> date:
    """The location's last complete local day."""
    record = storage.location(location_id)
    if record is None:
        raise NotFound(f"location: no location {location_id!r}")
    return now.astimezone(load_zone(record.timezone)).date() - timedelta(days=1)


def hourly_history(
    storage: Storage,
    location_id: str,
    last: date,
    days: int,
    question_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HourlyHistory:
    """Answers of the ``days`` local days up to ``last``, per day and hour, for one question.

    ``question_id`` None takes the question the location answered most in that span. ``progress``
    is called with (days read, days to read).
    """
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise InvalidQuery(f"days: expected 1..{MAX_HISTORY_DAYS} (got {days})")
    first = last - timedelta(days=days - 1)
    per_day = storage.score_counts(
        ScoreQuery(first, last, group_by="day", location_id=location_id, question_id=question_id)
    )
    if not per_day:
        raise InvalidQuery(f"location {location_id!r} has no answers between {first} and {last}")
    if question_id is None:
        totals: dict[str, int] = {}
        for row in per_day:
            totals[row.question_id] = totals.get(row.question_id, 0) + sum(row.counts)
        question_id = max(totals, key=lambda q: (totals[q], q))
    rows = [r for r in per_day if r.question_id == question_id]
    scales = {r.scale for r in rows}
    if len(scales) != 1:
        raise InvalidQuery(f"question_id: {question_id!r} is answered on different scales {sorted(scales)}")
    with_answers = sorted({date.fromisoformat(str(r.keys["day"])) for r in rows})
    counts: dict[tuple[date, int], tuple[int, ...]] = {}
    for i, day in enumerate(with_answers):
        query = ScoreQuery(day, day, group_by="hour", location_id=location_id, question_id=question_id)
        for row in storage.score_counts(query):
            counts[(day, int(str(row.keys["hour"])))] = tuple(row.counts)
        if progress is not None:
            progress(i + 1, len(with_answers))
    return HourlyHistory(scale=scales.pop(), first=with_answers[0], last=last, counts=counts)
