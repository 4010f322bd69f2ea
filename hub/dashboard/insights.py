"""The location page's actions with their effect verdicts, and its forecast for the coming week.

Both are computed through the same services as the API (``/api/v1/actions/{id}/effect``,
``/api/v1/forecast``), so the page and the API agree. Either may be impossible (too little history,
a location known from events only): the page then says why instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.services.action_insights import WeekAhead, effect_for, week_ahead
from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage
from hub.storage.base_actions import ActionRecord

MAX_ACTIONS_SHOWN = 10
VERDICT_CLASS = {"improved": "improved", "worse": "worse", "no detectable change": "none", "too early to tell": "early"}


@dataclass(frozen=True)
class ActionRow:
    action: ActionRecord
    effect: dict[str, object] | None
    note: str
    """Why there is no effect, when there is none."""

    @property
    def verdict(self) -> str:
        return "not measured" if self.effect is None else str(self.effect["verdict"])

    @property
    def verdict_class(self) -> str:
        return VERDICT_CLASS.get(self.verdict, "none")

    @property
    def summary(self) -> str:
        """The addressed measure's change against peers, with its 95% CI, for the verdict's tooltip."""
        if self.effect is None:
            return self.note
        primary = self.effect["primary"]
        n = self.effect["n"]
        assert isinstance(primary, dict) and isinstance(n, dict)
        ci = primary.get("ci95")
        measure = str(primary["measure"]).replace("_", " ")
        if primary.get("estimate") is None or not isinstance(ci, list):
            return f"{measure}: {self.effect.get('note') or 'not enough answers yet'}"
        return (
            f"{measure}: {primary['estimate']:+.1f} points vs peers (95% CI {ci[0]:+.1f} to {ci[1]:+.1f}); "
            f"n = {n['treated_before']} before, {n['treated_after']} after"
        )


def action_rows(storage: Storage, location_id: str, now: datetime) -> list[ActionRow]:
    rows = []
    for action in storage.list_actions([location_id])[:MAX_ACTIONS_SHOWN]:
        try:
            rows.append(ActionRow(action, effect_for(storage, action, now), ""))
        except AnalyticsError as exc:
            rows.append(ActionRow(action, None, str(exc)))
    return rows


@dataclass(frozen=True)
class Forecast:
    ahead: WeekAhead | None
    note: str


def forecast_for(storage: Storage, scope: Scope, location_id: str, now: datetime) -> Forecast:
    try:
        return Forecast(week_ahead(storage, scope, location_id, now, 7), "")
    except AnalyticsError as exc:
        return Forecast(None, str(exc))
