"""Gathering a digest: the last complete local week of a location or region, read the way the API reads it.

Every number comes from the analytics services behind ``GET /api/v1/scores``
and ``/reasons`` (same functions, same arguments) and from the storage
contract's alert history, so a digest cannot disagree with the API or the
dashboard, and it works on any storage backend.

"Last complete local week": weeks run Monday..Sunday in each location's own
time zone, as the rollups count days. A region's week is the latest one that
has ended in every one of its locations' zones, so a Pacific store does not
wait for nothing and a New York store is not cut off on its Sunday afternoon.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from edge_agent.protocol import load_zone
from edge_agent.scores import merge_counts, score
from hub.services.alert_rules import GOOD_NEWS_KINDS
from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_reasons import ReasonRequest, reason_rows
from hub.services.analytics_scope import Scope
from hub.services.analytics_scores import ScoreRequest, score_rows
from hub.services.digest import AlertFact, Digest, DigestSection, DigestTarget, QuestionScore, Row, Week, unavailable
from hub.storage.base import Storage
from hub.storage.base_alerts import AlertEvent, AlertQuery, AlertRule
from hub.storage.base_analytics import LocationRecord

log = logging.getLogger("touchpoint.hub.digest")

DEFAULT_QUESTION = "default"
TOP_REASONS = 5
MAX_ALERTS = 50
SectionSource = Callable[[Storage, DigestTarget, Week], DigestSection]
"""Fills one optional section, e.g. actions and their effects, or next week's forecast."""
PENDING_SECTIONS: tuple[DigestSection, ...] = (
    unavailable("actions", "Actions and their effects"),
    unavailable("forecast", "Next week's forecast"),
)
"""What a digest says until the effect and forecast services plug in their :data:`SectionSource`."""


class DigestError(ValueError):
    """The digest cannot be made as asked (unknown location, empty region); the message says why."""


def _zone(name: str) -> ZoneInfo:
    return load_zone(name) or ZoneInfo("UTC")


def last_complete_week(now: datetime, timezones: Iterable[str]) -> Week:
    """The latest Monday..Sunday that has ended, at ``now``, in every one of ``timezones``."""
    mondays = []
    for name in timezones:
        today = now.astimezone(_zone(name)).date()
        mondays.append(today - timedelta(days=today.weekday()))  # this (incomplete) week's Monday
    if not mondays:
        raise DigestError("no time zone to count local days in")
    return Week(min(mondays) - timedelta(weeks=1))


def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), _zone(timezone))


def _locations(storage: Storage, target: DigestTarget) -> list[LocationRecord]:
    if target.kind == "location":
        record = storage.location(target.id)
        if record is None:
            raise DigestError(f"unknown location {target.id!r}")
        return [record]
    records = storage.location_records(target.id)
    if not records:
        raise DigestError(f"no locations in region {target.id!r}")
    return records


def _question_order(rows: Sequence[Row]) -> list[Row]:
    """``default`` first, then the most answered: the question a reader expects first."""
    return sorted(rows, key=lambda r: (r["question_id"] != DEFAULT_QUESTION, -cast(int, r["n"]), str(r["question_id"])))


def _scores(storage: Storage, target: DigestTarget, week: Week) -> tuple[QuestionScore, ...]:
    scope = Scope()
    current = score_rows(
        storage, scope, ScoreRequest(week.start, week.end, "all", target.location, target.region, compare=True)
    )
    out = []
    for row in _question_order(current):
        question = str(row["question_id"])
        daily = ScoreRequest(week.previous().start, week.end, "day", target.location, target.region, question)
        out.append(QuestionScore(question, row, _by_day(score_rows(storage, scope, daily))))
    return tuple(out)


