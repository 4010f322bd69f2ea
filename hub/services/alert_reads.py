"""What each rule decides on, gathered from the hub's storage as it stood at a given time ``now``.

Every window is measured back from ``now`` and every baseline from the local
day of ``now`` (or of each answer), never from the clock, so a past moment can
be replayed. The deciding itself is done by the pure checks in
:mod:`~hub.services.alert_checks` and :mod:`~hub.services.alert_shift`, the
same ones ``touchpoint-hub alerts simulate`` drives.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from edge_agent.protocol import load_zone
from hub.services.alert_checks import (
    Tally,
    Verdict,
    baseline_days,
    check_baseline_drop,
    check_index_below,
    check_pct_negative,
    check_praise,
    check_response_count,
    open_throughout,
    parse_hours,
    previous_days,
    window_days,
)
from hub.services.alert_rules import (
    BaselineDrop,
    IndexBelow,
    PctNegative,
    Praise,
    ResponseCount,
    Shift,
    WindowParams,
)
from hub.services.alert_shift import ShiftBin, check_shift, usual_share
from hub.storage.base import Storage
from hub.storage.base_alerts import BaselineReads, CountRow, LocationInfo

UTC_ZONE = ZoneInfo("UTC")


def hour_baseline(reads: BaselineReads, location_id: str, local: datetime, weeks: int, question: str | None) -> Tally:
    """``baseline_drop``'s baseline: the local weekday and hour of ``local`` in the previous ``weeks`` weeks."""
    days = baseline_days(local.date(), weeks)
    return Tally.of(reads.hour_counts(location_id, days, local.hour, question))


class UsualShares:
    """The ``shift`` rule's usual negative share of one location, per local (day, hour), each read once."""

    def __init__(self, reads: BaselineReads, location_id: str, p: Shift) -> None:
        self.reads, self.location_id, self.p = reads, location_id, p
        self._shares: dict[tuple[str, int], float] = {}
        self._overall: dict[str, Tally] = {}

    def share(self, local_day: str, hour: int) -> float:
        key = (local_day, hour)
        if key not in self._shares:
            day, weeks, question = date.fromisoformat(local_day), self.p.weeks, self.p.question_id
            if local_day not in self._overall:
                days = previous_days(day, 7 * weeks)
                self._overall[local_day] = Tally.of(self.reads.day_counts(self.location_id, days, question))
            cell = Tally.of(self.reads.hour_counts(self.location_id, baseline_days(day, weeks), hour, question))
            self._shares[key] = usual_share(cell, self._overall[local_day], self.p)
        return self._shares[key]


class RuleInputs:
    """One evaluation pass at ``now``: window counts are read once and shared by rules with the same window."""

    def __init__(self, storage: Storage, now: datetime) -> None:
        self.storage = storage
        self.now = now
        self._cache: dict[tuple[str, float, str | None], list[CountRow]] = {}

    def rows(self, loc: LocationInfo, tz: ZoneInfo, p: WindowParams) -> list[CountRow]:
        key = (loc.location_id, p.window_min, p.question_id)
        if key not in self._cache:
            start = self.now - timedelta(minutes=p.window_min)
            days = window_days(start, self.now, tz)
            self._cache[key] = self.storage.window_counts(loc.location_id, days, start, self.now, p.question_id)
        return self._cache[key]

    def shift_bins(self, loc: LocationInfo, tz: ZoneInfo, p: Shift) -> list[ShiftBin]:
        """The look-back window's answers by minute, each with the usual share of its local weekday and hour."""
        start = self.now - timedelta(minutes=p.lookback_min)
        days = window_days(start, self.now, tz)
        rows = self.storage.minute_counts(loc.location_id, days, start, self.now, p.question_id)
        usual = UsualShares(self.storage, loc.location_id, p)
        bins: list[ShiftBin] = []
        for (minute, day, hour), group in itertools.groupby(rows, key=lambda r: (r[0], r[1], r[2])):
            t = Tally.of((r[3], r[4], r[5], r[6]) for r in group)
            bins.append((minute, t.n, t.negative, usual.share(day, hour)))
        return bins


def check_location(params: object, loc: LocationInfo, inputs: RuleInputs) -> Verdict | None:
    """Whether a rule on answers holds at ``inputs.now`` for one location."""
    tz = load_zone(loc.timezone) or UTC_ZONE
    now = inputs.now
    if isinstance(params, PctNegative):
        return check_pct_negative(params, Tally.of(inputs.rows(loc, tz, params)))
    if isinstance(params, IndexBelow):
        return check_index_below(params, Tally.of(inputs.rows(loc, tz, params)))
    if isinstance(params, Praise):
        return check_praise(params, Tally.of(inputs.rows(loc, tz, params)))
    if isinstance(params, ResponseCount):
        if loc.devices == 0:
            return None  # a location with no device cannot answer; nothing to alert on
        start = now - timedelta(minutes=params.window_min)
        is_open = open_throughout(parse_hours(loc.opening_hours), start, now, tz)
        return check_response_count(params, Tally.of(inputs.rows(loc, tz, params)).n, is_open)
    if isinstance(params, BaselineDrop):
        current = Tally.of(inputs.rows(loc, tz, params))
        if current.n < params.min_n:
            return None  # skip the baseline read when the window cannot fire anyway
        local = now.astimezone(tz)
        baseline = hour_baseline(inputs.storage, loc.location_id, local, params.weeks, params.question_id)
        return check_baseline_drop(params, current, baseline)
    if isinstance(params, Shift):
        return check_shift(params, inputs.shift_bins(loc, tz, params))
    raise ValueError(f"no evaluation for parameters {type(params).__name__}")
