"""Each rule kind's condition at any minute of a simulated day, decided by the evaluator's own code.

The live evaluator reads the window counts from SQLite; here they come from the
day's per-minute counts, cut at the same boundaries (answers with start <= ts <=
now, each answer strictly inside its minute, so a window of W minutes ending at
minute t holds minutes t-W .. t-1). Baselines go through the evaluator's own
reads (:func:`hour_baseline`, :class:`UsualShares`) on the simulated rollups, and
every decision through the same check functions. A test replays a simulated day
through the real evaluator on a real SQLite store and compares episode by episode.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from hub.services.alert_checks import (
    WEEKDAYS,
    Tally,
    check_baseline_drop,
    check_index_below,
    check_pct_negative,
    check_response_count,
    open_throughout,
    parse_hours,
)
from hub.services.alert_reads import UTC_ZONE, UsualShares, hour_baseline
from hub.services.alert_rules import BaselineDrop, IndexBelow, PctNegative, ResponseCount, Shift
from hub.services.alert_shift import ShiftBin, check_shift
from hub.services.alert_sim_data import DAY_MINUTES, OPEN_FROM, OPEN_TO, QUESTION, SCALE, DayAnswers, SimHistory
from hub.storage.base_alerts import LocationInfo

MAX_SPAN_MIN = 600
"""Longest window simulated: shorter than the overnight closure, so each day is evaluated on its own."""
HOURS = {day: [f"{OPEN_FROM // 60:02d}:00", f"{OPEN_TO // 60:02d}:00"] for day in WEEKDAYS}
LOCATION = LocationInfo("sim", None, "UTC", json.dumps(HOURS), 1)

Condition = Callable[["DayView", int], bool]
"""Whether a rule holds at minute ``t`` of the day (t may run past midnight, into the closed night)."""


class DayView:
    """A simulated day as the rules read it: answers in any window, and the shift rule's minute bins."""

    def __init__(self, answers: DayAnswers) -> None:
        self.answers = answers
        self.midnight = datetime.combine(answers.day, time(), UTC)
        night = [0] * (MAX_SPAN_MIN + 1)  # windows may end after midnight, in the closed night
        self._prefix = [list(itertools.accumulate(counts + night, initial=0)) for counts in answers.counts]
        self._bins: dict[UsualShares, tuple[list[int], list[ShiftBin]]] = {}

    def at(self, t: int) -> datetime:
        return self.midnight + timedelta(minutes=t)

    def tally(self, t: int, window: int, question_id: str | None) -> Tally:
        """The answers counted by a window of ``window`` minutes ending at minute ``t``."""
        if question_id not in (None, QUESTION):
            return Tally()
        lo, hi = max(t - window, 0), t
        rows = [(QUESTION, SCALE, v, p[hi] - p[lo]) for v, p in enumerate(self._prefix) if p[hi] > p[lo]]
        return Tally.of(rows)

    def shift_bins(self, t: int, lookback: int, usual: UsualShares) -> list[ShiftBin]:
        """The look-back window's answers by minute, as the evaluator's ``RuleInputs.shift_bins`` builds them."""
        if usual.p.question_id not in (None, QUESTION):
            return []
        if usual not in self._bins:
            minutes: list[int] = []
            bins: list[ShiftBin] = []
            day = self.answers.day.isoformat()
            for minute in range(DAY_MINUTES):
                faces = [c[minute] for c in self.answers.counts]
                if any(faces):
                    one = Tally.of((QUESTION, SCALE, v, n) for v, n in enumerate(faces) if n)
                    stamp = f"{day}T{minute // 60:02d}:{minute % 60:02d}"
                    minutes.append(minute)
                    bins.append((stamp, one.n, one.negative, usual.share(day, minute // 60)))
            self._bins[usual] = (minutes, bins)
        minutes, bins = self._bins[usual]
        return bins[bisect.bisect_left(minutes, t - lookback) : bisect.bisect_left(minutes, t)]


def whole_minutes(value: float, name: str) -> int:
    if not float(value).is_integer() or not 0 < value <= MAX_SPAN_MIN:
        raise ValueError(f"{name}: the simulator needs whole minutes up to {MAX_SPAN_MIN} (got {value:g})")
    return int(value)


def span(params: object) -> int:
    """How long after closing a rule can still see the day's answers: its window or look-back."""
    if isinstance(params, Shift):
        return whole_minutes(params.lookback_min, "lookback_min")
    return whole_minutes(getattr(params, "window_min", 0), "window_min")


def condition(params: object, history: SimHistory) -> Condition:
    """The rule's decision at a minute of a simulated day, through the evaluator's checks."""
    loc = LOCATION
    if isinstance(params, PctNegative):
        pct, pct_w = params, span(params)
        return lambda v, t: check_pct_negative(pct, v.tally(t, pct_w, pct.question_id)) is not None
    if isinstance(params, IndexBelow):
        index, index_w = params, span(params)
        return lambda v, t: check_index_below(index, v.tally(t, index_w, index.question_id)) is not None
    if isinstance(params, ResponseCount):
        w, hours, opened = span(params), parse_hours(loc.opening_hours), dict[tuple[int, int], bool]()

        def response_count(v: DayView, t: int) -> bool:
            key = (v.answers.day.weekday(), t)
            if key not in opened:
                opened[key] = open_throughout(hours, v.at(t - w), v.at(t), UTC_ZONE)
            return check_response_count(params, v.tally(t, w, params.question_id).n, opened[key]) is not None

        return response_count
    if isinstance(params, BaselineDrop):
        w, baselines = span(params), dict[datetime, Tally]()

        def baseline_drop(v: DayView, t: int) -> bool:
            current = v.tally(t, w, params.question_id)
            if current.n < params.min_n:
                return False  # as the evaluator: no baseline read when the window cannot fire
            hour = v.at(t).replace(minute=0)
            if hour not in baselines:
                baselines[hour] = hour_baseline(history, loc.location_id, hour, params.weeks, params.question_id)
            return check_baseline_drop(params, current, baselines[hour]) is not None

        return baseline_drop
    if isinstance(params, Shift):
        lookback, usual = span(params), UsualShares(history, loc.location_id, params)
        return lambda v, t: check_shift(params, v.shift_bins(t, lookback, usual)) is not None
    raise ValueError(f"the simulator has no traffic for {type(params).__name__} rules")
