"""The digest's "actions" and "forecast" sections (:data:`hub.services.digest_compose.SectionSource`).

Both are computed as of the end of the digest's week (local midnight after its Sunday), so a digest
re-sent for the same week says the same: the effect uses only the weeks complete by then, and the
forecast is for the seven local days after it. Numbers come from the same services as
``GET /api/v1/actions/{id}/effect`` and ``GET /api/v1/forecast``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.services.action_insights import effect_for, week_ahead
from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_scope import Scope
from hub.services.digest import DigestSection, DigestTarget, Row, Week
from hub.services.digest_compose import SectionSource, local_midnight
from hub.storage.base import Storage
from hub.storage.base_analytics import LocationRecord

ACTIONS_TITLE = "Actions and their effects"
FORECAST_TITLE = "Next week's forecast"
RECENT_WEEKS = 8  # actions in place at some point in the last 8 weeks are reported
MAX_ACTIONS = 20


def _records(storage: Storage, target: DigestTarget) -> list[LocationRecord]:
    if target.kind == "location":
        record = storage.location(target.id)
        return [] if record is None else [record]
    return storage.location_records(target.id)


def _as_of(week: Week, record: LocationRecord) -> datetime:
    return local_midnight(week.end + timedelta(days=1), record.timezone)


def actions_section(storage: Storage, target: DigestTarget, week: Week) -> DigestSection:
    """Each action in place during the last weeks, with its verdict and DiD against peers."""
    records = {r.location_id: r for r in _records(storage, target)}
    since = week.end - timedelta(weeks=RECENT_WEEKS)
    actions = [
        a
        for a in storage.list_actions(sorted(records))
        if a.started_on <= week.end and (a.ended_on is None or a.ended_on >= since)
    ][:MAX_ACTIONS]
    rows: list[Row] = []
    for action in actions:
        row: Row = {
            "location_id": action.location_id, "action": action.text, "reason": action.reason or "",
            "started_on": action.started_on.isoformat(),
            "ended_on": action.ended_on.isoformat() if action.ended_on else "in place", "logged_by": action.logged_by,
        }  # fmt: skip
        try:
            effect = effect_for(storage, action, _as_of(week, records[action.location_id]))
        except AnalyticsError as exc:
            rows.append({**row, "verdict": "not measured", "detail": str(exc)})
            continue
        primary = effect["primary"]
        n = effect["n"]
        assert isinstance(primary, dict) and isinstance(n, dict)
        ci = primary.get("ci95")
        change = (
            "" if primary.get("estimate") is None or not isinstance(ci, list)
            else f"{primary['estimate']:+.1f} points vs peers (95% CI {ci[0]:+.1f} to {ci[1]:+.1f})"
        )  # fmt: skip
        rows.append({**row, "verdict": effect["verdict"], "measure": primary["measure"], "change": change,
                     "n_before": n["treated_before"], "n_after": n["treated_after"]})  # fmt: skip
    note = "" if rows else "no actions were in place in the last weeks"
    return DigestSection("actions", ACTIONS_TITLE, tuple(rows), note)


def forecast_section(storage: Storage, target: DigestTarget, week: Week) -> DigestSection:
    """A location: each day of the coming week with its 80%/95% bands. A region: each location's week in total."""
    rows: list[Row] = []
    skipped: list[str] = []
    for record in _records(storage, target):
        try:
            ahead = week_ahead(storage, Scope(), record.location_id, _as_of(week, record), 7)
        except AnalyticsError:
            skipped.append(record.location_id)
            continue
        if target.kind == "location":
            for day in ahead.days:
                a, hi = day.answers, day.happy_index
                rows.append({
                    "day": day.day.isoformat(), "answers": round(a.expected, 1),
                    "answers_80": f"{a.p80[0]:.0f}-{a.p80[1]:.0f}", "answers_95": f"{a.p95[0]:.0f}-{a.p95[1]:.0f}",
                    "happy_index": None if hi is None else round(hi.expected, 1),
                    "happy_index_80": None if hi is None else f"{hi.p80[0]:.0f}-{hi.p80[1]:.0f}",
                })  # fmt: skip
            continue
        total = sum(d.answers.expected for d in ahead.days)
        weighted = [(d.answers.expected, d.happy_index.expected) for d in ahead.days if d.happy_index is not None]
        weight = sum(w for w, _ in weighted)
        rows.append({
            "location_id": record.location_id, "answers": round(total, 1),
            "happy_index": round(sum(w * v for w, v in weighted) / weight, 1) if weight else None,
        })  # fmt: skip
    note = f"no history to forecast from at {', '.join(skipped)}" if skipped else ""
    if not rows:
        return DigestSection("forecast", FORECAST_TITLE, None, note or "no locations")
    return DigestSection("forecast", FORECAST_TITLE, tuple(rows), note)


INSIGHT_SECTIONS: tuple[SectionSource, ...] = (actions_section, forecast_section)
"""What ``touchpoint-hub digest send`` fills the digest's optional sections with."""