def _by_day(rows: Sequence[Row]) -> dict[str, Row]:
    """``group_by=day`` rows come per location and day: a region's day pools its locations' counts.

    A day of one location keeps the API's row as it is; a pooled day is scored by
    the shared score module, as ``group_by=all`` with ``from`` = ``to`` = that day would be.
    """
    groups: dict[tuple[str, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((str(row["day"]), cast(int, row["scale"])), []).append(row)
    out: dict[str, Row] = {}
    for (day, scale), group in groups.items():
        if len(group) == 1:
            pooled = group[0]
        else:
            counts = functools.reduce(merge_counts, (cast(list[int], r["counts"]) for r in group))
            pooled = {"day": day, "question_id": group[0]["question_id"], **score(counts, scale).as_dict()}
        if day not in out or cast(int, pooled["n"]) > cast(int, out[day]["n"]):  # a question asked on two scales
            out[day] = pooled
    return dict(sorted(out.items()))


def _location_rows(storage: Storage, target: DigestTarget, week: Week, question: str) -> tuple[Row, ...]:
    if target.kind != "region":
        return ()
    request = ScoreRequest(week.start, week.end, "location", None, target.region, question, compare=True)
    rows = score_rows(storage, Scope(), request)
    return tuple(sorted(rows, key=lambda r: (r["happy_index"] is None, -cast(float, r["happy_index"] or 0.0))))


def _reasons(storage: Storage, target: DigestTarget, week: Week) -> tuple[Row, ...]:
    request = ReasonRequest(week.start, week.end, "all", target.location, target.region, None, "negative")
    return tuple(reason_rows(storage, Scope(), request)[:TOP_REASONS])


def _fact(event: AlertEvent, rules: dict[int, AlertRule]) -> AlertFact:
    rule = rules.get(event.key.rule_id)
    return AlertFact(
        alert_id=event.alert_id,
        rule_name=rule.spec.name if rule else f"rule {event.key.rule_id} (deleted)",
        kind=rule.spec.kind if rule else "unknown",
        location_id=event.key.location_id,
        device_id=event.key.device_id,
        fired_at=event.fired_at,
        message=event.message,
    )


def _alerts(
    storage: Storage, target: DigestTarget, week: Week, zones: Sequence[str]
) -> tuple[tuple[AlertFact, ...], tuple[AlertFact, ...]]:
    """Open alerts (trouble) now, and the praise episodes of the week (or firing now)."""
    rules = {r.rule_id: r for r in storage.alert_rules()}
    firing = storage.alert_history(
        AlertQuery(location_id=target.location, state="firing", region=target.region, limit=MAX_ALERTS)
    )
    start = min(local_midnight(week.start, z) for z in zones)
    end = max(local_midnight(week.end + timedelta(days=1), z) for z in zones)
    during = storage.alert_history(
        AlertQuery(location_id=target.location, region=target.region, start=start, end=end, limit=MAX_ALERTS)
    )
    facts = {e.alert_id: _fact(e, rules) for e in (*firing, *during)}
    trouble = [facts[e.alert_id] for e in firing if facts[e.alert_id].kind not in GOOD_NEWS_KINDS]
    praised = {e.alert_id for e in (*during, *firing) if facts[e.alert_id].kind in GOOD_NEWS_KINDS}
    return tuple(trouble), tuple(sorted((facts[i] for i in praised), key=lambda a: a.fired_at))


def _section(source: SectionSource, storage: Storage, target: DigestTarget, week: Week) -> DigestSection:
    """A failing section must not stop the digest: it says it could not be computed, and the rest goes out."""
    try:
        return source(storage, target, week)
    except Exception as exc:  # another service's bug or missing data
        log.exception("digest section %r failed for %s", getattr(source, "__name__", source), target)
        return DigestSection("error", getattr(source, "__name__", "section"), None, f"could not be computed ({exc})")


def compose(
    storage: Storage,
    target: DigestTarget,
    now: datetime,
    sections: Sequence[SectionSource] = (),
    week: Week | None = None,
) -> Digest:
    """The digest of ``target`` for ``week`` (default: the last complete local week at ``now``).

    ``sections`` fill the optional parts; a part none of them fills is listed as not available yet.
    """
    try:
        records = _locations(storage, target)
        zones = tuple(sorted({r.timezone for r in records}))
        week = week or last_complete_week(now, zones)
        scores = _scores(storage, target, week)
        reasons = _reasons(storage, target, week)
    except AnalyticsError as exc:
        raise DigestError(str(exc)) from None
    main_question = scores[0].question_id if scores else DEFAULT_QUESTION
    open_alerts, praise = _alerts(storage, target, week, zones)
    filled = {s.key: s for s in (_section(source, storage, target, week) for source in sections)}
    ordered = [filled.pop(s.key, s) for s in PENDING_SECTIONS]
    name = (records[0].name or records[0].location_id) if target.kind == "location" else target.id
    return Digest(
        target=target,
        name=name,
        timezones=zones,
        week=week,
        generated_at=now,
        scores=scores,
        reasons=reasons,
        open_alerts=open_alerts,
        praise=praise,
        locations=_location_rows(storage, target, week, main_question),
        sections=(*ordered, *filled.values()),
    )
