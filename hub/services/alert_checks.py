"""Alert conditions as pure functions of fixed inputs: counts, times, opening hours.

The evaluator gathers the inputs from storage; everything that decides
whether a rule fires lives here, so it is unit-tested without a hub. Each
check returns a :class:`Verdict` (fire, with a message and details) or None.
Scores come from :mod:`edge_agent.scores`, the one definition of "negative"
and of the Happy Index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from edge_agent.scores import polarity, two_proportion_z_test
from hub.services.alert_rules import BaselineDrop, DeviceOffline, IndexBelow, PctNegative, Praise, ResponseCount
from hub.storage.base_alerts import CountRow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class Tally:
    """Answers pooled over questions: n, how many were negative (and positive), the sum of their 0..100 index values."""

    n: int = 0
    negative: int = 0
    index_sum: float = 0.0
    positive: int = 0

    @classmethod
    def of(cls, rows: Iterable[CountRow]) -> Tally:
        n = negative = positive = 0
        index_sum = 0.0
        for _question, scale, value, count in rows:
            n += count
            box = polarity(value, scale)
            negative += count if box == "negative" else 0
            positive += count if box == "positive" else 0
            index_sum += count * value * 100 / (scale - 1)  # the Happy Index of one answer
        return cls(n, negative, index_sum, positive)

    @property
    def pct_negative(self) -> float | None:
        return None if self.n == 0 else self.negative / self.n * 100

    @property
    def pct_positive(self) -> float | None:
        """The top-2 box (9-10 on NPS): the same boundary as % positive in :func:`edge_agent.scores.score`."""
        return None if self.n == 0 else self.positive / self.n * 100

    @property
    def happy_index(self) -> float | None:
        return None if self.n == 0 else self.index_sum / self.n


@dataclass(frozen=True)
class Verdict:
    message: str
    details: dict[str, object]


def _window(minutes: float) -> str:
    return f"{minutes:g} min"


def check_pct_negative(p: PctNegative, t: Tally) -> Verdict | None:
    pct = t.pct_negative
    if pct is None or t.n < p.min_n or pct < p.threshold_pct:
        return None
    return Verdict(
        f"{pct:.0f}% negative ({t.negative} of {t.n}) in the last {_window(p.window_min)} "
        f"(alert at ≥ {p.threshold_pct:g}% with n ≥ {p.min_n})",
        {"n": t.n, "negative": t.negative, "pct_negative": round(pct, 2), "window_min": p.window_min},
    )


def check_praise(p: Praise, t: Tally) -> Verdict | None:
    """Good news: fires while the window's % positive is at or above the threshold with enough answers."""
    pct = t.pct_positive
    if pct is None or t.n < p.min_n or pct < p.threshold_pct:
        return None
    return Verdict(
        f"{pct:.0f}% positive ({t.positive} of {t.n}) in the last {_window(p.window_min)} "
        f"(praise at ≥ {p.threshold_pct:g}% with n ≥ {p.min_n})",
        {
            "n": t.n,
            "positive": t.positive,
            "pct_positive": round(pct, 2),
            "happy_index": _round(t.happy_index),
            "window_min": p.window_min,
        },
    )


def check_index_below(p: IndexBelow, t: Tally) -> Verdict | None:
    index = t.happy_index
    if index is None or t.n < p.min_n or index >= p.threshold:
        return None
    return Verdict(
        f"Happy Index {index:.1f} over {t.n} answers in the last {_window(p.window_min)} "
        f"(alert below {p.threshold:g} with n ≥ {p.min_n})",
        {"n": t.n, "happy_index": round(index, 2), "window_min": p.window_min},
    )


def check_response_count(p: ResponseCount, n: int, open_whole_window: bool) -> Verdict | None:
    if not open_whole_window or n >= p.fewer_than:
        return None
    return Verdict(
        f"only {n} answers in the last {_window(p.window_min)} while open (alert below {p.fewer_than})",
        {"n": n, "window_min": p.window_min},
    )


def check_device_offline(
    p: DeviceOffline, online: bool | None, since: datetime | None, now: datetime
) -> Verdict | None:
    """``since``: when the hub took in the offline status (or last will)."""
    if online is not False or since is None:
        return None
    minutes = (now - since).total_seconds() / 60
    if minutes < p.minutes:
        return None
    return Verdict(
        f"device offline for {minutes:.1f} min (alert after {p.minutes:g} min)",
        {"offline_since": since.isoformat(), "offline_min": round(minutes, 2)},
    )


def check_baseline_drop(p: BaselineDrop, current: Tally, baseline: Tally) -> Verdict | None:
    """Fires when the window's negative share is above the baseline's, one-sided at ``p.confidence``."""
    if current.n < p.min_n or baseline.n < p.min_baseline_n:
        return None
    test = two_proportion_z_test(current.negative, current.n, baseline.negative, baseline.n)
    if test is None or test.statistic <= 0:
        return None
    p_one_sided = test.p_value / 2  # the shared test is two-sided; we only care about "worse"
    if p_one_sided >= 1 - p.confidence:
        return None
    now_pct, base_pct = current.pct_negative or 0.0, baseline.pct_negative or 0.0
    return Verdict(
        f"{now_pct:.0f}% negative ({current.negative} of {current.n}) in the last {_window(p.window_min)} against "
        f"{base_pct:.0f}% usual for this weekday and hour ({baseline.n} answers over {p.weeks} weeks; "
        f"z = {test.statistic:.2f}, p = {p_one_sided:.4f})",
        {
            "n": current.n,
            "pct_negative": round(now_pct, 2),
            "baseline_n": baseline.n,
            "baseline_pct_negative": round(base_pct, 2),
            "z": round(test.statistic, 3),
            "p_value": round(p_one_sided, 5),
            "happy_index": _round(current.happy_index),
            "baseline_happy_index": _round(baseline.happy_index),
        },
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- time helpers ------------------------------------------------------------------


def window_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[str]:
    """The local days a UTC window touches in ``tz`` (one, or two across midnight)."""
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def baseline_days(local_day: date, weeks: int) -> list[str]:
    """The same weekday in each of the previous ``weeks`` weeks."""
    return [(local_day - timedelta(weeks=k)).isoformat() for k in range(1, weeks + 1)]


def previous_days(local_day: date, days: int) -> list[str]:
    """The ``days`` local days before ``local_day``, newest first."""
    return [(local_day - timedelta(days=k)).isoformat() for k in range(1, days + 1)]


OpeningHours = Mapping[str, list[str]]


def parse_hours(raw: str | None) -> OpeningHours | None:
    """The locations table's JSON, or None (always open) when unset or unreadable."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def is_open(hours: OpeningHours | None, local: datetime) -> bool:
    """``{"mon": ["08:00", "21:00"], ...}``; a missing day is closed; a close before the open runs past midnight."""
    if hours is None:
        return True
    now = local.hour * 60 + local.minute
    today, yesterday = WEEKDAYS[local.weekday()], WEEKDAYS[(local.weekday() - 1) % 7]
    try:
        span = hours.get(today)
        if span and len(span) == 2:
            start, end = _minutes(span[0]), _minutes(span[1])
            if (start <= now < end) if start < end else now >= start:
                return True
        span = hours.get(yesterday)  # yesterday's overnight opening
        if span and len(span) == 2:
            start, end = _minutes(span[0]), _minutes(span[1])
            return end <= start and now < end
    except (ValueError, TypeError):
        return True  # unreadable hours must not silence a rule
    return False


def open_throughout(hours: OpeningHours | None, start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """Whether the location is open over the whole window, checked every 5 minutes and at both ends."""
    if hours is None:
        return True
    moment = start
    while moment < end:
        if not is_open(hours, moment.astimezone(tz)):
            return False
        moment += OPEN_STEP
    return is_open(hours, (end - timedelta(seconds=1)).astimezone(tz))
